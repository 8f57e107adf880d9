package opendkim_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

// BenchmarkHandle hands the corpus's OpenDKIM lines, envelopes already
// parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) {
	c, err := opendkim.New(opendkim.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog")...)
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
	c, err := opendkim.New(opendkim.Config{})
	if err != nil {
		b.Fatal(err)
	}
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog")...)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			opendkim.Parse(recs[i].Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}
