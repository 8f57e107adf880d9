package registry

import "fmt"
import "strings"

import "github.com/cabalmail/mailtier/collectors"

// TerraformFile is where Terraform reads the registry, relative to the
// repository's root.
const TerraformFile = "terraform/modules/mailtier_sidecar/collectors.tf"

// Terraform renders TerraformFile: the collectors the exporter has and
// those each tier's sidecar runs, as Terraform locals, formatted as
// `terraform fmt` writes them. registry_test fails when the file in the
// tree differs; `go test ./collectors/registry -update` rewrites it.
func (l List) Terraform() string {
	var b strings.Builder
	b.WriteString(`# Generated from collectors/registry by ` + "`go test ./collectors/registry -update`" + `:
# edit the collectors' Registrations, not this file.
locals {
  # Every collector the exporter has, in the order of its --help. Each tier
  # passes --collector.<name> or --no-collector.<name> for all of them, so
  # what a tier runs does not depend on the exporter's defaults.
`)
	fmt.Fprintf(&b, "  all_collectors = %s\n\n", hclList(l.Names()))
	b.WriteString(`  # The collectors each tier's sidecar runs when its variables turn none
  # off (locals.tf: fail2ban_collector, anvil_collector, share_pid_namespace).
  registry_collectors = {
`)
	width := 0
	for _, tier := range collectors.MailTiers {
		width = max(width, len(tier)+2)
	}
	for _, tier := range collectors.MailTiers {
		fmt.Fprintf(&b, "    %-*s = %s\n", width, `"`+tier+`"`, hclList(l.OnTier(tier)))
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

func hclList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = `"` + s + `"`
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
