// Package promqlscan lists what the suite's tests check in a PromQL
// expression (the series selectors, the labels it groups or matches on,
// the labels label_replace and label_join write), read by Prometheus' own
// parser. It lives in the tools module so that the suite's main module
// does not depend on github.com/prometheus/prometheus.
//
// Grafana's variables are accepted where the dashboards write them:
// $__rate_interval (and $__interval) as a range, $tier or $instance inside
// a matcher's string.
package promqlscan

import "fmt"
import "strings"
import "time"

import "github.com/prometheus/prometheus/promql/parser"

// Matcher is one label matcher of a selector: name, operator, value.
type Matcher struct {
	Name, Op, Value string
}

// Selector is one series selector.
type Selector struct {
	// Metric is the metric name; empty when the selector names none
	// (`{__name__=~"…"}`).
	Metric string
	// Matchers are its label matchers, the metric name's left out.
	Matchers []Matcher
	// Range is the range of a range selector as written ("5m", or the
	// Grafana variable "$__rate_interval"); empty for an instant vector.
	Range string
	// Func is the function the selector is a direct argument of; empty at
	// top level or as the operand of an aggregation or an operator.
	Func string
}

// Matcher returns the selector's matcher of a label.
func (s Selector) Matcher(name string) (Matcher, bool) {
	for _, m := range s.Matchers {
		if m.Name == name {
			return m, true
		}
	}
	return Matcher{}, false
}

// LabelReplace is a label label_replace or label_join writes (Dst) from
// one it reads (Src; "" for label_replace's constant replacement).
type LabelReplace struct {
	Dst, Src string
}

// Info is what Scan finds in an expression, in the order it is written.
type Info struct {
	Selectors []Selector
	// Grouping lists the labels of by, without, on, ignoring,
	// group_left and group_right.
	Grouping []string
	Replaces []LabelReplace
}

// gridVars are Grafana's range variables; each is parsed as an unusual
// duration and given back under its name.
var gridVars = map[string]time.Duration{
	"$__rate_interval": 4242*time.Second + 42*time.Millisecond,
	"$__interval":      4343*time.Second + 43*time.Millisecond,
}

var promql = parser.NewParser(parser.Options{})

// Scan reads expr with Prometheus' parser.
func Scan(expr string) (Info, error) {
	for name, d := range gridVars {
		expr = strings.ReplaceAll(expr, "["+name+"]", "["+formatDuration(d)+"]")
	}
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return Info{}, err
	}
	var info Info
	var walkErr error
	parser.Inspect(node, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.AggregateExpr:
			info.Grouping = append(info.Grouping, n.Grouping...)
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil {
				if vm.On || len(vm.MatchingLabels) > 0 {
					info.Grouping = append(info.Grouping, vm.MatchingLabels...)
				}
				info.Grouping = append(info.Grouping, vm.Include...)
			}
		case *parser.Call:
			r, err := replaces(n)
			if err != nil && walkErr == nil {
				walkErr = err
			}
			info.Replaces = append(info.Replaces, r...)
		case *parser.VectorSelector:
			info.Selectors = append(info.Selectors, selector(n, path))
		}
		return nil
	})
	return info, walkErr
}

// selector describes a vector selector found under path.
func selector(vs *parser.VectorSelector, path []parser.Node) Selector {
	s := Selector{Metric: vs.Name}
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" && vs.Name != "" {
			continue
		}
		s.Matchers = append(s.Matchers, Matcher{Name: m.Name, Op: m.Type.String(), Value: m.Value})
	}
	// The nearest enclosing nodes: a MatrixSelector gives the range, and
	// the Call above it (through parentheses only) the function.
	i := len(path) - 1
	if i >= 0 {
		if ms, ok := path[i].(*parser.MatrixSelector); ok {
			s.Range = rangeText(ms.Range)
			i--
		}
	}
	for i >= 0 {
		if _, ok := path[i].(*parser.ParenExpr); !ok {
			break
		}
		i--
	}
	// Expressions is the argument list between a Call and its arguments.
	if i >= 0 {
		if _, ok := path[i].(parser.Expressions); ok {
			i--
		}
	}
	if i >= 0 {
		if call, ok := path[i].(*parser.Call); ok {
			s.Func = call.Func.Name
		}
	}
	return s
}

func rangeText(d time.Duration) string {
	for name, v := range gridVars {
		if d == v {
			return name
		}
	}
	return formatDuration(d)
}

// formatDuration writes d as PromQL does (1h30m, 5m, 42ms).
func formatDuration(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// replaces lists the labels a label_replace or label_join call writes.
func replaces(c *parser.Call) ([]LabelReplace, error) {
	str := func(i int) (string, error) {
		if i >= len(c.Args) {
			return "", fmt.Errorf("%s: argument %d missing", c.Func.Name, i+1)
		}
		s, ok := c.Args[i].(*parser.StringLiteral)
		if !ok {
			return "", fmt.Errorf("%s: argument %d is not a string literal", c.Func.Name, i+1)
		}
		return s.Val, nil
	}
	switch c.Func.Name {
	case "label_replace":
		dst, err := str(1)
		if err != nil {
			return nil, err
		}
		src, err := str(3)
		return []LabelReplace{{Dst: dst, Src: src}}, err
	case "label_join":
		dst, err := str(1)
		if err != nil {
			return nil, err
		}
		var out []LabelReplace
		for i := 3; i < len(c.Args); i++ {
			src, err := str(i)
			if err != nil {
				return nil, err
			}
			out = append(out, LabelReplace{Dst: dst, Src: src})
		}
		return out, nil
	}
	return nil, nil
}

// Threshold reads an alerting expression of the form "<expr> <op>
// <number>" with op a comparison (>, <, >=, <=, ==, !=): the threshold a
// panel should draw. ok is false for any other form, an "and", "or" or
// "unless" at the top included.
func Threshold(expr string) (op string, value float64, ok bool) {
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return "", 0, false
	}
	for {
		p, isParen := node.(*parser.ParenExpr)
		if !isParen {
			break
		}
		node = p.Expr
	}
	b, isBinary := node.(*parser.BinaryExpr)
	if !isBinary || !b.Op.IsComparisonOperator() {
		return "", 0, false
	}
	n, isNumber := b.RHS.(*parser.NumberLiteral)
	if !isNumber {
		return "", 0, false
	}
	return b.Op.String(), n.Val, true
}
