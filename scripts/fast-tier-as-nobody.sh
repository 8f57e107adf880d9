#!/bin/sh
# Runs the fast tier (plain `go test ./...`) the way a contributor without
# root and without Debian's packages would: as user nobody, in a private
# mount namespace where every program of the integration tier is replaced
# by an empty, non-executable file, so exec.LookPath finds none of them and
# an absolute path cannot run either. Needs root to set that up (unshare,
# mount, su); the tests themselves run as nobody with a fresh HOME and a
# readable copy of the module cache, and the network proxy turned off.
#
#   sh scripts/fast-tier-as-nobody.sh [go test arguments]   (default ./...)
#
# It runs the main module's tests, then the tools module's (tools/).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${MAILTIER_NOBODY_DIR:-/tmp/mailtier-nobody}
goroot=$(go env GOROOT)
modcache=$(go env GOMODCACHE)

mkdir -p "$work/home" "$work/gocache"
# A readable copy of the module cache (the user's own is usually under
# /root), brought up to date with what was downloaded since.
mkdir -p "$work/gomod"
cp -a -u "$modcache/." "$work/gomod/"
chown -R nobody "$work"

# Debian's programs the integration tier runs, and terraform.
hidden="promtool amtool prometheus prometheus-alertmanager alertmanager
dovecot doveadm doveconf opendkim opendkim-testkey opendkim-genkey
opendmarc fail2ban-client fail2ban-server fail2ban-regex sendmail sm-mta
makemap vmalert vmagent victoria-metrics rsyslogd logrotate m4 mtail
dnsmasq terraform"

args=${*:-./...}
exec unshare --mount --propagation private sh -eu -c '
	empty=$(mktemp) && chmod 0644 "$empty"
	for b in '"$(echo $hidden)"'; do
		for d in /usr/bin /usr/sbin /usr/local/bin /usr/lib/prometheus; do
			if [ -e "$d/$b" ]; then mount --bind "$empty" "$d/$b"; fi
		done
	done
	exec su -s /bin/sh nobody -c "cd '"$repo"' && exec env -i \
		PATH='"$goroot"'/bin:/usr/bin:/bin \
		HOME='"$work"'/home GOCACHE='"$work"'/gocache GOMODCACHE='"$work"'/gomod \
		GOFLAGS=-buildvcs=false GOPROXY=off GOTOOLCHAIN=local \
		sh -c \"go test '"$args"' && cd tools && go test '"$args"'\""
'
