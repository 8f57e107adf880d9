package realworld_test

import "bufio"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/collectors/opendkim"
import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/testenv"

// A labelled case of the corpus: lines fed in order to fresh collectors,
// and every series they must change, by how much.
type labelled struct {
	file   string
	line   int // of the case's first line in file
	source string
	lines  []string
	want   map[string]float64
}

// The exporter's own series a case's label speaks of: how the pipeline
// and the collectors fared with its lines. The rest of the router's
// series (bytes, timestamps, …) are no label's business.
const (
	collectorLines = "mailtier_exporter_collector_lines_total"
	skippedLines   = "mailtier_exporter_lines_skipped_total"
)

// readCases reads a .cases file:
//
//	@ SOURCE            the source (see SOURCES.md) of the cases that follow
//	> line              a log line of the case, in order
//	= COLLECTOR matched|unmatched [N]   lines a collector knew, or did not
//	= skipped unparsed|unclaimed [N]    lines no collector saw
//	+ name{k=v,…} N     a daemon series the case changes, by N
//
// A blank line ends a case; '#' starts a comment.
func readCases(t *testing.T, path string) []labelled {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	var cur *labelled
	source := ""
	flush := func() {
		if cur != nil {
			if len(cur.lines) == 0 {
				t.Fatalf("%s:%d: a label without lines", path, cur.line)
			}
			out = append(out, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		switch {
		case text == "":
			flush()
			continue
		case strings.HasPrefix(text, "#"):
			continue
		case strings.HasPrefix(text, "@ "):
			flush()
			source = strings.TrimPrefix(text, "@ ")
			continue
		}
		if cur == nil {
			if source == "" {
				t.Fatalf("%s:%d: a case before any source", path, n)
			}
			cur = &labelled{file: filepath.Base(path), line: n, source: source, want: map[string]float64{}}
		}
		if len(text) < 2 || text[1] != ' ' {
			t.Fatalf("%s:%d: unknown line %q", path, n, text)
		}
		body := text[2:]
		switch text[0] {
		case '>':
			cur.lines = append(cur.lines, body)
		case '=':
			f := strings.Fields(body)
			if len(f) < 2 || len(f) > 3 {
				t.Fatalf("%s:%d: want '= COLLECTOR RESULT [N]', got %q", path, n, text)
			}
			v := 1.0
			if len(f) == 3 {
				if v, err = strconv.ParseFloat(f[2], 64); err != nil {
					t.Fatalf("%s:%d: %v", path, n, err)
				}
			}
			key := fmt.Sprintf("%s{collector=%s,result=%s}", collectorLines, f[0], f[1])
			if f[0] == "skipped" {
				key = fmt.Sprintf("%s{path=realworld,reason=%s}", skippedLines, f[1])
			}
			cur.want[key] += v
		case '+':
			i := strings.LastIndexByte(body, ' ')
			if i < 0 {
				t.Fatalf("%s:%d: want '+ SERIES N', got %q", path, n, text)
			}
			v, err := strconv.ParseFloat(body[i+1:], 64)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			cur.want[body[:i]] += v
		default:
			t.Fatalf("%s:%d: unknown line %q", path, n, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return out
}

// exporter is the four log collectors behind one pipeline, as the
// exporter runs them with their default flags.
type exporter struct {
	router *pipeline.Router
	input  *pipeline.Input
	all    []prometheus.Collector
}

func newExporter(t *testing.T) *exporter {
	t.Helper()
	clock := time.Date(2026, 11, 24, 5, 15, 41, 0, time.UTC)
	sm := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: func() time.Time { return clock }})
	dc, err := dovecot.New(dovecot.Config{})
	if err != nil {
		t.Fatal(err)
	}
	od, err := opendkim.New(opendkim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fail2ban.New(fail2ban.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := pipeline.NewRouter([]pipeline.Named{
		{Name: "sendmail", Collector: sm},
		{Name: "dovecot", Collector: dc},
		{Name: "opendkim", Collector: od},
		{Name: "fail2ban", Collector: fb},
	}, func() time.Time { return clock })
	return &exporter{router: r, input: r.Input("realworld"), all: []prometheus.Collector{r, sm, dc, od, fb}}
}

// series gathers what a case's label may speak of: the daemons' series
// (histograms by their sample count) and the pipeline's account of lines.
func (e *exporter) series(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, c := range e.all {
		for k, v := range metrictest.Gather(t, c) {
			name := k[:strings.IndexByte(k, '{')]
			switch {
			case strings.HasSuffix(name, "_bucket"), strings.HasSuffix(name, "_sum"):
			case strings.HasPrefix(name, "mailtier_exporter_") && name != collectorLines && name != skippedLines &&
				name != "mailtier_exporter_sendmail_delays_rejected_total":
			default:
				out[k] = v
			}
		}
	}
	return out
}

func corpus(t *testing.T) []labelled {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "testdata", "realworld", "*.cases"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/realworld: %v", err)
	}
	slices.Sort(files)
	var all []labelled
	for _, f := range files {
		all = append(all, readCases(t, f)...)
	}
	return all
}

// TestRealWorld replays every labelled case through the collectors and
// checks that it changes exactly the series its label names, by exactly
// the amounts it names, and nothing else.
func TestRealWorld(t *testing.T) {
	sources := sourceIDs(t)
	for _, c := range corpus(t) {
		t.Run(fmt.Sprintf("%s:%d", c.file, c.line), func(t *testing.T) {
			if !sources[c.source] {
				t.Errorf("source %q is not in SOURCES.md", c.source)
			}
			e := newExporter(t)
			before := e.series(t)
			for _, l := range c.lines {
				e.input.Handle(l)
			}
			e.router.Flush()
			after := e.series(t)
			got := map[string]float64{}
			for k, v := range after {
				if d := v - before[k]; d != 0 {
					got[k] = d
				}
			}
			var diffs []string
			for k, v := range c.want {
				if got[k] != v {
					diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, got[k], v))
				}
			}
			for k, v := range got {
				if _, ok := c.want[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: got %v, not in the label", k, v))
				}
			}
			if len(diffs) > 0 {
				slices.Sort(diffs)
				t.Errorf("%s (source %s):\n  %s\n%s", c.file, c.source, strings.Join(c.lines, "\n  "), strings.Join(diffs, "\n"))
			}
		})
	}
}

// sourceIDs reads the source ids SOURCES.md defines ("## ID" headings).
func sourceIDs(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "realworld", "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if id, ok := strings.CutPrefix(l, "## "); ok {
			ids[strings.TrimSpace(id)] = true
		}
	}
	return ids
}

