package pipeline_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cabalmail/mailtier/collectors/sendmail"
	"github.com/cabalmail/mailtier/internal/pipeline"
)

// BenchmarkRoute measures the whole per-line path: envelope, routing,
// sendmail parsing and counting, over the corpus's real mail log lines.
func BenchmarkRoute(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/corpus/maillog")
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Second})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "sendmail", Collector: c}}, nil)
	in := r.Input("maillog")
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		in.Handle(lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
