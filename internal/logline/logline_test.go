package logline

import "strings"
import "testing"
import "time"
import "unicode/utf8"

import "github.com/cabalmail/mailtier/internal/testenv"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Record
	}{
		{
			"Nov 24 05:15:41 vm sm-mta[9221]: 6AO5Ff2e009206: to=<alice@lab.test>, stat=Sent",
			Record{Syslog, "Nov 24 05:15:41", "vm", "sm-mta", "9221", "6AO5Ff2e009206: to=<alice@lab.test>, stat=Sent", 1, time.Time{}},
		},
		{
			"Nov  4 05:15:41 vm dovecot: imap-login: Login: user=<alice>",
			Record{Syslog, "Nov  4 05:15:41", "vm", "dovecot", "", "imap-login: Login: user=<alice>", 1, time.Time{}},
		},
		{
			"2026-11-24T05:15:41.797020+00:00 vm sm-mta[9075]: starting daemon (8.17.1.9): SMTP",
			Record{RFC3339, "2026-11-24T05:15:41.797020+00:00", "vm", "sm-mta", "9075", "starting daemon (8.17.1.9): SMTP", 1, time.Time{}},
		},
		{
			"2026-11-24T05:15:41Z mail.example.org opendkim[12]: QID: DKIM-Signature field added (s=mail, d=lab.test)",
			Record{RFC3339, "2026-11-24T05:15:41Z", "mail.example.org", "opendkim", "12", "QID: DKIM-Signature field added (s=mail, d=lab.test)", 1, time.Time{}},
		},
		{
			"2026-11-24 05:15:41 imap-login: Info: Login: user=<dave>, method=PLAIN",
			Record{Dovecot, "2026-11-24 05:15:41", "", "dovecot", "", "imap-login: Info: Login: user=<dave>, method=PLAIN", 1, time.Time{}},
		},
		{
			"2026-11-24 05:15:43 lda(bob)<9301><3LpJEX8dBWtVJAAA5f9tHg>: Info: msgid=<flda-0002@remote.test>: saved mail to INBOX",
			Record{Dovecot, "2026-11-24 05:15:43", "", "dovecot", "", "lda(bob)<9301><3LpJEX8dBWtVJAAA5f9tHg>: Info: msgid=<flda-0002@remote.test>: saved mail to INBOX", 1, time.Time{}},
		},
		{
			// Dovecot's default log_timestamp looks like syslog's stamp.
			"Nov 24 05:15:41 master: Warning: Killed with signal 15",
			Record{Dovecot, "Nov 24 05:15:41", "", "dovecot", "", "master: Warning: Killed with signal 15", 1, time.Time{}},
		},
		{
			"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2",
			Record{Fail2ban, "2026-11-24 05:15:50,173", "", "fail2ban", "", "fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2", 1, time.Time{}},
		},
		{
			"Nov 24 05:15:41 vm kernel: [ 1.0] something",
			Record{Syslog, "Nov 24 05:15:41", "vm", "kernel", "", "[ 1.0] something", 1, time.Time{}},
		},
		{
			// Dovecot 2.4's own file: an event prefix before the level.
			"Dec 02 09:22:22 auth-worker(testuser@zeroxzed.ru,213.209.157.207)<230299>: request [1]: Info: sql: unknown user",
			Record{Dovecot, "Dec 02 09:22:22", "", "dovecot", "", "auth-worker(testuser@zeroxzed.ru,213.209.157.207)<230299>: request [1]: Info: sql: unknown user", 1, time.Time{}},
		},
		{
			"2026-11-24 05:15:41 auth(info@example.com,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>: Info: sql: Password mismatch",
			Record{Dovecot, "2026-11-24 05:15:41", "", "dovecot", "", "auth(info@example.com,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>: Info: sql: Password mismatch", 1, time.Time{}},
		},
		{
			// A user name with spaces in Dovecot's file.
			"Nov 24 05:15:41 imap(a b c)<1><s>: Info: Disconnected: Logged out",
			Record{Dovecot, "Nov 24 05:15:41", "", "dovecot", "", "imap(a b c)<1><s>: Info: Disconnected: Logged out", 1, time.Time{}},
		},
		{
			// rsyslog's RepeatedMsgReduction: one line standing for three.
			"Nov 24 05:15:41 vm dovecot: message repeated 3 times: [ imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.1]",
			Record{Syslog, "Nov 24 05:15:41", "vm", "dovecot", "", "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.1", 3, time.Time{}},
		},
		{
			"2026-11-24T05:15:41.1+00:00 vm sm-mta[1]: message repeated 99999999999999999999 times: [ x]",
			Record{RFC3339, "2026-11-24T05:15:41.1+00:00", "vm", "sm-mta", "1", "x", MaxRepeats, time.Time{}},
		},
		{
			"Nov 24 05:15:41 vm sm-mta[1]: message repeated 0 times: [ x]",
			Record{Syslog, "Nov 24 05:15:41", "vm", "sm-mta", "1", "message repeated 0 times: [ x]", 1, time.Time{}},
		},
		{
			"Nov 24 05:15:41 vm sm-mta[9221]:",
			Record{Syslog, "Nov 24 05:15:41", "vm", "sm-mta", "9221", "", 1, time.Time{}},
		},
	} {
		got, ok := Parse(tc.line)
		if !ok {
			t.Errorf("Parse(%q) not recognised", tc.line)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"garbage",
		"Nov 24 05:15:41",
		"Nov 24 05:15:41 ",
		"Nov 24 05:15:41 vm",
		"Nov 24 05:15:41 vm sm-mta[92x1]: msg",
		"Nov 24 05:15:41 vm sm-mta[9221] msg",
		"Nov 24 05:15:41 vm sm-mta msg",
		"Xyz 24 05:15:41 vm sm-mta[1]: msg",
		"Nov 24 5:15:41 vm sm-mta[1]: msg",
		"2026-11-24T05:15:41 vm",
		"2026-11-24 05:15:41 no level here",
		"2026-11-24 05:15:41 auth-worker(1): request [x]: Info: y",
		"2026-11-24 05:15:41 auth-worker(1)<2: Info: y",
		"2026-11-24 05:15:41,96 fail2ban.filter [1]: INFO x",
		"2026-11-24 05:15:41,965 notfail2ban [1]: INFO x",
		"\x00\x00\x00\xff\xfe",
		strings.Repeat("A", 70000),
	} {
		if r, ok := Parse(line); ok {
			t.Errorf("Parse(%q) = %+v, want not recognised", line, r)
		}
	}
}

