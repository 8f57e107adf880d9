package dovecot_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"

// BenchmarkHandle hands the corpus's Dovecot lines (syslog and Dovecot's
// own file), envelopes already parsed, to Handle: one op is one pass. It
// measures the steady state, once the ring of LDA sessions awaiting their
// "rejected:" line has gone round (each of its slots allocates the first
// time it is used). The corpus adds 25 sessions to it a pass; the warm-up
// passes fill its 4096 slots twice.
func BenchmarkHandle(b *testing.B) {
	c, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 2*4096/25, func(r *logline.Record) { c.Handle(r) })
}

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) {
	_, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { dovecot.Parse(r.Message) })
}

func corpusRecords(b *testing.B) (*dovecot.Collector, []logline.Record) {
	c := metrictest.New(b, dovecot.New, dovecot.Config{})
	return c, metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"maillog", metrictest.Corpus+"dovecot.log")...)
}
