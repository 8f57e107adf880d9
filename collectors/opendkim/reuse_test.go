package opendkim_test

import (
	"testing"

	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/internal/metrictest"
)

// The pipeline hands Handle records whose strings alias its read buffer,
// overwritten by the next read. Fed that way, the corpus gives exactly
// what it gives as strings of their own.
func TestReusedBuffer(t *testing.T) {
	lines := metrictest.ReadLines(t, metrictest.Corpus+"maillog")
	fresh, err := opendkim.New(opendkim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reused, err := opendkim.New(opendkim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := metrictest.FeedStrings(t, fresh, lines...)
	if got := metrictest.Feed(t, reused, lines...); got != want {
		t.Errorf("%d lines recognised from a reused buffer, %d from strings", got, want)
	}
	metrictest.ExpectSame(t, fresh, reused)
}
