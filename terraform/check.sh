#!/bin/sh
# Check the Terraform with terraform itself:
#   terraform fmt -check -recursive     every .tf file under terraform/
#   terraform validate                  the sidecar module (it has no
#                                       provider, so init needs no network)
#
#   terraform/check.sh          (TERRAFORM=/path/to/terraform to pick one)
#
# Terraform 1.5.7, the last MPL-2.0 release, builds from the Go module proxy:
#   go install github.com/hashicorp/terraform@v1.5.7
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tf=${TERRAFORM:-terraform}
command -v "$tf" >/dev/null 2>&1 || tf=$(go env GOPATH)/bin/terraform
[ -x "$tf" ] || command -v "$tf" >/dev/null 2>&1 || {
	echo "check.sh: no terraform (go install github.com/hashicorp/terraform@v1.5.7)" >&2
	exit 2
}
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# No user CLI configuration: nothing here needs a provider mirror.
export TF_CLI_CONFIG_FILE=/dev/null

"$tf" fmt -check -recursive -diff "$here"
echo "ok   terraform fmt -check -recursive terraform/"

# validate writes .terraform/ into the module directory: work on a copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$here/modules/mailtier_sidecar" "$work/"
"$tf" -chdir="$work/mailtier_sidecar" init -backend=false >/dev/null
"$tf" -chdir="$work/mailtier_sidecar" validate -no-color
echo "ok   terraform validate modules/mailtier_sidecar"
