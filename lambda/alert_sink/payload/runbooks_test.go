package payload

import "fmt"
import "testing"

// TestUpstreamRunbooks sends each source cabal-infra's alert_sink maps
// (_RUNBOOK_MAP in its lambda/api/alert_sink/function.py, copied here by
// hand) as a simple payload without runbook_url and checks the runbook the
// notification carries.
func TestUpstreamRunbooks(t *testing.T) {
	const base = "https://github.com/cabalmail/cabal-infra/blob/main/docs/operations/runbooks/"
	want := map[string]string{
		"kuma/IMAP reachable (internal)":  base + "probe-failure.md",
		"kuma/SMTP relay (STARTTLS)":      base + "probe-failure.md",
		"kuma/Submission (STARTTLS)":      base + "probe-failure.md",
		"kuma/Submission (implicit TLS)":  base + "probe-failure.md",
		"kuma/Admin app":                  base + "probe-failure.md",
		"kuma/API reachable (/list)":      base + "probe-failure.md",
		"kuma/ntfy server health":         base + "probe-failure.md",
		"kuma/Control-domain cert":        base + "cert-expiring.md",
		"healthchecks/certbot-renewal":    base + "heartbeat-certbot-renewal.md",
		"healthchecks/aws-backup":         base + "heartbeat-aws-backup.md",
		"healthchecks/dmarc-ingest":       base + "heartbeat-dmarc-ingest.md",
		"healthchecks/ecs-reconfigure":    base + "heartbeat-ecs-reconfigure.md",
		"healthchecks/cognito-user-sync":  base + "heartbeat-cognito-user-sync.md",
		"healthchecks/quarterly-review":   base + "heartbeat-quarterly-review.md",
		"kuma/IMAP reachable":             "", // not a monitor upstream has
		"kuma/imap reachable (internal)":  "", // the lookup is exact
		"healthchecks/aws-backup-nightly": "",
		"alertmanager/ProbeFailed":        "",
	}
	if len(upstreamRunbooks) != 14 {
		t.Errorf("%d mapped sources, cabal-infra maps 14", len(upstreamRunbooks))
	}
	for source, runbook := range want {
		n := one(t, decodeString(t, fmt.Sprintf(`{"severity":"critical","source":%q,"summary":"down"}`, source)))
		if n.RunbookURL != runbook {
			t.Errorf("%s: runbook %q, want %q", source, n.RunbookURL, runbook)
		}
	}
	// The payload's own runbook_url wins, as upstream.
	n := one(t, decodeString(t, `{"severity":"warning","source":"kuma/Admin app","summary":"slow","runbook_url":"https://rb.example/admin.md"}`))
	if n.RunbookURL != "https://rb.example/admin.md" {
		t.Errorf("explicit runbook_url replaced by %q", n.RunbookURL)
	}
}

func decodeString(t *testing.T, body string) []Notification {
	t.Helper()
	ns, err := Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	return ns
}
