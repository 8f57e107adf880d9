#!/bin/sh
# mailtier: install the mail-tier configuration the exporter sidecar relies on.
#
#   docker/mail/install.sh DESTROOT
#
# DESTROOT is / in a mail-tier image build, or any directory to stage the
# files in. The templates' values come from the environment; the defaults
# are the Cabalmail images' (Amazon Linux 2023):
#
#   MAILTIER_LOG_DIR          /var/log/mail           directory of maillog (the shared volume)
#   MAILTIER_LOG_GROUP        mail                    group that may read maillog (the sidecar's)
#   MAILTIER_SYSLOG_SOCKET    /dev/log                socket rsyslog listens on
#   MAILTIER_RSYSLOG_PIDFILE  /var/run/rsyslogd.pid   rsyslogd's pid file, HUPped after rotation
#   MAILTIER_LOG_MAX_SIZE     50M                     rotate maillog once it is larger
#   MAILTIER_LOG_ROTATE       2                       rotated generations to keep
#   MAILTIER_OPENDKIM_CONF    /etc/opendkim.conf      OpenDKIM config to merge the logging keys into
#
# It writes (paths under DESTROOT):
#   /etc/rsyslog.conf                          from rsyslog/rsyslog.conf.in
#   /etc/logrotate.d/mailtier-maillog          from logrotate/mailtier-maillog.in
#   /etc/dovecot/conf.d/10-logging.conf        dovecot/10-logging.conf
#   /etc/dovecot/conf.d/95-stats.conf          dovecot/95-stats.conf
#   /etc/mail/mailtier.m4                      sendmail/mailtier.m4 (include it from the .mc)
#   /etc/mailtier/supervisord.conf             supervisord/mailtier.conf
#   /usr/local/bin/mailtier-logrotate.sh       logrotate/mailtier-logrotate.sh
#   /usr/local/bin/mailtier-mqueue-permissions.sh  sendmail/mqueue-permissions.sh
# and makes $MAILTIER_LOG_DIR root:$MAILTIER_LOG_GROUP 2750 (setgid).
# and, if $MAILTIER_OPENDKIM_CONF exists under DESTROOT, replaces its
# Syslog, SyslogFacility, SyslogSuccess and LogWhy lines with those of
# opendkim/mailtier-logging.conf.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DESTROOT" >&2; exit 2; }
dest=${1%/}
src=$(cd "$(dirname "$0")" && pwd)

log_dir=${MAILTIER_LOG_DIR:-/var/log/mail}
log_group=${MAILTIER_LOG_GROUP:-mail}
syslog_socket=${MAILTIER_SYSLOG_SOCKET:-/dev/log}
rsyslog_pidfile=${MAILTIER_RSYSLOG_PIDFILE:-/var/run/rsyslogd.pid}
log_max_size=${MAILTIER_LOG_MAX_SIZE:-50M}
log_rotate=${MAILTIER_LOG_ROTATE:-2}
opendkim_conf=${MAILTIER_OPENDKIM_CONF:-/etc/opendkim.conf}

for v in "$log_dir" "$syslog_socket" "$rsyslog_pidfile" "$opendkim_conf"; do
	case $v in
	/*) ;;
	*) echo "install.sh: $v is not an absolute path" >&2; exit 2 ;;
	esac
done
for v in "$log_dir" "$log_group" "$syslog_socket" "$rsyslog_pidfile" "$log_max_size" "$log_rotate"; do
	case $v in
	*[!A-Za-z0-9_./-]*) echo "install.sh: unexpected character in '$v'" >&2; exit 2 ;;
	esac
done

render() { # template destination
	install -d "$(dirname "$2")"
	sed -e "s|@MAILLOG@|$log_dir/maillog|g" \
		-e "s|@LOG_GROUP@|$log_group|g" \
		-e "s|@SYSLOG_SOCKET@|$syslog_socket|g" \
		-e "s|@RSYSLOG_PIDFILE@|$rsyslog_pidfile|g" \
		-e "s|@LOG_MAX_SIZE@|$log_max_size|g" \
		-e "s|@LOG_ROTATE@|$log_rotate|g" \
		"$1" >"$2.tmp"
	if grep -n '@[A-Z_]*@' "$2.tmp" >&2; then
		echo "install.sh: unfilled placeholder in $2" >&2
		rm -f "$2.tmp"
		exit 1
	fi
	chmod 0644 "$2.tmp"
	mv "$2.tmp" "$2"
}

render "$src/rsyslog/rsyslog.conf.in" "$dest/etc/rsyslog.conf"
render "$src/logrotate/mailtier-maillog.in" "$dest/etc/logrotate.d/mailtier-maillog"
install -D -m 0644 "$src/dovecot/10-logging.conf" "$dest/etc/dovecot/conf.d/10-logging.conf"
install -D -m 0644 "$src/dovecot/95-stats.conf" "$dest/etc/dovecot/conf.d/95-stats.conf"
install -D -m 0644 "$src/sendmail/mailtier.m4" "$dest/etc/mail/mailtier.m4"
install -D -m 0644 "$src/supervisord/mailtier.conf" "$dest/etc/mailtier/supervisord.conf"
install -D -m 0755 "$src/logrotate/mailtier-logrotate.sh" "$dest/usr/local/bin/mailtier-logrotate.sh"
install -D -m 0755 "$src/sendmail/mqueue-permissions.sh" "$dest/usr/local/bin/mailtier-mqueue-permissions.sh"
# The log directory: root-owned, in the log group and setgid, so that the
# files rsyslog and logrotate create in it are in that group without a
# chown, which the smtp-in tier (no CAP_CHOWN) cannot do. It is the mount
# point of the task volume, which takes this owner and mode from the image.
# Staging as another user (a test) cannot give it the group: it says so.
install -d -m 0755 "$dest$log_dir"
if [ "$(id -u)" = 0 ]; then
	chgrp "$log_group" "$dest$log_dir"
else
	echo "install.sh: not root, so $dest$log_dir is left in group $(id -gn), not $log_group" >&2
fi
chmod 2750 "$dest$log_dir"

conf=$dest$opendkim_conf
if [ -f "$conf" ]; then
	# Case-insensitive, as OpenDKIM reads its keys.
	grep -v -i -E '^[[:space:]]*(Syslog|SyslogFacility|SyslogSuccess|LogWhy)([[:space:]]|$)' "$conf" >"$conf.tmp" || true
	{
		echo
		grep -v '^#' "$src/opendkim/mailtier-logging.conf"
	} >>"$conf.tmp"
	chmod --reference="$conf" "$conf.tmp" 2>/dev/null || chmod 0644 "$conf.tmp"
	mv "$conf.tmp" "$conf"
fi
