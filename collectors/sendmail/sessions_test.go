package sendmail_test

import "encoding/json"
import "fmt"
import "os"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/metrictest"

// labSessions is how many SMTP connections the lab driver made to
// sendmail, from its plan (ground-truth.json): every in_* scenario is one
// connection to the MTA per run, except the bursts, whose connections the
// counts give; every message Dovecot's submission service relayed, or
// failed to, is one connection to the MSA.
func labSessions(t *testing.T) (mta, msa float64) {
	t.Helper()
	raw, err := os.ReadFile(metrictest.Corpus + "ground-truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var gt struct {
		Plan   map[string]float64 `json:"plan"`
		Counts map[string]float64 `json:"counts"`
	}
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatal(err)
	}
	for k, v := range gt.Plan {
		if strings.HasPrefix(k, "in_") && !strings.HasSuffix(k, "_bursts") {
			mta += v
		}
	}
	mta += gt.Counts["relay_denied_unnamed"] + gt.Counts["pregreet_rejected"]
	msa = gt.Counts["submission_relayed"] + gt.Counts["submission_relay_failed"]
	return mta, msa
}

// expectSessions checks sendmail_smtp_sessions_total's exposition: its
// HELP, its type, and its one series at n.
func expectSessions(t *testing.T, c *sendmail.Collector, n float64) {
	t.Helper()
	metrictest.Compare(t, c, `# HELP sendmail_smtp_sessions_total SMTP connections sendmail served, counted once per serving process: the first line of a pid that only a serving process writes (from= with daemon=, did not issue MAIL, lost input channel, check_relay refusals, STARTTLS=server, …).
# TYPE sendmail_smtp_sessions_total counter
`+fmt.Sprintf("sendmail_smtp_sessions_total %v\n", n), "sendmail_smtp_sessions_total")
}

// TestSessionsCorpus replays real sendmail 8.17 logs at LogLevel 9 in both
// syslog formats: sendmail_smtp_sessions_total is the number of SMTP
// connections the lab made, exactly. Before sessions.go the series did
// not exist.
func TestSessionsCorpus(t *testing.T) {
	mta, msa := labSessions(t)
	if mta != 509 || msa != 185 {
		t.Fatalf("the lab's plan gives %v MTA and %v MSA connections; the corpus was made with 509 and 185", mta, msa)
	}
	for _, file := range []string{"maillog", "maillog.rfc3339"} {
		t.Run(file, func(t *testing.T) {
			c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
			metrictest.Replay(t, "sendmail", c, file)
			expectSessions(t, c, mta+msa)
		})
	}
}

// TestSessionsByPID: one session per serving process, whatever it logs;
// delivery processes and command-line submissions are no sessions; a pid
// seen again after the window is a new session.
func TestSessionsByPID(t *testing.T) {
	now := time.Date(2026, 11, 24, 5, 15, 41, 0, time.UTC)
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: func() time.Time { return now }})
	feed := func(lines ...string) {
		t.Helper()
		metrictest.Feed(t, c, lines...)
	}
	feed(
		// One session: TLS, a message, its refused recipient.
		"Nov 24 05:15:41 vm sm-mta[9249]: STARTTLS=server, relay=[127.0.0.10], version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
		"Nov 24 05:15:41 vm sm-mta[9249]: 6AO5FfLr009249: <nobody@lab.test>... User unknown",
		"Nov 24 05:15:41 vm sm-mta[9249]: 6AO5FfLr009249: from=<info@remote.test>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[127.0.0.10]",
		// Its delivery, by another process: no session.
		"Nov 24 05:15:41 vm sm-mta[9251]: 6AO5FfLr009249: to=<bob@lab.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30438, dsn=2.0.0, stat=Sent",
		// A command-line submission: no daemon=, no session.
		"Nov 24 05:15:41 vm sendmail[9260]: 6AO5FfXy009260: from=root, size=12, class=0, nrcpts=1, msgid=<x@lab.test>, relay=root@localhost",
		// Refused at connect, no queue id; a session without mail.
		"Nov 24 05:15:47 vm sm-mta[9485]: ruleset=check_relay, arg1=[127.0.0.66], arg2=127.0.0.66, relay=[127.0.0.66], reject=550 5.7.1 Access denied",
		"Nov 24 05:15:42 vm sm-mta[9287]: 6AO5FgK3009287: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
	)
	expectSessions(t, c, 3)

	// The same pid within the hour: the same session.
	now = now.Add(59 * time.Minute)
	feed("Nov 24 06:14:41 vm sm-mta[9287]: 6AO5GEK3009287: lost input channel from [127.0.0.12] to MTA after rcpt")
	expectSessions(t, c, 3)
	// More than an hour after its last line: a new process of that pid.
	now = now.Add(61 * time.Minute)
	feed("Nov 24 07:15:41 vm sm-mta[9287]: 6AO5HFK3009287: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA")
	expectSessions(t, c, 4)
}

// TestSessionsBounded: the pids remembered stay bounded however many
// sessions there are, and each distinct pid still counts once.
func TestSessionsBounded(t *testing.T) {
	now := time.Date(2026, 11, 24, 5, 15, 41, 0, time.UTC)
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: func() time.Time { return now }})
	const n = sendmail.MaxSessionPIDs + 5000
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			now = now.Add(time.Minute)
		}
		metrictest.Feed(t, c, "Nov 24 05:15:42 vm sm-mta["+strconv.Itoa(1000000+i)+"]: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA")
	}
	expectSessions(t, c, n)
}
