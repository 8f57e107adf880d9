package logline_test

import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"

// TestRecordParseReused: a Record parsed into again holds exactly what
// Parse returns for the new line, nothing of the line before, and is
// empty after a line with no envelope.
func TestRecordParseReused(t *testing.T) {
	lines := append(metrictest.ReadLines(t, metrictest.Corpus+"maillog", metrictest.Corpus+"maillog.rfc3339",
		metrictest.Corpus+"fail2ban.log", metrictest.Corpus+"dovecot.log"),
		"", "not a log line", "Nov 24 05:15:41 host", "2026-11-24 05:15:41,9 x",
		"Nov 24 05:15:41 vm sm-mta[12x]: bad pid", "Nov 24 05:15:41 vm sm-mta: message repeated 3 times: [ x]")
	rec := logline.Record{Format: logline.Fail2ban, Timestamp: "t", Host: "h", Program: "p", PID: "1", Message: "m",
		Repeats: 7, Arrived: time.Unix(1, 0)}
	for _, l := range lines {
		want, wantOK := logline.Parse(l)
		if ok := rec.Parse(l); ok != wantOK || rec != want {
			t.Fatalf("%q: Record.Parse %v %+v, Parse %v %+v", l, ok, rec, wantOK, want)
		}
		if !wantOK && rec != (logline.Record{}) {
			t.Fatalf("%q: not recognised, but the record holds %+v", l, rec)
		}
	}
}
