package opendmarc

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

// containsAny agrees with strings.Contains over each needle.
func TestContainsAny(t *testing.T) {
	pieces := []string{":", ": ", " ", "fopen(): ", "fwrite()", "flock(LOCK_", "lockf(F_", "x", "/var/run/h.dat"}
	byContains := func(s string) bool {
		for _, op := range historyOps {
			if strings.Contains(s, op) {
				return true
			}
		}
		return false
	}
	metrictest.AgreeOnTexts(t, "containsAny(s, historyOps)", pieces, 50000,
		func(s string) bool { return containsAny(s, historyOps[:]) }, byContains)
}
