package vmrules_test

// differenceKey names one alert_rule_test case: test file, scenario name,
// eval_time as promtool writes it, alert name.
type differenceKey struct {
	File, Scenario, EvalTime, Alertname string
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
var knownDifferences = map[differenceKey]difference{
	// probe_success is sampled at 0s, 30s, ... 3m30s: 1 1 1 0 0 0 0 0.
	// Prometheus 2 (Debian 12's promtool) includes a sample lying exactly
	// on a range window's start: at 2m, [1m] holds 60s (success), 90s and
	// 120s, so max_over_time is 1 and the alert waits for 2m15s.
	// VictoriaMetrics' window (t-1m, t] excludes its start, holds only the
	// two failures, and fires one evaluation (15s) earlier, at 2m.
	// Prometheus 3 windows are left-open too, as VictoriaMetrics'.
	{"probe_test.yml", "two consecutive failed probes fire", "2m", "ProbeFailed"}: {
		Why: "a sample exactly on a range window's start is in Prometheus 2's window, not in VictoriaMetrics'",
		VictoriaMetrics: []string{
			`{alertname="ProbeFailed", instance="smtp-in.example.com:25", job="blackbox-tcp", severity="critical", tier="smtp-in"}`,
		},
	},
}
