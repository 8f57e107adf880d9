package sendmail

import "math/rand/v2"
import "os"
import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/cabalmail/mailtier/internal/logline"

// The hot path's shortcuts must classify exactly as the plain forms they
// replace, kept here as references.

// refAfterQID is the queue-id strip of the session and DMARC checks as a
// search for the first ": ".
func refAfterQID(msg string) string {
	if i := strings.Index(msg, ": "); i >= 8 && i <= 20 && isQIDText(msg[:i]) {
		return msg[i+2:]
	}
	return msg
}

// refIsSessionLine tries every prefix and every text in turn.
func refIsSessionLine(msg string) bool {
	rest := refAfterQID(msg)
	for p := range sessionPrefixes.All() {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	switch {
	case strings.HasPrefix(rest, "from=") && strings.Contains(rest, ", daemon="):
		return true
	case strings.Contains(rest, " did not issue MAIL/EXPN/VRFY/ETRN during connection to "):
		return true
	case strings.Contains(rest, "]: VRFY ") || strings.Contains(rest, "]: EXPN "):
		return true
	}
	return false
}

// refContainsFold calls strings.EqualFold at every byte.
func refContainsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

// messages returns the corpus's sendmail messages and hand-made ones at
// the edges of the shortcuts.
func messages(t *testing.T) []string {
	raw, err := os.ReadFile("../../testdata/corpus/maillog")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if i := strings.Index(l, "]: "); i >= 0 {
			msgs = append(msgs, l[i+3:])
		}
	}
	return append(msgs,
		"", ":", ": ", "NOQUEUE: ruleset=check_relay, arg1=x, reject=550 5.7.1 Access denied",
		"NOQUEUE: connect from [1.2.3.4]", "ABCDEFG: x", "ABCDEFGH: ruleset=check_mail, x",
		"ABCDEFGHIJKLMNOPQRST: AUTH=server, x", "ABCDEFGHIJKLMNOPQRSTU: AUTH=server, x",
		"ABC-EFGHIJ: STARTTLS=server, x", "ABCDEFGHIJ:STARTTLS=server, x",
		"[1.2.3.4]: VRFY root", "host [1.2.3.4] (may be forged): EXPN root", "]: VRFY ", "]]: EXPN x", "]: VRF",
		"ABCDEFGHIJ: from=<a>, nrcpts=1, daemon=MTA", "from=<a>, daemon=MTA", "from=<a>", "ABCDEFGHIJ: from=<a, daemon=MTA>",
		"x did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA", "rejecting commands from x",
		"collect: premature EOM", "Possible SMTP RCPT flood", "timeout waiting for input from x",
		"ABCDEFGHIJ: Milter: data, reject=550 5.7.1 rejected by DMARC policy for x",
		"ABCDEFGHIJ: milter=opendmarc, quarantine=quarantined by DMARC policy for x")
}

func TestSessionLineShortcuts(t *testing.T) {
	for _, msg := range messages(t) {
		qid, rest := splitQID(msg)
		after := afterQID(msg, qid, rest)
		if want := refAfterQID(msg); after != want {
			t.Errorf("afterQID(%q) = %q, want %q", msg, after, want)
		}
		if got, want := isSessionLine(after), refIsSessionLine(msg); got != want {
			t.Errorf("isSessionLine(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestContainsNoMail(t *testing.T) {
	msgs := append(messages(t), noMailText, noMailText[1:], noMailText[:len(noMailText)-1],
		"x"+noMailText, noMailAnchor, "did not issue MAIL"+noMailAnchor, " did not issue MAIL/"+noMailText,
		strings.Repeat(noMailAnchor, 3)+noMailText+"MTA", " did not issue MAIL//EXPN/VRFY/ETRN during connection to ")
	for _, msg := range msgs {
		if got, want := containsNoMail(msg), strings.Contains(msg, noMailText); got != want {
			t.Errorf("containsNoMail(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	subs := append([]string{"", "a", "K", "s", "ſ", "\u212a", "Kelvin", "unusual rate"}, DefaultRateLimits.Texts...)
	texts := []string{"", "Deferred: 421 4.7.0 Too Many connections", "RATE LIMIT exceeded", "Rate-Limit",
		"unuſual rate", "\u212aelvin", "kelvin", "THROTTLED", "throttl", "rate limi", "\xff\xfeRATELIMIT\xff"}
	// And random strings over letters that fold oddly, in both cases.
	alphabet := []string{"a", "A", "k", "K", "\u212a", "s", "S", "ſ", "t", "T", "e", "E", " ", "-", "\xff", "r", "R", "l", "i", "m"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 4000; i++ {
		var b strings.Builder
		for n := rng.IntN(14); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
		if i%20 == 0 {
			subs = append(subs, b.String())
		}
	}
	for _, s := range texts {
		for _, sub := range subs {
			if got, want := containsFold(s, sub), refContainsFold(s, sub); got != want {
				t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
			}
		}
	}
	// containsAnyFold over sets of them: the defaults, and sets of
	// neighbours among the random ones (empty and non-ASCII included).
	sets := [][]string{DefaultRateLimits.Texts, nil, {""}, {"", "ſ"}, {"K", "K"}}
	for i := 0; i+3 <= len(subs); i += 3 {
		sets = append(sets, subs[i:i+3])
	}
	for _, s := range texts {
		for _, set := range sets {
			want := false
			for _, sub := range set {
				if sub != "" && refContainsFold(s, sub) {
					want = true
				}
			}
			if got := containsAnyFold(s, set); got != want {
				t.Fatalf("containsAnyFold(%q, %q) = %v, want %v", s, set, got, want)
			}
		}
	}
}

// TestOwnRateLimitsClassifyAgain: Parse classifies a deferral by
// DefaultRateLimits; a collector with other rate limits must classify it
// by its own, and one with a copy of the defaults (as the flags build)
// gives what Parse gave.
func TestOwnRateLimitsClassifyAgain(t *testing.T) {
	line := "Nov 24 05:15:41 vm sm-mta[9243]: 6AO5FftZ009240: to=<u@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30221, relay=[127.0.0.1] [127.0.0.1], dsn=4.2.0, stat=Deferred: 450 4.2.0 Greylisted, try again"
	for _, tc := range []struct {
		rl   *RateLimits
		want string
	}{
		{nil, DeferRemoteTempfail},
		{&RateLimits{DSNs: append([]string{}, DefaultRateLimits.DSNs...), Texts: append([]string{}, DefaultRateLimits.Texts...)}, DeferRemoteTempfail},
		{&RateLimits{Texts: []string{"GREYLIST"}}, DeferRateLimited},
		{&RateLimits{DSNs: []string{"4.2"}}, DeferRateLimited},
	} {
		c := New(Config{RateLimits: tc.rl})
		rec, ok := logline.Parse(line)
		if !ok || !c.Handle(&rec) {
			t.Fatal("line not recognised")
		}
		for _, r := range DeferReasons {
			want := 0.0
			if r == tc.want {
				want = 1
			}
			if got := testutil.ToFloat64(c.deferrals.WithLabelValues("relay", r)); got != want {
				t.Errorf("rate limits %+v: deferrals{reason=%s} = %v, want %v", tc.rl, r, got, want)
			}
		}
	}
}
