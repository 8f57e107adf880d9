#!/bin/sh
# Build mailtier_alert_sink.zip, the alert_sink Lambda's deployment package: the Go
# function in lambda/alert_sink compiled as the "bootstrap" executable of
# the provided.al2023 runtime on arm64, with the lambda.norpc tag (the
# provided runtimes do not use the Go RPC protocol).
#
#   docker/alert_sink/build.sh [OUTDIR]        (default: dist/ at the repository root)
#
# Writes OUTDIR/mailtier_alert_sink.zip and OUTDIR/mailtier_alert_sink.zip.base64sha256
# (the zip's base64 SHA-256, as Lambda reports CodeSha256). The name is not
# cabal-infra's alert_sink.zip: its Python function lives at
# lambda/alert_sink.zip in the same bucket, and this one goes next to it at
# lambda/mailtier_alert_sink.zip (the module's alert_sink_s3_key). Needs only Go and a
# POSIX shell; the same sources give the same zip byte for byte.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/dist"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

cd "$root"
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -tags lambda.norpc -ldflags "-s -w" -o "$work/bootstrap" ./lambda/alert_sink
go run ./docker/alert_sink/mkzip -o "$out/mailtier_alert_sink.zip" -hash "$out/mailtier_alert_sink.zip.base64sha256" "$work/bootstrap"
echo "$out/mailtier_alert_sink.zip $(cat "$out/mailtier_alert_sink.zip.base64sha256")"
