package dashboards_test

import "bytes"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"

import "github.com/cabalmail/mailtier/dashboards"
import "github.com/cabalmail/mailtier/dashboards/grafana"
import "github.com/cabalmail/mailtier/dashboards/panelcheck"

// The static checks: the JSON files in this directory, as Grafana loads
// them, against Grafana's conventions, grafana/dashboard-linter's rules
// (with the exclusions of .lint), the metrics of docs/metrics.md, the
// rules of rules/ and Prometheus' own parser (promtool).

// wantDashboards pins each file's uid, which links and bookmarks use, and
// its tier ("" for the overview).
var wantDashboards = map[string]struct{ uid, tier string }{
	"imap.json":     {"mailtier-imap", "imap"},
	"overview.json": {"mailtier-overview", ""},
	"smtp-in.json":  {"mailtier-smtp-in", "smtp-in"},
	"smtp-out.json": {"mailtier-smtp-out", "smtp-out"},
}

// validUnits are the Grafana unit ids (packages/grafana-data, valueFormats)
// the dashboards may use.
var validUnits = map[string]bool{
	"none": true, "short": true, "percent": true, "percentunit": true,
	"s": true, "ms": true, "µs": true, "ns": true, "m": true, "h": true, "d": true, "dtdurations": true,
	"bytes": true, "decbytes": true, "Bps": true, "binBps": true,
	"cps": true, "ops": true, "reqps": true, "rps": true, "wps": true, "iops": true,
	"cpm": true, "opm": true, "rpm": true, "wpm": true,
	"bool": true, "bool_yes_no": true, "bool_on_off": true,
}

// testVars are the values the checks substitute for Grafana's variables
// before handing a query to Prometheus.
var testVars = map[string]string{"__rate_interval": "1m", "instance": ".*"}

func TestGeneratedJSONIsCurrent(t *testing.T) {
	want, err := dashboards.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range want {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s is not generated: run go generate ./dashboards (%v)", name, err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from what the definitions render: run go generate ./dashboards", name)
		}
	}
	files, _ := filepath.Glob("*.json")
	for _, f := range files {
		if _, ok := want[f]; !ok {
			t.Errorf("%s is not rendered by any definition: remove it or run go generate ./dashboards", f)
		}
	}
	embedded, err := panelcheck.Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := panelcheck.Load(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) != len(onDisk) {
		t.Errorf("the embedded dashboards hold %d queries, the files %d: rebuild", len(embedded), len(onDisk))
	}
}

func TestDashboardsAreValid(t *testing.T) {
	ds := loadDashboards(t)
	uids, titles := map[string]string{}, map[string]string{}
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.File] = true
		want, ok := wantDashboards[d.File]
		if !ok {
			t.Errorf("%s: unexpected dashboard; add it to wantDashboards with its uid", d.File)
			continue
		}
		if d.UID != want.uid {
			t.Errorf("%s: uid %q, want %q (uids are stable: links and bookmarks use them)", d.File, d.UID, want.uid)
		}
		if len(d.UID) > 40 {
			t.Errorf("%s: uid %q is longer than Grafana's 40 characters", d.File, d.UID)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share the uid %q", d.File, other, d.UID)
		}
		uids[d.UID] = d.File
		if other, dup := titles[d.Title]; dup || d.Title == "" {
			t.Errorf("%s: title %q is empty or also %s's", d.File, d.Title, other)
		}
		titles[d.Title] = d.File
		if string(d.ID) != "null" {
			t.Errorf("%s: \"id\" must be null, or Grafana's provisioning refuses the file", d.File)
		}
		if d.Editable {
			t.Errorf("%s: editable; provisioned dashboards change in the repository, not in Grafana", d.File)
		}
		if d.SchemaVersion < 36 {
			t.Errorf("%s: schemaVersion %d predates the data source uids the panels use", d.File, d.SchemaVersion)
		}
		if !slices.Contains(d.Tags, "mailtier") {
			t.Errorf("%s: lacks the mailtier tag the dashboards' links list", d.File)
		}
		if want.tier != "" && !slices.Contains(d.Tags, want.tier) {
			t.Errorf("%s: lacks the tag %q", d.File, want.tier)
		}
		checkLayout(t, d)
	}
	for f := range wantDashboards {
		if !seen[f] {
			t.Errorf("%s is missing", f)
		}
	}
}

