package fail2ban_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The corpus's fail2ban log.
var corpus = metrictest.CorpusBench[*fail2ban.Collector, fail2ban.Event]{
	Build: func(b testing.TB) *fail2ban.Collector { return metrictest.New(b, fail2ban.New, fail2ban.Config{}) },
	Parse: fail2ban.Parse,
	Files: []string{metrictest.Corpus + "fail2ban.log"},
}

// BenchmarkHandle hands the corpus's fail2ban log, envelopes already
// parsed, to Handle: one op is one pass. Its only allocations are the
// banned set's: each of the pass's bans stores its own copy of the address
// (and of the jail's name, with a new set, when the jail held none).
func BenchmarkHandle(b *testing.B) { corpus.BenchmarkHandle(b) }

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) { corpus.BenchmarkParse(b) }
