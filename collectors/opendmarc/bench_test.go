package opendmarc_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The OpenDMARC lines captured from the real daemon.
var captured = metrictest.CorpusBench[*opendmarc.Collector, opendmarc.Event]{
	Build: func(testing.TB) *opendmarc.Collector { return opendmarc.New(opendmarc.Config{}) },
	Parse: opendmarc.Parse,
	Files: []string{"testdata/opendmarc.log"},
}

// BenchmarkHandle hands the OpenDMARC lines captured from the real
// daemon, envelopes already parsed, to Handle: one op is one pass.
func BenchmarkHandle(b *testing.B) { captured.BenchmarkHandle(b) }

// BenchmarkParseCorpus is BenchmarkHandle for Parse alone.
func BenchmarkParseCorpus(b *testing.B) { captured.BenchmarkParse(b) }
