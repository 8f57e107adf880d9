package dashboards_test

import "os"
import "path/filepath"
import "testing"

import "github.com/cabalmail/mailtier/dashboards/grafana"
import "github.com/cabalmail/mailtier/dashboards/panelcheck"
import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/rules/rulefiles"

// What the tests read from the rest of the repository: the dashboards as
// Grafana loads them, docs/metrics.md, the rules and the runbooks.

// loadDashboards reads every *.json in dashboards/.
func loadDashboards(t *testing.T) []grafana.Dashboard {
	t.Helper()
	ds, err := panelcheck.LoadDashboards(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func loadRules(t *testing.T) []rulefiles.Loaded {
	t.Helper()
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	return rs.Rules
}

func loadLint(t *testing.T) panelcheck.Lint {
	t.Helper()
	c, err := panelcheck.LoadLint(".lint")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
