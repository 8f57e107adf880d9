package metrictest

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/cabalmail/mailtier/collectors"
	"github.com/cabalmail/mailtier/internal/logline"
)

// ReadLines returns the lines of files, in order (Corpus + name for the
// lab's corpus).
func ReadLines(t testing.TB, files ...string) []string {
	t.Helper()
	var lines []string
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimRight(string(raw), "\n"), "\n")...)
	}
	return lines
}

// Records parses lines and keeps those of c's programs, as the pipeline
// routes them: what a benchmark of c's Handle loops over. A line without
// an envelope fails the test.
func Records(t testing.TB, c collectors.LogCollector, lines ...string) []logline.Record {
	t.Helper()
	var recs []logline.Record
	for _, l := range lines {
		rec, ok := logline.Parse(l)
		if !ok {
			t.Fatalf("envelope not recognised: %q", l)
		}
		if slices.Contains(c.Programs(), rec.Program) {
			recs = append(recs, rec)
		}
	}
	return recs
}

// FeedReused is Feed as a reader with one reused buffer hands lines on:
// each line is copied into the same buffer, parsed there (so every string
// of the Record aliases the buffer), handed to c, and then the whole
// buffer is overwritten. Successive lines start at different offsets, as
// they do in a read buffer, so that a line does not rewrite what an
// earlier one of the same head left at the same place. A collector that
// keeps any part of a line beyond Handle without copying it sees what it
// kept change. It returns how many lines c recognised.
func FeedReused(t testing.TB, c collectors.LogCollector, lines ...string) int {
	t.Helper()
	const offsets = 61
	size := 1
	for _, l := range lines {
		size = max(size, len(l))
	}
	buf := make([]byte, size+offsets)
	matched := 0
	for i, l := range lines {
		at := i % offsets
		n := copy(buf[at:], l)
		rec, ok := logline.Parse(unsafe.String(&buf[at], n))
		if !ok {
			t.Fatalf("envelope not recognised: %q", l)
		}
		if slices.Contains(c.Programs(), rec.Program) && c.Handle(&rec) {
			matched++
		}
		// What the next read leaves where this line was.
		for i := range buf {
			buf[i] = '#'
		}
	}
	return matched
}

// ExpectSame fails the test unless got exposes exactly what want does
// (HELP, TYPE, every series and value), compared with client_golang's
// testutil.
func ExpectSame(t testing.TB, want, got prometheus.Collector) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(want); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.CollectAndCompare(got, &text); err != nil {
		t.Error(err)
	}
}
