package fail2ban

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"

func TestParse(t *testing.T) {
	metrictest.ParseCases(t, "testdata/parse.cases", kindNames, func(t *testing.T, line string) any {
		rec, ok := logline.Parse(line)
		if !ok {
			t.Errorf("envelope not recognised: %q", line)
		}
		if rec.Program != "fail2ban" && !strings.HasPrefix(rec.Program, "fail2ban.") {
			t.Errorf("program %q: %q", rec.Program, line)
		}
		return Parse(rec.Message)
	})
}

// kindNames names the kinds in testdata/parse.cases.
var kindNames = map[Kind]string{Unknown: "Unknown", Ignored: "Ignored", Match: "Match", Ban: "Ban",
	Restore: "Restore", Reban: "Reban", Unban: "Unban", Flush: "Flush", JailReset: "JailReset"}

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
	metrictest.AddRealWorldMessages(f, "fail2ban")
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
