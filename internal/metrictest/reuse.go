package metrictest

import "math/rand/v2"
import "os"
import "slices"
import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/tailer"

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

// handOver puts lines where a reader with one reused buffer has them: each
// line is copied into the same buffer, and the string handed on aliases it
// (tailer.LineString), as the pipeline's are. Successive lines start at
// different offsets, as they do in a read buffer, so that a line does not
// rewrite what an earlier one of the same head left at the same place.
// After the line is handled, scribble overwrites the whole buffer: a
// collector that kept any part of a line without copying it sees what it
// kept change.
type handOver struct {
	buf []byte
	n   int
}

// offsets is how many start offsets handOver cycles through.
const offsets = 61

func (h *handOver) line(l []byte) string {
	at := h.n % offsets
	h.n++
	if need := at + len(l); need > len(h.buf) {
		h.buf = make([]byte, max(need, 2*len(h.buf)))
	}
	n := copy(h.buf[at:], l)
	return tailer.LineString(h.buf[at : at+n])
}

// scribble overwrites the buffer with bytes no log line holds.
func (h *handOver) scribble() {
	for i := range h.buf {
		h.buf[i] = 0xA5
	}
}

// FeedStrings is Feed with every line handed on as its own string, the
// baseline a reused buffer's result is compared with.
func FeedStrings(t testing.TB, c collectors.LogCollector, lines ...string) int {
	t.Helper()
	matched := 0
	for _, l := range lines {
		rec, ok := logline.Parse(l)
		if !ok {
			t.Fatalf("envelope not recognised: %q", l)
		}
		if slices.Contains(c.Programs(), rec.Program) && c.Handle(&rec) {
			matched++
		}
	}
	return matched
}

// ExpectSame fails the test unless got exposes exactly what want does
// (HELP, TYPE, every series and value), compared with client_golang's
// testutil.
func ExpectSame(t testing.TB, want, got prometheus.Collector) {
	t.Helper()
	Compare(t, got, exposition(t, want))
}

// ExpectReuseSafe feeds lines to two collectors made by build: to one as
// strings of their own (FeedStrings), to the other as the pipeline hands
// them over, from one reused buffer overwritten once each line is handled
// (Feed). Both must recognise the same lines and expose exactly the same
// metrics: what a collector keeps between lines is its own copy. It
// returns the collector fed from the reused buffer, for further checks.
func ExpectReuseSafe[C collectors.LogCollector](t testing.TB, build func() C, lines ...string) C {
	t.Helper()
	fresh, reused := build(), build()
	want := FeedStrings(t, fresh, lines...)
	if got := Feed(t, reused, lines...); got != want {
		t.Errorf("%d lines recognised from a reused buffer, %d from strings", got, want)
	}
	ExpectSame(t, fresh, reused)
	return reused
}

// BenchmarkRecords runs each over every record once per op, after warm
// unmeasured passes (for state that allocates on first use), and reports
// allocations and ns/line: the benchmark of a collector's Handle or Parse
// over a corpus (Records).
func BenchmarkRecords(b *testing.B, recs []logline.Record, warm int, each func(*logline.Record)) {
	b.Helper()
	for range warm {
		for i := range recs {
			each(&recs[i])
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			each(&recs[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/line")
}

// Texts returns n strings, each up to 9 of pieces picked at random (with a
// fixed seed, so every run sees the same), for checking a hand-written
// scanner against the strings function it replaces.
func Texts(pieces []string, n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for k := r.IntN(10); k > 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		out[i] = b.String()
	}
	return out
}

// AgreeOnTexts checks a hand-written scanner against the strings function
// it replaces: on each of n texts of pieces (Texts), got must return what
// want does. name is the scanner's call, for the failure message.
func AgreeOnTexts[T comparable](t testing.TB, name string, pieces []string, n int, got, want func(s string) T) {
	t.Helper()
	for _, s := range Texts(pieces, n) {
		if g, w := got(s), want(s); g != w {
			t.Fatalf("%s on %q = %v, want %v", name, s, g, w)
		}
	}
}

// CorpusBench is what a log collector's two benchmarks over captured
// lines share: BenchmarkHandle (Handle) and BenchmarkParseCorpus (its
// package's Parse alone), each one pass over the same records per op.
type CorpusBench[C collectors.LogCollector, E any] struct {
	Build func(testing.TB) C // a fresh collector
	Parse func(msg string) E // the package's Parse
	Files []string           // the lines' files, in order (Corpus + name for the lab's corpus)
}

// records returns a fresh collector and the records of the lines it
// claims, envelopes already parsed.
func (cb CorpusBench[C, E]) records(b *testing.B) (C, []logline.Record) {
	b.Helper()
	c := cb.Build(b)
	return c, Records(b, c, ReadLines(b, cb.Files...)...)
}

// BenchmarkHandle benchmarks the collector's Handle over the records.
func (cb CorpusBench[C, E]) BenchmarkHandle(b *testing.B) {
	c, recs := cb.records(b)
	BenchmarkRecords(b, recs, 0, func(r *logline.Record) { c.Handle(r) })
}

// BenchmarkParse benchmarks Parse over the records' messages.
func (cb CorpusBench[C, E]) BenchmarkParse(b *testing.B) {
	_, recs := cb.records(b)
	BenchmarkRecords(b, recs, 0, func(r *logline.Record) { cb.Parse(r.Message) })
}
