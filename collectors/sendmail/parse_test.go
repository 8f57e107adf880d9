package sendmail

import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

func TestParse(t *testing.T) {
	metrictest.ParseCases(t, "testdata/parse.cases", kindNames, func(_ *testing.T, msg string) any {
		ev := Parse(msg)
		ev.DSN, ev.Stat = "", "" // substrings of the line, checked in TestDeferReason
		return ev
	})
}

// kindNames names the kinds in testdata/parse.cases.
var kindNames = map[Kind]string{Unknown: "Unknown", Ignored: "Ignored", From: "From", To: "To", Reject: "Reject", Lost: "Lost", NoMail: "NoMail", StartTLS: "StartTLS", DSN: "DSN", Auth: "Auth"}

func TestDeferReason(t *testing.T) {
	for _, tc := range []struct{ dsn, stat, want string }{
		{"4.7.28", "Deferred: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail", DeferRateLimited},
		{"4.7.0", "Deferred: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints", DeferRateLimited},
		{"4.7.650", "Deferred: 451 4.7.650 The mail server [192.0.2.1] has been temporarily Rate Limited due to IP reputation.", DeferRateLimited},
		{"4.3.2", "Deferred: 421 4.3.2 Connection rate limit exceeded.", DeferRateLimited},
		// A refusal by policy is not rate limiting.
		{"4.7.1", "Deferred: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", DeferPolicy},
		{"4.7.1", "Deferred: 451 4.7.1 Please try again later", DeferPolicy},
		{"4.4.1", "Deferred: Connection refused by mx.example.", DeferConnectionRefused},
		{"4.0.0", "Deferred: Connection timed out with example.com.", DeferConnectionTimeout},
		{"4.3.0", "Deferred: 451 4.3.0 Temporary lookup failure", DeferRemoteTempfail},
	} {
		if got := DefaultRateLimits.DeferReason(tc.dsn, tc.stat); got != tc.want {
			t.Errorf("DeferReason(%q, %q) = %q, want %q", tc.dsn, tc.stat, got, tc.want)
		}
	}
	// The operator's choice: a site that counts 4.7.1 as rate limiting.
	rl := RateLimits{DSNs: []string{"4.7.1"}}
	if got := rl.DeferReason("4.7.1", "Deferred: 450 4.7.1 Client host rejected"); got != DeferRateLimited {
		t.Errorf("with --collector.sendmail.rate-limit-dsn=4.7.1: %q, want rate_limited", got)
	}
	if got := rl.DeferReason("4.7.0", "Deferred: 421 4.7.0 too many connections"); got != DeferPolicy {
		t.Errorf("without the default texts: %q, want policy", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		secs float64
		n    int
	}{
		{"00:00:00", 0, 8},
		{"00:02:16, x", 136, 8},
		{"1+00:00:01", 86401, 10},
		{"123:00:00", 123 * 3600, 9},
		{"00:0:00", 0, 0},
		{"00:60:00", 0, 0},
		{"00:00:60", 0, 0},
		{"x", 0, 0},
		{"1+", 0, 0},
		{"", 0, 0},
	} {
		secs, n := parseDuration(tc.in)
		if secs != tc.secs || n != tc.n {
			t.Errorf("parseDuration(%q) = %v, %d; want %v, %d", tc.in, secs, n, tc.secs, tc.n)
		}
	}
}

// TestParseDurationHuge: days and hours past int64 saturate, positive,
// beyond MaxDelay; they never wrap negative.
func TestParseDurationHuge(t *testing.T) {
	for _, in := range []string{"999999999999999999+00:00:00", "9223372036854775807:00:00", "99999999999999999999999+99999999999999999999:00:00"} {
		secs, n := parseDuration(in)
		if n != len(in) || !(secs > MaxDelay.Seconds()) {
			t.Errorf("parseDuration(%q) = %v, %d; want over %v, %d", in, secs, n, MaxDelay.Seconds(), len(in))
		}
		if _, ok := parseDelay(in); ok {
			t.Errorf("parseDelay(%q) accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	metrictest.AddRealWorldMessages(f, "sendmail")
	f.Fuzz(func(t *testing.T, msg string) {
		ev := Parse(msg)
		in := func(v string, set []string) bool {
			if v == "" {
				return true
			}
			for _, s := range set {
				if s == v {
					return true
				}
			}
			return false
		}
		if !in(ev.Daemon, Daemons) || !in(ev.Mailer, Mailers) || !in(ev.Status, Statuses) ||
			!in(ev.Stage, Stages) || !in(ev.Reason, Reasons) || !in(ev.DeferReason, DeferReasons) ||
			!in(ev.Role, []string{RoleServer, RoleClient}) || !in(ev.Result, []string{ResultOK, ResultErr, ResultFail}) {
			t.Fatalf("label outside its closed set: %+v", ev)
		}
	})
}
