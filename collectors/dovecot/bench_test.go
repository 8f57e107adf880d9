package dovecot_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/dovecot"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

// BenchmarkHandle hands the corpus's Dovecot lines (syslog and Dovecot's
// own file), envelopes already parsed, to Handle: one op is one pass. It
// measures the steady state, once the ring of LDA sessions awaiting their
// "rejected:" line has gone round (each of its slots allocates the first
// time it is used). The corpus adds 25 sessions to it a pass; the warm-up
// passes fill its 4096 slots twice.
func BenchmarkHandle(b *testing.B) {
	c, err := dovecot.New(dovecot.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog", metrictest.Corpus+"dovecot.log")...)
	for range 2 * 4096 / 25 {
		for i := range recs {
			c.Handle(&recs[i])
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			c.Handle(&recs[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) {
	c, err := dovecot.New(dovecot.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog", metrictest.Corpus+"dovecot.log")...)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			dovecot.Parse(recs[i].Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}
