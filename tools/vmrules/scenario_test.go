package vmrules_test

import "bytes"
import "fmt"
import "math"
import "net/http"
import "os"
import "path/filepath"
import "testing"
import "time"

import "github.com/gogo/protobuf/proto"
import "github.com/golang/snappy"
import "github.com/prometheus/common/model"
import "github.com/prometheus/prometheus/model/labels"
import "github.com/prometheus/prometheus/prompb"
import "github.com/prometheus/prometheus/promql/parser"
import "gopkg.in/yaml.v3"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/rules/rulefiles"

// loadedTest is one promtool test file.
type loadedTest struct {
	Name     string // base name, e.g. sendmail_test.yml
	File     rulefiles.UnitTestFile
	Interval time.Duration // evaluation interval
	// Rule files the test loads, absolute paths.
	RuleFiles []string
	// UnixTimeMetrics are the metrics the rules compare with time(): their
	// values are Unix times. promtool's time 0 is the Unix epoch, the
	// replay's is the scenario's start, so their values move with it.
	UnixTimeMetrics map[string]bool
}

// scenario is one test group of a test file placed in the replay's time
// line: its time 0 (promtool's) is Start.
type scenario struct {
	Test  *loadedTest
	Group rulefiles.UnitTestGroup
	Start time.Time
	// End is the last time the scenario's rules must be evaluated at.
	End time.Time
}

func (s scenario) where(at time.Duration) string {
	return fmt.Sprintf("%s: %q @ %s", s.Test.Name, s.Group.Name, model.Duration(at))
}

// slotGap separates two scenarios in the time line: more than the longest
// window of any rule ([1d]) plus an evaluation, so that no scenario's data
// reaches the evaluations of the next one.
const slotGap = 26 * time.Hour

// loadTests reads every promtool test file of rules/tests.
func loadTests(t *testing.T) []*loadedTest {
	t.Helper()
	paths, err := rulefiles.UnitTestPaths(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []*loadedTest
	for _, p := range paths {
		lt := &loadedTest{Name: filepath.Base(p)}
		// Decoded leniently: promtool's own check (rules/) is the strict one,
		// and fields the replay does not need are skipped.
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &lt.File); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		lt.Interval = time.Duration(lt.File.EvaluationInterval)
		if lt.Interval == 0 {
			lt.Interval = time.Minute // promtool's default
		}
		lt.UnixTimeMetrics = map[string]bool{}
		for _, rf := range lt.File.RuleFiles {
			path := filepath.Clean(filepath.Join(filepath.Dir(p), rf))
			lt.RuleFiles = append(lt.RuleFiles, path)
			if err := unixTimeMetrics(path, lt.UnixTimeMetrics); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, lt)
	}
	return out
}

// unixTimeMetrics adds to found the metrics that the rules of a file add
// to or subtract from time().
func unixTimeMetrics(path string, found map[string]bool) error {
	var rf rulefiles.File
	if err := rulefiles.DecodeStrict(path, &rf); err != nil {
		return err
	}
	isTime := func(e parser.Expr) bool {
		c, ok := e.(*parser.Call)
		return ok && c.Func.Name == "time"
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			expr, err := seriesParser.ParseExpr(r.Expr)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				b, ok := n.(*parser.BinaryExpr)
				if !ok || (b.Op != parser.SUB && b.Op != parser.ADD) {
					return nil
				}
				var other parser.Expr
				switch {
				case isTime(b.LHS):
					other = b.RHS
				case isTime(b.RHS):
					other = b.LHS
				default:
					return nil
				}
				parser.Inspect(other, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						found[vs.Name] = true
					}
					return nil
				})
				return nil
			})
		}
	}
	return nil
}

// layout places every scenario in one time line ending two days before
// now, each in a slot of its own, aligned to the hour: the slot holds its
// input series and its evaluation times, then slotGap.
func layout(tests []*loadedTest, now time.Time) ([]scenario, error) {
	var out []scenario
	var offset time.Duration
	for _, lt := range tests {
		for _, g := range lt.File.Tests {
			s := scenario{Test: lt, Group: g}
			// Expanded at time 0 to measure the slot.
			_, last, err := s.samples()
			if err != nil {
				return nil, err
			}
			length := last.Sub(time.Time{})
			for _, at := range g.AlertRuleTests {
				length = max(length, time.Duration(at.EvalTime))
			}
			for _, et := range g.PromQLExprTests {
				length = max(length, time.Duration(et.EvalTime))
			}
			s.Start = time.Time{}.Add(offset)
			s.End = s.Start.Add(length)
			out = append(out, s)
			offset += length.Truncate(time.Hour) + time.Hour + slotGap
		}
	}
	base := now.Add(-offset - 48*time.Hour).Truncate(24 * time.Hour)
	for i := range out {
		shift := out[i].Start.Sub(time.Time{})
		out[i].End = base.Add(shift + out[i].End.Sub(out[i].Start))
		out[i].Start = base.Add(shift)
	}
	return out, nil
}

// seriesParser reads promtool's input_series notation (`0+10x20`, `_`,
// `stale`) with Prometheus' own parser, as promtool does.
var seriesParser = parser.NewParser(parser.Options{})

// samples expands a scenario's input series into remote-write series, the
// promtool time 0 at the scenario's start. Omitted values (`_`) are no
// sample; `stale` is Prometheus' staleness marker, sent as Prometheus
// sends it.
func (s scenario) samples() ([]prompb.TimeSeries, time.Time, error) {
	interval := time.Duration(s.Group.Interval)
	if interval == 0 {
		interval = s.Test.Interval
	}
	var out []prompb.TimeSeries
	last := s.Start
	for _, in := range s.Group.InputSeries {
		lbls, values, err := seriesParser.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			return nil, last, fmt.Errorf("%s: %q: %w", s.Test.Name, in.Series, err)
		}
		var ts prompb.TimeSeries
		lbls.Range(func(l labels.Label) {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		})
		shift := 0.0
		if s.Test.UnixTimeMetrics[lbls.Get("__name__")] {
			shift = float64(s.Start.Unix())
		}
		for i, v := range values {
			if v.Omitted {
				continue
			}
			if !isStale(v.Value) {
				v.Value += shift
			}
			if v.Histogram != nil {
				return nil, last, fmt.Errorf("%s: %q: native histograms are not replayed", s.Test.Name, in.Series)
			}
			at := s.Start.Add(time.Duration(i) * interval)
			last = maxTime(last, at)
			ts.Samples = append(ts.Samples, prompb.Sample{Value: v.Value, Timestamp: at.UnixMilli()})
		}
		out = append(out, ts)
	}
	return out, last, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// remoteWrite sends series to a remote-write endpoint, as Prometheus does:
// protobuf, snappy-compressed.
func remoteWrite(url string, series []prompb.TimeSeries) error {
	req := &prompb.WriteRequest{Timeseries: series}
	raw, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	httpReq, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return err
	}
	httpReq.Header.Set("Content-Encoding", "snappy")
	httpReq.Header.Set("Content-Type", "application/x-protobuf")
	httpReq.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("remote write: %s", resp.Status)
	}
	return nil
}

// isStale reports whether v is Prometheus' staleness marker.
func isStale(v float64) bool { return math.Float64bits(v) == 0x7ff0000000000002 }
