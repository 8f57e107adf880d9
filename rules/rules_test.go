// Package rules_test checks the Prometheus rules in this directory, their
// promtool unit tests in tests/, the runbooks and alert list in docs/, and
// the Prometheus and Alertmanager configurations in docker/.
//
// The checks that run promtool and amtool (Debian packages prometheus and
// prometheus-alertmanager) belong to the integration tier (make test); the
// rest runs in plain `go test ./rules/...`.
package rules_test

import "bufio"
import "bytes"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/docs/metricsdoc"
import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/rules/rulefiles"

const runbookBase = "https://github.com/cabalmail/mailtier/blob/main/docs/runbooks/"

var (
	severities = map[string]bool{"critical": true, "warning": true, "info": true}
	// tiers are the values of the tier label: the three mail tiers, set by
	// the scrape config, and the AWS tiers of the monitoring plan.
	tiers = map[string]bool{
		"imap": true, "smtp-in": true, "smtp-out": true,
		"api": true, "frontend": true, "data": true, "auth": true, "platform": true,
	}
	// alertPrefixes lists, per rules area, the prefixes its alert names
	// may start with.
	alertPrefixes = map[string][]string{
		"sendmail":  {"Sendmail"},
		"dovecot":   {"Dovecot"},
		"opendkim":  {"Opendkim"},
		"processes": {"Process"},
		"exporter":  {"Mailtier"},
		"node":      {"Node"},
		"probe":     {"Probe"},
		"api":       {"Lambda", "ApiGateway"},
		"frontend":  {"CloudFront"},
		"data":      {"DynamoDB", "Efs"},
		"auth":      {"Cognito"},
		"platform":  {"Ecs", "Nat"},
	}
	recordNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$`)
	alertNameRE  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
)

// run runs a command and returns its combined output, failing the test on
// a non-zero exit.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// --- rule files -------------------------------------------------------------

// alertKey names one alerting rule: an alert name can carry two rules
// that differ in severity (a warning and a critical threshold).
type alertKey struct{ Name, Severity string }

// loadRules reads rules/, reporting every departure from its layout.
func loadRules(t *testing.T) rulefiles.Set {
	t.Helper()
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rs.Problems {
		t.Error(p)
	}
	return rs
}

// --- promtool test files ----------------------------------------------------

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := rulefiles.UnitTestPaths(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func loadTests(t *testing.T) map[string]rulefiles.UnitTestFile {
	t.Helper()
	out := map[string]rulefiles.UnitTestFile{}
	for _, path := range testFiles(t) {
		var tf rulefiles.UnitTestFile
		if err := rulefiles.DecodeStrict(path, &tf); err != nil {
			t.Errorf("%v", err)
			continue
		}
		out[path] = tf
	}
	return out
}

// --- promtool and amtool ------------------------------------------------------

func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "prometheus")
	rs := loadRules(t)
	out := run(t, nil, promtool, append([]string{"check", "rules"}, rs.Files...)...)
	if got, want := strings.Count(out, "SUCCESS"), len(rs.Files); got != want {
		t.Errorf("promtool check rules reported %d successes for %d files:\n%s", got, want, out)
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("promtool check rules warns:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "prometheus")
	files := testFiles(t)
	out := run(t, nil, promtool, append([]string{"test", "rules"}, files...)...)
	if got, want := strings.Count(out, "SUCCESS"), len(files); got != want {
		t.Errorf("promtool test rules reported %d successes for %d files:\n%s", got, want, out)
	}
}

// TestPromtoolCheckConfig renders docker/prometheus/prometheus.yml with its
// entrypoint into the layout of the image (the config beside rules/) and
// checks it, rules included.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "prometheus")
	root := testenv.RepoRoot(t)
	rs := loadRules(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range rs.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rules", filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "prometheus.yml")
	run(t, []string{
		"MAILTIER_PROM_TEMPLATE=" + filepath.Join(root, "docker", "prometheus", "prometheus.yml"),
		"MAILTIER_PROM_CONFIG=" + config,
		"MAILTIER_PROM_BINARY=true",
		"ENVIRONMENT=prod",
		"CONTROL_DOMAIN=mail.example.com",
	}, "sh", filepath.Join(root, "docker", "prometheus", "entrypoint.sh"))

	rendered, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rendered, []byte("__ENVIRONMENT__")) || bytes.Contains(rendered, []byte("__CONTROL_DOMAIN__")) {
		t.Errorf("rendered prometheus.yml still holds a placeholder:\n%s", rendered)
	}
	for _, want := range []string{"environment: prod"} {
		if !bytes.Contains(rendered, []byte(want)) {
			t.Errorf("rendered prometheus.yml lacks %q", want)
		}
	}

	out := run(t, nil, promtool, "check", "config", config)
	if want := fmt.Sprintf("SUCCESS: %d rule files found", len(rs.Files)); !strings.Contains(out, want) {
		t.Errorf("promtool check config: want %q in\n%s", want, out)
	}
	if strings.Contains(out, "WARNING") || strings.Contains(out, "FAILED") {
		t.Errorf("promtool check config:\n%s", out)
	}
}

func TestEntrypointsRefuseMissingSettings(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	cases := []struct {
		script string
		env    []string
	}{
		{"prometheus", []string{"CONTROL_DOMAIN=mail.example.com"}},
		{"prometheus", []string{"ENVIRONMENT=prod"}},
		{"prometheus", []string{"ENVIRONMENT=prod", "CONTROL_DOMAIN=mail.example.com/evil"}},
		{"alertmanager", []string{"ALERT_SECRET=s"}},
		{"alertmanager", []string{"ALERT_SINK_URL=https://sink.example.com/"}},
		{"alertmanager", []string{"ALERT_SINK_URL=http://sink.example.com/", "ALERT_SECRET=s"}},
	}
	for _, c := range cases {
		cmd := exec.Command("sh", filepath.Join(root, "docker", c.script, "entrypoint.sh"))
		cmd.Env = append([]string{
			"PATH=" + os.Getenv("PATH"),
			"MAILTIER_PROM_TEMPLATE=" + filepath.Join(root, "docker", "prometheus", "prometheus.yml"),
			"MAILTIER_PROM_CONFIG=" + filepath.Join(dir, "prometheus.yml"),
			"MAILTIER_PROM_BINARY=true",
			"MAILTIER_AM_TEMPLATE=" + filepath.Join(root, "docker", "alertmanager", "alertmanager.yml"),
			"MAILTIER_AM_CONFIG=" + filepath.Join(dir, "alertmanager.yml"),
			"MAILTIER_AM_SECRET_FILE=" + filepath.Join(dir, "secret"),
			"MAILTIER_AM_BINARY=true",
		}, c.env...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("docker/%s/entrypoint.sh with %v succeeded, want a refusal:\n%s", c.script, c.env, out)
		}
	}
}

// --- rule naming and metadata ---------------------------------------------------

func TestRuleNames(t *testing.T) {
	rs := loadRules(t)
	seen := map[string]string{}
	for _, r := range rs.Rules {
		file := filepath.Base(r.File)
		if r.Record != "" {
			if !recordNameRE.MatchString(r.Record) {
				t.Errorf("%s: recording rule %q is not named level:metric:operations", file, r.Record)
			}
			if prev, ok := seen[r.Record]; ok {
				t.Errorf("%s: recording rule %s is also defined in %s", file, r.Record, prev)
			}
			seen[r.Record] = file
			continue
		}
		if !alertNameRE.MatchString(r.Alert) {
			t.Errorf("%s: alert %q is not CamelCase", file, r.Alert)
		}
		prefixes, ok := alertPrefixes[r.Area]
		if !ok {
			t.Errorf("%s: area %q has no alert name prefixes in alertPrefixes", file, r.Area)
		}
		matched := false
		for _, p := range prefixes {
			matched = matched || strings.HasPrefix(r.Alert, p)
		}
		if !matched {
			t.Errorf("%s: alert %s does not start with one of %v", file, r.Alert, prefixes)
		}
	}
}

func TestAlertMetadata(t *testing.T) {
	rs := loadRules(t)
	seen := map[alertKey]bool{}
	for _, r := range rs.Alerts() {
		file := filepath.Base(r.File)
		sev := r.Labels["severity"]
		if !severities[sev] {
			t.Errorf("%s: %s has severity %q, want critical, warning or info", file, r.Alert, sev)
		}
		key := alertKey{r.Alert, sev}
		if seen[key] {
			t.Errorf("%s: %s has two %s rules", file, r.Alert, sev)
		}
		seen[key] = true
		if tier, ok := r.Labels["tier"]; ok && !tiers[tier] {
			t.Errorf("%s: %s has tier %q, not a known tier", file, r.Alert, tier)
		}
		summary, description := r.Annotations["summary"], r.Annotations["description"]
		if summary == "" || !strings.HasSuffix(summary, ".") || !strings.Contains(summary, "$value") {
			t.Errorf("%s: %s: summary must be a sentence ending in a period that shows $value, got %q", file, r.Alert, summary)
		}
		if description == "" || !strings.Contains(description, "$value") {
			t.Errorf("%s: %s: description must show $value, got %q", file, r.Alert, description)
		}
		if want := runbookBase + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: %s: runbook_url = %q, want %q", file, r.Alert, r.Annotations["runbook_url"], want)
		}
		for k := range r.Annotations {
			if k != "summary" && k != "description" && k != "runbook_url" {
				t.Errorf("%s: %s: unexpected annotation %q", file, r.Alert, k)
			}
		}
		for k := range r.Labels {
			if k != "severity" && k != "tier" {
				t.Errorf("%s: %s: unexpected static label %q", file, r.Alert, k)
			}
		}
	}
}

// TestAlertsAreTested checks that every alerting rule has a promtool case
// where it fires, with exact labels (a tier among them) and annotations,
// and one where it stays silent; that every case names an existing alert;
// and that each test file fixes the evaluation order of its groups, which
// promtool otherwise picks at random.
func TestAlertsAreTested(t *testing.T) {
	rs := loadRules(t)
	tests := loadTests(t)
	rulesByKey := map[alertKey]rulefiles.Loaded{}
	for _, r := range rs.Alerts() {
		rulesByKey[alertKey{r.Alert, r.Labels["severity"]}] = r
	}
	names := rs.AlertNames()
	firing := map[alertKey][]string{}
	silent := map[alertKey][]string{}
	tested := map[string]bool{}

	for path, tf := range tests {
		file := filepath.Base(path)
		var groups []string
		for _, rf := range tf.RuleFiles {
			p := filepath.Clean(filepath.Join(filepath.Dir(path), rf))
			g, ok := rs.Groups[p]
			if !ok {
				t.Errorf("%s: rule file %s is not one of the rule files under rules/", file, rf)
			}
			groups = append(groups, g...)
			tested[p] = true
		}
		if len(groups) > 1 {
			if got, want := strings.Join(tf.GroupEvalOrder, ","), strings.Join(groups, ","); got != want {
				t.Errorf("%s: group_eval_order is [%s], want [%s]: the rule files' groups, recording rules first", file, got, want)
			}
		}
		for _, g := range tf.Tests {
			for _, at := range g.AlertRuleTests {
				if !names[at.Alertname] {
					t.Errorf("%s: %q tests alert %q, which no rule defines", file, g.Name, at.Alertname)
					continue
				}
				where := file + ": " + g.Name + " @ " + at.EvalTime.String()
				present := map[string]bool{}
				for _, ea := range at.ExpAlerts {
					sev := ea.ExpLabels["severity"]
					r, ok := rulesByKey[alertKey{at.Alertname, sev}]
					if !ok {
						t.Errorf("%s: expects %s with severity %q, which no rule has", where, at.Alertname, sev)
						continue
					}
					present[sev] = true
					firing[alertKey{at.Alertname, sev}] = append(firing[alertKey{at.Alertname, sev}], where)
					if !tiers[ea.ExpLabels["tier"]] {
						t.Errorf("%s: expected %s alert has tier %q, want one of the known tiers", where, at.Alertname, ea.ExpLabels["tier"])
					}
					for k := range r.Annotations {
						if _, ok := ea.ExpAnnotations[k]; !ok {
							t.Errorf("%s: expected %s alert does not state its %s annotation", where, at.Alertname, k)
						}
					}
				}
				for key := range rulesByKey {
					if key.Name == at.Alertname && !present[key.Severity] {
						silent[key] = append(silent[key], where)
					}
				}
			}
		}
	}
	for _, f := range rs.Files {
		if !tested[f] {
			t.Errorf("rules/%s is loaded by no test file in rules/tests/", filepath.Base(f))
		}
	}
	for key := range rulesByKey {
		if len(firing[key]) == 0 {
			t.Errorf("%s (%s) has no promtool case where it fires", key.Name, key.Severity)
		}
		if len(silent[key]) == 0 {
			t.Errorf("%s (%s) has no promtool case where it stays silent", key.Name, key.Severity)
		}
	}
}

// --- runbooks and docs/alerts.md ------------------------------------------------

var runbookSections = []string{"## What it means", "## Impact", "## Confirm", "## Mitigate", "## Escalate"}

func TestRunbooks(t *testing.T) {
	rs := loadRules(t)
	root := testenv.RepoRoot(t)
	names := rs.AlertNames()
	for name := range names {
		path := filepath.Join(root, "docs", "runbooks", name+".md")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s has no runbook: %v", name, err)
			continue
		}
		text := string(data)
		if !strings.HasPrefix(text, "# "+name+"\n") {
			t.Errorf("docs/runbooks/%s.md must start with the heading \"# %s\"", name, name)
		}
		last := -1
		for _, s := range runbookSections {
			i := strings.Index(text, "\n"+s+"\n")
			if i < 0 {
				t.Errorf("docs/runbooks/%s.md lacks the section %q", name, s)
				continue
			}
			if i < last {
				t.Errorf("docs/runbooks/%s.md: section %q is out of order", name, s)
			}
			last = i
		}
		confirm := section(text, "## Confirm")
		if !strings.Contains(confirm, "```promql\n") {
			t.Errorf("docs/runbooks/%s.md: the Confirm section has no ```promql block", name)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "docs", "runbooks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".md")
		if !names[name] {
			t.Errorf("docs/runbooks/%s is the runbook of no alert", e.Name())
		}
	}
}

