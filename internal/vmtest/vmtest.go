// Package vmtest runs Debian's VictoriaMetrics single-node server on
// loopback for integration tests, and reads what it stores: raw samples at
// exact timestamps (the export API) and instant queries.
//
// It is shared by the tests that prove mailtier on VictoriaMetrics: the
// rules on vmalert (tools/vmrules), the dashboards scraped by vmagent
// (dashboards/) and Prometheus' remote_write (docker/prometheus/).
package vmtest

import "bufio"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"

// Server is a running victoria-metrics on loopback.
type Server struct {
	// URL is the server's base address, http://127.0.0.1:PORT.
	URL     string
	Process *testenv.Process
	client  *http.Client
}

// Start runs victoria-metrics (Debian package victoria-metrics) on a free
// loopback port with its data in a temporary directory, and waits until it
// is healthy. The retention is long so that tests can write samples far
// in the past, and samples are searchable at once; extra flags follow the
// defaults and override them.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := testenv.Binary(t, "victoria-metrics", "victoria-metrics")
	addr := testenv.FreeAddr(t)
	args := append([]string{
		"-httpListenAddr=" + addr,
		"-storageDataPath=" + filepath.Join(t.TempDir(), "vmdata"),
		"-retentionPeriod=100y",
		"-loggerLevel=WARN",
		// Tests read what they wrote a moment ago; in production the last
		// 30s are held back for late samples.
		"-search.latencyOffset=0s",
	}, extra...)
	s := &Server{
		URL:     "http://" + addr,
		Process: testenv.Start(t, "victoria-metrics", bin, args...),
		client:  &http.Client{Timeout: 30 * time.Second},
	}
	testenv.WaitUntil(t, "victoria-metrics answers /health", 30*time.Second, func() bool {
		if done, err := s.Process.Exited(); done {
			t.Fatalf("victoria-metrics exited: %v\n%s", err, s.Process.Output())
		}
		resp, err := s.client.Get(s.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// Flush makes every sample the server has accepted so far searchable
// (its /internal/force_flush), so that a query after it sees them.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	resp, err := s.client.Get(s.URL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("force_flush: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("force_flush: %s: %s", resp.Status, b)
	}
}

// FlushEvery flushes the server every period until the test ends, for
// tests that wait on data a scraper keeps writing. VictoriaMetrics 1.79
// makes a new series searchable only when it flushes its in-memory index,
// measured at 8 to 10 s after the series' first sample arrives; Prometheus,
// which such tests were first written for, makes it searchable at once.
func (s *Server) FlushEvery(t testing.TB, period time.Duration) {
	t.Helper()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if resp, err := s.client.Get(s.URL + "/internal/force_flush"); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
	})
}

// Series is one stored series: its labels (the name under __name__) and
// its raw samples.
type Series struct {
	Labels     map[string]string
	Values     []float64
	Timestamps []int64 // milliseconds
}

// Export returns the raw samples of the series matching the selector with
// timestamps in [from, to], both included, sorted by their labels.
func (s *Server) Export(t testing.TB, selector string, from, to time.Time) ([]Series, error) {
	t.Helper()
	q := url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(from.Unix(), 10)},
		"end":     {strconv.FormatInt(to.Unix(), 10)},
	}
	resp, err := s.client.PostForm(s.URL+"/api/v1/export", q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("export %s: %s: %s", selector, resp.Status, b)
	}
	var out []Series
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []json.Number     `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("export %s: %w", selector, err)
		}
		sr := Series{Labels: line.Metric, Timestamps: line.Timestamps}
		for _, v := range line.Values {
			f, err := parseValue(string(v))
			if err != nil {
				return nil, fmt.Errorf("export %s: %w", selector, err)
			}
			sr.Values = append(sr.Values, f)
		}
		out = append(out, sr)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return LabelString(out[i].Labels) < LabelString(out[j].Labels) })
	return out, nil
}

// Sample is one series of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query at the given time (now when zero) and
// returns its series sorted by their labels.
func (s *Server) Query(q string, at time.Time) ([]Sample, error) {
	form := url.Values{"query": {q}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatInt(at.Unix(), 10))
	}
	resp, err := s.client.PostForm(s.URL+"/api/v1/query", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %s: %w", q, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	var out []Sample
	for _, r := range body.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := parseValue(str)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q, err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return LabelString(out[i].Labels) < LabelString(out[j].Labels) })
	return out, nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "Inf", "+Inf":
		s = "+Inf"
	}
	return strconv.ParseFloat(s, 64)
}

// LabelString writes a label set as {a="1", b="2"}, names sorted, the
// metric name (if any) in front: one stable spelling to compare and print.
func LabelString(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for k := range ls {
		if k != "__name__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(ls["__name__"])
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, ls[k])
	}
	b.WriteByte('}')
	return b.String()
}
