package dovecot

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// randomText joins pieces of the markers and needles the scanners look
// for, so that near misses and overlaps are common.
func randomText(r *rand.Rand) string {
	pieces := []string{": ", ":", " ", "saved mail to ", "save failed to ", "rejected: ", "stored mail into mailbox ",
		"failed to store into mailbox ", ", rip=", "rip=", "): ", ")", "(", "x", "INBOX", "msgid=<a@b>"}
	var b strings.Builder
	for n := r.IntN(12); n > 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// lastIndex agrees with strings.LastIndex.
func TestLastIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 50000; n++ {
		s := randomText(r)
		for _, needle := range []string{", rip=", "): ", ": "} {
			if got, want := lastIndex(s, needle), strings.LastIndex(s, needle); got != want {
				t.Fatalf("lastIndex(%q, %q) = %d, want %d", s, needle, got, want)
			}
		}
	}
}

// lastDeliveryMarker picks what taking each marker's strings.LastIndex
// and keeping the greatest picks.
func TestLastDeliveryMarker(t *testing.T) {
	byLastIndex := func(body string) int {
		best, at := -1, -2
		for k, m := range deliveryMarkers {
			i := strings.LastIndex(body, m)
			if i < 0 {
				if !strings.HasPrefix(body, m[2:]) {
					continue
				}
				i = -1
			}
			if i > at {
				best, at = k, i
			}
		}
		return best
	}
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 50000; n++ {
		s := randomText(r)
		if got, want := lastDeliveryMarker(s), byLastIndex(s); got != want {
			t.Fatalf("lastDeliveryMarker(%q) = %d, want %d", s, got, want)
		}
	}
}
