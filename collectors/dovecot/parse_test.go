package dovecot

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

func TestParse(t *testing.T) {
	metrictest.ParseCases(t, "testdata/parse.cases", kindNames, parseLine)
	// Bytes that are not UTF-8, which the cases file does not hold.
	if got := parseLine(t, "Nov 24 05:15:41 vm dovecot: \xff\xfe: Login: x"); got != (Event{}) {
		t.Errorf("a program name not in UTF-8: got %+v, want the zero Event", got)
	}
}

// parseLine reads a whole log line's envelope, which must be Dovecot's,
// and returns what Parse makes of its message.
func parseLine(t *testing.T, line string) any {
	rec, ok := logline.Parse(line)
	if !ok {
		t.Errorf("envelope not recognised: %q", line)
	}
	if rec.Program != "dovecot" {
		t.Errorf("program %q: %q", rec.Program, line)
	}
	return Parse(rec.Message)
}

// kindNames names the kinds in testdata/parse.cases.
var kindNames = map[Kind]string{Unknown: "Unknown", Ignored: "Ignored", Login: "Login", LoginFailure: "LoginFailure", Delivery: "Delivery", Relay: "Relay", AuthFailure: "AuthFailure"}

// TestParseHostile feeds random bytes and hostile variants: every label
// value must be a constant, and nothing may panic.
func TestParseHostile(t *testing.T) {
	allowed := map[string]bool{"": true}
	for _, set := range [][]string{Services, LoginFailReasons, AuthFailReasons, Agents, DeliveryResults, RelayResults} {
		for _, v := range set {
			allowed[v] = true
		}
	}
	seeds := []string{
		"imap-login: Login: user=<x>, rip=1.2.3.4",
		"imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<x>, rip=1.2.3.4",
		"lda(x)<1><s>: msgid=<m>: save failed to INBOX: Quota exceeded",
		"auth: passwd-file(x,1.2.3.4,<s>): Password mismatch",
		"submission(x)<1><s>: Successfully relayed message",
		"x-login: Info: Disconnected (no auth attempts)",
	}
	const junk = "()<>:, =\\\"\x00\xffInfo: Warning: -login"
	for _, seed := range seeds {
		for i := 0; i <= len(seed); i++ {
			for _, ins := range []string{"(", ")", "<", ">", ": ", "Info: ", junk, strings.Repeat("(", 1000)} {
				msg := seed[:i] + ins + seed[i:]
				ev := Parse(msg)
				for _, v := range []string{ev.Service, ev.Reason, ev.Agent, ev.Result} {
					if !allowed[v] {
						t.Fatalf("Parse(%q): label value %q outside the closed sets", msg, v)
					}
				}
				if ev.RIP != "" && !strings.Contains(msg, ev.RIP) {
					t.Fatalf("Parse(%q): RIP %q is not from the line", msg, ev.RIP)
				}
			}
			_ = Parse(seed[:i])
		}
	}
}

// FuzzParse reads lines in both of Dovecot's layouts (syslog and its own
// log_path file, 2.3 and 2.4): no input may panic or yield a label value
// outside the closed sets, and RIP is always text of the line.
func FuzzParse(f *testing.F) {
	addRealWorldSeeds(f)
	for _, l := range []string{
		"Nov 24 05:15:41 vm dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=9217, secured, session=<9nFAzf5gCeR/AAAB>",
		"2026-11-24 05:15:41 imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<dave>, method=PLAIN, rip=127.0.0.1",
		"Jun 12 19:07:29 hostname dovecot[241]: imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 16 secs) (auth_failed): user=<test>, rip=192.0.2.241",
		"Dec 02 09:22:22 auth-worker(u,192.0.2.1)<230299>: request [1]: Info: sql: unknown user",
		"Aug 30 00:10:57 auth(u,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>: Info: sql: Password mismatch",
		"May 11 11:35:36 mail dovecot: lmtp(u)<1522><2E+a>: sieve: msgid=<m>: failed to store into mailbox 'INBOX': Quota exceeded",
		"2026-11-24 05:15:43 lda(bob)<9301><3LpJ>: Info: msgid=<m>: save failed to INBOX: Quota exceeded",
	} {
		f.Add(l)
	}
	allowed := map[string]bool{"": true}
	for _, set := range [][]string{Services, LoginFailReasons, AuthFailReasons, Agents, DeliveryResults, RelayResults} {
		for _, v := range set {
			allowed[v] = true
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		msg := line
		if rec, ok := logline.Parse(line); ok {
			msg = rec.Message
		}
		ev := Parse(msg)
		for _, v := range []string{ev.Service, ev.Reason, ev.Agent, ev.Result} {
			if !allowed[v] {
				t.Fatalf("Parse(%q): label value %q outside the closed sets", msg, v)
			}
		}
		if !strings.Contains(msg, ev.RIP) || !strings.Contains(msg, ev.Session) {
			t.Fatalf("Parse(%q): RIP %q or session %q not from the line", msg, ev.RIP, ev.Session)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	msgs := []string{
		"imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=9217, secured, session=<9nFAzf5gCeR/AAAB>",
		"lda(alice)<9226><j82hMX0dBWsKJAAA5f9tHg>: msgid=<in_local_ok-0001@example-corp.test>: saved mail to INBOX",
		"imap(alice)<9217><9nFAzf5gCeR/AAAB>: Disconnected: Logged out in=50 out=861 deleted=0 expunged=0",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Parse(msgs[i%len(msgs)])
	}
}

// addRealWorldSeeds adds the lines of testdata/realworld/dovecot.cases, in
// both of Dovecot's layouts, to the fuzz target's seed corpus.
func addRealWorldSeeds(f *testing.F) {
	for _, line := range testenv.RealWorldLines(f, "dovecot") {
		f.Add(line)
	}
}
