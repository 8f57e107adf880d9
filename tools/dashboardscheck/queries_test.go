// Package dashboardscheck_test reads every query and variable of the
// Grafana dashboards (dashboards/*.json, read into dashboards/grafana's
// model through dashboards/panelcheck)
// with Prometheus' own PromQL parser (tools/promqlscan) and checks them
// against docs/metrics.md, the rules and the dashboard linter's rules.
package dashboardscheck_test

import "fmt"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/dashboards"
import "github.com/cabalmail/mailtier/dashboards/grafana"
import "github.com/cabalmail/mailtier/dashboards/panelcheck"
import "github.com/cabalmail/mailtier/docs/metricsdoc"
import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/rules/rulefiles"
import "github.com/cabalmail/mailtier/tools/promqlscan"

func loadMetricsDoc(t *testing.T) metricsdoc.Doc {
	t.Helper()
	doc, err := metricsdoc.Load(filepath.Join(testenv.RepoRoot(t), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func loadRules(t *testing.T) rulefiles.Set {
	t.Helper()
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func loadLint(t *testing.T) panelcheck.Lint {
	t.Helper()
	c, err := panelcheck.LoadLint(filepath.Join(testenv.RepoRoot(t), "dashboards", ".lint"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadDashboards reads every dashboard's JSON.
func loadDashboards(t *testing.T) []grafana.Dashboard {
	t.Helper()
	ds, err := panelcheck.LoadDashboards(os.DirFS(filepath.Join(testenv.RepoRoot(t), "dashboards")))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// loadQueries returns every query of every dashboard, annotations included.
func loadQueries(t *testing.T) []panelcheck.Query {
	t.Helper()
	qs, err := panelcheck.Load(os.DirFS(filepath.Join(testenv.RepoRoot(t), "dashboards")))
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func TestVariableQueries(t *testing.T) {
	doc := loadMetricsDoc(t)
	re := regexp.MustCompile(`^label_values\((.+), ([a-z_]+)\)$`)
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			m := re.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: $%s: %q is not label_values(selector, label)", d.File, v.Name, q)
				continue
			}
			info, err := promqlscan.Scan(m[1])
			sels := info.Selectors
			if err != nil || len(sels) != 1 {
				t.Errorf("%s: $%s: %q: %v", d.File, v.Name, m[1], err)
				continue
			}
			_, dm, _, ok := doc.Lookup(sels[0].Metric)
			if !ok {
				t.Errorf("%s: $%s reads %s, which docs/metrics.md does not list", d.File, v.Name, sels[0].Metric)
				continue
			}
			if !scrapeLabels[m[2]] && !slices.Contains(dm.Labels, m[2]) {
				t.Errorf("%s: $%s lists label %s, which %s does not have", d.File, v.Name, m[2], sels[0].Metric)
			}
		}
	}
}

// scrapeLabels are set by the scrape configuration, on every series.
var scrapeLabels = map[string]bool{"tier": true, "instance": true, "job": true}

// alertsLabels are the labels of Prometheus' ALERTS series the dashboards
// select or group on.
var alertsLabels = map[string]bool{"alertname": true, "alertstate": true, "severity": true, "tier": true, "instance": true}

var (
	// histogramRE is the one way the dashboards read a histogram: a
	// quantile of the per-le sum of the buckets' rates.
	histogramRE = regexp.MustCompile(`histogram_quantile\(0?\.[0-9]+, sum by \(le(, [a-z_]+)*\) \(rate\([a-z_]+_bucket\{[^}]*\}\[\$__rate_interval\]\)\)\)`)
	bucketRE    = regexp.MustCompile(`_bucket\b`)
	varUseRE    = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	literalRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)*$`)
)

func TestQueryConventions(t *testing.T) {
	doc := loadMetricsDoc(t)
	records := map[string]bool{}
	for _, r := range loadRules(t).Rules {
		if r.Record != "" {
			records[r.Record] = true
		}
	}
	lint := loadLint(t)
	for _, q := range loadQueries(t) {
		for _, m := range varUseRE.FindAllStringSubmatch(q.Expr, -1) {
			switch m[1] {
			case "tier", "instance", "__rate_interval":
			default:
				t.Errorf("%s: uses $%s; queries may use $tier, $instance and $__rate_interval", q, m[1])
			}
		}
		info, err := promqlscan.Scan(q.Expr)
		sels, groups := info.Selectors, info.Grouping
		if err != nil {
			t.Errorf("%s: %v: %s", q, err, q.Expr)
			continue
		}
		carried := map[string]bool{}
		for _, s := range sels {
			for l := range seriesLabels(s.Metric, doc, records) {
				carried[l] = true
			}
		}
		for _, g := range groups {
			if !carried[g] && !carried["*"] {
				t.Errorf("%s: groups or matches on %q, which none of its series carry", q, g)
			}
		}
		if len(sels) == 0 && !strings.HasPrefix(q.Panel, "annotation") {
			t.Errorf("%s: selects no series", q)
		}
		// The histogram form: every _bucket read inside
		// histogram_quantile(q, sum by (le, ...) (rate(..._bucket{...}[$__rate_interval]))).
		if n, m := len(bucketRE.FindAllString(q.Expr, -1)), len(histogramRE.FindAllString(q.Expr, -1)); n != m {
			t.Errorf("%s: %d _bucket selectors, %d in the histogram_quantile(q, sum by (le…) (rate(…_bucket…[$__rate_interval]))) form: %s", q, n, m, q.Expr)
		}
		for _, s := range sels {
			// target-rate-interval-rule, and no fixed window anywhere.
			if s.Range != "" && s.Range != "$__rate_interval" {
				t.Errorf("%s: %s[%s]: ranges are $__rate_interval", q, s.Metric, s.Range)
			}
			counterFn := s.Func == "rate" || s.Func == "irate" || s.Func == "increase"
			if counterFn && s.Range == "" {
				t.Errorf("%s: %s(%s) without a range", q, s.Func, s.Metric)
			}
			if s.Range != "" && !counterFn {
				t.Errorf("%s: %s[...] is given to %q; the dashboards use ranges only in rate and increase", q, s.Metric, s.Func)
			}
			// target-counter-agg-rule
			if strings.HasSuffix(s.Metric, "_total") && !counterFn {
				t.Errorf("%s: counter %s is not inside rate, irate or increase", q, s.Metric)
			}
			// target-instance-rule, with .lint's exclusions.
			// The linter does not read annotations; the annotation shows
			// the tier's alerts, which mostly have no instance.
			annotation := strings.HasPrefix(q.Panel, "annotation: ")
			if m, ok := s.Matcher("instance"); (!ok || m.Op != "=~" || m.Value != "$instance") && !annotation && !lint.Excluded("target-instance-rule", q.Dashboard, q.Panel) {
				t.Errorf("%s: %s does not match instance=~\"$instance\"", q, s.Metric)
			}
			if m, ok := s.Matcher("tier"); !ok || !((m.Op == "=~" && m.Value == "$tier") || (m.Op == "=" && slices.Contains(collectors.MailTiers, m.Value))) {
				t.Errorf("%s: %s matches no tier (tier=~\"$tier\", or tier=\"<tier>\" on the overview)", q, s.Metric)
			}
			checkSelector(t, q, s, doc, records)
		}
	}
}

// seriesLabels returns the labels the series of a metric carry; "*" when
// they are not known here (a recording rule).
func seriesLabels(metric string, doc metricsdoc.Doc, records map[string]bool) map[string]bool {
	out := map[string]bool{}
	switch {
	case metric == "ALERTS":
		for l := range alertsLabels {
			out[l] = true
		}
		return out
	case records[metric]:
		out["*"] = true
		return out
	}
	for l := range scrapeLabels {
		out[l] = true
	}
	if _, dm, extra, ok := doc.Lookup(metric); ok {
		for _, l := range append(append([]string{}, dm.Labels...), extra...) {
			out[l] = true
		}
	}
	return out
}

// checkSelector checks that a selector names a metric the exporter
// documents (or a recording rule, or Prometheus' own up and ALERTS), with
// labels it has and values it can take.
func checkSelector(t *testing.T, q panelcheck.Query, s promqlscan.Selector, doc metricsdoc.Doc, records map[string]bool) {
	t.Helper()
	var allowed map[string]bool
	var base string
	switch {
	case s.Metric == "ALERTS":
		allowed = alertsLabels
	case s.Metric == "up":
		// Written by Prometheus at each scrape; only the exporter's job.
		if m, ok := s.Matcher("job"); !ok || m.Op != "=" || m.Value != "mailtier" {
			t.Errorf("%s: up must select job=\"mailtier\", the exporters' scrape job", q)
		}
		allowed = scrapeLabels
	case records[s.Metric]:
		return
	default:
		b, dm, extra, ok := doc.Lookup(s.Metric)
		if !ok {
			t.Errorf("%s: metric %s is not in docs/metrics.md, nor a recording rule in rules/", q, s.Metric)
			return
		}
		base = b
		allowed = map[string]bool{}
		for _, l := range append(append([]string{}, dm.Labels...), extra...) {
			allowed[l] = true
		}
		for l := range scrapeLabels {
			allowed[l] = true
		}
	}
	for _, m := range s.Matchers {
		if !allowed[m.Name] {
			t.Errorf("%s: %s has no label %q", q, s.Metric, m.Name)
			continue
		}
		if base == "" || scrapeLabels[m.Name] || (m.Op != "=" && m.Op != "=~") || !literalRE.MatchString(m.Value) {
			continue
		}
		values, closed := doc.ClosedValues(base, m.Name)
		if !closed {
			continue
		}
		for _, v := range strings.Split(m.Value, "|") {
			if !slices.Contains(values, v) {
				t.Errorf("%s: %s{%s} never takes the value %q (docs/metrics.md lists %s)", q, base, m.Name, v, fmt.Sprintf("%q", values))
			}
		}
	}
}

// TestThresholdsMatchAlerts checks that a panel linked to an alert draws
// the alert's threshold, as the golden-signal tables set it: a step at
// the value the alert compares with ("any", > 0, is a step just above
// zero; "== 0" of a 0/1 gauge is red below a green step at 1).
func TestThresholdsMatchAlerts(t *testing.T) {
	thresholds := map[string][]float64{}
	for _, r := range loadRules(t).Rules {
		if r.Alert == "" {
			continue
		}
		op, v, ok := promqlscan.Threshold(r.Expr)
		if !ok || op != ">" && op != "<" && op != "==" {
			continue
		}
		switch {
		case op == "==" && v == 0:
			v = 1
		case op == ">" && v == 0:
			v = -1 // "any": checked below
		}
		thresholds[r.Alert] = append(thresholds[r.Alert], v)
	}
	for _, d := range loadDashboards(t) {
		for _, p := range d.AllPanels() {
			var steps []float64
			if p.FieldConfig == nil {
				t.Errorf("%s: panel %q has no fieldConfig (thresholds)", d.File, p.Title)
				continue
			}
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				if s.Value != nil {
					steps = append(steps, *s.Value)
				}
			}
			for _, a := range p.Runbooks(dashboards.RunbookBase) {
				want, ok := thresholds[a]
				if !ok {
					continue
				}
				// A panel may draw only part of an alert that has several
				// rules (SendmailQueueDepthHigh on smtp-out: 50, not 500),
				// but at least one of them.
				found := false
				for _, w := range want {
					for _, s := range steps {
						if w == s || (w == -1 && s > 0 && s < 0.01) {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("%s: panel %q links %s but draws none of its thresholds %v (steps %v)", d.File, p.Title, a, want, steps)
				}
			}
		}
	}
}
