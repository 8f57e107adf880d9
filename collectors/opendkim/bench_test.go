package opendkim_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

func corpusRecords(b *testing.B) (*opendkim.Collector, []logline.Record) {
	c := metrictest.New(b, opendkim.New, opendkim.Config{})
	return c, metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog")...)
}

// BenchmarkHandle hands the corpus's OpenDKIM lines, envelopes already
// parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) {
	c, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { c.Handle(r) })
}

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) {
	_, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { opendkim.Parse(r.Message) })
}
