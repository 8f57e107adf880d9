package dovecot_test

import "fmt"
import "math"
import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/pipeline"

// feed hands lines to c, failing on one it does not recognise.
var feed = metrictest.MustFeed

// gather returns every series of c as "name{k=v,k=v}" -> value.
var gather = metrictest.Gather

// checkSeries compares the series of want with what c exposes.
func checkSeries(t *testing.T, c prometheus.Collector, want map[string]float64) {
	t.Helper()
	got := gather(t, c)
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("no series %s", k)
			continue
		}
		// Sums of Dovecot's six-decimal sums differ in the last bits by order.
		if math.Abs(g-v) > 1e-12*math.Max(1, math.Abs(v)) {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
}

const (
	saveFailed = "Nov 24 05:15:42 vm dovecot: lda(dave)<9268><KaJjBH4dBWs0JAAA5f9tHg>: msgid=<in_lda_quota-0001@partner.test>: save failed to INBOX: Quota exceeded (mailbox for user is full)"
	rejected   = "Nov 24 05:15:42 vm dovecot: lda(dave)<9268><KaJjBH4dBWs0JAAA5f9tHg>: msgid=<in_lda_quota-0001@partner.test>: rejected: Quota exceeded (mailbox for user is full)"
)

// One message to one mailbox counts once, whether LDA logs "save failed"
// and "rejected:" (LDA) or "save failed" alone (LMTP) or "rejected:" alone.
func TestDeliveryFailureCountsOnce(t *testing.T) {
	c := metrictest.New(t, dovecot.New, dovecot.Config{})
	feed(t, c, saveFailed, rejected)
	checkSeries(t, c, map[string]float64{"dovecot_deliveries_total{agent=lda,result=failed}": 1})
	// Interleaved with another message's lines.
	feed(t, c,
		"Nov 24 05:15:42 vm dovecot: lda(erin)<9300><AAAA>: msgid=<a@b>: save failed to INBOX: Quota exceeded (mailbox for user is full)",
		"Nov 24 05:15:42 vm dovecot: lda(bob)<9301><BBBB>: msgid=<c@d>: saved mail to INBOX",
		"Nov 24 05:15:42 vm dovecot: lda(erin)<9300><AAAA>: msgid=<a@b>: rejected: Quota exceeded (mailbox for user is full)",
		// A rejection with no failed save before it (e.g. a Sieve reject) is a failure of its own.
		"Nov 24 05:15:42 vm dovecot: lda(carol)<9302><CCCC>: msgid=<e@f>: rejected: Mail delivery rejected by policy",
		// LMTP logs "save failed" only.
		"Nov 24 05:15:51 vm dovecot: lmtp(dave@lab.test)<9576><VnMz>: msgid=<lmtp-0001@partner.test>: save failed to INBOX: Quota exceeded (mailbox for user is full)",
	)
	checkSeries(t, c, map[string]float64{
		"dovecot_deliveries_total{agent=lda,result=failed}":  3,
		"dovecot_deliveries_total{agent=lda,result=saved}":   1,
		"dovecot_deliveries_total{agent=lmtp,result=failed}": 1,
	})
}

// The sessions remembered between "save failed" and "rejected:" are
// bounded: past the bound the oldest is forgotten and its rejection counts
// as a failure of its own.
func TestFailedSavesBounded(t *testing.T) {
	c := metrictest.New(t, dovecot.New, dovecot.Config{MaxPending: 10})
	for i := 0; i < 1000; i++ {
		feed(t, c, fmt.Sprintf("Nov 24 05:15:42 vm dovecot: lda(u)<%d><s>: msgid=<m>: save failed to INBOX: Quota exceeded", i))
	}
	for i := 0; i < 1000; i++ {
		feed(t, c, fmt.Sprintf("Nov 24 05:15:42 vm dovecot: lda(u)<%d><s>: msgid=<m>: rejected: Quota exceeded", i))
	}
	// 1000 failed saves; of the rejections, only the last 10 sessions'
	// are recognised as their echo.
	checkSeries(t, c, map[string]float64{"dovecot_deliveries_total{agent=lda,result=failed}": 1000 + 990})
}

func TestKnownBotsAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bots.txt")
	if err := os.WriteFile(path, []byte("127.0.0.2/32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := metrictest.New(t, dovecot.New, dovecot.Config{KnownBotNetworks: path})
	fail := func(ip string) string {
		return "Nov 24 05:16:17 vm dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<carol>, method=PLAIN, rip=" + ip + ", lip=127.0.0.1, session=<OzhFz/5gcYV/AAAB>"
	}
	feed(t, c, fail("127.0.0.2"), fail("127.0.0.3"))
	checkSeries(t, c, map[string]float64{
		"dovecot_login_failures_total{known_bot=true,reason=auth_failed,service=imap}":  1,
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=imap}": 1,
	})

	// SIGHUP: the file now lists 127.0.0.0/24.
	if err := os.WriteFile(path, []byte("127.0.0.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	feed(t, c, fail("127.0.0.3"))
	checkSeries(t, c, map[string]float64{
		"dovecot_login_failures_total{known_bot=true,reason=auth_failed,service=imap}":  2,
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=imap}": 1,
	})

	// A bad file: Reload fails and the previous networks stay.
	if err := os.WriteFile(path, []byte("127.0.0.0/24\n127.0.0.0/99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := c.Reload()
	want := "known-bot networks " + path + `: line 2: "127.0.0.0/99": prefix length "99" is not a number from 0 to 32`
	if err == nil || err.Error() != want {
		t.Fatalf("Reload() = %v, want %s", err, want)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a missing file succeeded")
	}
	feed(t, c, fail("127.0.0.4"))
	checkSeries(t, c, map[string]float64{
		"dovecot_login_failures_total{known_bot=true,reason=auth_failed,service=imap}": 3,
	})

	// Without a file Reload has nothing to do.
	if err := metrictest.New(t, dovecot.New, dovecot.Config{}).Reload(); err != nil {
		t.Fatal(err)
	}
	// A bad file at start is an error.
	if _, err := dovecot.New(dovecot.Config{KnownBotNetworks: path}); err == nil {
		t.Fatal("New with a missing known-bot file succeeded")
	}
}

func TestBadStatsURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:9900/metrics", "ftp://127.0.0.1/metrics", "http://", "http://[::1"} {
		_, err := dovecot.New(dovecot.Config{StatsURL: u})
		want := fmt.Sprintf("--collector.dovecot.stats-url %q is not an http:// or https:// URL", u)
		if err == nil || err.Error() != want {
			t.Errorf("New(%q) = %v, want %s", u, err, want)
		}
	}
}

func TestPrograms(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{"dovecot"}},
		{[]string{"dovecot"}, []string{"dovecot"}},
		{[]string{"dovecot-sys"}, []string{"dovecot-sys", "dovecot"}},
	} {
		c := metrictest.New(t, dovecot.New, dovecot.Config{Programs: tc.in})
		if got := c.Programs(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Programs(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLint(t *testing.T) {
	c := metrictest.New(t, dovecot.New, dovecot.Config{})
	feed(t, c, saveFailed, rejected)
	metrictest.Lint(t, c)
}

// replay feeds corpus files through the pipeline, as --once does, and
// returns the router.
func replay(t *testing.T, c *dovecot.Collector, files ...string) *pipeline.Router {
	t.Helper()
	return metrictest.Replay(t, "dovecot", c, files...)
}

// TestCorpus replays the real Dovecot 2.3.19 logs of the lab (syslog in
// both formats, and the file-logging instance's own log) and checks every
// count against the lab driver's ground truth. 127.0.0.2 and 127.0.0.6 are
// the lab's brute forcers; they are the known-bot networks here.
func TestCorpus(t *testing.T) {
	g := metrictest.GroundTruth(t)
	bots := filepath.Join(t.TempDir(), "bots.txt")
	if err := os.WriteFile(bots, []byte("127.0.0.2\n127.0.0.6/32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syslogWant := map[string]float64{
		"dovecot_logins_total{service=imap}":                                                  g["imap_login_ok"],
		"dovecot_logins_total{service=submission}":                                            g["submission_relayed"] + g["submission_relay_failed"],
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=imap}":       g["imap_auth_failed"] - g["imap_bruteforce_attempts"],
		"dovecot_login_failures_total{known_bot=true,reason=auth_failed,service=imap}":        g["imap_bruteforce_attempts"],
		"dovecot_login_failures_total{known_bot=false,reason=no_auth,service=imap}":           g["imap_aborted_no_auth"],
		"dovecot_login_failures_total{known_bot=false,reason=tls_failed,service=imap}":        g["imap_tls_handshake_failed"],
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=submission}": g["submission_auth_failed"],
		"dovecot_deliveries_total{agent=lda,result=saved}":                                    g["delivered_local"],
		"dovecot_deliveries_total{agent=lda,result=failed}":                                   g["lda_quota_exceeded"],
		"dovecot_deliveries_total{agent=lmtp,result=saved}":                                   g["lmtp_ok"],
		"dovecot_deliveries_total{agent=lmtp,result=failed}":                                  g["lmtp_quota_exceeded"],
		"dovecot_submission_relays_total{result=ok}":                                          g["submission_relayed"],
		"dovecot_submission_relays_total{result=failed}":                                      g["submission_relay_failed"],
		"dovecot_auth_failures_total{reason=password_mismatch}":                               g["imap_auth_failed_password"] + g["submission_auth_failed"],
		"dovecot_auth_failures_total{reason=unknown_user}":                                    g["imap_auth_failed_unknown_user"] + g["lda_user_unknown"] + g["lmtp_user_unknown"],
	}
	fileWant := map[string]float64{
		"dovecot_logins_total{service=imap}":                                            g["fimap_login_ok"],
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=imap}": g["fimap_auth_failed"] - g["fimap_bruteforce_attempts"],
		"dovecot_login_failures_total{known_bot=true,reason=auth_failed,service=imap}":  g["fimap_bruteforce_attempts"],
		"dovecot_login_failures_total{known_bot=false,reason=no_auth,service=imap}":     g["fimap_aborted_no_auth"],
		"dovecot_deliveries_total{agent=lda,result=saved}":                              g["flda_ok"],
		"dovecot_deliveries_total{agent=lda,result=failed}":                             g["flda_quota_exceeded"],
		"dovecot_auth_failures_total{reason=password_mismatch}":                         g["fimap_auth_failed_password"],
		"dovecot_auth_failures_total{reason=unknown_user}":                              g["fimap_auth_failed_unknown_user"] + g["flda_user_unknown"],
	}
	for _, tc := range []struct {
		files   []string
		want    map[string]float64
		matched float64
	}{
		{[]string{"maillog"}, syslogWant, 1489},
		{[]string{"maillog.rfc3339"}, syslogWant, 1489},
		{[]string{"dovecot.log"}, fileWant, 185},
		// Both, in one exporter: the sums.
		{[]string{"maillog", "dovecot.log"}, sum(syslogWant, fileWant), 1489 + 185},
	} {
		t.Run(strings.Join(tc.files, "+"), func(t *testing.T) {
			for k, v := range tc.want {
				if v == 0 && !strings.Contains(k, "known_bot=") {
					t.Fatalf("ground truth has no value for %s", k)
				}
			}
			c := metrictest.New(t, dovecot.New, dovecot.Config{KnownBotNetworks: bots})
			r := replay(t, c, tc.files...)
			metrictest.Golden(t, c, "corpus-"+strings.Join(tc.files, "+"))
			// Everything else is zero: nothing is counted twice or in
			// the wrong series.
			metrictest.ExpectOnly(t, gather(t, c), tc.want)
			// Every Dovecot line of the corpus has a known shape.
			metrictest.ExpectLines(t, r, "dovecot", tc.matched)
		})
	}
}

func sum(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// The flags are the ones the Terraform module and the docs name.
func TestRegistrationFlags(t *testing.T) {
	dir := t.TempDir()
	bots := filepath.Join(dir, "bots.txt")
	if err := os.WriteFile(bots, []byte("192.0.2.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("192.0.2.0/33\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--collector.dovecot.known-bot-networks=" + bots, "--collector.dovecot.stats-url=http://127.0.0.1:9900/metrics",
			"--collector.dovecot.stats-timeout=500ms", "--collector.dovecot.programs=dovecot", "--collector.dovecot.programs=dovecot-sys"}, ""},
		{[]string{"--collector.dovecot.known-bot-networks=" + bad}, "known-bot networks " + bad + `: line 1: "192.0.2.0/33": prefix length "33" is not a number from 0 to 32`},
		{[]string{"--collector.dovecot.stats-url=localhost:9900"}, `--collector.dovecot.stats-url "localhost:9900" is not an http:// or https:// URL`},
	} {
		c := metrictest.BuildErr(t, dovecot.Registration, tc.err, tc.args...)
		if c == nil {
			continue
		}
		if _, ok := c.(collectors.LogCollector); !ok {
			t.Fatal("not a LogCollector")
		}
		if _, ok := c.(collectors.Reloader); !ok {
			t.Fatal("not a Reloader")
		}
	}
	if dovecot.Registration.Name != "dovecot" || !dovecot.Registration.Enabled {
		t.Errorf("registration %q, enabled %v", dovecot.Registration.Name, dovecot.Registration.Enabled)
	}
}
