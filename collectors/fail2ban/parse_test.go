package fail2ban

import (
	"strings"
	"testing"

	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/testenv"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line string // a whole log line: the envelope is parsed first
		want Event
	}{
		// fail2ban's own file (fail2ban 1.0.2, Debian 12).
		{"2026-11-24 05:15:41,965 fail2ban.filter         [9143]: INFO    [dovecot] Found 127.0.0.2 - 2026-11-24 05:15:41",
			Event{Kind: Match, Jail: "dovecot", IP: "127.0.0.2"}},
		{"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2",
			Event{Kind: Ban, Jail: "dovecot", IP: "127.0.0.2"}},
		{"2026-11-24 05:16:09,395 fail2ban.actions        [9143]: NOTICE  [dovecot] Unban 127.0.0.2",
			Event{Kind: Unban, Jail: "dovecot", IP: "127.0.0.2"}},
		{"2026-11-24 05:15:42,165 fail2ban.actions        [9143]: NOTICE  [sendmail-reject] Ban 127.0.0.7",
			Event{Kind: Ban, Jail: "sendmail-reject", IP: "127.0.0.7"}},
		{"2026-11-24 05:15:50,177 fail2ban.actions        [9143]: NOTICE  [dovecot-file] Ban 127.0.0.6",
			Event{Kind: Ban, Jail: "dovecot-file", IP: "127.0.0.6"}},
		{"2026-11-24 05:18:30,001 fail2ban.actions        [9143]: NOTICE  [dovecot] Restore Ban 2001:db8::1",
			Event{Kind: Restore, Jail: "dovecot", IP: "2001:db8::1"}},
		{"2026-11-24 05:18:30,001 fail2ban.actions        [9143]: NOTICE  [sshd] Reban 192.0.2.1, action 'iptables'",
			Event{Kind: Reban, Jail: "sshd", IP: "192.0.2.1"}},
		{"2026-11-24 05:18:30,001 fail2ban.actions        [9143]: NOTICE  [sshd] Reban 192.0.2.1",
			Event{Kind: Reban, Jail: "sshd", IP: "192.0.2.1"}},
		{"2026-11-24 05:18:36,281 fail2ban.actions        [9143]: NOTICE  [dovecot] Flush ticket(s) with dummy",
			Event{Kind: Flush, Jail: "dovecot"}},
		{"2026-11-24 05:15:39,521 fail2ban.jail           [9143]: INFO    Creating new jail 'dovecot'",
			Event{Kind: JailReset, Jail: "dovecot"}},
		{"2026-11-24 05:18:36,282 fail2ban.jail           [9143]: INFO    Jail 'dovecot' stopped",
			Event{Kind: JailReset, Jail: "dovecot"}},
		{"2026-11-24 05:15:39,700 fail2ban.jail           [9143]: INFO    Jail 'dovecot' started",
			Event{Kind: Ignored}},
		{"2026-11-24 05:15:41,965 fail2ban.filter         [9143]: INFO    [dovecot] Ignore 127.0.0.1 by ip",
			Event{Kind: Ignored, Jail: "dovecot"}},
		{"2026-11-24 05:15:41,965 fail2ban.observer       [9143]: INFO    [sshd] Increase Ban 192.0.2.1 (2 # 2:00:00 -> 2026-11-24 07:15:41)",
			Event{Kind: Ignored, Jail: "sshd"}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: WARNING [sshd] 192.0.2.1 already banned",
			Event{Kind: Ignored, Jail: "sshd"}},
		{"2026-11-24 05:15:39,460 fail2ban.server         [9143]: INFO    Starting Fail2ban v1.0.2",
			Event{Kind: Ignored}},
		{"2026-11-24 05:15:39,500 fail2ban.filter         [9143]: INFO      maxRetry: 4",
			Event{Kind: Ignored}},
		{"2026-11-24 05:15:39,480 fail2ban.database       [9143]: WARNING New database created. Version '4'",
			Event{Kind: Ignored}},
		// Over syslog, tag fail2ban.<module>.
		{"Nov 24 05:15:50 vm fail2ban.actions[9143]: NOTICE [dovecot] Ban 127.0.0.2",
			Event{Kind: Ban, Jail: "dovecot", IP: "127.0.0.2"}},
		{"2026-11-24T05:15:41.965000+00:00 vm fail2ban.filter[9143]: INFO [dovecot] Found 127.0.0.2 - 2026-11-24 05:15:41",
			Event{Kind: Match, Jail: "dovecot", IP: "127.0.0.2"}},
		{"Nov 24 05:15:39 vm fail2ban.jail[9143]: INFO Jail 'dovecot' stopped",
			Event{Kind: JailReset, Jail: "dovecot"}},
		// Unknown shapes.
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: NOTICE  [dovecot] Banana 127.0.0.2", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: NOTICE  [dovecot] Ban ", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: NOTICE  [] Ban 127.0.0.2", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: NOTICE  [dovecot Ban 127.0.0.2", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143] NOTICE  [dovecot] Ban 127.0.0.2", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: notice [dovecot] Ban 127.0.0.2", Event{}},
		{"2026-11-24 05:15:41,965 fail2ban.actions        [9143]: NOTICE", Event{}},
		{"Nov 24 05:15:50 vm fail2ban.actions[9143]: [dovecot] Ban 127.0.0.2", Event{}},
	} {
		rec, ok := logline.Parse(tc.line)
		if !ok {
			t.Errorf("envelope not recognised: %q", tc.line)
			continue
		}
		if rec.Program != "fail2ban" && !strings.HasPrefix(rec.Program, "fail2ban.") {
			t.Errorf("program %q: %q", rec.Program, tc.line)
		}
		if got := Parse(rec.Message); got != tc.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", rec.Message, got, tc.want)
		}
	}
}

