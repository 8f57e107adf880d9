package rules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The rules and mailtier_exporter share one list of metric names:
// docs/metrics.md. A rule that selects a metric, a label or a label value
// of ours that the document does not list fails here, before it can sit
// silent in production.

// ourPrefixes are the namespaces mailtier_exporter emits.
var ourPrefixes = []string{"sendmail_", "dovecot_", "opendkim_", "fail2ban_", "mailtier_"}

// foreignPrefixes are metrics of other exporters (node_exporter,
// blackbox_exporter, cloudwatch_exporter) and of Prometheus itself.
var foreignPrefixes = []string{"node_", "probe_", "aws_", "ecs_containerinsights_"}

var foreignNames = map[string]bool{"up": true}

// scrapeLabels are attached by the scrape config, not by the exporter.
var scrapeLabels = map[string]bool{"instance": true, "job": true, "tier": true, "task": true}

var metricTypes = map[string]bool{
	"counter": true, "gauge": true, "histogram": true, "summary": true,
	"info": true, "untyped": true, "stateset": true, "gaugehistogram": true,
}

// docMetric is one metric row of docs/metrics.md.
type docMetric struct {
	Type   string
	Labels []string
}

// metricsDoc is what parseMetricsDoc reads from docs/metrics.md.
type metricsDoc struct {
	Metrics map[string]docMetric
	// Values maps a label name to the closed set of values its label
	// tables list for every metric that has it.
	Values map[string][]string
	// MetricValues maps a metric and a label name to the closed set listed
	// for that metric alone, as in "| `reason` (`sendmail_rejects_total`) |".
	MetricValues map[[2]string][]string
}

// values returns the closed set of values a metric's label takes, and
// false when the document lists none (an open label such as a path).
func (d metricsDoc) values(metric, label string) ([]string, bool) {
	if v, ok := d.MetricValues[[2]string{metric, label}]; ok {
		return v, true
	}
	v, ok := d.Values[label]
	return v, ok
}

var (
	backtickRE  = regexp.MustCompile("`([^`]+)`")
	identRE     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	separatorRE = regexp.MustCompile(`^:?-+:?$`)
	// labelCellRE is the first cell of a label row: the label, and
	// optionally the metrics the row is about.
	labelCellRE = regexp.MustCompile("^`([a-zA-Z_][a-zA-Z0-9_]*)`(?:\\s*\\(((?:\\s*`[a-zA-Z_:][a-zA-Z0-9_:]*`\\s*,?)+)\\))?$")
	parenRE     = regexp.MustCompile(`\([^)]*\)`)
)

