package dashboards_test

import (
	"fmt"
	"strings"
	"testing"
)

// A small reader of the PromQL the dashboards write, enough to list each
// query's selectors (metric and matchers), its range selectors and the
// function each range is given to. Validity is promtool's job (see
// TestQueriesArePromQL); what this reader does not understand is an
// error, never a silent pass.

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tVar // a Grafana variable: $name or ${name}
	tPunct
)

type tok struct {
	kind tokKind
	text string
}

func lex(expr string) ([]tok, error) {
	var out []tok
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				k := strings.IndexByte(expr[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unterminated ${ at %d", i)
				}
				out = append(out, tok{tVar, expr[j+1 : j+k]})
				i = j + k + 1
				continue
			}
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("lone $ at %d", i)
			}
			out = append(out, tok{tVar, expr[i+1 : j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == ':') {
				j++
			}
			out = append(out, tok{tIdent, expr[i:j]})
			i = j
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.') {
				j++
			}
			out = append(out, tok{tNumber, expr[i:j]})
			i = j
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			var b strings.Builder
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' && j+1 < len(expr) {
					j++
				}
				b.WriteByte(expr[j])
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, tok{tString, b.String()})
			i = j + 1
		default:
			matched := false
			for _, op := range []string{"=~", "!~", "!=", "==", ">=", "<="} {
				if strings.HasPrefix(expr[i:], op) {
					out = append(out, tok{tPunct, op})
					i += len(op)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if !strings.ContainsRune("(){}[],=<>+-*/%^", rune(c)) {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
			out = append(out, tok{tPunct, string(c)})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdent(c byte) bool      { return isIdentStart(c) || c >= '0' && c <= '9' }

type matcher struct{ name, op, value string }

type selector struct {
	metric   string
	matchers []matcher
	// rng is the range of a range selector ("" for an instant vector):
	// the variable name when it is a Grafana variable, else the text.
	rng string
	// fn is the function the selector is an argument of ("" at top
	// level or in an aggregation's or an operator's operand).
	fn string
}

func (s selector) matcher(name string) (matcher, bool) {
	for _, m := range s.matchers {
		if m.name == name {
			return m, true
		}
	}
	return matcher{}, false
}

var grouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
var keywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}

var aggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

// scan lists the selectors of expr.
func scan(expr string) ([]selector, error) {
	sels, _, err := scanAll(expr)
	return sels, err
}

// scanAll lists the selectors of expr and the labels it groups or matches
// on (by, without, on, ignoring, group_left, group_right).
func scanAll(expr string) ([]selector, []string, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, nil, err
	}
	var sels []selector
	var groups []string
	// calls is the stack of open parentheses: the function each belongs
	// to ("" for grouping parentheses and aggregation bodies).
	var calls []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tIdent && grouping[t.text]:
			if i+1 < len(toks) && toks[i+1].text == "(" {
				j := i + 2
				for j < len(toks) && toks[j].text != ")" {
					if toks[j].kind != tIdent && toks[j].text != "," {
						return nil, nil, fmt.Errorf("unexpected %q in %s (...)", toks[j].text, t.text)
					}
					if toks[j].kind == tIdent {
						groups = append(groups, toks[j].text)
					}
					j++
				}
				if j == len(toks) {
					return nil, nil, fmt.Errorf("unterminated %s (", t.text)
				}
				i = j
			}
		case t.kind == tIdent && keywords[t.text]:
		case t.kind == tIdent && aggregations[t.text] && i+1 < len(toks) && (toks[i+1].text == "by" || toks[i+1].text == "without"):
			// "sum by (le) (...)": the grouping is read next, then the
			// body's parenthesis.
		case t.kind == tIdent && i+1 < len(toks) && toks[i+1].text == "(":
			calls = append(calls, t.text)
			i++
		case t.kind == tIdent:
			s := selector{metric: t.text}
			if len(calls) > 0 {
				s.fn = calls[len(calls)-1]
			}
			j := i + 1
			if j < len(toks) && toks[j].text == "{" {
				j++
				for j < len(toks) && toks[j].text != "}" {
					if j+2 >= len(toks) || toks[j].kind != tIdent || toks[j+1].kind != tPunct || toks[j+2].kind != tString {
						return nil, nil, fmt.Errorf("%s: cannot read the matchers", t.text)
					}
					s.matchers = append(s.matchers, matcher{toks[j].text, toks[j+1].text, toks[j+2].text})
					j += 3
					if j < len(toks) && toks[j].text == "," {
						j++
					}
				}
				if j == len(toks) {
					return nil, nil, fmt.Errorf("%s: unterminated {", t.text)
				}
				j++
			}
			if j < len(toks) && toks[j].text == "[" {
				if j+2 >= len(toks) || toks[j+2].text != "]" {
					return nil, nil, fmt.Errorf("%s: a range must be one duration or variable", t.text)
				}
				s.rng = toks[j+1].text
				if toks[j+1].kind == tVar {
					s.rng = "$" + s.rng
				}
				j += 3
			}
			sels = append(sels, s)
			i = j - 1
		case t.text == "(":
			calls = append(calls, "")
		case t.text == ")":
			if len(calls) == 0 {
				return nil, nil, fmt.Errorf("unbalanced )")
			}
			calls = calls[:len(calls)-1]
		case t.text == "{":
			return nil, nil, fmt.Errorf("a selector without a metric name")
		case t.text == "[":
			return nil, nil, fmt.Errorf("a range or subquery on an expression")
		}
	}
	if len(calls) != 0 {
		return nil, nil, fmt.Errorf("unbalanced (")
	}
	return sels, groups, nil
}

func TestScan(t *testing.T) {
	sels, err := scan(`histogram_quantile(0.95, sum by (le, mailer) (rate(x_bucket{tier=~"$tier", a="b"}[$__rate_interval]))) / on (tier) group_left () sum(y{c!="d"}) or vector(0)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 2 {
		t.Fatalf("got %d selectors, want 2: %+v", len(sels), sels)
	}
	if s := sels[0]; s.metric != "x_bucket" || s.fn != "rate" || s.rng != "$__rate_interval" || len(s.matchers) != 2 || s.matchers[0].value != "$tier" {
		t.Errorf("first selector: %+v", s)
	}
	if s := sels[1]; s.metric != "y" || s.fn != "sum" || s.rng != "" || s.matchers[0] != (matcher{"c", "!=", "d"}) {
		t.Errorf("second selector: %+v", s)
	}
	for _, bad := range []string{`sum(x`, `{a="b"}`, `rate(x[5m:1m])`, `x{a=}`} {
		if _, err := scan(bad); err == nil {
			t.Errorf("scan(%q) succeeded", bad)
		}
	}
}
