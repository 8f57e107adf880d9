#!/bin/sh
# Render /etc/prometheus/prometheus.yml.in and start Prometheus.
#
# ENVIRONMENT     environment name (prod, stage, dev), the external label
#                 `environment`.
# CONTROL_DOMAIN  the control domain of the public endpoints the blackbox
#                 jobs probe.
# REMOTE_WRITE_URL  optional: also send every sample to this remote-write
#                 endpoint (docker/prometheus/remote_write.yml), e.g.
#                 VictoriaMetrics' http://<host>:8428/api/v1/write.
#
# The rendered file is written beside the rules directory, so the relative
# rule_files paths resolve to /etc/prometheus/rules/. MAILTIER_PROM_TEMPLATE,
# MAILTIER_PROM_CONFIG and MAILTIER_PROM_BINARY move the files and the
# binary; the image uses the defaults, the tests point them elsewhere.
set -eu

template=${MAILTIER_PROM_TEMPLATE:-/etc/prometheus/prometheus.yml.in}
config=${MAILTIER_PROM_CONFIG:-/etc/prometheus/prometheus.yml}
binary=${MAILTIER_PROM_BINARY:-/bin/prometheus}
remote_write=${MAILTIER_PROM_REMOTE_WRITE:-/etc/prometheus/remote_write.yml.in}

: "${ENVIRONMENT:?ENVIRONMENT is required (prod, stage or dev)}"
: "${CONTROL_DOMAIN:?CONTROL_DOMAIN is required}"

case "$ENVIRONMENT$CONTROL_DOMAIN" in
*[!A-Za-z0-9.-]*)
	echo "entrypoint: ENVIRONMENT and CONTROL_DOMAIN may hold only letters, digits, dots and hyphens" >&2
	exit 1
	;;
esac

sed \
	-e "s/__ENVIRONMENT__/$ENVIRONMENT/g" \
	-e "s/__CONTROL_DOMAIN__/$CONTROL_DOMAIN/g" \
	"$template" >"$config"

if [ -n "${REMOTE_WRITE_URL:-}" ]; then
	# Only characters that need no quoting in YAML or sed: no spaces,
	# quotes, '&', '|', '#' or backslashes.
	case "$REMOTE_WRITE_URL" in
	http://?*|https://?*) ;;
	*)
		echo "entrypoint: REMOTE_WRITE_URL must be an http:// or https:// URL" >&2
		exit 1
		;;
	esac
	case "$REMOTE_WRITE_URL" in
	*[!A-Za-z0-9.:/_?=%-]*)
		echo "entrypoint: REMOTE_WRITE_URL may hold only letters, digits and . : / _ ? = % -" >&2
		exit 1
		;;
	esac
	{
		echo
		sed -e "s|__REMOTE_WRITE_URL__|$REMOTE_WRITE_URL|g" "$remote_write"
	} >>"$config"
fi

# /prometheus is the EFS-backed TSDB directory.
exec "$binary" \
	--config.file="$config" \
	--storage.tsdb.path=/prometheus \
	--storage.tsdb.retention.time=30d \
	--web.enable-lifecycle \
	"$@"
