package vmrules_test

import "testing"

import "github.com/prometheus/common/model"

// caseKey names one alert_rule_test or promql_expr_test case: test file,
// scenario name, eval_time as promtool writes it, and the alert's name or
// the expression.
type caseKey struct {
	File, Scenario, EvalTime, Case string
}

// difference is what VictoriaMetrics fires where it differs from promtool,
// and why. docs/operations.md lists the same differences for operators.
type difference struct {
	Why string
	// VictoriaMetrics are the firing alerts there, as "{labels}" strings
	// with the alertname among the labels.
	VictoriaMetrics []string
}

// knownDifferences are the cases where MetricsQL's semantics, not the
// rules, make vmalert on VictoriaMetrics fire differently from Prometheus.
// The replay asserts each of them exactly: if VictoriaMetrics ever agrees
// with promtool, the entry must go.
// None is listed today. The one there was, a sample lying exactly on a
// range window's start (in Prometheus 2's window, not in VictoriaMetrics'
// nor Prometheus 3's), moved the probe-failure alert by one evaluation;
// that alert is cabal-infra's own now, not mailtier's (docs/alerts.md).
var knownDifferences = map[caseKey]difference{}

// storedRounding is why the values of exprDifferences differ.
const storedRounding = "VictoriaMetrics stores a sample's value as a decimal of fewer significant digits than a float64 holds (0.3333333333333333 is stored as 0.3333333333); vmalert writes each record back to it, so a record reads back rounded, where Prometheus keeps the float64 its arithmetic computed"

// exprDifferences are the promql_expr_test cases whose exact value differs
// on VictoriaMetrics, with the result VictoriaMetrics gives ("{labels}
// value" lines, as checkExprs prints them). Each is asserted exactly.
var exprDifferences = map[caseKey][]string{
	// 99 / 10000: promtool's 9.899999999999999E-03 is the float64 quotient.
	{"sendmail_test.yml", "local delivery failures at 0.99% stay silent", "10m", "tier:sendmail_local_delivery_failures:ratio_rate5m"}: {
		`tier:sendmail_local_delivery_failures:ratio_rate5m{tier="imap"} 0.0099`,
	},
	// histogram_quantile's interpolation gives 0.9750000000000001 in float64.
	{"dovecot_test.yml", "IMAP command p95 of 0.975s stays silent", "20m", "tier:dovecot_imap_command_duration_seconds:p95_rate5m"}: {
		`tier:dovecot_imap_command_duration_seconds:p95_rate5m{tier="imap"} 0.975`,
	},
}

// caseTable is a table of documented differences (name) for one kind of
// case, with what the cases of one test file met of it.
type caseTable[V any] struct {
	name, kind string
	entries    map[caseKey]V
	seen       map[caseKey]bool
	checked    int
}

func newCaseTable[V any](name, kind string, entries map[caseKey]V) *caseTable[V] {
	return &caseTable[V]{name: name, kind: kind, entries: entries, seen: map[caseKey]bool{}}
}

// lookup counts a case of s at evalTime, named c (the alert's name or the
// expression), and returns its documented difference, if there is one.
func (ct *caseTable[V]) lookup(s scenario, evalTime model.Duration, c string) (V, bool) {
	key := caseKey{s.Test.Name, s.Group.Name, evalTime.String(), c}
	v, documented := ct.entries[key]
	if documented {
		ct.seen[key] = true
	}
	ct.checked++
	return v, documented
}

// finish reports every entry for the test file that no case met: a
// documented difference must name a case that exists.
func (ct *caseTable[V]) finish(t *testing.T, file string) {
	t.Helper()
	for key := range ct.entries {
		if key.File == file && !ct.seen[key] {
			t.Errorf("%s lists %v, which is no %s case", ct.name, key, ct.kind)
		}
	}
	t.Logf("%d %s cases checked", ct.checked, ct.kind)
}
