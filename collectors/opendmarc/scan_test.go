package opendmarc

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// containsAny agrees with strings.Contains over each needle.
func TestContainsAny(t *testing.T) {
	pieces := []string{":", ": ", " ", "fopen(): ", "fwrite()", "flock(LOCK_", "lockf(F_", "x", "/var/run/h.dat"}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 50000; n++ {
		var b strings.Builder
		for k := r.IntN(10); k > 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		want := false
		for _, op := range historyOps {
			want = want || strings.Contains(s, op)
		}
		if got := containsAny(s, historyOps[:]); got != want {
			t.Fatalf("containsAny(%q) = %v, want %v", s, got, want)
		}
	}
}
