package metricsdoc

import "os"
import "path/filepath"
import "reflect"
import "testing"

func TestParseMetricsDoc(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics := map[string]Metric{
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
		got, closed := doc.ClosedValues(tc.metric, tc.label)
		if closed != tc.closed || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ClosedValues(%s, %s) = %v, %v; want %v, %v", tc.metric, tc.label, got, closed, tc.want, tc.closed)
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
		base, _, extra, ok := doc.Lookup(tc.series)
		if base != tc.base || ok != tc.ok || !reflect.DeepEqual(extra, tc.extra) {
			t.Errorf("Lookup(%s) = %q, %v, %v; want %q, %v, %v", tc.series, base, extra, ok, tc.base, tc.extra, tc.ok)
		}
	}

	if _, err := Parse("| `a_total` | counter | `x`, `y` |\n| `a_total` | counter | |\n"); err == nil {
		t.Error("a metric listed twice parsed without error")
	}
	if _, err := Parse("# no tables\n"); err == nil {
		t.Error("a document without metric rows parsed without error")
	}
}

// TestTheDocument parses the real docs/metrics.md.
func TestTheDocument(t *testing.T) {
	doc, err := Load("../metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := doc.Metrics["sendmail_deliveries_total"]; !ok || !reflect.DeepEqual(m.Labels, []string{"mailer", "status"}) {
		t.Errorf("sendmail_deliveries_total: %+v, %v", m, ok)
	}
	if v, ok := doc.ClosedValues("sendmail_rejects_total", "reason"); !ok || len(v) != 8 {
		t.Errorf("sendmail_rejects_total reason values: %v, %v", v, ok)
	}
}
