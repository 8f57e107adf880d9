package opendmarc_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/opendmarc"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

// BenchmarkHandle hands the OpenDMARC lines captured from the real
// daemon, envelopes already parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) {
	c := opendmarc.New(opendmarc.Config{})
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, "testdata/opendmarc.log")...)
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
	c := opendmarc.New(opendmarc.Config{})
	recs := metrictest.Records(b, c, metrictest.ReadLines(b, "testdata/opendmarc.log")...)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			opendmarc.Parse(recs[i].Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}
