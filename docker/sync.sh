#!/bin/sh
# Refresh the copies of rules/ and dashboards/ that the images build from.
#
#   docker/sync.sh          (make docker-context)
#
# cabal-infra builds every image with docker/ as the build context
# (.github/workflows/app.yml: docker buildx build -f docker/<tier>/Dockerfile
# docker/), so what an image copies must be under docker/:
#   rules/*.rules.yml, rules/*.alerts.yml -> docker/prometheus/rules/mailtier-<file>
#   dashboards/*.json                     -> docker/grafana/mailtier-dashboards/<file>
# The mailtier- prefix keeps them apart from cabal-infra's own files when
# they are copied into its tree. A test fails while a copy is stale.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

sync_dir() { # destination prefix sources...
	dest=$1
	prefix=$2
	shift 2
	mkdir -p "$dest"
	find "$dest" -maxdepth 1 -type f -name "$prefix*" ! -name README.md -exec rm -f {} +
	for f in "$@"; do
		cp "$f" "$dest/$prefix$(basename "$f")"
	done
}

sync_dir "$root/docker/prometheus/rules" mailtier- "$root"/rules/*.rules.yml "$root"/rules/*.alerts.yml
sync_dir "$root/docker/grafana/mailtier-dashboards" "" "$root"/dashboards/*.json
