package dovecot_test

import "bytes"
import "net/http"
import "net/http/httptest"
import "os"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

// serve answers every request with body, as Dovecot's stats listener does.
func serve(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=0.0.1; charset=utf-8")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stats-95.txt is what Dovecot 2.3.19 (Debian 12) served with
// docker/mail/dovecot/95-stats.conf after one IMAP session (LOGIN, NOOP,
// SELECT, FETCH, NOOP, LOGOUT), a wrong password, an unknown user and one
// dovecot-lda delivery.
func TestStatsPassthrough(t *testing.T) {
	raw := fixture(t, "stats-95.txt")
	// What classic text parsers do with it: refuse the info type.
	classic := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := classic.TextToMetricFamilies(strings.NewReader(raw)); err == nil {
		t.Fatal("the classic parser accepted Dovecot's exposition; the fixture lost its info type")
	}
	c := metrictest.New(t, dovecot.New, dovecot.Config{StatsURL: serve(t, raw)})
	checkSeries(t, c, map[string]float64{
		"mailtier_exporter_dovecot_stats_scrape_success{}":                         1,
		"dovecot_imap_command_duration_seconds{}":                                  5,
		"dovecot_imap_command_duration_seconds_sum{}":                              0.007314,
		"dovecot_imap_command_duration_seconds_bucket{le=0.001024}":                4,
		"dovecot_imap_command_duration_seconds_bucket{le=0.004096}":                4,
		"dovecot_imap_command_duration_seconds_bucket{le=0.008192}":                5,
		"dovecot_imap_command_duration_seconds_bucket{le=16.777216}":               5,
		"dovecot_stats_delivery_duration_seconds{}":                                1,
		"dovecot_stats_delivery_duration_seconds_sum{}":                            0.003538,
		"dovecot_stats_delivery_duration_seconds_bucket{le=0.002048}":              0,
		"dovecot_stats_delivery_duration_seconds_bucket{le=0.004096}":              1,
		"dovecot_stats_auth_successes_total{}":                                     1,
		"dovecot_stats_auth_failures_total{}":                                      2,
		"dovecot_stats_start_time_seconds{}":                                       1795500590,
		"dovecot_logins_total{service=imap}":                                       0,
		"dovecot_login_failures_total{known_bot=false,reason=other,service=other}": 0,
	})
	got := gather(t, c)
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "dovecot_imap_command_duration_seconds_bucket{") {
			n++
		}
	}
	if n != len(dovecot.DurationBuckets) {
		t.Errorf("%d buckets, want %d", n, len(dovecot.DurationBuckets))
	}
	for k := range got {
		if strings.Contains(k, "build") || strings.Contains(k, "process_") {
			t.Errorf("passed through: %s", k)
		}
	}
	// The exporter's exposition is one classic parsers accept.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	classic = expfmt.NewTextParser(model.UTF8Validation)
	if _, err := classic.TextToMetricFamilies(&buf); err != nil {
		t.Fatalf("classic parser: %v", err)
	}
	metrictest.Lint(t, c)
}

// stats-grouped.txt is what Dovecot 2.3.19 served with the first version
// of the stats config (imap_command grouped by cmd_name and
// tagged_reply_state with decade buckets, auth counters grouped by
// mechanism) after NOOP, SELECT, FETCH, NOOP, an unknown command, a SELECT
// of a missing mailbox, LOGOUT and one wrong password: seven commands.
// Dovecot exports only the last level of a histogram, and the top level of
// a grouped counter as <name>_count.
func TestStatsGrouped(t *testing.T) {
	c := metrictest.New(t, dovecot.New, dovecot.Config{StatsURL: serve(t, fixture(t, "stats-grouped.txt"))})
	checkSeries(t, c, map[string]float64{
		"mailtier_exporter_dovecot_stats_scrape_success{}": 1,
		"dovecot_imap_command_duration_seconds{}":          7,
		"dovecot_imap_command_duration_seconds_sum{}":      0.000047 + 0.001067 + 0.000042 + 0.000071 + 0.000004 + 0.000213,
		"dovecot_stats_auth_successes_total{}":             1,
		"dovecot_stats_auth_failures_total{}":              1,
	})
	got := gather(t, c)
	for k := range got {
		// Decade buckets are not the closed set: only +Inf (the count) is left.
		if strings.HasPrefix(k, "dovecot_imap_command_duration_seconds_bucket{") {
			t.Errorf("bucket outside DurationBuckets kept: %s", k)
		}
		// No mail_delivery metric in that config: no series.
		if strings.HasPrefix(k, "dovecot_stats_delivery") {
			t.Errorf("series for an absent metric: %s", k)
		}
	}
}

