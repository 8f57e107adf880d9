#!/bin/sh
# Build alert_sink.zip, the alert_sink Lambda's deployment package: the Go
# function in lambda/alert_sink compiled as the "bootstrap" executable of
# the provided.al2023 runtime on arm64, with the lambda.norpc tag (the
# provided runtimes do not use the Go RPC protocol).
#
#   docker/alert_sink/build.sh [OUTDIR]        (default: dist/ at the repository root)
#
# Writes OUTDIR/alert_sink.zip and OUTDIR/alert_sink.zip.base64sha256 (the
# zip's base64 SHA-256, as Lambda reports CodeSha256). Needs only Go and a
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
go run ./docker/alert_sink/mkzip -o "$out/alert_sink.zip" -hash "$out/alert_sink.zip.base64sha256" "$work/bootstrap"
echo "$out/alert_sink.zip $(cat "$out/alert_sink.zip.base64sha256")"
