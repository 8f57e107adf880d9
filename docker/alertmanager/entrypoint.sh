#!/bin/sh
# Render /etc/alertmanager/alertmanager.yml.in and start Alertmanager.
#
# ALERT_SINK_URL  alert_sink Function URL (Terraform output
#                 alert_sink_function_url), replaces https://__ALERT_SINK_HOST__/.
# ALERT_SECRET    alert_sink bearer secret (ECS secret from the SSM parameter
#                 /cabal/alert_sink_secret). It is written to a file readable
#                 only by this user, which the configuration reads through
#                 credentials_file, and removed from the environment before
#                 Alertmanager starts.
#
# The MAILTIER_AM_* variables move the files and the binary; the image uses
# the defaults, the tests point them into a scratch directory.
set -eu

template=${MAILTIER_AM_TEMPLATE:-/etc/alertmanager/alertmanager.yml.in}
config=${MAILTIER_AM_CONFIG:-/etc/alertmanager/rendered/alertmanager.yml}
secret_file=${MAILTIER_AM_SECRET_FILE:-/etc/alertmanager/secrets/alert_sink_secret}
binary=${MAILTIER_AM_BINARY:-/bin/alertmanager}

: "${ALERT_SINK_URL:?ALERT_SINK_URL is required (the alert_sink Function URL)}"
: "${ALERT_SECRET:?ALERT_SECRET is required (SSM /cabal/alert_sink_secret)}"

case "$ALERT_SINK_URL" in
https://*) ;;
*)
	echo "entrypoint: ALERT_SINK_URL must be an https:// URL" >&2
	exit 1
	;;
esac

# Escape the characters sed treats specially in a replacement.
escape() {
	printf '%s' "$1" | sed -e 's/[&|\\]/\\&/g'
}

umask 077
printf '%s' "$ALERT_SECRET" >"$secret_file"
unset ALERT_SECRET

sed \
	-e "s|https://__ALERT_SINK_HOST__/|$(escape "$ALERT_SINK_URL")|g" \
	-e "s|/etc/alertmanager/secrets/alert_sink_secret|$(escape "$secret_file")|g" \
	"$template" >"$config"

# /alertmanager is the EFS-backed state directory (silences, notification log).
exec "$binary" \
	--config.file="$config" \
	--storage.path=/alertmanager \
	--web.external-url="${ALERTMANAGER_EXTERNAL_URL:-http://localhost:9093}" \
	--web.listen-address=:9093 \
	"$@"
