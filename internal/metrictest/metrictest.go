// Package metrictest is what the collectors' tests share: handing log
// lines to a collector as the pipeline would (one by one, or replaying the
// lab's corpus), building a collector from its flags, reading its series
// back, and comparing its exposition text, HELP and TYPE included, with a
// golden file (Golden, GoldenVars) or with text written in the test
// (Compare). Tables live in testdata rather than in Go: a parser's cases
// (ParseCases) and what the corpus must count in the ground truth's terms
// (GroundTruthWants, ExpectCorpus).
package metrictest

import "bytes"
import "encoding/json"
import "flag"
import "fmt"
import "log/slog"
import "maps"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/alecthomas/kingpin/v2"
import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"
import dto "github.com/prometheus/client_model/go"
import "github.com/prometheus/common/expfmt"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// Feed parses each line's envelope and hands the lines of c's programs to
// c, returning how many c recognised. Like Replay, it overwrites each line
// once c has handled it. A line without an envelope fails the
// test.
func Feed(t testing.TB, c collectors.LogCollector, lines ...string) int {
	t.Helper()
	matched := 0
	// As Replay does: each line over one reused buffer (handOver).
	var h handOver
	for _, l := range lines {
		rec, ok := logline.Parse(h.line([]byte(l)))
		if !ok {
			t.Fatalf("envelope not recognised: %q", l)
		}
		if slices.Contains(c.Programs(), rec.Program) && c.Handle(&rec) {
			matched++
		}
		h.scribble()
	}
	return matched
}

// FeedAll is Feed for the lines a real daemon wrote through syslog: every
// line of program (those with " program[") must be recognised.
func FeedAll(t testing.TB, c collectors.LogCollector, program string, lines []string) {
	t.Helper()
	ours := 0
	for _, l := range lines {
		if strings.Contains(l, " "+program+"[") {
			ours++
		}
	}
	if got := Feed(t, c, lines...); got != ours {
		t.Errorf("%d of %d %s lines recognised:\n%s", got, ours, program, strings.Join(lines, "\n"))
	}
}

// Lint fails the test for every problem client_golang's linter finds in
// c's exposition.
func Lint(t testing.TB, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// MustFeed is Feed for lines that must all be c's and all recognised.
func MustFeed(t testing.TB, c collectors.LogCollector, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if Feed(t, c, l) != 1 {
			t.Fatalf("line not recognised: %q", l)
		}
	}
}

// Labels renders a series' labels as "k=v,k=v", in the registry's order
// (sorted by name).
func Labels(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	return strings.Join(parts, ",")
}

// Gather returns every series of c as "name{k=v,k=v}" -> value, gathered
// through a pedantic registry (which checks descriptions and label
// consistency). A histogram gives its sample count under its name, its
// sum under name_sum{…} and each bucket under name_bucket{…,le=X}.
func Gather(t testing.TB, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			labels := Labels(m)
			switch {
			case m.Counter != nil:
				out[name+"{"+labels+"}"] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+"{"+labels+"}"] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[name+"{"+labels+"}"] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				out[name+"{"+labels+"}"] = float64(h.GetSampleCount())
				out[name+"_sum{"+labels+"}"] = h.GetSampleSum()
				sep := ""
				if labels != "" {
					sep = ","
				}
				for _, b := range h.GetBucket() {
					out[fmt.Sprintf("%s_bucket{%s%sle=%g}", name, labels, sep, b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// Lookup returns the value of the series name{labels} ("k=v,k=v"); a
// histogram's value is its sample count.
func Lookup(t testing.TB, c prometheus.Collector, name, labels string) (float64, bool) {
	t.Helper()
	v, ok := Gather(t, c)[name+"{"+labels+"}"]
	return v, ok
}

// Value is Lookup for a series that must exist.
func Value(t testing.TB, c prometheus.Collector, name, labels string) float64 {
	t.Helper()
	v, ok := Lookup(t, c, name, labels)
	if !ok {
		t.Fatalf("no series %s{%s}", name, labels)
	}
	return v
}

// Corpus is the path of the lab's captured logs from a collector
// package's directory.
const Corpus = "../../testdata/corpus/"

// GroundTruth returns the lab driver's own account of what it did
// (ground-truth.json's counts): the values the corpus must give.
func GroundTruth(t testing.TB) map[string]float64 {
	t.Helper()
	raw, err := os.ReadFile(Corpus + "ground-truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var gt struct {
		Counts map[string]float64 `json:"counts"`
	}
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatal(err)
	}
	return gt.Counts
}

// Replay feeds corpus files, in order, through the pipeline to c (named
// name), as a followed input does, flushes, and returns the router with
// its self-metrics.
//
// It holds the pipeline's promise to collectors and no more: a line is
// valid only while it is handled (collectors.LogCollector). Every line is
// copied into one reused buffer, handed on over it without a copy, and
// the buffer is overwritten with garbage as soon as the line has been
// handled. A collector that keeps part of a line without copying it then
// finds garbage in what it kept (a queue id, a map key) and counts
// wrongly, which the corpus's golden and ground-truth checks catch.
func Replay(t testing.TB, name string, c collectors.LogCollector, files ...string) *pipeline.Router {
	t.Helper()
	r := pipeline.NewRouter([]pipeline.Named{{Name: name, Collector: c}}, nil)
	var h handOver
	for _, file := range files {
		raw, err := os.ReadFile(Corpus + file)
		if err != nil {
			t.Fatal(err)
		}
		in := r.Input(file)
		in.Opened(0)
		var end int64
		for len(raw) > 0 {
			line := raw
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				line, raw = raw[:i], raw[i+1:]
			} else {
				raw = nil
			}
			end += int64(len(line)) + 1
			if len(line) > pipeline.MaxLineBytes {
				in.TooLong(int64(len(line))+1, end)
				continue
			}
			in.Line(h.line(line), end)
			h.scribble()
		}
		in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})
	}
	r.Flush()
	return r
}

