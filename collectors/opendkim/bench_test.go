package opendkim_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/opendkim"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The corpus's OpenDKIM lines.
var corpus = metrictest.CorpusBench[*opendkim.Collector, opendkim.Event]{
	Build: func(b testing.TB) *opendkim.Collector { return metrictest.New(b, opendkim.New, opendkim.Config{}) },
	Parse: opendkim.Parse,
	Files: []string{metrictest.Corpus + "maillog"},
}

// BenchmarkHandle hands the corpus's OpenDKIM lines, envelopes already
// parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) { corpus.BenchmarkHandle(b) }

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) { corpus.BenchmarkParse(b) }
