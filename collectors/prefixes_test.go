package collectors

import "testing"

// TestPrefixesMatch: the longest start a text begins with wins, whatever
// the order the table lists them in; a text no start begins, or an empty
// one, matches nothing.
func TestPrefixesMatch(t *testing.T) {
	p := NewPrefixes(map[int][]string{
		1: {"RFC5322 requirement error: ", "ab"},
		2: {"RFC5322 requirement error: missing From field; accepting", "abc"},
		3: {"a", "\xff"},
	})
	for _, tc := range []struct {
		text  string
		start string
		value int
		ok    bool
	}{
		{"RFC5322 requirement error: missing From field; accepting", "RFC5322 requirement error: missing From field; accepting", 2, true},
		{"RFC5322 requirement error: missing To field", "RFC5322 requirement error: ", 1, true},
		{"RFC5322 requirement error:", "", 0, false},
		{"abcd", "abc", 2, true},
		{"abd", "ab", 1, true},
		{"az", "a", 3, true},
		{"\xff\x00", "\xff", 3, true},
		{"b", "", 0, false},
		{"", "", 0, false},
	} {
		start, known, ok := p.Match(tc.text)
		value := 0
		if known != nil {
			value = *known
		}
		if start != tc.start || value != tc.value || ok != tc.ok || ok != (known != nil) {
			t.Errorf("Match(%q) = %q, %d, %v; want %q, %d, %v", tc.text, start, value, ok, tc.start, tc.value, tc.ok)
		}
	}
}

// TestPrefixSet: a set of starts with no values.
func TestPrefixSet(t *testing.T) {
	p := PrefixSet("collect: I/O error", "collect: premature EOM")
	if _, _, ok := p.Match("collect: premature EOM from x"); !ok {
		t.Error("a listed start did not match")
	}
	if _, _, ok := p.Match("collect: "); ok {
		t.Error("a text shorter than every start matched")
	}
}

// TestNewPrefixesRefuses: an empty start, or one listed twice (under one
// value or two), is a mistake in the table and stops the program at
// start-up with the start named.
func TestNewPrefixesRefuses(t *testing.T) {
	for _, tc := range []struct {
		table map[int][]string
		want  string
	}{
		{map[int][]string{1: {"a", ""}}, `collectors.NewPrefixes: empty or repeated start ""`},
		{map[int][]string{1: {"ab", "ab"}}, `collectors.NewPrefixes: empty or repeated start "ab"`},
		{map[int][]string{1: {"ab"}, 2: {"ab"}}, `collectors.NewPrefixes: empty or repeated start "ab"`},
	} {
		func() {
			defer func() {
				if got := recover(); got != tc.want {
					t.Errorf("NewPrefixes(%v) panicked with %v, want %q", tc.table, got, tc.want)
				}
			}()
			NewPrefixes(tc.table)
		}()
	}
}

// TestPrefixesAll: every start once, with its value.
func TestPrefixesAll(t *testing.T) {
	got := map[string]int{}
	for start, v := range NewPrefixes(map[int][]string{1: {"ab", "b"}, 2: {"abc"}}).All() {
		got[start] = v
	}
	if len(got) != 3 || got["ab"] != 1 || got["b"] != 1 || got["abc"] != 2 {
		t.Errorf("All() gave %v", got)
	}
}