// parseMetricsDoc reads the Markdown tables of docs/metrics.md. A metric
// row has the metric name in backticks in its first cell, its type in the
// second and its labels, in backticks, in the third:
//
//	| `sendmail_deliveries_total` | counter | `mailer`, `status` | meaning |
//
// A label row has a label name in backticks first, optionally followed by
// the metrics it is about in parentheses, and its values, in backticks, in
// the second cell:
//
//	| `mailer` | `local`, `esmtp`, … |
//	| `reason` (`sendmail_rejects_total`) | `relaying_denied`, … |
//
// The values form a closed set only when the cell starts with one; a cell
// such as "each `--tail.path` as given" describes an open label.
// Parenthesised remarks in a values cell are not values.
func parseMetricsDoc(text string) (metricsDoc, error) {
	doc := metricsDoc{Metrics: map[string]docMetric{}, Values: map[string][]string{}, MetricValues: map[[2]string][]string{}}
	for n, line := range strings.Split(text, "\n") {
		cells := tableCells(line)
		if len(cells) < 2 || separatorRE.MatchString(cells[0]) {
			continue
		}
		typ := strings.ToLower(strings.Trim(cells[1], "` "))
		if !metricTypes[typ] {
			lm := labelCellRE.FindStringSubmatch(cells[0])
			if lm == nil || !strings.HasPrefix(cells[1], "`") {
				continue
			}
			var values []string
			for _, v := range backtickRE.FindAllStringSubmatch(parenRE.ReplaceAllString(cells[1], ""), -1) {
				values = append(values, v[1])
			}
			if lm[2] == "" {
				doc.Values[lm[1]] = append(doc.Values[lm[1]], values...)
				continue
			}
			for _, metric := range backtickRE.FindAllStringSubmatch(lm[2], -1) {
				key := [2]string{metric[1], lm[1]}
				doc.MetricValues[key] = append(doc.MetricValues[key], values...)
			}
			continue
		}
		m := backtickRE.FindAllStringSubmatch(cells[0], -1)
		if len(m) != 1 || strings.TrimSpace(backtickRE.ReplaceAllString(cells[0], "")) != "" {
			continue
		}
		name := m[0][1]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if !identRE.MatchString(name) {
			continue
		}
		if len(cells) < 3 {
			return doc, fmt.Errorf("line %d: metric %s has no labels column", n+1, name)
		}
		if _, dup := doc.Metrics[name]; dup {
			return doc, fmt.Errorf("line %d: metric %s is listed twice", n+1, name)
		}
		var labels []string
		for _, l := range backtickRE.FindAllStringSubmatch(cells[2], -1) {
			if !identRE.MatchString(l[1]) {
				return doc, fmt.Errorf("line %d: %s: %q is not a label name", n+1, name, l[1])
			}
			labels = append(labels, l[1])
		}
		doc.Metrics[name] = docMetric{Type: typ, Labels: labels}
	}
	if len(doc.Metrics) == 0 {
		return doc, fmt.Errorf("no metric rows found")
	}
	return doc, nil
}

