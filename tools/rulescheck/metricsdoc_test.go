package rulescheck_test

import "fmt"
import "maps"
import "os"
import "path/filepath"
import "reflect"
import "sort"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/docs/metricsdoc"
import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/rules/rulefiles"
import "github.com/cabalmail/mailtier/tools/promqlscan"

// Package rulescheck_test reads every rule of rules/ with Prometheus' own
// PromQL parser (tools/promqlscan) and checks it against docs/metrics.md
// and the Prometheus configuration of docker/prometheus.
//
// The rules and mailtier_exporter share one list of metric names:
// docs/metrics.md. A rule that selects a metric, a label or a label value
// of ours that the document does not list fails here, before it can sit
// silent in production.

// ourPrefixes are the namespaces mailtier_exporter emits, from the
// collector registry.
var ourPrefixes = registry.All.MetricPrefixes()

// foreignPrefixes are metrics of other exporters (node_exporter,
// blackbox_exporter, cloudwatch_exporter) and of Prometheus itself.
var foreignPrefixes = []string{"node_", "probe_", "aws_", "ecs_containerinsights_"}

var foreignNames = map[string]bool{"up": true}

// scrapeLabels are attached by the scrape config, not by the exporter.
var scrapeLabels = map[string]bool{"instance": true, "job": true, "tier": true, "task": true}

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
func contractProblems(rs rulefiles.Set, doc metricsdoc.Doc) (problems []string, used map[string]map[string]bool) {
	records := rs.Records()
	used = map[string]map[string]bool{}

	// available returns the labels the series of an expression can carry,
	// and false when it selects metrics whose labels are not ours to know.
	available := func(expr string, seen map[string]bool) (map[string]bool, bool) {
		labels := maps.Clone(scrapeLabels)
		known := true
		written, ok := expand(expr, records, seen, func(sel promqlscan.Selector) {
			_, m, extra, found := doc.Lookup(sel.Metric)
			if !hasPrefix(sel.Metric, ourPrefixes) || !found {
				known = false
				return
			}
			for _, l := range append(append([]string{}, m.Labels...), extra...) {
				labels[l] = true
			}
		})
		maps.Copy(labels, written)
		return labels, known && ok
	}

	for _, r := range rs.Rules {
		name := r.Record + r.Alert
		info, err := promqlscan.Scan(r.Expr)
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
			base, dm, extra, ok := doc.Lookup(metric)
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
				values, listed := doc.ClosedValues(base, m.Name)
				if !listed {
					continue
				}
				for _, v := range rulefiles.LiteralValues(m.Op, m.Value) {
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
func sourceMetrics(expr string, records map[string]rulefiles.Loaded, seen map[string]bool) (metrics []string, replaced map[string]bool) {
	replaced, _ = expand(expr, records, seen, func(sel promqlscan.Selector) {
		if hasPrefix(sel.Metric, ourPrefixes) {
			metrics = append(metrics, sel.Metric)
		}
	})
	return metrics, replaced
}

// expand reads expr and, through the recording rules it selects, the
// expressions they record (each once). It calls visit for every selector
// of a metric that is not a recording rule, and returns the labels that
// label_replace and label_join write on the way, and false when an
// expression cannot be read or a recording rule is unknown.
func expand(expr string, records map[string]rulefiles.Loaded, seen map[string]bool, visit func(promqlscan.Selector)) (written map[string]bool, ok bool) {
	written = map[string]bool{}
	info, err := promqlscan.Scan(expr)
	if err != nil {
		return written, false
	}
	ok = true
	for _, r := range info.Replaces {
		written[r.Dst] = true
	}
	for _, sel := range info.Selectors {
		if !strings.Contains(sel.Metric, ":") {
			visit(sel)
			continue
		}
		rec, known := records[sel.Metric]
		if !known {
			ok = false
			continue
		}
		if seen[sel.Metric] {
			continue
		}
		seen[sel.Metric] = true
		sub, subOK := expand(rec.Expr, records, seen, visit)
		ok = ok && subOK
		maps.Copy(written, sub)
	}
	return written, ok
}

// recordedMatcherProblems checks the matchers on a recorded series against
// the metrics of ours the recording rule reads: each label must be one of
// theirs, and each value one they can take.
func recordedMatcherProblems(name string, sel promqlscan.Selector, rec rulefiles.Loaded, records map[string]rulefiles.Loaded, doc metricsdoc.Doc) []string {
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
			base, dm, extra, ok := doc.Lookup(src)
			if !ok || !contains(append(append([]string{}, dm.Labels...), extra...), m.Name) {
				continue
			}
			carried = true
			v, listed := doc.ClosedValues(base, m.Name)
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
		for _, v := range rulefiles.LiteralValues(m.Op, m.Value) {
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
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testenv.RepoRoot(t), "docs", "metrics.md")
	data, err := os.ReadFile(path)
	if err != nil {
		_, used := contractProblems(rs, metricsdoc.Doc{Metrics: map[string]metricsdoc.Metric{}})
		t.Fatalf("the rules need docs/metrics.md to list their metrics: %v\nneeded:\n%s", err, formatUsed(used))
	}
	doc, err := metricsdoc.Parse(string(data))
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

// TestContractProblems feeds the check rules that break the contract in
// each way it knows, against the sample document.
func TestContractProblems(t *testing.T) {
	// The sample document of docs/metricsdoc, whose own test pins its parse.
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "metricsdoc", "testdata", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := metricsdoc.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rules ...rulefiles.Rule) rulefiles.Set {
		rs := rulefiles.Set{}
		for _, r := range rules {
			rs.Rules = append(rs.Rules, rulefiles.Loaded{Rule: r})
		}
		return rs
	}
	for _, tc := range []struct {
		name  string
		rules rulefiles.Set
		want  []string
	}{
		{
			name: "documented metrics, labels, values and scrape labels pass",
			rules: mk(
				rulefiles.Rule{Record: "tier:sendmail_deliveries:rate5m", Expr: `sum by (tier, mailer) (rate(sendmail_deliveries_total{mailer=~"local|esmtp", status!="other", instance=~".+"}[5m]))`},
				rulefiles.Rule{Alert: "A", Expr: `histogram_quantile(0.95, sum by (tier, le) (rate(sendmail_delivery_delay_seconds_bucket{status="sent"}[5m]))) > 1 and on (tier) tier:sendmail_deliveries:rate5m > 0`},
				rulefiles.Rule{Alert: "B", Expr: `max by (tier, queue) (sendmail_queue_messages) > 1 or rate(dovecot_logins_total{service="imap"}[5m]) > 0 or up == 0 or node_load1 > 1`},
				rulefiles.Rule{Alert: "C", Expr: `label_replace(sendmail_queue_messages, "daemon", "sendmail", "", "") > 0`},
			),
		},
		{
			name:  "undocumented metric",
			rules: mk(rulefiles.Rule{Alert: "A", Expr: `sendmail_queue_bytes > 0`}),
			want:  []string{"A: metric sendmail_queue_bytes is not in docs/metrics.md"},
		},
		{
			name:  "undocumented label",
			rules: mk(rulefiles.Rule{Alert: "A", Expr: `sendmail_queue_messages{daemon="MTA"} > 0`}),
			want:  []string{`A: sendmail_queue_messages has no label "daemon" in docs/metrics.md (documented: [queue])`},
		},
		{
			name:  "value outside the closed set",
			rules: mk(rulefiles.Rule{Alert: "A", Expr: `rate(sendmail_deliveries_total{status=~"sent|bounce"}[5m]) > 0`}),
			want:  []string{`A: sendmail_deliveries_total{status} never takes the value "bounce" (docs/metrics.md lists [sent deferred bounced other])`},
		},
		{
			name:  "a value listed for the label of another metric",
			rules: mk(rulefiles.Rule{Alert: "A", Expr: `rate(sendmail_rejects_total{reason="rate_limited"}[5m]) > 0`}),
			want:  []string{`A: sendmail_rejects_total{reason} never takes the value "rate_limited" (docs/metrics.md lists [relaying_denied pregreet other])`},
		},
		{
			name: "matchers on recorded series are checked against the metrics they come from",
			rules: mk(
				rulefiles.Rule{Record: "tier_mailer_status:sendmail_deliveries:rate5m", Expr: `sum by (tier, mailer, status) (rate(sendmail_deliveries_total[5m]))`},
				rulefiles.Rule{Record: "tier:sendmail_failures:ratio", Expr: `sum by (tier) (tier_mailer_status:sendmail_deliveries:rate5m{status="deferred"}) / sum by (tier) (tier_mailer_status:sendmail_deliveries:rate5m)`},
				rulefiles.Rule{Record: "daemon:q:max", Expr: `label_replace(max(sendmail_queue_messages), "daemon", "sendmail", "", "")`},
				rulefiles.Rule{Alert: "A", Expr: `tier_mailer_status:sendmail_deliveries:rate5m{mailer="procmail", status="sent", tier="imap"} > 0`},
				rulefiles.Rule{Alert: "B", Expr: `tier_mailer_status:sendmail_deliveries:rate5m{reason="other"} > 0`},
				rulefiles.Rule{Alert: "C", Expr: `tier:sendmail_failures:ratio{status="bounce"} > 0`},
				rulefiles.Rule{Alert: "D", Expr: `daemon:q:max{daemon="sendmail", queue="/var/spool/mqueue"} > 0`},
			),
			want: []string{
				`A: tier_mailer_status:sendmail_deliveries:rate5m{mailer} never takes the value "procmail" (docs/metrics.md lists [local esmtp file other])`,
				`B: tier_mailer_status:sendmail_deliveries:rate5m{reason}: none of the metrics it is recorded from has that label in docs/metrics.md`,
				`C: tier:sendmail_failures:ratio{status} never takes the value "bounce" (docs/metrics.md lists [sent deferred bounced other])`,
			},
		},
		{
			name:  "le on a series that is not a bucket",
			rules: mk(rulefiles.Rule{Alert: "A", Expr: `sendmail_delivery_delay_seconds_count{le="1"} > 0`}),
			want:  []string{`A: sendmail_delivery_delay_seconds has no label "le" in docs/metrics.md (documented: [mailer status])`},
		},
		{
			name: "grouping on a label no series carries, directly or through a recording rule",
			rules: mk(
				rulefiles.Rule{Record: "tier:x:sum", Expr: `sum by (tier) (sendmail_queue_messages)`},
				rulefiles.Rule{Alert: "A", Expr: `sum by (tier, reason) (rate(sendmail_deliveries_total[5m])) > 0`},
				rulefiles.Rule{Alert: "B", Expr: `tier:x:sum / on (tier, mailer) tier:x:sum > 0`},
			),
			want: []string{
				`A: groups or matches on label "reason", which none of its series carry`,
				`B: groups or matches on label "mailer", which none of its series carry`,
			},
		},
		{
			name: "unknown namespace, unknown recording rule, nameless selector",
			rules: mk(
				rulefiles.Rule{Alert: "A", Expr: `postfix_smtpd_connects_total > 0`},
				rulefiles.Rule{Alert: "B", Expr: `tier:nothing:here > 0`},
				rulefiles.Rule{Alert: "C", Expr: `{__name__="sendmail_queue_messages"} > 0`},
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
