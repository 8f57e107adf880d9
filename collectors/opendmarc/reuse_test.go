package opendmarc_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The pipeline hands Handle records whose strings alias its read buffer,
// overwritten by the next read. Fed that way, OpenDMARC's captured lines
// give exactly what they give as strings of their own.
func TestReusedBuffer(t *testing.T) {
	lines := metrictest.ReadLines(t, "testdata/opendmarc.log")
	metrictest.ExpectReuseSafe(t, func() *opendmarc.Collector { return opendmarc.New(opendmarc.Config{}) }, lines...)
}
