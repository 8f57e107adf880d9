package pipeline_test

import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// recorder is a log collector that keeps (copies of) the messages it is
// handed and recognises all but "unknown".
type recorder struct {
	lines []string
}

func (r *recorder) Describe(chan<- *prometheus.Desc) {}
func (r *recorder) Collect(chan<- prometheus.Metric) {}

func (r *recorder) Programs() []string { return []string{"sm-mta"} }
func (r *recorder) Handle(rec *logline.Record) bool {
	r.lines = append(r.lines, strings.Clone(rec.Message))
	return rec.Message != "unknown"
}

func TestReadAll(t *testing.T) {
	rec := &recorder{}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "test", Collector: rec}}, nil)
	in := r.Input("in")
	long := strings.Repeat("x", pipeline.MaxLineBytes+1)
	input := "Nov 24 05:15:41 vm sm-mta[1]: one\n" +
		"garbage\n" +
		"Nov 24 05:15:41 vm dovecot: not claimed\n" +
		"Nov 24 05:15:41 vm sm-mta[1]: " + long + "\n" +
		"Nov 24 05:15:41 vm sm-mta[1]: \xff\xfe\x00 invalid\n" +
		"Nov 24 05:15:41 vm sm-mta[1]: unknown\n" +
		"Nov 24 05:15:41 vm sm-mta[1]: last, no newline"
	if err := in.ReadAll(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "\xff\xfe\x00 invalid", "unknown", "last, no newline"}
	if strings.Join(rec.lines, "|") != strings.Join(want, "|") {
		t.Fatalf("handled %q, want %q", rec.lines, want)
	}
	metrictest.GoldenVars(t, r, "readall", map[string]string{"BYTES": strconv.Itoa(len(input))},
		"mailtier_exporter_bytes_read_total", "mailtier_exporter_collector_lines_total",
		"mailtier_exporter_lines_read_total", "mailtier_exporter_lines_skipped_total")
}

// TestFollowedInput: lines handed on by the tailer are routed at once and
// counted as read at the checkpoint that follows them; an over-long line
// is counted as read and skipped.
func TestFollowedInput(t *testing.T) {
	rec := &recorder{}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "test", Collector: rec}}, func() time.Time { return time.Unix(1700000000, 0) })
	in := r.Input("in")
	in.Opened(0)
	one := "Nov 24 05:15:41 vm sm-mta[1]: one"
	in.Line(one, int64(len(one)+1))
	in.TooLong(100000, int64(len(one)+1+100000))
	if got := strings.Join(rec.lines, "|"); got != "one" {
		t.Fatalf("handled %q, want one", got)
	}
	if n := in.Lines(); n != 0 {
		t.Fatalf("lines read before the checkpoint %d, want 0", n)
	}
	in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: int64(len(one) + 1 + 100000)}, Size: 200000})
	metrictest.Golden(t, r, "followed",
		"mailtier_exporter_bytes_behind", "mailtier_exporter_bytes_read_total", "mailtier_exporter_last_line_timestamp_seconds",
		"mailtier_exporter_lines_read_total", "mailtier_exporter_lines_skipped_total")
	if in.Lines() != 2 || in.Offset() != int64(len(one)+1+100000) {
		t.Fatalf("Lines %d, Offset %d", in.Lines(), in.Offset())
	}
}
