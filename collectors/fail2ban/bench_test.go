package fail2ban_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/fail2ban"
	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

func corpusRecords(b *testing.B) (*fail2ban.Collector, []logline.Record) {
	c := metrictest.New(b, fail2ban.New, fail2ban.Config{})
	return c, metrictest.Records(b, c, metrictest.ReadLines(b, metrictest.Corpus+"fail2ban.log")...)
}

// BenchmarkHandle hands the corpus's fail2ban log, envelopes already
// parsed, to Handle: one op is one pass. Its only allocations are the
// banned set's: each of the pass's bans stores its own copy of the address
// (and of the jail's name, with a new set, when the jail held none).
func BenchmarkHandle(b *testing.B) {
	c, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { c.Handle(r) })
}

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) {
	_, recs := corpusRecords(b)
	metrictest.BenchmarkRecords(b, recs, 0, func(r *logline.Record) { fail2ban.Parse(r.Message) })
}
