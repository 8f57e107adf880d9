package registry_test

import "flag"
import "log/slog"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "testing"
import "time"

import "github.com/alecthomas/kingpin/v2"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/internal/testenv"

var update = flag.Bool("update", false, "rewrite "+registry.TerraformFile+" from the registry")

// TestTerraformCollectorsAreCurrent fails when Terraform's collector lists
// no longer say what the registry says.
func TestTerraformCollectorsAreCurrent(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(t), registry.TerraformFile)
	want := registry.All.Terraform()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: go test ./collectors/registry -update rewrites it; want\n%s", registry.TerraformFile, want)
	}
}

// TestTerraformRendering renders a list of two collectors.
func TestTerraformRendering(t *testing.T) {
	l := registry.List{
		{Name: "alpha", Tiers: []string{"imap", "smtp-out"}},
		{Name: "beta", Tiers: []string{"smtp-out"}},
	}
	want := "# Generated from collectors/registry by `go test ./collectors/registry -update`:\n" +
		"# edit the collectors' Registrations, not this file.\n" +
		"locals {\n" +
		"  # Every collector the exporter has, in the order of its --help. Each tier\n" +
		"  # passes --collector.<name> or --no-collector.<name> for all of them, so\n" +
		"  # what a tier runs does not depend on the exporter's defaults.\n" +
		"  all_collectors = [\"alpha\", \"beta\"]\n" +
		"\n" +
		"  # The collectors each tier's sidecar runs when its variables turn none\n" +
		"  # off (locals.tf: fail2ban_collector, anvil_collector, share_pid_namespace).\n" +
		"  registry_collectors = {\n" +
		"    \"imap\"     = [\"alpha\"]\n" +
		"    \"smtp-in\"  = []\n" +
		"    \"smtp-out\" = [\"alpha\", \"beta\"]\n" +
		"  }\n" +
		"}\n"
	if got := l.Terraform(); got != want {
		t.Errorf("Terraform() =\n%s\nwant\n%s", got, want)
	}
	if got, want := l.MetricPrefixes(), []string{registry.ExporterPrefix}; !slices.Equal(got, want) {
		t.Errorf("MetricPrefixes() = %v, want %v", got, want)
	}
}

// TestRegistrationsAreComplete checks what every collector must declare
// for the rest of the suite to derive from it.
func TestRegistrationsAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range registry.All {
		if r.Name == "" || seen[r.Name] {
			t.Errorf("collector name %q empty or listed twice", r.Name)
		}
		seen[r.Name] = true
		if r.Help == "" || r.Flags == nil {
			t.Errorf("%s: no Help or no Flags", r.Name)
		}
		if len(r.Tiers) == 0 {
			t.Errorf("%s: runs on no tier", r.Name)
		}
		for _, tier := range r.Tiers {
			if !slices.Contains(collectors.MailTiers, tier) {
				t.Errorf("%s: tier %q is not one of %v", r.Name, tier, collectors.MailTiers)
			}
		}
		if len(r.MetricPrefixes) == 0 {
			t.Errorf("%s: no metric prefix", r.Name)
		}
		for label, values := range r.Labels {
			if len(values) == 0 {
				t.Errorf("%s: label %s has an empty closed set", r.Name, label)
			}
		}
	}
}

// TestProgramsAreTheFlagDefaults builds every collector with its default
// flags: a log collector claims exactly its Registration's Programs, a
// scrape-time collector declares none.
func TestProgramsAreTheFlagDefaults(t *testing.T) {
	app := kingpin.New("test", "")
	builders := make([]collectors.Builder, len(registry.All))
	for i, r := range registry.All {
		builders[i] = r.DeclareFlags(app)
	}
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	env := collectors.Env{Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	for i, r := range registry.All {
		c, err := builders[i](env)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		var got []string
		if lc, ok := c.(collectors.LogCollector); ok {
			got = lc.Programs()
		}
		if !slices.Equal(got, r.Programs) {
			t.Errorf("%s claims %q with its default flags; its Registration says %q", r.Name, got, r.Programs)
		}
	}
}

// TestMetricsDocHasASectionPerCollector checks the registry's pointer into
// docs/metrics.md: a heading naming each collector.
func TestMetricsDocHasASectionPerCollector(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range registry.All {
		heading := regexp.MustCompile("(?m)^## .*\\(collector `" + regexp.QuoteMeta(r.Name) + "`")
		if !heading.Match(doc) {
			t.Errorf("docs/metrics.md has no heading \"## … (collector `%s`)\" documenting its metrics", r.Name)
		}
	}
}
