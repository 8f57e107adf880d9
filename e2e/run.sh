#!/usr/bin/env bash
# mailtier's end-to-end suite on real daemons: `make e2e` (root; see
# docs/e2e.md).
#
# Installs sendmail, Dovecot, OpenDKIM, fail2ban and rsyslog from Debian's
# packages, configures them with the mail tiers' shipped configuration
# (docker/mail) and starts them, with the exporter, in namespaces of their
# own: a network with only a loopback interface, and their own /dev, /run,
# /tmp, /etc/hosts, resolver and passwd. e2e/driver then drives a known
# mix of traffic, rotates the mail log under it, and compares every count
# the exporter shows with what it did.
#
# MAILTIER_E2E_DIR (default /var/lib/mailtier-e2e) holds a run's
# configuration, logs, queue and mailboxes: emptied when a run starts and
# kept after it for inspection. MAILTIER_E2E_CACHE (default
# /var/cache/mailtier-e2e) keeps Debian's sendmail-bin, unpacked.
set -euo pipefail

e2e=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$e2e")
export DIR=${MAILTIER_E2E_DIR:-/var/lib/mailtier-e2e}
CACHE=${MAILTIER_E2E_CACHE:-/var/cache/mailtier-e2e}
export SENDMAIL=$CACHE/sendmail-bin
export SM=$SENDMAIL/usr/libexec/sendmail/sendmail

# Each tier's capabilities, as cabal-infra's task definitions give its one
# container: drop ALL, add these (linuxParameters.capabilities of
# aws_ecs_task_definition.imap, .smtp_in and .smtp_out in
# terraform/infra/modules/ecs/task-definitions.tf), with no-new-privileges
# (dockerSecurityOptions). internal/upstream holds the same sets, and a
# test checks these lines against it. The exporter sidecar adds none
# (terraform/modules/mailtier_sidecar).
CAPS_IMAP=-all,+chown,+dac_override,+fowner,+kill,+net_bind_service,+setgid,+setuid,+sys_chroot
CAPS_SMTP_IN=-all,+kill,+net_bind_service,+setgid,+setuid
CAPS_SMTP_OUT=-all,+chown,+dac_override,+fowner,+kill,+net_bind_service,+setgid,+setuid,+sys_chroot
CAPS_SIDECAR=-all

# One instance of each daemon serves all three tiers here, so each runs
# under the smallest set of the tiers that run it upstream: a program that
# works with fewer capabilities works with more. rsyslog, sendmail and
# logrotate run on every tier, OpenDKIM on smtp-in and smtp-out: smtp-in's
# set. Dovecot runs on imap and smtp-out, whose sets are the same.
# fail2ban is not part of cabal-infra and keeps root's.
CAPS_RSYSLOG=$CAPS_SMTP_IN
CAPS_SENDMAIL=$CAPS_SMTP_IN
CAPS_OPENDKIM=$CAPS_SMTP_IN
CAPS_LOGROTATE=$CAPS_SMTP_IN
CAPS_DOVECOT=$CAPS_IMAP
[ "$CAPS_IMAP" = "$CAPS_SMTP_OUT" ] || { echo "Dovecot's set must be both imap's and smtp-out's" >&2; exit 1; }

# with_caps SET CMD... runs CMD as a task definition runs it: the bounding
# set SET (so exactly SET after exec, as root), nothing inheritable, and
# no_new_privs.
with_caps() {
	local set=$1
	shift
	setpriv --bounding-set "$set" --inh-caps -all --no-new-privs -- "$@"
}

log() { echo "[e2e $(date -u +%T)] $*"; }
die() { log "ERROR: $*"; exit 1; }

# Packages: the daemons, and sendmail-bin's libraries. sendmail-bin itself
# Conflicts with every other MTA, and installing one (postfix, exim) would
# remove it: it is downloaded and unpacked instead of installed.
PACKAGES="prometheus m4 sendmail-base sendmail-cf dovecot-core dovecot-imapd dovecot-submissiond
	dovecot-lmtpd opendkim opendkim-tools fail2ban rsyslog logrotate openssl iproute2
	libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0"

