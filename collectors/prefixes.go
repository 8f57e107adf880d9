package collectors

import "cmp"
import "iter"
import "slices"
import "strconv"
import "strings"

// Prefixes tells which of a set of line starts a text begins with, and
// what that start means. Parsers that recognise a line by the words it
// opens with (OpenDKIM's and OpenDMARC's per-message lines, sendmail's
// SMTP-session lines) each keep one, built once at start-up.
//
// Where one start begins another ("RFC5322 requirement error: " and
// "RFC5322 requirement error: missing From field; accepting"), the longest
// that matches wins, so a table is a set: the order its starts are written
// in never changes what a line means.
type Prefixes[V any] struct {
	// byFirst holds each start under its first byte, longest first: a text
	// is compared only with the starts that can begin it.
	byFirst [256][]prefix[V]
}

type prefix[V any] struct {
	text  string
	value V
}

// NewPrefixes builds the table in which each of the texts listed for a
// value stands for that value. It panics on an empty start, or on one
// listed twice, as a table written that way is a mistake in the source.
func NewPrefixes[V comparable](table map[V][]string) *Prefixes[V] {
	p := &Prefixes[V]{}
	seen := map[string]bool{}
	for v, texts := range table {
		for _, t := range texts {
			if t == "" || seen[t] {
				panic("collectors.NewPrefixes: empty or repeated start " + strconv.Quote(t))
			}
			seen[t] = true
			p.byFirst[t[0]] = append(p.byFirst[t[0]], prefix[V]{t, v})
		}
	}
	for i := range p.byFirst {
		// Longest first; equal lengths by text, so that the order does
		// not depend on the map's.
		slices.SortFunc(p.byFirst[i], func(a, b prefix[V]) int {
			return cmp.Or(cmp.Compare(len(b.text), len(a.text)), strings.Compare(a.text, b.text))
		})
	}
	return p
}

// PrefixSet is NewPrefixes for starts that carry no value of their own:
// Match reports only whether one begins the text.
func PrefixSet(texts ...string) *Prefixes[struct{}] {
	return NewPrefixes(map[struct{}][]string{{}: texts})
}

// Match returns the longest of the table's starts that s begins with,
// and its value, which the table keeps: the caller copies it before it
// changes it. ok is false when none does.
func (p *Prefixes[V]) Match(s string) (start string, value *V, ok bool) {
	if s == "" {
		return "", nil, false
	}
	list := p.byFirst[s[0]]
	for i := range list {
		// The byte at the start's end first: it tells most of a bucket's
		// starts apart ("no signing table match for '", "not
		// authenticated") without a call to compare them whole.
		t := list[i].text
		if len(s) >= len(t) && s[len(t)-1] == t[len(t)-1] && s[:len(t)] == t {
			return list[i].text, &list[i].value, true
		}
	}
	return "", nil, false
}

// All yields every start of the table with its value, by first byte and
// then longest first: for tests that try each start.
func (p *Prefixes[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, list := range p.byFirst {
			for _, e := range list {
				if !yield(e.text, e.value) {
					return
				}
			}
		}
	}
}
