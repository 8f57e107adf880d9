// Package metricsdoc reads docs/metrics.md, the suite's one list of the
// metrics the exporter exposes, their labels and the closed sets of the
// labels' values. The exporter's tests check its output against it, the
// rules' tests check every selector against it, and the dashboards' tests
// every panel query.
package metricsdoc

import "fmt"
import "os"
import "regexp"
import "strings"

// Types are the metric types a metric row may give.
var Types = map[string]bool{
	"counter": true, "gauge": true, "histogram": true, "summary": true,
	"info": true, "untyped": true, "stateset": true, "gaugehistogram": true,
}

// Metric is one metric row of docs/metrics.md.
type Metric struct {
	Type   string
	Labels []string
}

// Doc is what Parse reads from docs/metrics.md.
type Doc struct {
	Metrics map[string]Metric
	// Values maps a label name to the closed set of values its label
	// tables list for every metric that has it.
	Values map[string][]string
	// MetricValues maps a metric and a label name to the closed set listed
	// for that metric alone, as in "| `reason` (`sendmail_rejects_total`) |".
	MetricValues map[[2]string][]string
}

// ClosedValues returns the closed set of values a metric's label takes,
// and false when the document lists none (an open label such as a path).
func (d Doc) ClosedValues(metric, label string) ([]string, bool) {
	if v, ok := d.MetricValues[[2]string{metric, label}]; ok {
		return v, true
	}
	v, ok := d.Values[label]
	return v, ok
}

var (
	backtickRE  = regexp.MustCompile("`([^`]+)`")
	identRE     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	separatorRE = regexp.MustCompile(`^:?-+:?$`)
	// labelCellRE is the first cell of a label row: the label, and
	// optionally the metrics the row is about.
	labelCellRE = regexp.MustCompile("^`([a-zA-Z_][a-zA-Z0-9_]*)`(?:\\s*\\(((?:\\s*`[a-zA-Z_:][a-zA-Z0-9_:]*`\\s*,?)+)\\))?$")
	parenRE     = regexp.MustCompile(`\([^)]*\)`)
)

// Parse reads the Markdown tables of docs/metrics.md. A metric
// row has the metric name in backticks in its first cell, its type in the
// second and its labels, in backticks, in the third:
//
//	| `sendmail_deliveries_total` | counter | `mailer`, `status` | meaning |
//
// A label row has a label name in backticks first, optionally followed by
// the metrics it is about in parentheses, and its values, in backticks, in
// the second cell:
//
//	| `mailer` | `local`, `esmtp`, … |
//	| `reason` (`sendmail_rejects_total`) | `relaying_denied`, … |
//
// The values form a closed set only when the cell starts with one; a cell
// such as "each `--tail.path` as given" describes an open label.
// Parenthesised remarks in a values cell are not values.
func Parse(text string) (Doc, error) {
	doc := Doc{Metrics: map[string]Metric{}, Values: map[string][]string{}, MetricValues: map[[2]string][]string{}}
	for n, line := range strings.Split(text, "\n") {
		cells := TableCells(line)
		if len(cells) < 2 || separatorRE.MatchString(cells[0]) {
			continue
		}
		typ := strings.ToLower(strings.Trim(cells[1], "` "))
		if !Types[typ] {
			lm := labelCellRE.FindStringSubmatch(cells[0])
			if lm == nil || !strings.HasPrefix(cells[1], "`") {
				continue
			}
			var values []string
			for _, v := range backtickRE.FindAllStringSubmatch(parenRE.ReplaceAllString(cells[1], ""), -1) {
				values = append(values, v[1])
			}
			if lm[2] == "" {
				doc.Values[lm[1]] = append(doc.Values[lm[1]], values...)
				continue
			}
			for _, metric := range backtickRE.FindAllStringSubmatch(lm[2], -1) {
				key := [2]string{metric[1], lm[1]}
				doc.MetricValues[key] = append(doc.MetricValues[key], values...)
			}
			continue
		}
		m := backtickRE.FindAllStringSubmatch(cells[0], -1)
		if len(m) != 1 || strings.TrimSpace(backtickRE.ReplaceAllString(cells[0], "")) != "" {
			continue
		}
		name := m[0][1]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if !identRE.MatchString(name) {
			continue
		}
		if len(cells) < 3 {
			return doc, fmt.Errorf("line %d: metric %s has no labels column", n+1, name)
		}
		if _, dup := doc.Metrics[name]; dup {
			return doc, fmt.Errorf("line %d: metric %s is listed twice", n+1, name)
		}
		var labels []string
		for _, l := range backtickRE.FindAllStringSubmatch(cells[2], -1) {
			if !identRE.MatchString(l[1]) {
				return doc, fmt.Errorf("line %d: %s: %q is not a label name", n+1, name, l[1])
			}
			labels = append(labels, l[1])
		}
		doc.Metrics[name] = Metric{Type: typ, Labels: labels}
	}
	if len(doc.Metrics) == 0 {
		return doc, fmt.Errorf("no metric rows found")
	}
	return doc, nil
}

// Lookup finds the documented metric a selected series belongs to: the
// metric itself, a histogram's or summary's _bucket, _sum or _count
// series, or a counter documented without its _total suffix. extra holds
// the labels the suffix adds (le for buckets).
func (d Doc) Lookup(name string) (base string, m Metric, extra []string, ok bool) {
	if m, ok := d.Metrics[name]; ok {
		return name, m, nil, true
	}
	for _, s := range []struct {
		suffix string
		types  []string
		extra  []string
	}{
		{"_bucket", []string{"histogram", "gaugehistogram"}, []string{"le"}},
		{"_sum", []string{"histogram", "summary", "gaugehistogram"}, nil},
		{"_count", []string{"histogram", "summary", "gaugehistogram"}, nil},
		{"_total", []string{"counter"}, nil},
	} {
		if !strings.HasSuffix(name, s.suffix) {
			continue
		}
		b := strings.TrimSuffix(name, s.suffix)
		if m, ok := d.Metrics[b]; ok {
			for _, typ := range s.types {
				if m.Type == typ {
					return b, m, s.extra, true
				}
			}
		}
	}
	return "", Metric{}, nil, false
}

// Load reads and parses the file at path.
func Load(path string) (Doc, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Doc{}, err
	}
	doc, err := Parse(string(raw))
	if err != nil {
		return doc, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// TableCells splits a Markdown table row into its trimmed cells, or
// returns nil for a line that is not a row. The other documents' tests
// (docs/alerts.md, docs/dashboards.md) read their tables with it too.
func TableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
		return nil
	}
	// A `\|` inside a cell is a literal pipe, not a cell boundary.
	parts := strings.Split(strings.ReplaceAll(line[1:len(line)-1], `\|`, "\x00"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(strings.ReplaceAll(parts[i], "\x00", "|"))
	}
	return parts
}
