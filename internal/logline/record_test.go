package logline

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestRecordParseReused: a Record parsed into again holds exactly what
// Parse returns for the new line, nothing of the line before, and is
// empty after a line with no envelope.
func TestRecordParseReused(t *testing.T) {
	var lines []string
	for _, f := range []string{"maillog", "maillog.rfc3339", "fail2ban.log", "dovecot.log"} {
		raw, err := os.ReadFile("../../testdata/corpus/" + f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")...)
	}
	lines = append(lines, "", "not a log line", "Nov 24 05:15:41 host", "2026-11-24 05:15:41,9 x",
		"Nov 24 05:15:41 vm sm-mta[12x]: bad pid", "Nov 24 05:15:41 vm sm-mta: message repeated 3 times: [ x]")
	rec := Record{Format: Fail2ban, Timestamp: "t", Host: "h", Program: "p", PID: "1", Message: "m", Repeats: 7, Arrived: time.Unix(1, 0)}
	for _, l := range lines {
		want, wantOK := Parse(l)
		if ok := rec.Parse(l); ok != wantOK || rec != want {
			t.Fatalf("%q: Record.Parse %v %+v, Parse %v %+v", l, ok, rec, wantOK, want)
		}
		if !wantOK && rec != (Record{}) {
			t.Fatalf("%q: not recognised, but the record holds %+v", l, rec)
		}
	}
}
