package rules_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// This file holds a small PromQL scanner: enough of the language to list
// the series selectors of an expression (metric name and label matchers),
// the label names it groups or matches on (by, without, on, ignoring,
// group_left, group_right) and the labels label_replace writes and reads.
// The rules use nothing it cannot read; anything it does not understand is
// an error, never a silent skip.

// matcher is one label matcher of a selector: name, operator, value.
type matcher struct {
	Name, Op, Value string
}

// selector is one vector selector: a metric name (empty when the selector
// is only `{...}`) and its matchers.
type selector struct {
	Metric   string
	Matchers []matcher
}

// labelReplace records the destination and source labels of a
// label_replace call.
type labelReplace struct {
	Dst, Src string
}

// exprInfo is what scanExpr finds in an expression.
type exprInfo struct {
	Selectors []selector
	Grouping  []string
	Replaces  []labelReplace
}

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind tokenKind
	text string // identifier, unquoted string, number or punctuation
	pos  int
}

// lexPromQL splits an expression into tokens. Comments are dropped.
func lexPromQL(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			toks = append(toks, token{tokIdent, expr[start:i], start})
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// Numbers, durations (5m, 1h30m) and hex or exponent forms.
			start := i
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				if (expr[i] == 'e' || expr[i] == 'E') && i+1 < len(expr) && (expr[i+1] == '+' || expr[i+1] == '-') &&
					!strings.HasPrefix(strings.ToLower(expr[start:]), "0x") {
					i += 2
					continue
				}
				i++
			}
			toks = append(toks, token{tokNumber, expr[start:i], start})
		case c == '"' || c == '\'' || c == '`':
			s, n, err := unquote(expr[i:])
			if err != nil {
				return nil, fmt.Errorf("offset %d: %w", i, err)
			}
			toks = append(toks, token{tokString, s, i})
			i += n
		default:
			for _, op := range []string{"!=", "=~", "!~", "==", "<=", ">="} {
				if strings.HasPrefix(expr[i:], op) {
					toks = append(toks, token{tokPunct, op, i})
					i += len(op)
					goto next
				}
			}
			if strings.ContainsRune("(){}[],=<>+-*/%^@:", rune(c)) {
				toks = append(toks, token{tokPunct, string(c), i})
				i++
				break
			}
			return nil, fmt.Errorf("offset %d: unexpected character %q", i, c)
		next:
		}
	}
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == ':' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// unquote reads one PromQL string literal at the start of s and returns
// its value and its length in s.
func unquote(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && q != '`':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated escape")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

var (
	groupingKeywords = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true,
	}
	otherKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"atan2": true, "inf": true, "nan": true,
	}
	aggregations = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "group": true,
		"stddev": true, "stdvar": true, "count": true, "count_values": true,
		"bottomk": true, "topk": true, "quantile": true,
	}
)

