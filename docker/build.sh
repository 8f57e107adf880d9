#!/bin/sh
# Build the mailtier deployment artifacts. Run from anywhere.
#
#   docker/build.sh exporter [REPOSITORY TAG]
#       Builds the exporter image of the working tree for linux/amd64 and
#       linux/arm64 with docker buildx, docker/ as the build context (as
#       cabal-infra builds) and the repository as the named context
#       mailtier-src (the Go source). With REPOSITORY and TAG it pushes the
#       multi-arch image and prints it pinned by digest
#       (REPOSITORY@sha256:...), the form the Terraform variable takes.
#       Without them it only builds (a check).
#
#   docker/build.sh alert_sink [OUTDIR]
#       Builds OUTDIR/mailtier_alert_sink.zip (default dist/) for the arm64 Lambda.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
platforms=linux/amd64,linux/arm64

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case "${1:-}" in
exporter)
	revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
	if [ $# -eq 1 ]; then
		exec docker buildx build --platform "$platforms" \
			-f "$root/docker/exporter/Dockerfile" \
			--build-context mailtier-src="$root" \
			--build-arg MAILTIER_VERSION=dev --build-arg REVISION="$revision" \
			"$root/docker"
	fi
	[ $# -eq 3 ] || usage
	repository=$2
	tag=$3
	meta=$(mktemp)
	trap 'rm -f "$meta"' EXIT INT TERM
	docker buildx build --platform "$platforms" \
		-f "$root/docker/exporter/Dockerfile" \
		--build-context mailtier-src="$root" \
		--build-arg MAILTIER_VERSION="$tag" --build-arg REVISION="$revision" \
		--tag "$repository:$tag" --push --metadata-file "$meta" \
		"$root/docker"
	digest=$(sed -n 's/.*"containerimage.digest": *"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' "$meta")
	[ -n "$digest" ] || { echo "no image digest in the build metadata" >&2; exit 1; }
	echo "$repository@$digest"
	;;
alert_sink)
	[ $# -le 2 ] || usage
	exec sh "$root/docker/alert_sink/build.sh" "${2:-$root/dist}"
	;;
*)
	usage
	;;
esac
