package main

import "bytes"
import "fmt"
import "io"
import "net/http"
import "sort"
import "strconv"
import "strings"
import "sync"

import dto "github.com/prometheus/client_model/go"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

// series names one time series: name{a="x",b="y"}, labels sorted. A
// histogram is named by its _count and _sum series.
func series(name string, labels ...string) string {
	if len(labels)%2 != 0 {
		panic("series " + name + ": odd label list")
	}
	pairs := make([]string, 0, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	sort.Strings(pairs)
	if len(pairs) == 0 {
		return name
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// family is the metric name of a series.
func family(s string) string {
	name, _, _ := strings.Cut(s, "{")
	return name
}

// scrape reads the exporter's /metrics into series → value.
func scrape(url string) (map[string]float64, error) {
	m, _, err := scrapeText(url)
	return m, err
}

// scrapeText is scrape that also returns the text it read.
func scrapeText(url string) (map[string]float64, []byte, error) {
	resp, err := http.Get(url) //nolint:noctx // loopback, short-lived
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName(), lp.GetValue())
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series(name, labels...)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series(name, labels...)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[series(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
				out[series(name+"_sum", labels...)] = m.GetHistogram().GetSampleSum()
			default:
				out[series(name, labels...)] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, body, nil
}

// expected is what the exporter must show, built from the driver's own
// actions and the servers' replies to them.
// Beside the metrics, it notes what the driver can observe without a log
// (messages the sink received, files in the queue).
type expected struct {
	mu    sync.Mutex
	v     map[string]float64
	notes map[string]float64
}

func newExpected() *expected {
	return &expected{v: map[string]float64{}, notes: map[string]float64{}}
}

func (e *expected) note(key string, n float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notes[key] += n
}

func (e *expected) noted(key string) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notes[key]
}

func (e *expected) add(n float64, name string, labels ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.v[series(name, labels...)] += n
}

func (e *expected) set(v float64, name string, labels ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.v[series(name, labels...)] = v
}

func (e *expected) get(s string) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.v[s]
}

// check is one assertion's outcome: got must equal want, or, for a
// reading of the clock, lie between want and upTo.
type check struct {
	series    string
	want, got float64
	upTo      float64
	ranged    bool
	present   bool
}

func (c check) ok() bool {
	if c.ranged {
		return c.present && c.got >= c.want && c.got <= c.upTo
	}
	return c.present && c.got == c.want
}

func (c check) wanted() string {
	if c.ranged {
		return fmtValue(c.want) + " to " + fmtValue(c.upTo)
	}
	return fmtValue(c.want)
}

// compare lists, for every family in exact, every series the exporter
// shows or the driver expects: a series the driver expects nothing of must
// be 0 (the closed label sets are created at zero). Other families are
// compared on the expected series only.
func (e *expected) compare(got map[string]float64, exact []string) []check {
	e.mu.Lock()
	defer e.mu.Unlock()
	full := map[string]bool{}
	for _, f := range exact {
		full[f] = true
	}
	keys := map[string]bool{}
	for s := range e.v {
		keys[s] = true
	}
	for s := range got {
		if full[family(s)] {
			keys[s] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for s := range keys {
		sorted = append(sorted, s)
	}
	sort.Strings(sorted)
	out := make([]check, 0, len(sorted))
	for _, s := range sorted {
		g, present := got[s]
		out = append(out, check{series: s, want: e.v[s], got: g, present: present})
	}
	return out
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
