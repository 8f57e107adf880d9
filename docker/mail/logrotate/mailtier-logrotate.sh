#!/bin/sh
# mailtier: run logrotate on the mail log every MAILTIER_LOGROTATE_INTERVAL
# seconds (default 60). The mail-tier containers have no cron; supervisord
# runs this (docker/mail/supervisord/mailtier.conf).
#
#   mailtier-logrotate.sh [CONFIG]    (default /etc/logrotate.d/mailtier-maillog)
set -u

config=${1:-/etc/logrotate.d/mailtier-maillog}
state=${MAILTIER_LOGROTATE_STATE:-/var/lib/logrotate/mailtier.status}
interval=${MAILTIER_LOGROTATE_INTERVAL:-60}

mkdir -p "$(dirname "$state")"
while :; do
	/usr/sbin/logrotate --state "$state" "$config" ||
		echo "[mailtier-logrotate] logrotate exited with status $?"
	sleep "$interval"
done
