package fail2ban_test

import "testing"

import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The pipeline hands Handle records whose strings alias its read buffer,
// overwritten by the next read. Fed that way, the corpus gives exactly
// what it gives as strings of their own: the jails and addresses held
// banned between lines are the collector's own copies.
func TestReusedBuffer(t *testing.T) {
	lines := append(metrictest.ReadLines(t, metrictest.Corpus+"fail2ban.log"),
		// Held at the end: a jail of the list and one that is not.
		"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [sshd] Ban 192.0.2.1",
		"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [my-jail] Ban 192.0.2.2",
		"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [my-jail] Ban 192.0.2.3",
		"2026-11-24 05:15:50,173 fail2ban.actions        [9143]: NOTICE  [my-jail] Unban 192.0.2.2",
	)
	reused := metrictest.ExpectReuseSafe(t, func() *fail2ban.Collector {
		return metrictest.New(t, fail2ban.New, fail2ban.Config{})
	}, lines...)
	for _, jail := range []string{"sshd", "other"} {
		if got := metrictest.Value(t, reused, "fail2ban_banned", "jail="+jail); got != 1 {
			t.Errorf("fail2ban_banned{jail=%q} = %v, want 1", jail, got)
		}
	}
}
