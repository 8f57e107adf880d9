package dovecot_test

import "os"
import "path/filepath"
import "testing"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/metrictest"

// The pipeline hands Handle records whose strings alias its read buffer,
// overwritten by the next read. Fed that way, the corpus gives exactly
// what it gives as strings of their own: what the collector keeps between
// lines (the failed saves awaiting their "rejected:" line) is its own
// copy.
func TestReusedBuffer(t *testing.T) {
	bots := filepath.Join(t.TempDir(), "bots.txt")
	if err := os.WriteFile(bots, []byte("127.0.0.2\n127.0.0.6/32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := metrictest.ReadLines(t, metrictest.Corpus+"maillog", metrictest.Corpus+"dovecot.log")
	lines = append(lines,
		// A failed save whose rejection comes after other lines.
		"Nov 24 05:15:42 vm dovecot: lda(erin)<9300><AAAA>: msgid=<a@b>: save failed to INBOX: Quota exceeded (mailbox for user is full)",
		"Nov 24 05:15:42 vm dovecot: lda(bob)<9301><BBBB>: msgid=<c@d>: saved mail to INBOX",
		"Nov 24 05:15:42 vm dovecot: lda(erin)<9300><AAAA>: msgid=<a@b>: rejected: Quota exceeded (mailbox for user is full)",
	)
	reused := metrictest.ExpectReuseSafe(t, func() *dovecot.Collector {
		return metrictest.New(t, dovecot.New, dovecot.Config{KnownBotNetworks: bots})
	}, lines...)
	// The failed saves count once each.
	metrictest.ExpectGroundTruth(t, reused, metrictest.Want{Name: "dovecot_deliveries_total", Labels: "agent=lda,result=failed",
		Value: metrictest.GroundTruth(t)["lda_quota_exceeded"] + metrictest.GroundTruth(t)["flda_quota_exceeded"] + 1})
}