// FuzzParse checks that no input panics and that every field of a
// recognised record is a substring of the line.
func FuzzParse(f *testing.F) {
	addRealWorldSeeds(f)
	f.Add("Nov 24 05:15:41 vm sm-mta[9221]: x")
	f.Add("2026-11-24T05:15:41.797020+00:00 vm dovecot: imap-login: Login:")
	f.Add("2026-11-24 05:15:41 imap(a b)<1><s>: Info: x")
	f.Add("2026-11-24 05:15:50,173 fail2ban.actions [9143]: NOTICE [j] Ban 1.2.3.4")
	f.Add("Dec 02 09:22:22 auth-worker(u,192.0.2.1)<230299>: request [1]: Info: sql: unknown user")
	f.Add("Nov 24 05:15:41 vm dovecot: message repeated 3 times: [ imap-login: Login: user=<a>]")
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := Parse(line)
		if !ok {
			return
		}
		fields := []string{r.Timestamp, r.Host, r.PID, r.Message}
		if r.Format == Syslog || r.Format == RFC3339 {
			// Dovecot's and fail2ban's own files name no program; Parse names it.
			fields = append(fields, r.Program)
		}
		for _, field := range fields {
			if !strings.Contains(line, field) {
				t.Fatalf("field %q not in line %q", field, line)
			}
		}
		if r.Repeats < 1 || r.Repeats > MaxRepeats {
			t.Fatalf("repeats %d for %q", r.Repeats, line)
		}
		if r.Program == "" {
			t.Fatalf("empty program for %q", line)
		}
		_ = utf8.ValidString(r.Message)
	})
}

func BenchmarkParse(b *testing.B) {
	line := "Nov 24 05:15:41 vm sm-mta[9221]: 6AO5Ff2e009206: to=<alice@lab.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30417, dsn=2.0.0, stat=Sent"
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		Parse(line)
	}
}

// addRealWorldSeeds adds every line of testdata/realworld to the fuzz
// target's seed corpus.
func addRealWorldSeeds(f *testing.F) {
	for _, line := range testenv.RealWorldLines(f, "*") {
		f.Add(line)
	}
}

// TestIsMonth: exactly the twelve abbreviations syslog writes are months,
// checked against every three-letter string of their letters' cases.
func TestIsMonth(t *testing.T) {
	months := map[string]bool{}
	for m := time.January; m <= time.December; m++ {
		months[m.String()[:3]] = true
	}
	letters := "JFMASONDanebrpyulgctovEBRPYULGCTVxz" // each once
	n := 0
	for i := 0; i < len(letters); i++ {
		for j := 0; j < len(letters); j++ {
			for k := 0; k < len(letters); k++ {
				s := string([]byte{letters[i], letters[j], letters[k]})
				if got := isMonth(s[0], s[1], s[2]); got != months[s] {
					t.Errorf("isMonth(%q) = %v", s, got)
				}
				if months[s] {
					n++
				}
			}
		}
	}
	if n != 12 {
		t.Fatalf("%d months among the strings tried, want 12", n)
	}
}