// lookup finds the documented metric a selected series belongs to: the
// metric itself, a histogram's or summary's _bucket, _sum or _count
// series, or a counter documented without its _total suffix. extra holds
// the labels the suffix adds (le for buckets).
func (d metricsDoc) lookup(name string) (base string, m docMetric, extra []string, ok bool) {
	if m, ok := d.Metrics[name]; ok {
		return name, m, nil, true
	}
	for _, s := range []struct {
		suffix string
		types  []string
		extra  []string
	}{
		{"_bucket", []string{"histogram", "gaugehistogram"}, []string{"le"}},
		{"_sum", []string{"histogram", "summary", "gaugehistogram"}, nil},
		{"_count", []string{"histogram", "summary", "gaugehistogram"}, nil},
		{"_total", []string{"counter"}, nil},
	} {
		if !strings.HasSuffix(name, s.suffix) {
			continue
		}
		b := strings.TrimSuffix(name, s.suffix)
		if m, ok := d.Metrics[b]; ok {
			for _, typ := range s.types {
				if m.Type == typ {
					return b, m, s.extra, true
				}
			}
		}
	}
	return "", docMetric{}, nil, false
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// contractProblems lists what the rules select that docs/metrics.md does
// not list, and the metrics and labels of ours the rules use.
func contractProblems(rs ruleSet, doc metricsDoc) (problems []string, used map[string]map[string]bool) {
	records := rs.records()
	used = map[string]map[string]bool{}

	// available returns the labels the series of an expression can carry,
	// and false when it selects metrics whose labels are not ours to know.
	var available func(expr string, seen map[string]bool) (map[string]bool, bool)
	available = func(expr string, seen map[string]bool) (map[string]bool, bool) {
		info, err := scanExpr(expr)
		if err != nil {
			return nil, false
		}
		labels := map[string]bool{}
		known := true
		for l := range scrapeLabels {
			labels[l] = true
		}
		for _, r := range info.Replaces {
			labels[r.Dst] = true
		}
		for _, sel := range info.Selectors {
			switch {
			case strings.Contains(sel.Metric, ":"):
				rec, ok := records[sel.Metric]
				if !ok {
					known = false
					continue
				}
				if seen[sel.Metric] {
					continue
				}
				seen[sel.Metric] = true
				sub, ok := available(rec.Expr, seen)
				known = known && ok
				for l := range sub {
					labels[l] = true
				}
			case hasPrefix(sel.Metric, ourPrefixes):
				if _, m, extra, ok := doc.lookup(sel.Metric); ok {
					for _, l := range append(append([]string{}, m.Labels...), extra...) {
						labels[l] = true
					}
				} else {
					known = false
				}
			default:
				known = false
			}
		}
		return labels, known
	}

	for _, r := range rs.Rules {
		name := r.Record + r.Alert
		info, err := scanExpr(r.Expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: cannot read expression: %v", name, err))
			continue
		}
		for _, sel := range info.Selectors {
			metric := sel.Metric
			switch {
			case metric == "":
				problems = append(problems, fmt.Sprintf("%s: selects series by matchers alone; name the metric", name))
				continue
			case strings.Contains(metric, ":"):
				rec, ok := records[metric]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: reads %s, which no recording rule defines", name, metric))
					continue
				}
				problems = append(problems, recordedMatcherProblems(name, sel, rec, records, doc)...)
				continue
			case foreignNames[metric] || hasPrefix(metric, foreignPrefixes):
				continue
			case !hasPrefix(metric, ourPrefixes):
				problems = append(problems, fmt.Sprintf("%s: metric %s belongs to no known exporter", name, metric))
				continue
			}
			if used[metric] == nil {
				used[metric] = map[string]bool{}
			}
			for _, m := range sel.Matchers {
				used[metric][m.Name] = true
			}
			base, dm, extra, ok := doc.lookup(metric)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: metric %s is not in docs/metrics.md", name, metric))
				continue
			}
			allowed := map[string]bool{"__name__": true}
			for _, l := range append(append([]string{}, dm.Labels...), extra...) {
				allowed[l] = true
			}
			for _, m := range sel.Matchers {
				if scrapeLabels[m.Name] || m.Name == "__name__" {
					continue
				}
				if !allowed[m.Name] {
					problems = append(problems, fmt.Sprintf("%s: %s has no label %q in docs/metrics.md (documented: %v)", name, base, m.Name, dm.Labels))
					continue
				}
				values, listed := doc.values(base, m.Name)
				if !listed {
					continue
				}
				for _, v := range literalValues(m) {
					if !contains(values, v) {
						problems = append(problems, fmt.Sprintf("%s: %s{%s} never takes the value %q (docs/metrics.md lists %v)", name, base, m.Name, v, values))
					}
				}
			}
		}
		if labels, known := available(r.Expr, map[string]bool{}); known {
			var wanted []string
			wanted = append(wanted, info.Grouping...)
			for _, rep := range info.Replaces {
				if rep.Src != "" {
					wanted = append(wanted, rep.Src)
				}
			}
			for _, l := range wanted {
				if !labels[l] {
					problems = append(problems, fmt.Sprintf("%s: groups or matches on label %q, which none of its series carry", name, l))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems, used
}

// sourceMetrics returns the metrics of ours an expression reads, through
// recording rules too, and the labels its label_replace calls create.
func sourceMetrics(expr string, records map[string]loadedRule, seen map[string]bool) (metrics []string, replaced map[string]bool) {
	replaced = map[string]bool{}
	info, err := scanExpr(expr)
	if err != nil {
		return nil, replaced
	}
	for _, r := range info.Replaces {
		replaced[r.Dst] = true
	}
	for _, sel := range info.Selectors {
		switch {
		case strings.Contains(sel.Metric, ":"):
			rec, ok := records[sel.Metric]
			if !ok || seen[sel.Metric] {
				continue
			}
			seen[sel.Metric] = true
			m, r := sourceMetrics(rec.Expr, records, seen)
			metrics = append(metrics, m...)
			for l := range r {
				replaced[l] = true
			}
		case hasPrefix(sel.Metric, ourPrefixes):
			metrics = append(metrics, sel.Metric)
		}
	}
	return metrics, replaced
}

// recordedMatcherProblems checks the matchers on a recorded series against
// the metrics of ours the recording rule reads: each label must be one of
// theirs, and each value one they can take.
func recordedMatcherProblems(name string, sel selector, rec loadedRule, records map[string]loadedRule, doc metricsDoc) []string {
	var problems []string
	sources, replaced := sourceMetrics(rec.Expr, records, map[string]bool{rec.Record: true})
	if len(sources) == 0 {
		return nil
	}
	for _, m := range sel.Matchers {
		if scrapeLabels[m.Name] || replaced[m.Name] || m.Name == "__name__" {
			continue
		}
		carried := false
		closed := true
		var values []string
		for _, src := range sources {
			base, dm, extra, ok := doc.lookup(src)
			if !ok || !contains(append(append([]string{}, dm.Labels...), extra...), m.Name) {
				continue
			}
			carried = true
			v, listed := doc.values(base, m.Name)
			closed = closed && listed
			values = append(values, v...)
		}
		if !carried {
			problems = append(problems, fmt.Sprintf("%s: %s{%s}: none of the metrics it is recorded from has that label in docs/metrics.md", name, sel.Metric, m.Name))
			continue
		}
		if !closed {
			continue
		}
		for _, v := range literalValues(m) {
			if !contains(values, v) {
				problems = append(problems, fmt.Sprintf("%s: %s{%s} never takes the value %q (docs/metrics.md lists %v)", name, sel.Metric, m.Name, v, values))
			}
		}
	}
	return problems
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestRulesUseDocumentedMetrics is the shared-list check: every metric,
// label and label value of ours that a rule selects is in docs/metrics.md.
func TestRulesUseDocumentedMetrics(t *testing.T) {
	rs := loadRules(t)
	path := filepath.Join(repoRoot(t), "docs", "metrics.md")
	data, err := os.ReadFile(path)
	if err != nil {
		_, used := contractProblems(rs, metricsDoc{Metrics: map[string]docMetric{}})
		t.Fatalf("the rules need docs/metrics.md to list their metrics: %v\nneeded:\n%s", err, formatUsed(used))
	}
	doc, err := parseMetricsDoc(string(data))
	if err != nil {
		t.Fatalf("docs/metrics.md: %v", err)
	}
	problems, _ := contractProblems(rs, doc)
	for _, p := range problems {
		t.Error(p)
	}
}

func formatUsed(used map[string]map[string]bool) string {
	var lines []string
	for m, labels := range used {
		var ls []string
		for l := range labels {
			if !scrapeLabels[l] {
				ls = append(ls, l)
			}
		}
		sort.Strings(ls)
		lines = append(lines, fmt.Sprintf("  %s {%s}", m, strings.Join(ls, ", ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestParseMetricsDoc(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseMetricsDoc(string(data))
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics := map[string]docMetric{
		"sendmail_deliveries_total":       {Type: "counter", Labels: []string{"mailer", "status"}},
		"sendmail_delivery_delay_seconds": {Type: "histogram", Labels: []string{"mailer", "status"}},
		"sendmail_queue_messages":         {Type: "gauge", Labels: []string{"queue"}},
		"sendmail_dsns_total":             {Type: "counter", Labels: nil},
		"sendmail_rejects_total":          {Type: "counter", Labels: []string{"stage", "reason"}},
		"sendmail_deferrals_total":        {Type: "counter", Labels: []string{"mailer", "reason"}},
		"dovecot_logins":                  {Type: "counter", Labels: []string{"service"}},
	}
	if !reflect.DeepEqual(doc.Metrics, wantMetrics) {
		t.Errorf("metrics:\n got %+v\nwant %+v", doc.Metrics, wantMetrics)
	}
	wantValues := map[string][]string{
		"mailer":  {"local", "esmtp", "file", "other"},
		"status":  {"sent", "deferred", "bounced", "other"},
		"service": {"imap", "submission", "other"},
	}
	if !reflect.DeepEqual(doc.Values, wantValues) {
		t.Errorf("values:\n got %v\nwant %v", doc.Values, wantValues)
	}
	wantMetricValues := map[[2]string][]string{
		{"sendmail_rejects_total", "reason"}:   {"relaying_denied", "pregreet", "other"},
		{"sendmail_deferrals_total", "reason"}: {"rate_limited", "other"},
		{"sendmail_auth_total", "result"}:      {"ok", "failed"},
		{"sendmail_starttls_total", "result"}:  {"ok", "failed"},
	}
	if !reflect.DeepEqual(doc.MetricValues, wantMetricValues) {
		t.Errorf("per-metric values:\n got %v\nwant %v", doc.MetricValues, wantMetricValues)
	}
	for _, tc := range []struct {
		metric, label string
		want          []string
		closed        bool
	}{
		{"sendmail_rejects_total", "reason", []string{"relaying_denied", "pregreet", "other"}, true},
		{"sendmail_deliveries_total", "status", []string{"sent", "deferred", "bounced", "other"}, true},
		{"sendmail_queue_messages", "queue", nil, false},
	} {
		got, closed := doc.values(tc.metric, tc.label)
		if closed != tc.closed || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("values(%s, %s) = %v, %v; want %v, %v", tc.metric, tc.label, got, closed, tc.want, tc.closed)
		}
	}

	for _, tc := range []struct {
		series, base string
		extra        []string
		ok           bool
	}{
		{"sendmail_deliveries_total", "sendmail_deliveries_total", nil, true},
		{"sendmail_delivery_delay_seconds_bucket", "sendmail_delivery_delay_seconds", []string{"le"}, true},
		{"sendmail_delivery_delay_seconds_count", "sendmail_delivery_delay_seconds", nil, true},
		{"sendmail_queue_messages_bucket", "", nil, false},
		{"dovecot_logins_total", "dovecot_logins", nil, true},
		{"sendmail_queue_messages_total", "", nil, false},
		{"sendmail_unknown", "", nil, false},
	} {
		base, _, extra, ok := doc.lookup(tc.series)
		if base != tc.base || ok != tc.ok || !reflect.DeepEqual(extra, tc.extra) {
			t.Errorf("lookup(%s) = %q, %v, %v; want %q, %v, %v", tc.series, base, extra, ok, tc.base, tc.extra, tc.ok)
		}
	}

	if _, err := parseMetricsDoc("| `a_total` | counter | `x`, `y` |\n| `a_total` | counter | |\n"); err == nil {
		t.Error("a metric listed twice parsed without error")
	}
	if _, err := parseMetricsDoc("# no tables\n"); err == nil {
		t.Error("a document without metric rows parsed without error")
	}
}

// TestContractProblems feeds the check rules that break the contract in
// each way it knows, against the sample document.
func TestContractProblems(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseMetricsDoc(string(data))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rules ...rule) ruleSet {
		rs := ruleSet{}
		for _, r := range rules {
			rs.Rules = append(rs.Rules, loadedRule{rule: r})
		}
		return rs
	}
	for _, tc := range []struct {
		name  string
		rules ruleSet
		want  []string
	}{
		{
			name: "documented metrics, labels, values and scrape labels pass",
			rules: mk(
				rule{Record: "tier:sendmail_deliveries:rate5m", Expr: `sum by (tier, mailer) (rate(sendmail_deliveries_total{mailer=~"local|esmtp", status!="other", instance=~".+"}[5m]))`},
				rule{Alert: "A", Expr: `histogram_quantile(0.95, sum by (tier, le) (rate(sendmail_delivery_delay_seconds_bucket{status="sent"}[5m]))) > 1 and on (tier) tier:sendmail_deliveries:rate5m > 0`},
				rule{Alert: "B", Expr: `max by (tier, queue) (sendmail_queue_messages) > 1 or rate(dovecot_logins_total{service="imap"}[5m]) > 0 or up == 0 or node_load1 > 1`},
				rule{Alert: "C", Expr: `label_replace(sendmail_queue_messages, "daemon", "sendmail", "", "") > 0`},
			),
		},
		{
			name:  "undocumented metric",
			rules: mk(rule{Alert: "A", Expr: `sendmail_queue_bytes > 0`}),
			want:  []string{"A: metric sendmail_queue_bytes is not in docs/metrics.md"},
		},
		{
			name:  "undocumented label",
			rules: mk(rule{Alert: "A", Expr: `sendmail_queue_messages{daemon="MTA"} > 0`}),
			want:  []string{`A: sendmail_queue_messages has no label "daemon" in docs/metrics.md (documented: [queue])`},
		},
		{
			name:  "value outside the closed set",
			rules: mk(rule{Alert: "A", Expr: `rate(sendmail_deliveries_total{status=~"sent|bounce"}[5m]) > 0`}),
			want:  []string{`A: sendmail_deliveries_total{status} never takes the value "bounce" (docs/metrics.md lists [sent deferred bounced other])`},
		},
		{
			name:  "a value listed for the label of another metric",
			rules: mk(rule{Alert: "A", Expr: `rate(sendmail_rejects_total{reason="rate_limited"}[5m]) > 0`}),
			want:  []string{`A: sendmail_rejects_total{reason} never takes the value "rate_limited" (docs/metrics.md lists [relaying_denied pregreet other])`},
		},
		{
			name: "matchers on recorded series are checked against the metrics they come from",
			rules: mk(
				rule{Record: "tier_mailer_status:sendmail_deliveries:rate5m", Expr: `sum by (tier, mailer, status) (rate(sendmail_deliveries_total[5m]))`},
				rule{Record: "tier:sendmail_failures:ratio", Expr: `sum by (tier) (tier_mailer_status:sendmail_deliveries:rate5m{status="deferred"}) / sum by (tier) (tier_mailer_status:sendmail_deliveries:rate5m)`},
				rule{Record: "daemon:q:max", Expr: `label_replace(max(sendmail_queue_messages), "daemon", "sendmail", "", "")`},
				rule{Alert: "A", Expr: `tier_mailer_status:sendmail_deliveries:rate5m{mailer="procmail", status="sent", tier="imap"} > 0`},
				rule{Alert: "B", Expr: `tier_mailer_status:sendmail_deliveries:rate5m{reason="other"} > 0`},
				rule{Alert: "C", Expr: `tier:sendmail_failures:ratio{status="bounce"} > 0`},
				rule{Alert: "D", Expr: `daemon:q:max{daemon="sendmail", queue="/var/spool/mqueue"} > 0`},
			),
			want: []string{
				`A: tier_mailer_status:sendmail_deliveries:rate5m{mailer} never takes the value "procmail" (docs/metrics.md lists [local esmtp file other])`,
				`B: tier_mailer_status:sendmail_deliveries:rate5m{reason}: none of the metrics it is recorded from has that label in docs/metrics.md`,
				`C: tier:sendmail_failures:ratio{status} never takes the value "bounce" (docs/metrics.md lists [sent deferred bounced other])`,
			},
		},
		{
			name:  "le on a series that is not a bucket",
			rules: mk(rule{Alert: "A", Expr: `sendmail_delivery_delay_seconds_count{le="1"} > 0`}),
			want:  []string{`A: sendmail_delivery_delay_seconds has no label "le" in docs/metrics.md (documented: [mailer status])`},
		},
		{
			name: "grouping on a label no series carries, directly or through a recording rule",
			rules: mk(
				rule{Record: "tier:x:sum", Expr: `sum by (tier) (sendmail_queue_messages)`},
				rule{Alert: "A", Expr: `sum by (tier, reason) (rate(sendmail_deliveries_total[5m])) > 0`},
				rule{Alert: "B", Expr: `tier:x:sum / on (tier, mailer) tier:x:sum > 0`},
			),
			want: []string{
				`A: groups or matches on label "reason", which none of its series carry`,
				`B: groups or matches on label "mailer", which none of its series carry`,
			},
		},
		{
			name: "unknown namespace, unknown recording rule, nameless selector",
			rules: mk(
				rule{Alert: "A", Expr: `postfix_smtpd_connects_total > 0`},
				rule{Alert: "B", Expr: `tier:nothing:here > 0`},
				rule{Alert: "C", Expr: `{__name__="sendmail_queue_messages"} > 0`},
			),
			want: []string{
				"A: metric postfix_smtpd_connects_total belongs to no known exporter",
				"B: reads tier:nothing:here, which no recording rule defines",
				"C: selects series by matchers alone; name the metric",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := contractProblems(tc.rules, doc)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
