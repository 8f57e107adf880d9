// Package panelcheck runs the queries of Grafana dashboards against a
// Prometheus and says which return data.
//
// It reads the dashboards' JSON into package grafana's model, the one the
// generator in package dashboards writes, and takes every target of every
// panel (rows included) and every Prometheus annotation. Grafana's
// variables are replaced the way Grafana would with their default
// selection: a fixed (custom) variable by its value, a variable showing
// "All" by its allValue, $__rate_interval by a duration the caller picks.
//
// A panel query passes when Prometheus answers it with at least one
// finite value; NaN alone (a ratio of zero rates, a quantile of a
// histogram that did not move) is no data. An annotation passes when
// Prometheus accepts it: no alert firing is its normal state.
//
// The mailtier dashboards are checked this way by the replay test in
// package dashboards and, with real daemons, by `go run
// ./dashboards/cmd/checkpanels`.
package panelcheck

import "context"
import "encoding/json"
import "fmt"
import "io"
import "io/fs"
import "math"
import "net/http"
import "net/url"
import "path"
import "regexp"
import "sort"
import "strconv"
import "strings"
import "time"

import "github.com/cabalmail/mailtier/dashboards/grafana"

// Query is one PromQL query of a dashboard.
type Query struct {
	File      string // the dashboard's JSON file
	UID       string // the dashboard's uid
	Dashboard string // the dashboard's title
	// Panel is the panel's title; for an annotation, "annotation: " and
	// its name.
	Panel      string
	RefID      string
	Expr       string // as written in the dashboard, variables unexpanded
	Annotation bool
	// Vars are the values the dashboard's variables take by default.
	Vars map[string]string
}

// Key names the panel of a query: "<uid>/<panel title>".
func (q Query) Key() string { return q.UID + "/" + q.Panel }

// String names the query for a report line.
func (q Query) String() string {
	if q.RefID == "" {
		return fmt.Sprintf("%s %q", q.UID, q.Panel)
	}
	return fmt.Sprintf("%s %q %s", q.UID, q.Panel, q.RefID)
}

// defaultValue is what Grafana substitutes for the variable when the
// dashboard opens: the current value, or allValue when that is "All".
func defaultValue(v grafana.Variable) (string, bool) {
	var vals []string
	switch c := v.Current.Value.(type) {
	case string:
		vals = []string{c}
	case []any:
		for _, e := range c {
			if s, ok := e.(string); ok {
				vals = append(vals, s)
			}
		}
	}
	if len(vals) == 1 && vals[0] == "$__all" && v.IncludeAll && v.AllValue != "" {
		return v.AllValue, true
	}
	if len(vals) == 1 && vals[0] != "$__all" {
		return vals[0], true
	}
	if v.Type == "custom" {
		if q, ok := v.Query.(string); ok && q != "" && !strings.Contains(q, ",") {
			return q, true
		}
	}
	return "", false
}

// Load returns the queries of every dashboard (*.json) at the top of fsys,
// ordered by file, then as they appear in the file.
func Load(fsys fs.FS) ([]Query, error) {
	return loadAll(fsys, Parse)
}

// LoadDashboards reads every dashboard (*.json) at the top of fsys into
// package grafana's model, ordered by file.
func LoadDashboards(fsys fs.FS) ([]grafana.Dashboard, error) {
	return loadAll(fsys, func(file string, b []byte) ([]grafana.Dashboard, error) {
		d, err := grafana.Parse(file, b)
		return []grafana.Dashboard{d}, err
	})
}

// loadAll parses every dashboard (*.json) at the top of fsys with parse.
func loadAll[T any](fsys fs.FS, parse func(file string, b []byte) ([]T, error)) ([]T, error) {
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards (*.json)")
	}
	var out []T
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		items, err := parse(path.Base(f), b)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// Parse returns the queries of one dashboard's JSON.
func Parse(file string, b []byte) ([]Query, error) {
	d, err := grafana.Parse(file, b)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue
		}
		if val, ok := defaultValue(v); ok {
			vars[v.Name] = val
		}
	}
	var out []Query
	base := Query{File: file, UID: d.UID, Dashboard: d.Title, Vars: vars}
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		q := base
		q.Panel, q.Expr, q.Annotation = "annotation: "+a.Name, a.Expr, true
		out = append(out, q)
	}
	var walk func([]grafana.Panel)
	walk = func(ps []grafana.Panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				q := base
				q.Panel, q.RefID, q.Expr = p.Title, t.RefID, t.Expr
				out = append(out, q)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out, nil
}

var varRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// Expand replaces Grafana's variables in expr: first from vars, then from
// the query's own defaults. A variable with no value is an error, so a
// query can never reach Prometheus with a literal "$name" in it.
func (q Query) Expand(vars map[string]string) (string, error) {
	var missing []string
	out := varRE.ReplaceAllStringFunc(q.Expr, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[2]
		if v, ok := vars[name]; ok {
			return v
		}
		if v, ok := q.Vars[name]; ok {
			return v
		}
		missing = append(missing, "$"+name)
		return m
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Result is the answer to one query.
type Result struct {
	Query
	Expanded string
	Series   int     // series (or a scalar) returned
	Finite   int     // finite sample values among them
	Max      float64 // the largest of them
	Zero     bool    // every finite value is 0
	Err      error
}

// OK says whether the query passes: a panel query returned data (a
// finite value), an annotation was accepted.
func (r Result) OK() bool {
	if r.Err != nil {
		return false
	}
	return r.Annotation || r.Finite > 0
}

// Line is the report line of a result: PASS or FAIL, the query, and why.
func (r Result) Line() string {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s %s: %s", verdict, r.Query, r.why())
}

// why says what the query returned.
func (r Result) why() string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.Annotation && r.Series == 0:
		return "accepted, nothing to annotate now"
	case r.Series == 0:
		return "no data"
	case r.Finite == 0:
		return fmt.Sprintf("%d series, all NaN or infinite", r.Series)
	case r.Zero:
		return fmt.Sprintf("%d series, all zero", r.Series)
	default:
		return fmt.Sprintf("%d series, max %.4g", r.Series, r.Max)
	}
}

