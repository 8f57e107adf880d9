package pipeline_test

import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// counter is a log collector that counts what it is handed, keeping
// nothing.
type counter struct{ n int }

func (c *counter) Describe(chan<- *prometheus.Desc) {}
func (c *counter) Collect(chan<- prometheus.Metric) {}
func (c *counter) Programs() []string               { return []string{"sm-mta"} }
func (c *counter) Handle(rec *logline.Record) bool {
	c.n += len(rec.Message)
	return true
}

// TestRoutingDoesNotAllocate: the pipeline's own part of a line (its
// envelope, its record, routing and counting) allocates nothing, from a
// followed file as from ReadAll.
func TestRoutingDoesNotAllocate(t *testing.T) {
	c := &counter{}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "count", Collector: c}}, nil)
	in := r.Input("in")
	in.Opened(0)
	line := "Nov 24 05:15:41 vm sm-mta[9203]: 6AO5Fffn009203: from=<jdoe@partner.test>, size=300, class=0, nrcpts=1"
	var end int64
	if a := testing.AllocsPerRun(1000, func() {
		end += int64(len(line)) + 1
		in.Line(line, end)
	}); a != 0 {
		t.Errorf("%v allocations per followed line, want 0", a)
	}
	in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})

	text := strings.Repeat(line+"\n", 1000)
	rd := strings.NewReader(text)
	all := r.Input("all")
	// ReadAll's own buffer is one allocation per call, not per line.
	if a := testing.AllocsPerRun(10, func() {
		rd.Reset(text)
		if err := all.ReadAll(rd); err != nil {
			t.Fatal(err)
		}
	}); a > 2 {
		t.Errorf("%v allocations per ReadAll of 1000 lines, want at most 2 (its buffer)", a)
	}
}
