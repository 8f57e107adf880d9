#!/bin/sh
# mailtier: validate the mail-tier configuration with the real daemons'
# own checkers (Debian 12 packages dovecot-core, rsyslog, logrotate,
# opendkim, m4 and sendmail-cf; sendmail-cf depends only on m4 and does not
# install an MTA). Nothing is started and nothing outside a temporary
# directory is written.
#
#   docker/mail/check.sh
#
# SENDMAIL_CF_DIR overrides where sendmail's cf tree is
# (default /usr/share/sendmail/cf).
set -eu

src=$(cd "$(dirname "$0")" && pwd)
cf_dir=${SENDMAIL_CF_DIR:-/usr/share/sendmail/cf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

for tool in rsyslogd logrotate doveconf opendkim m4; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || { echo "check.sh: $tool is not installed" >&2; exit 2; }
done
[ -f "$cf_dir/m4/cf.m4" ] || { echo "check.sh: no $cf_dir/m4/cf.m4 (install sendmail-cf or set SENDMAIL_CF_DIR)" >&2; exit 2; }

# Stage everything with paths inside $tmp, the way the end-to-end suite
# runs the daemons; the templates' defaults are checked by the Go tests.
root=$tmp/root
mkdir -p "$root/etc"
cat >"$root/etc/opendkim.conf" <<EOC
Syslog                  no
LogWhy                  no
Mode                    v
Socket                  inet:8891@127.0.0.1
PidFile                 $tmp/opendkim.pid
EOC
MAILTIER_LOG_DIR=$tmp/log/mail \
MAILTIER_SYSLOG_SOCKET=$tmp/log.sock \
MAILTIER_RSYSLOG_PIDFILE=$tmp/rsyslogd.pid \
	sh "$src/install.sh" "$root"

# rsyslog: full config check (-N1), with the staged file as the config.
if out=$(rsyslogd -N1 -f "$root/etc/rsyslog.conf" 2>&1); then
	ok "rsyslogd -N1 rsyslog.conf"
else
	bad "rsyslogd -N1 rsyslog.conf: $out"
fi

# logrotate: dry run (-d) against a log larger than the size limit, which
# must be rotated.
mkdir -p "$tmp/log/mail"
head -c 52428801 /dev/zero >"$tmp/log/mail/maillog"
out=$(logrotate -d --state "$tmp/logrotate.status" "$root/etc/logrotate.d/mailtier-maillog" 2>&1) || true
if echo "$out" | grep -qi 'error'; then
	bad "logrotate -d: $out"
elif echo "$out" | grep -q 'log needs rotating'; then
	ok "logrotate -d mailtier-maillog (rotates at 50M)"
else
	bad "logrotate -d did not rotate a 50M+1 byte log: $out"
fi

# Dovecot: parse the two conf.d files on top of a minimal configuration.
cat >"$tmp/dovecot.conf" <<EOC
base_dir = $tmp/dovecot
state_dir = $tmp/dovecot-state
protocols = imap submission
ssl = no
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$tmp/home
}
!include $root/etc/dovecot/conf.d/*.conf
EOC
# doveconf -n leaves out settings equal to Dovecot's defaults (log_path and
# syslog_facility among them), so those are asked for by name.
if out=$(doveconf -n -c "$tmp/dovecot.conf" 2>&1) &&
	set=$(doveconf -c "$tmp/dovecot.conf" log_path syslog_facility info_log_path auth_verbose 2>&1); then
	out="$out
$set"
	missing=""
	echo "$set" | grep -qx 'info_log_path = ' || missing="$missing [info_log_path empty]"
	for want in "log_path = syslog" "syslog_facility = mail" "auth_verbose = yes" \
		"metric imap_command {" "metric auth_success {" "metric auth_failure {" "metric mail_delivery {" \
		"address = 127.0.0.1" "port = 9900"; do
		echo "$out" | grep -qF -- "$want" || missing="$missing [$want]"
	done
	if [ -z "$missing" ]; then ok "doveconf -n 10-logging.conf 95-stats.conf"; else bad "doveconf -n lacks:$missing"; fi
else
	bad "doveconf -n: $out"
fi

# OpenDKIM: check the merged configuration (-n) and that the merge left
# exactly one setting of each logging key.
if out=$(opendkim -n -x "$root/etc/opendkim.conf" 2>&1); then
	n=$(grep -c -i -E '^(Syslog|SyslogFacility|SyslogSuccess|LogWhy)[[:space:]]' "$root/etc/opendkim.conf")
	if [ "$n" = 4 ] && grep -q -i -E '^SyslogSuccess[[:space:]]+yes$' "$root/etc/opendkim.conf" &&
		grep -q -i -E '^LogWhy[[:space:]]+yes$' "$root/etc/opendkim.conf"; then
		ok "opendkim -n (merged SyslogSuccess/LogWhy)"
	else
		bad "opendkim.conf after the merge:"; cat "$root/etc/opendkim.conf"
	fi
else
	bad "opendkim -n: $out"
fi

# sendmail: a .mc that sets LogLevel 2 (as Cabalmail's smtp tiers do) and
# then includes mailtier.m4 must produce LogLevel 9 and QueueFileMode 0640.
cat >"$tmp/test.mc" <<EOC
include(\`$cf_dir/m4/cf.m4')dnl
OSTYPE(\`linux')dnl
define(\`confLOG_LEVEL', \`2')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
include(\`$root/etc/mail/mailtier.m4')dnl
EOC
if out=$(m4 -D_CF_DIR_="$cf_dir/" "$tmp/test.mc" 2>&1 >"$tmp/test.cf"); then
	if grep -qx 'O LogLevel=9' "$tmp/test.cf" && grep -qx 'O QueueFileMode=0640' "$tmp/test.cf"; then
		ok "m4 sendmail.mc + mailtier.m4 -> LogLevel=9, QueueFileMode=0640"
	else
		bad "sendmail.cf: $(grep -E '^#?O (LogLevel|QueueFileMode)' "$tmp/test.cf")"
	fi
else
	bad "m4: $out"
fi

# The shell scripts at least parse.
for s in "$src/install.sh" "$src/logrotate/mailtier-logrotate.sh" "$src/sendmail/mqueue-permissions.sh"; do
	if sh -n "$s"; then ok "sh -n ${s#"$src"/}"; else bad "sh -n $s"; fi
done

exit $fail
