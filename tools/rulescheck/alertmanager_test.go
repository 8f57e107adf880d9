package rulescheck_test

import "os"
import "path/filepath"
import "strings"
import "testing"

import amconfig "github.com/prometheus/alertmanager/config"
import amlabels "github.com/prometheus/alertmanager/pkg/labels"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"
import "github.com/cabalmail/mailtier/rules/rulefiles"

// TestAlertmanagerNamesExist reads docker/alertmanager/alertmanager.yml
// with Alertmanager's own configuration loader and checks that every alert
// name its inhibit rules match is one the rules define.
func TestAlertmanagerNamesExist(t *testing.T) {
	root := testenv.RepoRoot(t)
	template, err := os.ReadFile(filepath.Join(root, "docker", "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The entrypoint puts the sink's URL in place of the placeholder.
	c, err := amconfig.Load(strings.ReplaceAll(string(template), "__ALERT_SINK_HOST__", "sink.example.com"))
	if err != nil {
		t.Fatalf("docker/alertmanager/alertmanager.yml: %v", err)
	}
	rs, err := rulefiles.Load(filepath.Join(root, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	names := rs.AlertNames()
	// cabal-infra's alerts, which its rules define.
	for _, a := range upstream.Alerts {
		names[a.Name] = true
	}
	if len(c.InhibitRules) == 0 {
		t.Fatal("no inhibit rules")
	}
	ops := map[amlabels.MatchType]string{amlabels.MatchEqual: "=", amlabels.MatchNotEqual: "!=", amlabels.MatchRegexp: "=~", amlabels.MatchNotRegexp: "!~"}
	for _, r := range c.InhibitRules {
		for _, m := range append(append(amlabels.Matchers{}, r.SourceMatchers...), r.TargetMatchers...) {
			if m.Name != "alertname" {
				continue
			}
			for _, v := range rulefiles.LiteralValues(ops[m.Type], m.Value) {
				if !names[v] {
					t.Errorf("inhibit rule matcher %s names %q, which no rule defines", m, v)
				}
			}
		}
	}
}
