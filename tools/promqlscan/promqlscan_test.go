package promqlscan

import "reflect"
import "testing"

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want Info
	}{
		{
			name: "bare metric",
			expr: `up`,
			want: Info{Selectors: []Selector{{Metric: "up"}}},
		},
		{
			name: "matchers of every operator, and a comma inside a string",
			expr: `sendmail_deliveries_total{mailer=~"local|procmail", status!="sent", tier="imap", queue!~"a,b}"}`,
			want: Info{Selectors: []Selector{{Metric: "sendmail_deliveries_total", Matchers: []Matcher{
				{"mailer", "=~", "local|procmail"}, {"status", "!=", "sent"}, {"tier", "=", "imap"}, {"queue", "!~", "a,b}"},
			}}}},
		},
		{
			name: "aggregations, ranges, offsets and numbers",
			expr: `sum by (tier, le) (rate(a_bucket[5m])) / sum(rate(b_total[1h30m] offset 1h)) without (instance) > 2^40 * 1e-3 + 0x1F`,
			want: Info{
				Selectors: []Selector{{Metric: "a_bucket", Range: "5m", Func: "rate"}, {Metric: "b_total", Range: "1h30m", Func: "rate"}},
				Grouping:  []string{"tier", "le", "instance"},
			},
		},
		{
			name: "recording rule names with colons and a subquery",
			expr: `max_over_time(tier:sendmail_queue_messages:max{tier="smtp-in"}[30m:1m])`,
			want: Info{Selectors: []Selector{{Metric: "tier:sendmail_queue_messages:max", Matchers: []Matcher{{"tier", "=", "smtp-in"}}}}},
		},
		{
			name: "vector matching, in the order of the syntax tree",
			expr: `a / on (tier) group_left () b and on (tier, mailer) c / ignoring (x) group_right (y) d`,
			want: Info{
				Selectors: []Selector{{Metric: "a"}, {Metric: "b"}, {Metric: "c"}, {Metric: "d"}},
				Grouping:  []string{"tier", "mailer", "tier", "x", "y"},
			},
		},
		{
			name: "selector by name only",
			expr: `count({__name__=~"aws_.+_sum", job="cloudwatch"})`,
			want: Info{Selectors: []Selector{{Matchers: []Matcher{{"__name__", "=~", "aws_.+_sum"}, {"job", "=", "cloudwatch"}}}}},
		},
		{
			name: "label_replace and label_join name their labels",
			expr: `label_replace(a / (b > 0), "daemon", "dovecot", "", "") or vector(1) - time() or label_join(c, "dst", ",", "s1", "s2")`,
			want: Info{
				Selectors: []Selector{{Metric: "a"}, {Metric: "b"}, {Metric: "c", Func: "label_join"}},
				Replaces:  []LabelReplace{{"daemon", ""}, {"dst", "s1"}, {"dst", "s2"}},
			},
		},
		{
			name: "Grafana's variables",
			expr: `histogram_quantile(0.95, sum by (le) (rate(x_bucket{tier=~"$tier"}[$__rate_interval]))) or abs((y))`,
			want: Info{
				Selectors: []Selector{
					{Metric: "x_bucket", Matchers: []Matcher{{"tier", "=~", "$tier"}}, Range: "$__rate_interval", Func: "rate"},
					{Metric: "y", Func: "abs"},
				},
				Grouping: []string{"le"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Scan(tt.expr)
			if err != nil {
				t.Fatalf("Scan(%q): %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Scan(%q)\n got: %+v\nwant: %+v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestScanRejects(t *testing.T) {
	for _, expr := range []string{
		`a{b}`,
		`a{b="c"`,
		`sum by tier (a)`,
		`rate(a[5m)`,
		`label_replace(a, "dst", "x")`,
		`rate(a[$tier])`,
	} {
		if _, err := Scan(expr); err == nil {
			t.Errorf("Scan(%q) succeeded, want an error", expr)
		}
	}
}

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		expr, op string
		value    float64
		ok       bool
	}{
		{`sum by (tier) (rate(x_total[5m])) > 0.5`, ">", 0.5, true},
		{"max(sendmail_queue_messages)\n  >= 500\n", ">=", 500, true},
		{`(up{job="mailtier"} == 0)`, "==", 0, true},
		{`a > 1 and on (tier) b > 0`, "", 0, false},
		{`a > b`, "", 0, false},
		{`a + 1`, "", 0, false},
	} {
		op, v, ok := Threshold(tc.expr)
		if op != tc.op || v != tc.value || ok != tc.ok {
			t.Errorf("Threshold(%q) = %q, %v, %v; want %q, %v, %v", tc.expr, op, v, ok, tc.op, tc.value, tc.ok)
		}
	}
}
