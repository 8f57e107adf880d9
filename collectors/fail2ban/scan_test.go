package fail2ban

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

// indexPair agrees with strings.Index.
func TestIndexPair(t *testing.T) {
	pieces := []string{":", ": ", "]", "] ", " ", "[", "x", "::", "]]"}
	for _, p := range []string{": ", "] "} {
		metrictest.AgreeOnTexts(t, "indexPair(s, "+p+")", pieces, 50000,
			func(s string) int { return indexPair(s, p[0], p[1]) },
			func(s string) int { return strings.Index(s, p) })
	}
}
