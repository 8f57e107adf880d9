package pipeline_test

import "bytes"
import "os"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// corpusLines returns the lines of the corpus's mail log.
func corpusLines(b *testing.B) []string {
	raw, err := os.ReadFile("../../testdata/corpus/maillog")
	if err != nil {
		b.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

// BenchmarkRoute measures the whole per-line path of a followed file:
// envelope, routing, sendmail parsing and counting, over the corpus's
// real mail log lines, with a checkpoint every 256 lines as a read of the
// file makes. It must not allocate.
func BenchmarkRoute(b *testing.B) {
	lines := corpusLines(b)
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Second})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "sendmail", Collector: c}}, nil)
	in := r.Input("maillog")
	in.Opened(0)
	b.ReportAllocs()
	n := 0
	var end int64
	for b.Loop() {
		l := lines[n%len(lines)]
		end += int64(len(l)) + 1
		in.Line(l, end)
		n++
		if n%256 == 0 {
			in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkReadAll is --once over the corpus's mail log held in memory:
// splitting, envelope, routing, sendmail. One op is one line.
func BenchmarkReadAll(b *testing.B) {
	lines := corpusLines(b)
	text := []byte(strings.Join(lines, "\n") + "\n")
	// Enough copies of the log for b.N lines.
	reps := b.N/len(lines) + 1
	all := bytes.Repeat(text, reps)
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Second})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "sendmail", Collector: c}}, nil)
	in := r.Input("maillog")
	b.ReportAllocs()
	b.ResetTimer()
	if err := in.ReadAll(bytes.NewReader(all)); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(reps*len(lines)), "ns/line")
	b.ReportMetric(0, "ns/op")
}
