#!/bin/sh
# Point the runbook links of rule files at BASE_URL.
#
#   runbooks.sh BASE_URL FILE...
#
# Every rule's runbook_url starts with DEFAULT below, this repository's
# docs/runbooks/. The Prometheus image runs this at build time with its
# RUNBOOK_BASE_URL build argument, so the links can point wherever the
# runbooks are published: this repository at a fork or tag, or cabal-infra's
# docs/operations/runbooks/ (docs/alerts.md, "Runbook links"). BASE_URL must
# be an http(s) URL ending in /; the runbook's file name (<alert>.md) is
# appended to it. Files are rewritten in place.
set -eu

DEFAULT=https://github.com/cabalmail/mailtier/blob/main/docs/runbooks/

[ $# -ge 2 ] || { echo "usage: $0 BASE_URL FILE..." >&2; exit 2; }
base=$1
shift
case $base in
http://*/ | https://*/) ;;
*) echo "runbooks.sh: BASE_URL must be an http(s) URL ending in /, not '$base'" >&2; exit 2 ;;
esac
case $base in
*[!A-Za-z0-9._~:/?#@!\$\&\'\(\)*+,\;=%-]*)
	echo "runbooks.sh: BASE_URL holds a character a URL may not: '$base'" >&2
	exit 2
	;;
esac
[ "$base" = "$DEFAULT" ] && exit 0
# | cannot occur in the URL (checked above), so it delimits the expression.
esc=$(printf '%s' "$base" | sed -e 's/[&\\]/\\&/g')
for f in "$@"; do
	sed -e "s|^\([[:space:]]*runbook_url:[[:space:]]*\)$DEFAULT|\1$esc|" "$f" >"$f.tmp"
	mv "$f.tmp" "$f"
done
