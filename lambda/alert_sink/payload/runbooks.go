package payload

// UpstreamRunbookBase is where cabal-infra keeps its runbooks: _RUNBOOK_BASE
// in cabal-infra's lambda/api/alert_sink/function.py.
const UpstreamRunbookBase = "https://github.com/cabalmail/cabal-infra/blob/main/docs/operations/runbooks/"

// upstreamRunbooks is cabal-infra's _RUNBOOK_MAP (lambda/api/alert_sink/
// function.py): the runbook of each Kuma monitor and Healthchecks check, by
// the source its webhook body sends. Kuma's body template is shared by every
// monitor and Healthchecks' bodies are typed by hand, so neither carries a
// runbook_url; the source is what identifies them. The names are those of
// cabal-infra's docs/monitoring.md sections 10 and 12; a new monitor needs
// an entry here and a runbook there.
var upstreamRunbooks = map[string]string{
	"kuma/IMAP reachable (internal)": UpstreamRunbookBase + "probe-failure.md",
	"kuma/SMTP relay (STARTTLS)":     UpstreamRunbookBase + "probe-failure.md",
	"kuma/Submission (STARTTLS)":     UpstreamRunbookBase + "probe-failure.md",
	"kuma/Submission (implicit TLS)": UpstreamRunbookBase + "probe-failure.md",
	"kuma/Admin app":                 UpstreamRunbookBase + "probe-failure.md",
	"kuma/API reachable (/list)":     UpstreamRunbookBase + "probe-failure.md",
	"kuma/ntfy server health":        UpstreamRunbookBase + "probe-failure.md",
	"kuma/Control-domain cert":       UpstreamRunbookBase + "cert-expiring.md",

	"healthchecks/certbot-renewal":   UpstreamRunbookBase + "heartbeat-certbot-renewal.md",
	"healthchecks/aws-backup":        UpstreamRunbookBase + "heartbeat-aws-backup.md",
	"healthchecks/dmarc-ingest":      UpstreamRunbookBase + "heartbeat-dmarc-ingest.md",
	"healthchecks/ecs-reconfigure":   UpstreamRunbookBase + "heartbeat-ecs-reconfigure.md",
	"healthchecks/cognito-user-sync": UpstreamRunbookBase + "heartbeat-cognito-user-sync.md",
	"healthchecks/quarterly-review":  UpstreamRunbookBase + "heartbeat-quarterly-review.md",
}

// runbookFor is a simple payload's runbook: its own runbook_url if it has
// one, else the one cabal-infra maps its source to, else none. The source
// must match exactly (after trimming surrounding space), as in upstream's
// dict lookup.
func runbookFor(source, explicit string) string {
	if explicit != "" {
		return explicit
	}
	return upstreamRunbooks[source]
}
