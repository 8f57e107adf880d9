package dashboards

import "fmt"

// imap is the imap tier: Dovecot IMAP for the users, sendmail receiving
// from smtp-in and delivering into the mailboxes (procmail, or Dovecot's
// LDA or LMTP).
func imap() Dashboard {
	loginTraffic, loginRatio, loginReasons := loginPanels("imap", "DovecotImapAuthFailuresHigh")
	localFailed := rate("sendmail_deliveries_total", on(localMailers, `status=~"deferred|bounced"`))
	localAll := rate("sendmail_deliveries_total", on(localMailers))
	dovecotFailed := rate("dovecot_deliveries_total", on(`result="failed"`))
	dovecotAll := rate("dovecot_deliveries_total", on())
	return Dashboard{
		File:  "imap.json",
		UID:   "mailtier-imap",
		Title: "Mail tier: imap",
		Description: "The imap tier by the four golden signals: IMAP command latency, logins, local delivery into the mailboxes, " +
			"and the saturation of its queue and daemons.",
		Tags: []string{"mailtier", "imap"},
		Tier: "imap",
		Rows: []Row{
			{Title: "Latency", Panels: []Panel{
				{
					Title: "IMAP command time",
					Description: "p95 and p50 of the time Dovecot takes to answer an IMAP command, from Dovecot's own statistics (IDLE, LOGIN and AUTHENTICATE excluded). " +
						"Red above 1 s for 10 minutes fires DovecotImapCommandLatencyHigh: mail clients feel slow or time out. " +
						"Check EFS (PercentIOLimit, burst credits), the host's CPU, and the open file descriptors below.",
					Kind:     TimeSeries,
					Unit:     "s",
					Steps:    []Step{{1, Orange}},
					Runbooks: []string{"DovecotImapCommandLatencyHigh"},
					W:        12,
					Targets: []Target{
						{Expr: quantile("0.95", "dovecot_imap_command_duration_seconds", "", on()), Legend: "p95"},
						{Expr: quantile("0.5", "dovecot_imap_command_duration_seconds", "", on()), Legend: "p50"},
					},
				},
				timeInQueue("Time in queue by mailer",
					"p95 and p50 of the time from reception by the imap tier's sendmail to the end of a successful delivery, by mailer (local: into the mailbox). "+
						"No alert on this tier: mail waits here only while local delivery is slow or deferred. A rising p95 on the local mailer means mailbox writes are slow "+
						"(EFS, quota) or procmail fails and retries; see the local delivery failure ratio.",
					nil, nil),
			}},
			{Title: "Traffic", Panels: []Panel{
				loginTraffic,
				perMinuteUnit(Panel{
					Title: "Messages received",
					Description: "Messages the imap tier's sendmail accepted into its queue per minute: inbound mail relayed by smtp-in. " +
						"It follows smtp-in's relays; a drop to zero while smtp-in receives mail means the relay to imap fails (see the smtp-in dashboard).",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum", "sendmail_messages_received_total", on()), Legend: "received"}},
				}),
				deliveriesByStatus("Local deliveries by status",
					"Delivery attempts into the mailboxes (mailers local and procmail) per minute, by outcome: sent, deferred (retried), bounced (returned). "+
						"Deferred or bounced local deliveries are mail that reached the tier but not the user: see the failure ratio below.",
					localMailers, 8),
				{
					Title: "Active IMAP sessions",
					Description: "IMAP sessions logged in now, per task, as Dovecot's anvil counts them (what doveadm who lists): connections still at the login stage are not counted, " +
						"hibernated IDLE sessions are. Needs --collector.anvil and the anvil socket shared with the sidecar (docs/collectors.md). " +
						"A drop to zero with logins going on means sessions end at once (imap process crashes: see the mail log).",
					Kind:    TimeSeries,
					Unit:    "none",
					W:       24,
					Targets: []Target{{Expr: "sum by (instance) (dovecot_sessions{" + on(`service="imap"`) + "})", Legend: "{{instance}}"}},
				},
			}},
			{Title: "Errors", Panels: []Panel{
				loginRatio,
				loginReasons,
				authFailures(8),
				{
					Title: "Local delivery failure ratio",
					Description: "Share of delivery attempts into the mailboxes (local, procmail) that were deferred or bounced. " +
						"Red above 1% over 5 minutes fires SendmailLocalDeliveryFailuresHigh (critical): mail reaches the tier but not the mailboxes. " +
						"Look for over-quota users and unknown users in the mail log, a full or slow EFS, and procmail errors.",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.01, Red}},
					Runbooks: []string{"SendmailLocalDeliveryFailuresHigh"},
					W:        8,
					Targets:  []Target{{Expr: fmt.Sprintf("sum(%s) / sum(%s)", localFailed, localAll), Legend: "failure ratio"}},
				},
				perMinuteUnit(Panel{
					Title: "LDA and LMTP deliveries",
					Description: "Messages Dovecot's LDA (dovecot-lda) and LMTP saved into mailboxes or failed to, per minute. " +
						"Failed deliveries are over quota, unknown users or mailbox errors: the message goes back to sendmail, which defers or bounces it. " +
						"A rise of failed with saved steady is a few users (quota); failed for everyone is the mail store (EFS, permissions).",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (agent, result)", "dovecot_deliveries_total", on()), Legend: "{{agent}} {{result}}"}},
				}),
				{
					Title: "LDA and LMTP failure ratio",
					Description: "Share of the messages Dovecot's LDA and LMTP tried to save into a mailbox that failed. " +
						"Red above 1% over 5 minutes fires DovecotDeliveryFailuresHigh (critical): mail reaches the tier but not the mailboxes. " +
						"Over-quota users raise it when traffic is low; failures for everyone are the mail store (EFS, permissions, space).",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.01, Red}},
					Runbooks: []string{"DovecotDeliveryFailuresHigh"},
					W:        8,
					Targets:  []Target{{Expr: fmt.Sprintf("sum(%s) / sum(%s)", dovecotFailed, dovecotAll), Legend: "failure ratio"}},
				},
				deferredAndBounced(8),
				deferralsByReason(8),
				deferralsByMailer(8),
			}},
			{Title: "Saturation", Panels: []Panel{
				queueDepth("Messages waiting in each imap task's own queue (the imap tier's queue is not shared). "+
					"No alert on this tier: a growing queue here means local delivery is deferred; see the local delivery failure ratio and the deferral reasons.",
					false, nil, nil, 8),
				oldestMessage(false, 8),
				fdsVsLimit([]string{"dovecot", "sendmail"}, 8),
				fail2banPanels(12)[0],
				fail2banPanels(12)[1],
			}},
			exporterRow(),
		},
	}
}