func TestStatsLevels(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       map[string]float64
	}{
		{"counter with intermediate levels: the unlabelled total", `# TYPE dovecot_auth_success counter
dovecot_auth_success_total 5
dovecot_auth_success_total{mechanism="PLAIN"} 4
dovecot_auth_success_total{mechanism="PLAIN",service="imap"} 3
dovecot_auth_success_total{mechanism="LOGIN"} 1
# EOF
`, map[string]float64{"dovecot_stats_auth_successes_total{}": 5}},
		{"counter without a total: the deepest level summed", `dovecot_auth_failure_total{mechanism="PLAIN"} 4
dovecot_auth_failure_total{mechanism="PLAIN",service="imap"} 3
dovecot_auth_failure_total{mechanism="PLAIN",service="pop3"} 1
dovecot_auth_failure_total{mechanism="LOGIN",service="imap"} 2
`, map[string]float64{"dovecot_stats_auth_failures_total{}": 6}},
		{"histogram with a total series: the total alone", `dovecot_imap_command_bucket{le="0.001024"} 3
dovecot_imap_command_bucket{le="+Inf"} 4
dovecot_imap_command_sum 1.5
dovecot_imap_command_count 4
dovecot_imap_command_bucket{cmd_name="NOOP",le="0.001024"} 3
dovecot_imap_command_bucket{cmd_name="NOOP",le="+Inf"} 3
`, map[string]float64{"dovecot_imap_command_duration_seconds{}": 4, "dovecot_imap_command_duration_seconds_sum{}": 1.5,
			"dovecot_imap_command_duration_seconds_bucket{le=0.001024}": 3}},
		{"empty histogram: no _sum or _count from Dovecot", `dovecot_imap_command_bucket{le="0.001024"} 0
dovecot_imap_command_bucket{le="+Inf"} 0
`, map[string]float64{"dovecot_imap_command_duration_seconds{}": 0, "dovecot_imap_command_duration_seconds_sum{}": 0}},
		{"histogram without +Inf: the count from _count", `dovecot_imap_command_bucket{le="0.001024"} 2
dovecot_imap_command_count 3
dovecot_imap_command_sum 0.5
`, map[string]float64{"dovecot_imap_command_duration_seconds{}": 3}},
		{"escaped label values and timestamps", `dovecot_imap_command_bucket{cmd_name="a\"b,c}",le="0.002048"} 2 1700000000
dovecot_imap_command_bucket{cmd_name="a\"b,c}",le="+Inf"} 2
dovecot_imap_command_bucket{cmd_name="x\\",le="+Inf"} 1
`, map[string]float64{"dovecot_imap_command_duration_seconds{}": 3, "dovecot_imap_command_duration_seconds_bucket{le=0.002048}": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := metrictest.New(t, dovecot.New, dovecot.Config{StatsURL: serve(t, tc.body)})
			checkSeries(t, c, tc.want)
			checkSeries(t, c, map[string]float64{"mailtier_exporter_dovecot_stats_scrape_success{}": 1})
		})
	}
}

// A stats listener that fails never fails the exporter's scrape: the
// success gauge says 0, the log metrics are there, nothing else is.
func TestStatsFailures(t *testing.T) {
	// A port nothing listens on.
	closed := "http://" + testenv.FreeAddr(t) + "/metrics"
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer status.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := []byte("# " + strings.Repeat("x", 1<<16) + "\n")
		for i := 0; i <= dovecot.MaxStatsBytes/len(line); i++ {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}))
	defer huge.Close()

	for _, tc := range []struct {
		name, url string
	}{
		{"connection refused", closed},
		{"HTTP 500", status.URL + "/metrics"},
		{"timeout", slow.URL + "/metrics"},
		{"too large", huge.URL + "/metrics"},
		{"not an exposition", serve(t, "dovecot_auth_success_total one\n")},
		{"unterminated labels", serve(t, "dovecot_auth_success_total{a=\"b 1\n")},
		{"bad label", serve(t, "dovecot_auth_success_total{a} 1\n")},
		{"no value", serve(t, "dovecot_auth_success_total{a=\"b\"}\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := metrictest.New(t, dovecot.New, dovecot.Config{StatsURL: tc.url, StatsTimeout: 200 * time.Millisecond})
			start := time.Now()
			got := gather(t, c)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the scrape took %v", d)
			}
			if v, ok := got["mailtier_exporter_dovecot_stats_scrape_success{}"]; !ok || v != 0 {
				t.Errorf("success = %v (present %v), want 0", v, ok)
			}
			if _, ok := got["dovecot_logins_total{service=imap}"]; !ok {
				t.Error("the log metrics are missing")
			}
			for k := range got {
				if strings.HasPrefix(k, "dovecot_stats_") || strings.HasPrefix(k, "dovecot_imap_command") {
					t.Errorf("series from a failed scrape: %s", k)
				}
			}
		})
	}
}

// Without a stats URL there is no passthrough and no success gauge.
func TestStatsOff(t *testing.T) {
	got := gather(t, metrictest.New(t, dovecot.New, dovecot.Config{}))
	for k := range got {
		if strings.Contains(k, "stats") || strings.HasPrefix(k, "dovecot_imap_command") {
			t.Errorf("series without a stats URL: %s", k)
		}
	}
}
