package sendmail_test

import "os"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"

// TestDMARCDispositions counts the messages sendmail rejected and
// quarantined at OpenDMARC's request. The reply is the one Debian's
// OpenDMARC gave in collectors/opendmarc's real test ("550 5.7.1 rejected
// by DMARC policy for reject.test"), in the line sendmail writes for a
// milter's reject at the end of DATA (as in the lab corpus: "Milter: data,
// reject=451 4.3.2 Please try again later" for OpenDKIM); the quarantine
// line is milter.c's "milter=%s, quarantine=%s" with OpenDMARC's reason.
// Before dmarc.go nothing counted them.
func TestDMARCDispositions(t *testing.T) {
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	metrictest.Feed(t, c,
		"Nov 24 05:15:41 mx sm-mta[9247]: 6AO5FfLr009247: Milter: data, reject=550 5.7.1 rejected by DMARC policy for reject.test",
		"Nov 24 05:15:42 mx sm-mta[9248]: 6AO5FgLr009248: Milter: data, reject=550 5.7.1 rejected by DMARC policy for other.test",
		"Nov 24 05:15:43 mx sm-mta[9249]: 6AO5FhLr009249: milter=opendmarc, quarantine=quarantined by DMARC policy for quarantine.test",
		// Not OpenDMARC's: another milter's reject and tempfail, a
		// quarantine by another milter, and the text where a client put it.
		"Nov 24 05:15:44 mx sm-mta[9250]: 6AO5FiLr009250: Milter: data, reject=451 4.3.2 Please try again later",
		"Nov 24 05:15:44 mx sm-mta[9250]: 6AO5FiLr009250: Milter: data, reject=554 5.7.1 virus found",
		"Nov 24 05:15:45 mx sm-mta[9251]: 6AO5FjLr009251: milter=clamav, quarantine=infected",
		"Nov 24 05:15:46 mx sm-mta[9252]: 6AO5FkLr009252: from=<rejected by DMARC policy for x@example.com>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[192.0.2.1]",
	)
	metrictest.Golden(t, c, "dmarc-dispositions", "sendmail_dmarc_dispositions_total")
}

// TestMilterQuarantineIsKnown: sendmail's line for any milter's quarantine
// is a shape it writes (milter.c), recognised whatever the milter, and
// counted as a disposition only for OpenDMARC's reason.
func TestMilterQuarantineIsKnown(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"Nov 24 05:15:43 mx sm-mta[9249]: 6AO5FhLr009249: milter=opendmarc, quarantine=quarantined by DMARC policy for quarantine.test", true},
		{"Nov 24 05:15:45 mx sm-mta[9251]: 6AO5FjLr009251: milter=clamav, quarantine=infected", true},
		{"Nov 24 05:15:45 mx sm-mta[9251]: 6AO5FjLr009251: milter=a b, quarantine=infected", false},
		{"Nov 24 05:15:45 mx sm-mta[9251]: 6AO5FjLr009251: milter=, quarantine=infected", false},
		{"Nov 24 05:15:45 mx sm-mta[9251]: 6AO5FjLr009251: quarantine=infected", false},
	} {
		c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
		rec, ok := logline.Parse(tc.line)
		if !ok {
			t.Fatalf("envelope of %q not parsed", tc.line)
		}
		if got := c.Handle(&rec); got != tc.want {
			t.Errorf("Handle(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestDMARCDispositionsCorpus: the lab ran no OpenDMARC; its OpenDKIM
// tempfails are not DMARC rejects.
func TestDMARCDispositionsCorpus(t *testing.T) {
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	metrictest.Replay(t, "sendmail", c, "maillog")
	metrictest.Compare(t, c, `# HELP sendmail_dmarc_dispositions_total Messages sendmail rejected or quarantined at OpenDMARC's request (its replies "rejected by DMARC policy for" and "quarantined by DMARC policy for"), by disposition.
# TYPE sendmail_dmarc_dispositions_total counter
sendmail_dmarc_dispositions_total{disposition="quarantine"} 0
sendmail_dmarc_dispositions_total{disposition="reject"} 0
`, "sendmail_dmarc_dispositions_total")
}

// TestDMARCRealSendmail replays what Debian's sendmail 8.17 logged with
// Debian's OpenDMARC as its milter (testdata/opendmarc-sendmail.log,
// written by collectors/opendmarc's TestRealSendmailWithOpenDMARC): two
// messages rejected, one quarantined, and nine SMTP sessions (one of them
// the test waiting for the listener).
func TestDMARCRealSendmail(t *testing.T) {
	b, err := os.ReadFile("testdata/opendmarc-sendmail.log")
	if err != nil {
		t.Fatal(err)
	}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	metrictest.Feed(t, c, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	metrictest.Golden(t, c, "dmarc-real-sendmail", "sendmail_dmarc_dispositions_total", "sendmail_smtp_sessions_total")
}
