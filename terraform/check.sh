#!/bin/sh
# Check the Terraform with terraform itself:
#   terraform fmt -check -recursive     every .tf file under terraform/
#   terraform validate                  the provider-free modules: the
#                                       sidecar, and the monitoring module's
#                                       settings (init needs no network)
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

# validate writes .terraform/ into the module directory: work on copies.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
for module in mailtier_sidecar mailtier_monitoring/settings; do
	copy="$work/$(echo "$module" | tr / _)"
	cp -R "$here/modules/$module" "$copy"
	"$tf" -chdir="$copy" init -backend=false >/dev/null
	"$tf" -chdir="$copy" validate -no-color
	echo "ok   terraform validate modules/$module"
done
