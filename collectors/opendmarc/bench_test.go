package opendmarc_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/opendmarc"
	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

func capturedRecords(b *testing.B) (*opendmarc.Collector, []logline.Record) {
	c := opendmarc.New(opendmarc.Config{})
	return c, metrictest.Records(b, c, metrictest.ReadLines(b, "testdata/opendmarc.log")...)
}

// BenchmarkHandle hands the OpenDMARC lines captured from the real
// daemon, envelopes already parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) {
	c, recs := capturedRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { c.Handle(r) })
}

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) {
	_, recs := capturedRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { opendmarc.Parse(r.Message) })
}
