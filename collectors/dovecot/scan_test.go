package dovecot

import "math/rand/v2"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

// scanPieces are the markers and needles the scanners look for, so that
// near misses and overlaps are common in texts made of them.
var scanPieces = []string{": ", ":", " ", "saved mail to ", "save failed to ", "rejected: ", "stored mail into mailbox ",
	"failed to store into mailbox ", ", rip=", "rip=", "): ", ")", "(", "x", "INBOX", "msgid=<a@b>"}

// lastIndex agrees with strings.LastIndex.
func TestLastIndex(t *testing.T) {
	for _, needle := range []string{", rip=", "): ", ": "} {
		metrictest.AgreeOnTexts(t, "lastIndex(s, "+needle+")", scanPieces, 50000,
			func(s string) int { return lastIndex(s, needle) },
			func(s string) int { return strings.LastIndex(s, needle) })
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
	metrictest.AgreeOnTexts(t, "lastDeliveryMarker", scanPieces, 50000, lastDeliveryMarker, byLastIndex)
}

// humanReason reads what looking for each phrase with strings.Contains,
// in order, reads.
func TestHumanReason(t *testing.T) {
	byContains := func(head, fields string) string {
		switch {
		case strings.Contains(head, "SSL_accept()") || strings.Contains(head, "TLS handshak") ||
			strings.Contains(head, "(disconnected during TLS handshake"):
			return ReasonTLSFailed
		case strings.Contains(head, "(auth failed, "):
			return ReasonAuthFailed
		case strings.Contains(head, "(no auth attempts") || strings.Contains(head, "(disconnected before auth was ready"):
			if strings.Contains(fields, ", TLS handshaking") {
				return ReasonTLSFailed
			}
			return ReasonNoAuth
		}
		return Other
	}
	pieces := []string{"(", "(auth failed, ", "(auth failed", "(no auth attempts", "(no auth", "(disconnected before auth was ready",
		"(disconnected during TLS handshake", "SSL_accept()", "SSL_accept", "TLS handshak", "TLS ", "TL", "S", "T", " ", "x", ", TLS handshaking"}
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 50000; n++ {
		var head, fields strings.Builder
		for k := r.IntN(8); k > 0; k-- {
			head.WriteString(pieces[r.IntN(len(pieces))])
		}
		for k := r.IntN(3); k > 0; k-- {
			fields.WriteString(pieces[r.IntN(len(pieces))])
		}
		if got, want := humanReason(head.String(), fields.String()), byContains(head.String(), fields.String()); got != want {
			t.Fatalf("humanReason(%q, %q) = %q, want %q", head.String(), fields.String(), got, want)
		}
	}
}
