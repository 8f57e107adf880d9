package collectors

import "strings"
import "testing"

// TestAlnumPrefix: the run of letters and digits at the start of a string,
// at most max bytes, for every byte value and at every length around max.
func TestAlnumPrefix(t *testing.T) {
	isAlnum := func(c byte) bool {
		return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
	}
	for c := 0; c < 256; c++ {
		for n := 0; n <= 23; n++ {
			s := strings.Repeat("a", n) + string([]byte{byte(c)}) + "b"
			want := 0
			for want < len(s) && want < 21 && isAlnum(s[want]) {
				want++
			}
			if got := AlnumPrefix(s, 21); got != want {
				t.Fatalf("AlnumPrefix(%q, 21) = %d, want %d", s, got, want)
			}
		}
	}
	if AlnumPrefix("", 21) != 0 || AlnumPrefix("abc", 2) != 2 {
		t.Fatal("AlnumPrefix at the edges")
	}
}