// section returns the text of a `## ` section up to the next one.
func section(text, heading string) string {
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := text[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		return rest[:j]
	}
	return rest
}

// TestAlertsDoc checks docs/alerts.md: one table row per alerting rule with
// its name, severity, tier and runbook link, and no row for a rule that
// does not exist.
func TestAlertsDoc(t *testing.T) {
	rs := loadRules(t)
	path := filepath.Join(testenv.RepoRoot(t), "docs", "alerts.md")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[alertKey]int{}
	nameRE := regexp.MustCompile("^`([A-Za-z0-9]+)`$")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := metricsdoc.TableCells(sc.Text())
		if len(cells) < 6 {
			continue
		}
		m := nameRE.FindStringSubmatch(cells[0])
		if m == nil {
			continue
		}
		key := alertKey{m[1], cells[1]}
		rows[key]++
		if want := "(runbooks/" + m[1] + ".md)"; !strings.Contains(cells[5], want) {
			t.Errorf("docs/alerts.md: row for %s (%s) does not link %s", key.Name, key.Severity, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[alertKey]bool{}
	for _, r := range rs.Alerts() {
		key := alertKey{r.Alert, r.Labels["severity"]}
		want[key] = true
		if rows[key] != 1 {
			t.Errorf("docs/alerts.md has %d rows for %s (%s), want 1", rows[key], key.Name, key.Severity)
		}
	}
	for key := range rows {
		if !want[key] {
			t.Errorf("docs/alerts.md lists %s (%s), which no rule defines", key.Name, key.Severity)
		}
	}
}