install_packages() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		log "installing:$missing"
		apt-get update -qq
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=600 $missing >/dev/null
	fi
	if [ ! -x "$SM" ]; then
		log "unpacking Debian's sendmail-bin into $SENDMAIL"
		rm -rf "$CACHE"
		install -d "$CACHE"
		(cd "$CACHE" && { apt-get download -qq -o APT::Sandbox::User=root sendmail-bin ||
			{ apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root sendmail-bin; }; })
		dpkg-deb -x "$CACHE"/sendmail-bin_*.deb "$SENDMAIL"
	fi
	if ldd "$SM" | grep -q 'not found'; then
		ldd "$SM"
		die "sendmail's libraries are missing"
	fi
}

# render TEMPLATE DEST fills in @DIR@ and @SENDMAIL@.
render() {
	install -d "$(dirname "$2")"
	sed -e "s|@DIR@|$DIR|g" -e "s|@SENDMAIL@|$SENDMAIL|g" "$1" >"$2"
}

configure() {
	case $DIR in
	/*/*) ;;
	*) die "MAILTIER_E2E_DIR must be an absolute path below /, not '$DIR'" ;;
	esac
	rm -rf "$DIR"
	install -d -m 0755 "$DIR" "$DIR/bin" "$DIR/bin/tier" "$DIR/etc" "$DIR/lib" "$DIR/log"
	# the mail log's directory as docker/mail/install.sh makes it in the
	# image: root:mail, setgid, so files created in it are in group mail
	# without a chown (smtp-in has no CAP_CHOWN)
	install -d -m 2750 -g mail "$DIR/log/mail"
	# sendmail and logrotate for the driver, under their capabilities
	local w
	for w in "sendmail:$CAPS_SENDMAIL:$SM" "logrotate:$CAPS_LOGROTATE:$(command -v logrotate)"; do
		printf '#!/bin/sh\nexec setpriv --bounding-set %s --inh-caps -all --no-new-privs -- %s "$@"\n' \
			"$(echo "$w" | cut -d: -f2)" "$(echo "$w" | cut -d: -f3)" >"$DIR/bin/tier/${w%%:*}"
		chmod 0755 "$DIR/bin/tier/${w%%:*}"
	done
	local conf=$e2e/conf

	# What ships (docker/mail), staged under $DIR/root by its own installer:
	# rsyslog.conf, the logrotate configuration, Dovecot's conf.d files,
	# sendmail's mailtier.m4, and the logging keys merged into opendkim.conf.
	render "$conf/opendkim/opendkim.conf" "$DIR/root/etc/opendkim.conf"
	MAILTIER_LOG_DIR=$DIR/log/mail sh "$repo/docker/mail/install.sh" "$DIR/root"

	# the namespace's own /etc files: no DNS, the suite's users and hosts
	install -d "$DIR/etc/ns"
	cp "$conf/ns/hosts" "$conf/ns/nsswitch.conf" "$conf/ns/resolv.conf" "$DIR/etc/ns/"
	{ grep -v -E '^(vmail|alice|bob|carol|dave|frank):' /etc/passwd; cat "$conf/ns/passwd"; } >"$DIR/etc/ns/passwd"
	{ grep -v -E '^vmail:' /etc/group; cat "$conf/ns/group"; } >"$DIR/etc/ns/group"

	# one self-signed certificate for sendmail's STARTTLS and Dovecot's TLS
	install -d -m 0755 "$DIR/etc/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=mx.e2e.test \
		-keyout "$DIR/etc/tls/key.pem" -out "$DIR/etc/tls/cert.pem" 2>/dev/null
	chmod 0600 "$DIR/etc/tls/key.pem"

	# sendmail
	local f
	for f in sendmail.mc access mailertable local-host-names relay-domains service.switch aliases; do
		render "$conf/mail/$f" "$DIR/etc/mail/$f"
	done
	m4 "$DIR/etc/mail/sendmail.mc" >"$DIR/etc/mail/sendmail.cf"
	local makemap=("$SENDMAIL/usr/libexec/sendmail/makemap" -C "$DIR/etc/mail/sendmail.cf" hash)
	(cd "$DIR/etc/mail" && "${makemap[@]}" access <access && "${makemap[@]}" mailertable <mailertable)
	touch "$DIR/etc/mail/statistics" "$DIR/etc/mail/trusted-users"
	install -d "$DIR/mqueue"
	MAILTIER_QUEUE_GROUP=smmsp sh "$repo/docker/mail/sendmail/mqueue-permissions.sh" "$DIR/mqueue"

	# Dovecot
	render "$conf/dovecot/dovecot.conf" "$DIR/etc/dovecot/dovecot.conf"
	render "$conf/dovecot/users" "$DIR/etc/dovecot/users"
	chown root:dovecot "$DIR/etc/dovecot/users"
	chmod 0640 "$DIR/etc/dovecot/users"
	install -d -m 0755 "$DIR/lib/dovecot"
	install -d -o 5000 -g 5000 -m 0750 "$DIR/vmail"

	# OpenDKIM: a key for e2e.test; broken.test's key is missing on purpose
	for f in KeyTable SigningTable TrustedHosts; do
		render "$conf/opendkim/$f" "$DIR/etc/opendkim/$f"
	done
	install -d -o opendkim -g opendkim -m 0700 "$DIR/etc/opendkim/keys"
	opendkim-genkey -b 2048 -d e2e.test -s mail -D "$DIR/etc/opendkim/keys"
	chown opendkim:opendkim "$DIR/etc/opendkim/keys"/*
	chmod 0600 "$DIR/etc/opendkim/keys/mail.private"

	install -m 0644 "$conf/known-bots" "$DIR/etc/known-bots"

	# fail2ban: Debian's filters and actions, the suite's jails only
	cp -a /etc/fail2ban "$DIR/etc/fail2ban"
	rm -f "$DIR/etc/fail2ban/jail.d/"* "$DIR/etc/fail2ban/"*.local
	render "$conf/fail2ban/jail.local" "$DIR/etc/fail2ban/jail.local"
	render "$conf/fail2ban/fail2ban.local" "$DIR/etc/fail2ban/fail2ban.local"
}

# --- inside the namespaces (pid 1 of a pid namespace of its own) ----------

# wait_for WHAT CMD... polls CMD for up to 30 s. CMD's output is dropped;
# on fd 3 it may say why it gives up.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 300); do
		"$@" 3>&2 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up"
}
listening() { ss -Hltn "sport = :$1" | grep -q .; }
exporter_up() {
	kill -0 "$(cat /run/mailtier_exporter.pid)" 2>/dev/null || die "the exporter exited: $(cat "$DIR/log/exporter.log")" >&3
	listening 9469
}

# new_log PATH makes an empty log, 0640 root:mail, appear at once: a file
# created and then given its group would be unreadable to the exporter for
# a moment, and a log it cannot open it gives up on.
new_log() {
	install -m 0640 -o root -g mail /dev/null "$1.new"
	mv "$1.new" "$1"
}

private_namespace() {
	# /dev: a few devices, and a /dev/log nobody else's syslog daemon can take
	mount -t tmpfs -o mode=0755 mailtier-e2e-dev /dev
	mknod -m 0666 /dev/null c 1 3
	mknod -m 0666 /dev/zero c 1 5
	mknod -m 0666 /dev/full c 1 7
	mknod -m 0666 /dev/random c 1 8
	mknod -m 0666 /dev/urandom c 1 9
	mknod -m 0666 /dev/tty c 5 0
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	install -d -m 1777 /dev/shm
	mount -t tmpfs -o mode=0755 mailtier-e2e-run /run
	mount -t tmpfs -o mode=1777 mailtier-e2e-tmp /tmp
	local f
	for f in hosts nsswitch.conf resolv.conf passwd group; do
		mount --bind "$DIR/etc/ns/$f" "/etc/$f"
	done
	hostname mx.e2e.test
	ip link set lo up
	# nothing can leave 127.0.0.0/8 and ::1: there is no other interface
	if ip -o link show | grep -v ': lo:'; then die "the network namespace has more than loopback"; fi
}

start_daemons() {
	log "starting rsyslogd"
	with_caps "$CAPS_RSYSLOG" rsyslogd -f "$DIR/root/etc/rsyslog.conf" -i /run/rsyslogd.pid
	wait_for "rsyslogd" test -S /dev/log

	log "starting opendkim"
	# root's: OpenDKIM writes its pid file as root, before it becomes
	# opendkim, and root without CAP_DAC_OVERRIDE (smtp-in) may write only
	# where the mode bits let its owner
	install -d -o root -g opendkim -m 0755 /run/opendkim
	with_caps "$CAPS_OPENDKIM" opendkim -x "$DIR/root/etc/opendkim.conf"
	wait_for "opendkim" listening 8891

	log "starting sendmail"
	# root's, for the same reason: the control socket and the pid file
	install -d -o root -g smmsp -m 2755 /run/sendmail /run/sendmail/mta
	with_caps "$CAPS_SENDMAIL" "$SM" -C "$DIR/etc/mail/sendmail.cf" -L sm-mta -bd
	wait_for "sendmail" listening 2525
	wait_for "sendmail" listening 2587

	log "starting dovecot"
	with_caps "$CAPS_DOVECOT" dovecot -c "$DIR/etc/dovecot/dovecot.conf"
	local p
	for p in 1143 1993 1587 2424 9900; do wait_for "dovecot" listening $p; done

	log "starting fail2ban"
	install -d /run/fail2ban
	fail2ban-client -c "$DIR/etc/fail2ban" -q start >/dev/null
	wait_for "fail2ban" fail2ban-client ping
}

# stop PIDFILE stops the process a pid file names and waits for it.
stop() {
	local pid i
	pid=$(head -n 1 "$1" 2>/dev/null | tr -dc 0-9) || true
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop_all() {
	log "stopping the daemons"
	fail2ban-client -q stop >/dev/null 2>&1 || stop /run/fail2ban/fail2ban.pid
	stop /run/dovecot/master.pid
	stop /run/sendmail/mta/sendmail.pid
	stop /run/opendkim/opendkim.pid
	stop /run/mailtier_exporter.pid
	stop /run/prometheus.pid
	stop /run/rsyslogd.pid
	# Whatever is left dies with this pid namespace when this shell exits.
}

inside() {
	private_namespace
	trap stop_all EXIT
	trap 'exit 130' INT TERM

	# Aliases, before rsyslogd runs: newaliases would log as "sendmail".
	"$SM" -C "$DIR/etc/mail/sendmail.cf" -bi >/dev/null

	# The exporter first, as in production: it waits for the log, which
	# appears (as logrotate's "create" would make it) before the daemons start.
	local exporter=$DIR/bin/mailtier_exporter flags
	flags=(--web.listen-address=127.0.0.1:9469 --tail.poll-interval=10ms
		"--tail.path=$DIR/log/mail/maillog" "--tail.path=$DIR/log/fail2ban.log"
		"--collector.mqueue.path=$DIR/mqueue"
		--collector.dovecot.stats-url=http://127.0.0.1:9900/metrics
		"--collector.dovecot.known-bot-networks=$DIR/etc/known-bots"
		--collector.opendkim.probe.address=inet:8891@127.0.0.1 --collector.opendkim.probe.from=probe@e2e.test
		--collector.opendkim.probe.interval=5s
		--collector.anvil --collector.anvil.socket=/run/dovecot/anvil
		--collector.process --collector.process.names=dovecot,sendmail,opendkim,fail2ban/fail2ban-server,rsyslog/rsyslogd)
	log "starting the exporter: ${flags[*]}"
	# As the sidecar runs: not root, in the groups of the log and the queue.
	setpriv --reuid=nobody --regid=nogroup --groups="$(getent group mail | cut -d: -f3),$(getent group smmsp | cut -d: -f3)" \
		--bounding-set "$CAPS_SIDECAR" --inh-caps -all --no-new-privs \
		"$exporter" "${flags[@]}" >"$DIR/log/exporter.log" 2>&1 &
	echo $! >/run/mailtier_exporter.pid
	wait_for "the exporter" exporter_up
	# fail2ban keeps the mode of a log that exists: readable by group mail
	new_log "$DIR/log/mail/maillog"
	new_log "$DIR/log/fail2ban.log"

	start_prometheus
	start_daemons
	# The driver's queue runs and logrotate run as the daemons do.
	PATH=$DIR/bin/tier:$PATH "$DIR/bin/driver" -dir "$DIR" -sendmail "$DIR/bin/tier/sendmail" \
		-metrics http://127.0.0.1:9469/metrics
	check_live_panels
}

# Prometheus scrapes the exporter every second, once per tier (the same
# exporter serves all three here), as docker/prometheus does per sidecar.
start_prometheus() {
	install -d "$DIR/prometheus"
	cat >"$DIR/etc/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mailtier
    static_configs:
      - targets: ["127.0.0.1:9469"]
        labels: {tier: imap}
      - targets: ["127.0.0.1:9469"]
        labels: {tier: smtp-in}
      - targets: ["127.0.0.1:9469"]
        labels: {tier: smtp-out}
EOC
	prometheus --config.file="$DIR/etc/prometheus.yml" --storage.tsdb.path="$DIR/prometheus" \
		--web.listen-address=127.0.0.1:9090 >"$DIR/log/prometheus.log" 2>&1 &
	echo $! >/run/prometheus.pid
	wait_for "Prometheus" prometheus_up
}

prometheus_up() {
	kill -0 "$(cat /run/prometheus.pid)" 2>/dev/null || die "Prometheus exited: $(cat "$DIR/log/prometheus.log")" >&3
	listening 9090
}

# The dashboard panels only live daemons can fill (Dovecot's own
# statistics and its anvil socket, the DKIM signing probe, the daemons'
# /proc), which the dashboards' replay test cannot prove: each must return
# data here.
check_live_panels() {
	log "checking the live-only dashboard panels"
	"$DIR/bin/checkpanels" --prometheus=http://127.0.0.1:9090 --range=30s --var instance=.+ --var __rate_interval=10s \
		--panel '^(IMAP command time|imap: IMAP command p95|DKIM signing time|smtp-out: DKIM signing p95|DKIM signing probe|Open file descriptors vs limit|imap: file descriptors used|Active IMAP sessions)$'
}

main() {
	[ "$(id -u)" = 0 ] || die "the end-to-end suite runs as root (it installs packages and starts daemons)"
	local t0=$SECONDS
	install_packages
	log "packages ready in $((SECONDS - t0)) s"
	configure
	# the exporter of this tree, where its unprivileged user can run it
	(cd "$repo" && CGO_ENABLED=0 go build -o "$DIR/bin/mailtier_exporter" ./exporters/mailtier_exporter &&
		go build -o "$DIR/bin/driver" ./e2e/driver &&
		go build -o "$DIR/bin/checkpanels" ./dashboards/cmd/checkpanels)
	local rc=0
	unshare --mount --uts --net --pid --fork --mount-proc \
		--propagation private -- "$e2e/run.sh" inside || rc=$?
	log "done in $((SECONDS - t0)) s; logs in $DIR/log"
	return $rc
}

case ${1:-} in
inside) inside ;;
"") main ;;
*) die "usage: $0" ;;
esac
