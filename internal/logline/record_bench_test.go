package logline_test

import "testing"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"

// BenchmarkRecordParseCorpus is BenchmarkParseCorpus into one reused
// Record, as the pipeline parses: no Record is copied per line.
func BenchmarkRecordParseCorpus(b *testing.B) {
	lines := metrictest.ReadLines(b, metrictest.Corpus+"maillog", metrictest.Corpus+"maillog.rfc3339",
		metrictest.Corpus+"fail2ban.log")
	var rec logline.Record
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if !rec.Parse(lines[n%len(lines)]) {
			b.Fatalf("not recognised: %q", lines[n%len(lines)])
		}
		n++
	}
}