// TestUnmatchedLevel states the corpus's account of lines, the figures
// docs/metrics.md gives as the normal level of the unmatched counter on
// other installations' logs. A change to them is a change to the docs.
func TestUnmatchedLevel(t *testing.T) {
	totals := map[string]float64{}
	for _, c := range corpus(t) {
		for k, v := range c.want {
			if strings.HasPrefix(k, collectorLines+"{") || strings.HasPrefix(k, skippedLines+"{") {
				totals[k] += v
			}
		}
	}
	want := map[string]float64{
		collectorLines + "{collector=sendmail,result=matched}":   wantSendmailMatched,
		collectorLines + "{collector=sendmail,result=unmatched}": 0,
		collectorLines + "{collector=dovecot,result=matched}":    wantDovecotMatched,
		collectorLines + "{collector=dovecot,result=unmatched}":  1,
		collectorLines + "{collector=opendkim,result=matched}":   wantOpenDKIMMatched,
		collectorLines + "{collector=fail2ban,result=matched}":   wantFail2banMatched,
		skippedLines + "{path=realworld,reason=unparsed}":        wantUnparsed,
		skippedLines + "{path=realworld,reason=unclaimed}":       wantUnclaimed,
	}
	for k, v := range totals {
		t.Logf("%s %v", k, v)
	}
	for k, v := range want {
		if totals[k] != v {
			t.Errorf("%s = %v, want %v", k, totals[k], v)
		}
	}
	for k := range totals {
		if _, ok := want[k]; !ok {
			t.Errorf("%s = %v, not stated", k, totals[k])
		}
	}
}

// The corpus's account of lines (docs/metrics.md, "Normal levels").
const (
	wantSendmailMatched = 62
	wantDovecotMatched  = 83
	wantOpenDKIMMatched = 12
	wantFail2banMatched = 8
	wantUnparsed        = 10
	wantUnclaimed       = 10
)
