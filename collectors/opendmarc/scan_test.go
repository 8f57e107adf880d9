package opendmarc

import (
	"strings"
	"testing"

	"github.com/cabalmail/mailtier/internal/metrictest"
)

// containsAny agrees with strings.Contains over each needle.
func TestContainsAny(t *testing.T) {
	pieces := []string{":", ": ", " ", "fopen(): ", "fwrite()", "flock(LOCK_", "lockf(F_", "x", "/var/run/h.dat"}
	for _, s := range metrictest.Texts(pieces, 50000) {
		want := false
		for _, op := range historyOps {
			want = want || strings.Contains(s, op)
		}
		if got := containsAny(s, historyOps[:]); got != want {
			t.Fatalf("containsAny(%q) = %v, want %v", s, got, want)
		}
	}
}