// checkLayout checks that panel ids are unique and that no two panels
// overlap on the 24-column grid.
func checkLayout(t *testing.T, d grafana.Dashboard) {
	t.Helper()
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	var all []grafana.Panel
	all = append(all, d.Panels...)
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("%s: panel id %d is used twice", d.File, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: panel %q is off the grid: %+v", d.File, p.Title, g)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("%s: panels %q and %q overlap", d.File, other, p.Title)
					return
				}
				taken[cell{x, y}] = p.Title
			}
		}
	}
}

func TestTemplating(t *testing.T) {
	for _, d := range loadDashboards(t) {
		want := wantDashboards[d.File]
		// template-datasource-rule
		ds, ok := d.Variable("datasource")
		if !ok || ds.Type != "datasource" || ds.Query != "prometheus" || ds.Label != "Data source" {
			t.Errorf("%s: needs a variable datasource (type datasource, query prometheus, label \"Data source\"), got %+v", d.File, ds)
		}
		// The query variables: the linter's template-instance-rule, and
		// template-on-time-change-reload.
		checkQueryVar := func(name, label string) {
			v, ok := d.Variable(name)
			if !ok {
				t.Errorf("%s: has no $%s variable", d.File, name)
				return
			}
			if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != "$datasource" || v.Label != label ||
				!v.Multi || !v.IncludeAll || v.AllValue != ".+" || v.Refresh != 2 {
				t.Errorf("%s: $%s must be a multi-value query on $datasource labelled %q, with All as .+, refreshed on time range change; got %+v", d.File, name, label, v)
			}
			q, _ := v.Query.(string)
			if q != v.Definition {
				t.Errorf("%s: $%s: query %q and definition %q differ", d.File, name, q, v.Definition)
			}
		}
		checkQueryVar("instance", "Instance")
		if want.tier == "" {
			checkQueryVar("tier", "Tier")
		} else {
			v, ok := d.Variable("tier")
			cur, _ := v.Current.Value.(string)
			if !ok || v.Type != "custom" || v.Query != want.tier || cur != want.tier || v.Label != "Tier" {
				t.Errorf("%s: $tier must be fixed (custom) to %q, got %+v", d.File, want.tier, v)
			}
		}
		if len(d.Templating.List) != 3 {
			t.Errorf("%s: %d variables, want datasource, tier and instance", d.File, len(d.Templating.List))
		}
	}
}

func TestPanelConventions(t *testing.T) {
	for _, d := range loadDashboards(t) {
		titles := map[string]bool{}
		for _, p := range d.AllPanels() {
			where := fmt.Sprintf("%s: panel %q", d.File, p.Title)
			// panel-title-description-rule
			if p.Title == "" || len(p.Description) < 60 {
				t.Errorf("%s: needs a title and a description that says what to do", where)
			}
			if titles[p.Title] {
				t.Errorf("%s: the title is used twice (the checks name panels by title)", where)
			}
			titles[p.Title] = true
			if p.FieldConfig == nil {
				t.Errorf("%s: has no fieldConfig (unit, thresholds)", where)
				continue
			}
			// panel-units-rule
			if !validUnits[p.FieldConfig.Defaults.Unit] {
				t.Errorf("%s: unit %q is not a Grafana unit id", where, p.FieldConfig.Defaults.Unit)
			}
			// panel-datasource-rule, and each target's own data source
			if p.Datasource == nil || p.Datasource.UID != "$datasource" {
				t.Errorf("%s: data source %v, want the $datasource variable", where, p.Datasource)
			}
			// panel-no-targets-rule
			if len(p.Targets) == 0 {
				t.Errorf("%s: has no query", where)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.UID != "$datasource" {
					t.Errorf("%s %s: data source %v, want $datasource", where, tg.RefID, tg.Datasource)
				}
			}
			steps := p.FieldConfig.Defaults.Thresholds.Steps
			if len(steps) == 0 || steps[0].Value != nil {
				t.Errorf("%s: thresholds must start with a base step", where)
			}
			runbooks := p.Runbooks(dashboards.RunbookBase)
			if len(steps) > 1 && len(runbooks) == 0 && !linksAlertList(p) {
				t.Errorf("%s: draws a threshold but links no runbook", where)
			}
			for _, a := range runbooks {
				if !strings.Contains(p.Description, a) {
					t.Errorf("%s: links the runbook of %s but its description does not say it fires", where, a)
				}
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" && a.Datasource.UID != "$datasource" {
				t.Errorf("%s: annotation %q does not use $datasource", d.File, a.Name)
			}
		}
	}
}

// linksAlertList says whether a panel links docs/alerts.md, the list of
// every alert and its runbook (the overview's alert counts).
func linksAlertList(p grafana.Panel) bool {
	for _, l := range p.Links {
		if strings.HasSuffix(l.URL, "/docs/alerts.md") {
			return true
		}
	}
	return false
}

