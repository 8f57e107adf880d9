package fail2ban_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/fail2ban"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

// BenchmarkHandle hands the corpus's fail2ban log, envelopes already
// parsed, to Handle: one op is one pass. Its only allocations are the
// banned set's: each of the pass's bans stores its own copy of the address
// (and of the jail's name, with a new set, when the jail held none).
func BenchmarkHandle(b *testing.B) {
	c, err := fail2ban.New(fail2ban.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"fail2ban.log")...)
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
	c, err := fail2ban.New(fail2ban.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"fail2ban.log")...)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			fail2ban.Parse(recs[i].Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}