// scanExpr lists the selectors, grouping labels and label_replace labels
// of a PromQL expression.
func scanExpr(expr string) (exprInfo, error) {
	var info exprInfo
	toks, err := lexPromQL(expr)
	if err != nil {
		return info, err
	}
	isPunct := func(i int, p string) bool {
		return i < len(toks) && toks[i].kind == tokPunct && toks[i].text == p
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tokPunct && t.text == "[":
			// Range or subquery: only durations inside.
			for i < len(toks) && !isPunct(i, "]") {
				i++
			}
			if i == len(toks) {
				return info, fmt.Errorf("offset %d: unterminated [", t.pos)
			}
		case t.kind == tokPunct && t.text == "{":
			sel := selector{}
			n, err := readMatchers(toks, i, &sel)
			if err != nil {
				return info, err
			}
			info.Selectors = append(info.Selectors, sel)
			i = n
		case t.kind != tokIdent:
		case groupingKeywords[t.text]:
			if !isPunct(i+1, "(") {
				if t.text == "group_left" || t.text == "group_right" {
					continue
				}
				return info, fmt.Errorf("offset %d: %s without a label list", t.pos, t.text)
			}
			j := i + 2
			for ; j < len(toks) && !isPunct(j, ")"); j++ {
				switch {
				case toks[j].kind == tokIdent:
					info.Grouping = append(info.Grouping, toks[j].text)
				case isPunct(j, ","):
				default:
					return info, fmt.Errorf("offset %d: unexpected %q in %s list", toks[j].pos, toks[j].text, t.text)
				}
			}
			if j == len(toks) {
				return info, fmt.Errorf("offset %d: unterminated %s list", t.pos, t.text)
			}
			i = j
		case otherKeywords[strings.ToLower(t.text)]:
		case aggregations[t.text]:
		case isPunct(i+1, "("):
			// A function call. label_replace(v, dst, repl, src, regex) and
			// label_join(v, dst, sep, src...) name labels in string
			// arguments.
			if t.text == "label_replace" || t.text == "label_join" {
				args, err := stringArgs(toks, i+1)
				if err != nil {
					return info, fmt.Errorf("offset %d: %s: %w", t.pos, t.text, err)
				}
				if t.text == "label_replace" {
					if len(args) != 4 {
						return info, fmt.Errorf("offset %d: label_replace needs 4 string arguments, found %d", t.pos, len(args))
					}
					info.Replaces = append(info.Replaces, labelReplace{Dst: args[0], Src: args[2]})
				} else {
					if len(args) < 2 {
						return info, fmt.Errorf("offset %d: label_join needs a destination and a separator", t.pos)
					}
					for _, src := range args[2:] {
						info.Replaces = append(info.Replaces, labelReplace{Dst: args[0], Src: src})
					}
				}
			}
		default:
			sel := selector{Metric: t.text}
			if isPunct(i+1, "{") {
				n, err := readMatchers(toks, i+1, &sel)
				if err != nil {
					return info, err
				}
				i = n
			}
			info.Selectors = append(info.Selectors, sel)
		}
	}
	return info, nil
}

// readMatchers reads `{name op "value", ...}` starting at the `{` at index
// i and returns the index of the closing `}`.
func readMatchers(toks []token, i int, sel *selector) (int, error) {
	open := toks[i]
	i++
	for i < len(toks) {
		if toks[i].kind == tokPunct && toks[i].text == "}" {
			return i, nil
		}
		if i+2 >= len(toks) || toks[i].kind != tokIdent || toks[i+1].kind != tokPunct || toks[i+2].kind != tokString {
			return 0, fmt.Errorf("offset %d: malformed label matcher", toks[i].pos)
		}
		switch toks[i+1].text {
		case "=", "!=", "=~", "!~":
		default:
			return 0, fmt.Errorf("offset %d: unknown matcher operator %q", toks[i+1].pos, toks[i+1].text)
		}
		sel.Matchers = append(sel.Matchers, matcher{toks[i].text, toks[i+1].text, toks[i+2].text})
		i += 3
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text == "," {
			i++
		}
	}
	return 0, fmt.Errorf("offset %d: unterminated {", open.pos)
}

// stringArgs returns the string literals passed directly (at depth one)
// to the call whose `(` is at index i.
func stringArgs(toks []token, i int) ([]string, error) {
	var args []string
	depth := 0
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tokPunct {
			switch t.text {
			case "(", "{", "[":
				depth++
			case ")", "}", "]":
				depth--
				if depth == 0 {
					return args, nil
				}
			}
			continue
		}
		if t.kind == tokString && depth == 1 {
			args = append(args, t.text)
		}
	}
	return nil, fmt.Errorf("unterminated call")
}

