package pipeline_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/pipeline"
	"github.com/cabalmail/mailtier/internal/tailer"
)

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
	expected := `
# HELP mailtier_exporter_bytes_read_total Bytes read, newlines included, by input path.
# TYPE mailtier_exporter_bytes_read_total counter
mailtier_exporter_bytes_read_total{path="in"} ` + strconv.Itoa(len(input)) + `
# HELP mailtier_exporter_collector_lines_total Lines handed to a collector, by collector and whether it recognised their shape (matched) or not (unmatched).
# TYPE mailtier_exporter_collector_lines_total counter
mailtier_exporter_collector_lines_total{collector="test",result="matched"} 3
mailtier_exporter_collector_lines_total{collector="test",result="unmatched"} 1
# HELP mailtier_exporter_lines_read_total Lines read, by input path.
# TYPE mailtier_exporter_lines_read_total counter
mailtier_exporter_lines_read_total{path="in"} 7
# HELP mailtier_exporter_lines_skipped_total Lines no collector saw, by input path and reason: unparsed (no known envelope), unclaimed (no enabled collector claims the program), too_long.
# TYPE mailtier_exporter_lines_skipped_total counter
mailtier_exporter_lines_skipped_total{path="in",reason="too_long"} 1
mailtier_exporter_lines_skipped_total{path="in",reason="unclaimed"} 1
mailtier_exporter_lines_skipped_total{path="in",reason="unparsed"} 1
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(expected),
		"mailtier_exporter_bytes_read_total", "mailtier_exporter_collector_lines_total",
		"mailtier_exporter_lines_read_total", "mailtier_exporter_lines_skipped_total"); err != nil {
		t.Fatal(err)
	}
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
	expected := `
# HELP mailtier_exporter_bytes_behind Bytes of the followed file not read yet: its size minus the offset read.
# TYPE mailtier_exporter_bytes_behind gauge
mailtier_exporter_bytes_behind{path="in"} 99966
# HELP mailtier_exporter_bytes_read_total Bytes read, newlines included, by input path.
# TYPE mailtier_exporter_bytes_read_total counter
mailtier_exporter_bytes_read_total{path="in"} 100034
# HELP mailtier_exporter_last_line_timestamp_seconds Unix time at which the last line of the input was read; 0 before the first.
# TYPE mailtier_exporter_last_line_timestamp_seconds gauge
mailtier_exporter_last_line_timestamp_seconds{path="in"} 1.7e+09
# HELP mailtier_exporter_lines_read_total Lines read, by input path.
# TYPE mailtier_exporter_lines_read_total counter
mailtier_exporter_lines_read_total{path="in"} 2
# HELP mailtier_exporter_lines_skipped_total Lines no collector saw, by input path and reason: unparsed (no known envelope), unclaimed (no enabled collector claims the program), too_long.
# TYPE mailtier_exporter_lines_skipped_total counter
mailtier_exporter_lines_skipped_total{path="in",reason="too_long"} 1
mailtier_exporter_lines_skipped_total{path="in",reason="unclaimed"} 0
mailtier_exporter_lines_skipped_total{path="in",reason="unparsed"} 0
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(expected),
		"mailtier_exporter_bytes_behind", "mailtier_exporter_bytes_read_total", "mailtier_exporter_last_line_timestamp_seconds",
		"mailtier_exporter_lines_read_total", "mailtier_exporter_lines_skipped_total"); err != nil {
		t.Fatal(err)
	}
	if in.Lines() != 2 || in.Offset() != int64(len(one)+1+100000) {
		t.Fatalf("Lines %d, Offset %d", in.Lines(), in.Offset())
	}
}
