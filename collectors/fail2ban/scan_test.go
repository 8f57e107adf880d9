package fail2ban

import (
	"strings"
	"testing"

	"github.com/cabalmail/mailtier/internal/metrictest"
)

// indexPair agrees with strings.Index.
func TestIndexPair(t *testing.T) {
	pieces := []string{":", ": ", "]", "] ", " ", "[", "x", "::", "]]"}
	for _, s := range metrictest.Texts(pieces, 50000) {
		for _, p := range []string{": ", "] "} {
			if got, want := indexPair(s, p[0], p[1]), strings.Index(s, p); got != want {
				t.Fatalf("indexPair(%q, %q) = %d, want %d", s, p, got, want)
			}
		}
	}
}