func TestRunbookLinks(t *testing.T) {
	alerts := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Alert != "" {
			alerts[r.Alert] = true
		}
	}
	for _, d := range loadDashboards(t) {
		for _, p := range d.AllPanels() {
			for _, l := range p.Links {
				if !strings.HasPrefix(l.URL, "https://github.com/") {
					continue
				}
				a, ok := strings.CutPrefix(l.URL, dashboards.RunbookBase)
				if !ok {
					rel, ok := strings.CutPrefix(l.URL, "https://github.com/cabalmail/mailtier/blob/main/")
					if !ok {
						t.Errorf("%s: panel %q links outside the repository: %s", d.File, p.Title, l.URL)
					} else if _, err := os.Stat(filepath.Join(testenv.RepoRoot(t), rel)); err != nil {
						t.Errorf("%s: panel %q links to %s, which does not exist", d.File, p.Title, rel)
					}
					continue
				}
				a = strings.TrimSuffix(a, ".md")
				if !alerts[a] {
					t.Errorf("%s: panel %q links the runbook of %s, which no rule in rules/ defines", d.File, p.Title, a)
				}
				if _, err := os.Stat(filepath.Join(testenv.RepoRoot(t), "docs", "runbooks", a+".md")); err != nil {
					t.Errorf("%s: panel %q links docs/runbooks/%s.md, which does not exist", d.File, p.Title, a)
				}
			}
		}
	}
}

// TestMailAlertsOnDashboards checks that every alert on the mail tiers and
// on the exporter is linked from a panel that shows what it measures.
func TestMailAlertsOnDashboards(t *testing.T) {
	linked := map[string]bool{}
	for _, d := range loadDashboards(t) {
		for _, p := range d.AllPanels() {
			for _, a := range p.Runbooks(dashboards.RunbookBase) {
				linked[a] = true
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		area := strings.SplitN(filepath.Base(r.File), ".", 2)[0]
		switch area {
		case "sendmail", "dovecot", "opendkim", "processes", "exporter", "fail2ban":
		default:
			continue
		}
		if !linked[r.Alert] {
			t.Errorf("alert %s (%s) is on no panel: add a panel that shows what it measures and link its runbook", r.Alert, filepath.Base(r.File))
		}
	}
}

// TestQueriesArePromQL loads every query, variables substituted, into a
// rules file as a recording rule, one group per query, and has promtool
// check it with Prometheus' own parser.
func TestQueriesArePromQL(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "prometheus")
	qs, err := panelcheck.Load(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("groups:\n")
	names := map[string]string{}
	add := func(name, expr string) {
		names[name] = expr
		fmt.Fprintf(&b, "  - name: %s\n    rules:\n      - record: dashboard_query_%d\n        expr: %s\n", strconv.Quote(name), len(names), strconv.Quote(expr))
	}
	for i, q := range qs {
		expr, err := q.Expand(testVars)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		add(fmt.Sprintf("%03d %s", i, q), expr)
	}
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			q, _ := v.Query.(string)
			if sel, ok := strings.CutPrefix(q, "label_values("); ok && v.Type == "query" {
				sel = sel[:strings.LastIndex(sel, ",")]
				add(fmt.Sprintf("%s variable %s", d.File, v.Name), strings.ReplaceAll(sel, "$tier", ".+"))
			}
		}
	}
	file := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules rejects dashboard queries: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(names)); err == nil && !strings.Contains(string(out), want) {
		t.Errorf("promtool did not check every query (want %q):\n%s", want, out)
	}
}

func TestLintExclusions(t *testing.T) {
	lint := loadLint(t)
	panels := map[[2]string]bool{}
	for _, d := range loadDashboards(t) {
		panels[[2]string{d.Title, ""}] = true
		for _, p := range d.AllPanels() {
			panels[[2]string{d.Title, p.Title}] = true
		}
	}
	if len(lint.Exclusions) == 0 {
		t.Error(".lint excludes nothing; remove it or fix the test")
	}
	for rule, e := range lint.Exclusions {
		if strings.TrimSpace(e.Reason) == "" {
			t.Errorf(".lint: the exclusion of %s gives no reason", rule)
		}
		for _, en := range e.Entries {
			if !panels[[2]string{en.Dashboard, en.Panel}] {
				t.Errorf(".lint: %s: no panel %q on dashboard %q", rule, en.Panel, en.Dashboard)
			}
		}
	}
}