func TestParseHostile(t *testing.T) {
	seed := "fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2"
	for i := 0; i <= len(seed); i++ {
		for _, ins := range []string{"[", "]", "] ", ": ", " ", "\x00\xff", strings.Repeat("[", 1000)} {
			msg := seed[:i] + ins + seed[i:]
			ev := Parse(msg)
			if !strings.Contains(msg, ev.Jail) || !strings.Contains(msg, ev.IP) {
				t.Fatalf("Parse(%q) = %+v: text not from the line", msg, ev)
			}
		}
		_ = Parse(seed[:i])
	}
}

// FuzzParse reads fail2ban's lines in both envelopes: nothing may panic,
// and the jail and the address are always text of the line (the collector
// maps the jail onto its closed set and never uses the address as a label).
func FuzzParse(f *testing.F) {
	addRealWorldSeeds(f)
	f.Add("fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2")
	f.Add("NOTICE  [sshd] Restore Ban 192.0.2.1")
	f.Add("fail2ban.filter         [9143]: INFO    [dovecot] Found 127.0.0.2 - 2026-11-24 05:15:50")
	f.Add("fail2ban.actions        [9143]: NOTICE  [recidive] Reban 192.0.2.1, action 'iptables'")
	f.Add("fail2ban.server         [9143]: INFO    Jail 'dovecot' stopped")
	f.Fuzz(func(t *testing.T, msg string) {
		ev := Parse(msg)
		if !strings.Contains(msg, ev.Jail) || !strings.Contains(msg, ev.IP) {
			t.Fatalf("Parse(%q) = %+v: jail or address not from the line", msg, ev)
		}
		if (ev.Kind == Ban || ev.Kind == Unban || ev.Kind == Restore || ev.Kind == Reban || ev.Kind == Match) && ev.IP == "" {
			t.Fatalf("Parse(%q) = %+v: an address event without an address", msg, ev)
		}
	})
}

// addRealWorldSeeds adds the messages of testdata/realworld/fail2ban.cases (after
// their envelope) to the fuzz target's seed corpus.
func addRealWorldSeeds(f *testing.F) {
	for _, line := range testenv.RealWorldLines(f, "fail2ban") {
		if rec, ok := logline.Parse(line); ok {
			f.Add(rec.Message)
		}
	}
}
