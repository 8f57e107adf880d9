package opendkim_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/opendkim"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The pipeline hands Handle records whose strings alias its read buffer,
// overwritten by the next read. Fed that way, the corpus gives exactly
// what it gives as strings of their own.
func TestReusedBuffer(t *testing.T) {
	lines := metrictest.ReadLines(t, metrictest.Corpus+"maillog")
	metrictest.ExpectReuseSafe(t, func() *opendkim.Collector {
		return metrictest.New(t, opendkim.New, opendkim.Config{})
	}, lines...)
}