// New builds a collector with its constructor and cfg, failing the test
// on the constructor's error.
func New[Config, C any](t testing.TB, build func(Config) (C, error), cfg Config) C {
	t.Helper()
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Build parses args as the exporter's flags for reg alone and builds the
// collector, returning the builder's error. A flag that does not parse
// fails the test.
func Build(t testing.TB, reg collectors.Registration, args ...string) (prometheus.Collector, error) {
	t.Helper()
	app := kingpin.New("test", "")
	app.Terminate(nil)
	build := reg.DeclareFlags(app)
	if _, err := app.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return build(collectors.Env{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
}

// BuildErr is Build for a table of flag sets: with wantErr empty the
// build must succeed, and the collector is returned; otherwise it must
// fail with exactly wantErr, and nil is returned.
func BuildErr(t testing.TB, reg collectors.Registration, wantErr string, args ...string) prometheus.Collector {
	t.Helper()
	c, err := Build(t, reg, args...)
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("%v: %v", args, err)
	case wantErr != "" && (err == nil || err.Error() != wantErr):
		t.Errorf("%v: got %v, want %s", args, err, wantErr)
	}
	if wantErr != "" {
		return nil
	}
	return c
}

// Want is one series and the value it must have.
type Want struct {
	Name, Labels string
	Value        float64
}

// ExpectGroundTruth checks every wanted series of c against values taken
// from GroundTruth: a want of 0 means the ground truth lacks that count,
// which fails the test at once, and every wanted series must exist.
func ExpectGroundTruth(t testing.TB, c prometheus.Collector, wants ...Want) {
	t.Helper()
	for _, w := range wants {
		if w.Value == 0 {
			t.Fatalf("ground truth has no value for %s{%s}", w.Name, w.Labels)
		}
		if got := Value(t, c, w.Name, w.Labels); got != w.Value {
			t.Errorf("%s{%s} = %v, want %v", w.Name, w.Labels, got, w.Value)
		}
	}
}

// ExpectOnly checks got (from Gather) against want: every series of want
// has its value (an absent one counts as 0), and every other series is 0,
// so nothing is counted twice or in the wrong series.
func ExpectOnly(t testing.TB, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}
}

// ExpectLines checks the router r's line counts for collector: no line
// of an unknown shape, and exactly matched lines recognised. Both series
// must exist.
func ExpectLines(t testing.TB, r prometheus.Collector, collector string, matched float64) {
	t.Helper()
	const lines = "mailtier_exporter_collector_lines_total"
	if got := Value(t, r, lines, "collector="+collector+",result=unmatched"); got != 0 {
		t.Errorf("unmatched %s lines: %v", collector, got)
	}
	if got := Value(t, r, lines, "collector="+collector+",result=matched"); got != matched {
		t.Errorf("matched %s lines: %v, want %v", collector, got, matched)
	}
}

var updateGolden = flag.Bool("metrictest.update", false, "rewrite the golden .prom files of metrictest.Golden")

// Golden compares what c exposes, in the text format (HELP, TYPE, every
// series and no other), with testdata/<scenario>.prom, using
// client_golang's testutil. With names, only those metrics are compared
// (and written); without, all of c's. `go test -args -metrictest.update`
// rewrites the file from what c exposes.
func Golden(t testing.TB, c prometheus.Collector, scenario string, names ...string) {
	t.Helper()
	GoldenVars(t, c, scenario, nil, names...)
}

// GoldenVars is Golden for an exposition holding what differs between
// runs or machines (a temporary directory, a size in pages): the file
// says ${NAME} where vars[NAME] stands, and the update writes the
// placeholder back in place of each value.
func GoldenVars(t testing.TB, c prometheus.Collector, scenario string, vars map[string]string, names ...string) {
	t.Helper()
	path := filepath.Join("testdata", scenario+".prom")
	var toValue, toName []string
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		toValue = append(toValue, "${"+name+"}", vars[name])
		toName = append(toName, vars[name], "${"+name+"}")
	}
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer(toName...).Replace(exposition(t, c, names...))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -args -metrictest.update writes it)", err)
	}
	expanded := strings.NewReplacer(toValue...).Replace(string(want))
	if err := testutil.CollectAndCompare(c, strings.NewReader(expanded), names...); err != nil {
		t.Errorf("%s: %v (go test -args -metrictest.update rewrites it)", path, err)
	}
}

// Compare is Golden with the expected exposition written in the test:
// want holds the HELP and TYPE lines and every series of the metrics
// named (of all c's metrics if none is).
func Compare(t testing.TB, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// exposition returns what c exposes in the text format, gathered through
// a pedantic registry: the metrics named, or all if none is.
func exposition(t testing.TB, c prometheus.Collector, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
