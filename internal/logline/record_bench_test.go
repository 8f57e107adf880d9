package logline

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkRecordParseCorpus is BenchmarkParseCorpus into one reused
// Record, as the pipeline parses: no Record is copied per line.
func BenchmarkRecordParseCorpus(b *testing.B) {
	var lines []string
	for _, f := range []string{"maillog", "maillog.rfc3339", "fail2ban.log"} {
		raw, err := os.ReadFile("../../testdata/corpus/" + f)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")...)
	}
	var rec Record
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if !rec.Parse(lines[n%len(lines)]) {
			b.Fatalf("not recognised: %q", lines[n%len(lines)])
		}
		n++
	}
}