func TestScanExpr(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want exprInfo
	}{
		{
			name: "bare metric",
			expr: `up`,
			want: exprInfo{Selectors: []selector{{Metric: "up"}}},
		},
		{
			name: "matchers of every operator, and a comma inside a string",
			expr: `sendmail_deliveries_total{mailer=~"local|procmail", status!="sent", tier="imap", queue!~"a,b}"}`,
			want: exprInfo{Selectors: []selector{{Metric: "sendmail_deliveries_total", Matchers: []matcher{
				{"mailer", "=~", "local|procmail"}, {"status", "!=", "sent"}, {"tier", "=", "imap"}, {"queue", "!~", "a,b}"},
			}}}},
		},
		{
			name: "trailing comma, single quotes, backticks and escapes",
			expr: `x{a='1', b=` + "`2\\n`" + `, c="q\"uote",}`,
			want: exprInfo{Selectors: []selector{{Metric: "x", Matchers: []matcher{
				{"a", "=", "1"}, {"b", "=", `2\n`}, {"c", "=", `q"uote`},
			}}}},
		},
		{
			name: "aggregation with by before and after, ranges, offsets and numbers",
			expr: `sum by (tier, le) (rate(a_bucket[5m])) / sum(rate(b_total[1h30m] offset 1h)) without (instance) > 2^40 * 1e-3 + 0x1F`,
			want: exprInfo{
				Selectors: []selector{{Metric: "a_bucket"}, {Metric: "b_total"}},
				Grouping:  []string{"tier", "le", "instance"},
			},
		},
		{
			name: "recording rule names with colons and a subquery",
			expr: `max_over_time(tier:sendmail_queue_messages:max{tier="smtp-in"}[30m:1m])`,
			want: exprInfo{Selectors: []selector{{Metric: "tier:sendmail_queue_messages:max", Matchers: []matcher{{"tier", "=", "smtp-in"}}}}},
		},
		{
			name: "vector matching keywords, with and without label lists",
			expr: `a / on (tier) group_left () b and on (tier, mailer) c / ignoring (x) group_right (y) d * on (z) group_left e`,
			want: exprInfo{
				Selectors: []selector{{Metric: "a"}, {Metric: "b"}, {Metric: "c"}, {Metric: "d"}, {Metric: "e"}},
				Grouping:  []string{"tier", "tier", "mailer", "x", "y", "z"},
			},
		},
		{
			name: "selector by name only",
			expr: `count({__name__=~"aws_.+_sum", job="cloudwatch"})`,
			want: exprInfo{Selectors: []selector{{Matchers: []matcher{{"__name__", "=~", "aws_.+_sum"}, {"job", "=", "cloudwatch"}}}}},
		},
		{
			name: "label_replace names its labels; time() and vector() are functions",
			expr: `label_replace(a / (b > 0), "daemon", "dovecot", "", "") or vector(1) - time() or label_join(c, "dst", ",", "s1", "s2")`,
			want: exprInfo{
				Selectors: []selector{{Metric: "a"}, {Metric: "b"}, {Metric: "c"}},
				Replaces:  []labelReplace{{"daemon", ""}, {"dst", "s1"}, {"dst", "s2"}},
			},
		},
		{
			name: "comments, bool, unless, Inf and NaN",
			expr: "a > bool 1 # b{c=\"d\"}\nunless e == Inf or f != NaN",
			want: exprInfo{Selectors: []selector{{Metric: "a"}, {Metric: "e"}, {Metric: "f"}}},
		},
		{
			name: "quantile and topk take a number first",
			expr: `quantile_over_time(0.95, probe_duration_seconds{job=~"blackbox-tls|blackbox-http"}[5m]) + topk(3, x)`,
			want: exprInfo{Selectors: []selector{
				{Metric: "probe_duration_seconds", Matchers: []matcher{{"job", "=~", "blackbox-tls|blackbox-http"}}},
				{Metric: "x"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanExpr(tt.expr)
			if err != nil {
				t.Fatalf("scanExpr(%q): %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("scanExpr(%q)\n got: %+v\nwant: %+v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestScanExprRejectsWhatItCannotRead(t *testing.T) {
	for _, expr := range []string{
		`a{b}`,
		`a{b="c"`,
		`a{b=~c}`,
		`sum by tier (a)`,
		`rate(a[5m)`,
		`a{b="c}`,
		`a ; b`,
		`label_replace(a, "dst", "x")`,
		`sum by (tier, "x") (a)`,
	} {
		if _, err := scanExpr(expr); err == nil {
			t.Errorf("scanExpr(%q) succeeded, want an error", expr)
		}
	}
}
