package fail2ban

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// indexPair agrees with strings.Index.
func TestIndexPair(t *testing.T) {
	pieces := []string{":", ": ", "]", "] ", " ", "[", "x", "::", "]]"}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 50000; n++ {
		var b strings.Builder
		for k := r.IntN(10); k > 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		for _, p := range []string{": ", "] "} {
			if got, want := indexPair(s, p[0], p[1]), strings.Index(s, p); got != want {
				t.Fatalf("indexPair(%q, %q) = %d, want %d", s, p, got, want)
			}
		}
	}
}