// Panel is the verdict on one panel: every query of it passes.
type Panel struct {
	Key     string // "<uid>/<panel title>"
	Results []Result
}

// ByPanel groups results by panel, in their order.
func ByPanel(rs []Result) []Panel {
	var out []Panel
	index := map[string]int{}
	for _, r := range rs {
		i, ok := index[r.Key()]
		if !ok {
			i = len(out)
			index[r.Key()] = i
			out = append(out, Panel{Key: r.Key()})
		}
		out[i].Results = append(out[i].Results, r)
	}
	return out
}

// OK says whether every query of the panel passes.
func (p Panel) OK() bool {
	for _, r := range p.Results {
		if !r.OK() {
			return false
		}
	}
	return len(p.Results) > 0
}

// Line is the panel's report line: PASS or FAIL, the dashboard and panel,
// and each query's outcome ("A: 2 series, max 0.95; B: no data").
func (p Panel) Line() string {
	verdict := "PASS"
	if !p.OK() {
		verdict = "FAIL"
	}
	var parts []string
	for _, r := range p.Results {
		why := r.why()
		if r.RefID != "" {
			why = r.RefID + " " + why
		}
		parts = append(parts, why)
	}
	q := p.Results[0].Query
	return fmt.Sprintf("%s %s %q: %s", verdict, q.UID, q.Panel, strings.Join(parts, "; "))
}

// Client queries a Prometheus HTTP API.
type Client struct {
	// URL is Prometheus' base URL, e.g. http://127.0.0.1:9090.
	URL  string
	HTTP *http.Client
	// Range, when positive, asks for the last Range of data (a range
	// query, as a panel does) instead of the value at the evaluation
	// time; Step is its resolution (default Range/60).
	Range time.Duration
	Step  time.Duration
	// Time is the evaluation time; zero means now.
	Time time.Time
}

// Run runs every query with vars (overriding each dashboard's defaults)
// and returns the results in order.
func (c Client) Run(ctx context.Context, qs []Query, vars map[string]string) []Result {
	out := make([]Result, 0, len(qs))
	for _, q := range qs {
		out = append(out, c.run(ctx, q, vars))
	}
	return out
}

func (c Client) run(ctx context.Context, q Query, vars map[string]string) Result {
	r := Result{Query: q}
	expr, err := q.Expand(vars)
	if err != nil {
		r.Err = err
		return r
	}
	r.Expanded = expr
	now := c.Time
	if now.IsZero() {
		now = time.Now()
	}
	form := url.Values{"query": {expr}}
	endpoint := "/api/v1/query"
	if c.Range > 0 {
		step := c.Step
		if step <= 0 {
			step = c.Range / 60
			if step < time.Second {
				step = time.Second
			}
		}
		endpoint = "/api/v1/query_range"
		form.Set("start", formatTime(now.Add(-c.Range)))
		form.Set("end", formatTime(now))
		form.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	} else {
		form.Set("time", formatTime(now))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		r.Err = err
		return r
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		r.Err = err
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		r.Err = err
		return r
	}
	r.Series, r.Finite, r.Max, r.Zero, r.Err = parseResponse(body)
	if r.Err != nil && resp.StatusCode != http.StatusOK {
		r.Err = fmt.Errorf("HTTP %s: %w", resp.Status, r.Err)
	}
	return r
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// parseResponse reads a query API response: the number of series, of
// finite values, the largest of these, and whether they are all zero.
func parseResponse(body []byte) (series, finite int, max float64, zero bool, err error) {
	var resp struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, 0, 0, false, fmt.Errorf("unreadable answer: %w", err)
	}
	if resp.Status != "success" {
		return 0, 0, 0, false, fmt.Errorf("%s: %s", resp.ErrorType, resp.Error)
	}
	zero = true
	count := func(v []any) {
		if len(v) != 2 {
			return
		}
		s, ok := v[1].(string)
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return
		}
		if finite == 0 || f > max {
			max = f
		}
		finite++
		if f != 0 {
			zero = false
		}
	}
	switch resp.Data.ResultType {
	case "scalar":
		var v []any
		if err := json.Unmarshal(resp.Data.Result, &v); err != nil {
			return 0, 0, 0, false, err
		}
		series = 1
		count(v)
	case "vector":
		var vs []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(resp.Data.Result, &vs); err != nil {
			return 0, 0, 0, false, err
		}
		series = len(vs)
		for _, s := range vs {
			count(s.Value)
		}
	case "matrix":
		var ms []struct {
			Values [][]any `json:"values"`
		}
		if err := json.Unmarshal(resp.Data.Result, &ms); err != nil {
			return 0, 0, 0, false, err
		}
		series = len(ms)
		for _, s := range ms {
			for _, v := range s.Values {
				count(v)
			}
		}
	default:
		return 0, 0, 0, false, fmt.Errorf("unexpected result type %q", resp.Data.ResultType)
	}
	return series, finite, max, zero && finite > 0, nil
}
