package dashboards

import "fmt"

// attemptDuration is the p95 of the delivery attempts' own duration
// (xdelay=), by mailer: the remote's share of the time in queue.
func attemptDuration(w int) Panel {
	m := on(`status="sent"`)
	return Panel{
		Title: "Delivery attempt duration",
		Description: "p95 of the duration of the successful delivery attempts themselves (xdelay=: connection, TLS and SMTP dialogue with the next hop), by mailer. " +
			"No alert of its own. Against the time in queue it tells a slow next hop (both high) from mail that waits in the queue before an attempt (only the time in queue high: deferrals, queue runs).",
		Kind:    TimeSeries,
		Unit:    "s",
		W:       w,
		Targets: []Target{{Expr: quantile("0.95", "sendmail_delivery_xdelay_seconds", "mailer", m), Legend: "p95 {{mailer}}"}},
	}
}

// smtpIn is the smtp-in tier: sendmail receiving mail from the Internet on
// port 25, OpenDKIM and OpenDMARC checking it, and the relay to the imap
// tier.
func smtpIn() Dashboard {
	nonSpam := rate("sendmail_rejects_total", on(nonSpamRejects))
	received := rate("sendmail_messages_received_total", on())
	relayFailed := rate("sendmail_deliveries_total", on(remoteMailers, `status=~"deferred|bounced"`))
	relayAll := rate("sendmail_deliveries_total", on(remoteMailers))
	return Dashboard{
		File:  "smtp-in.json",
		UID:   "mailtier-smtp-in",
		Title: "Mail tier: smtp-in",
		Description: "The smtp-in tier by the four golden signals: time inbound mail spends in the queue, messages received, " +
			"rejects and relay failures to the imap tier, and the saturation of the shared inbound queue.",
		Tags: []string{"mailtier", "smtp-in"},
		Tier: "smtp-in",
		Rows: []Row{
			{Title: "Latency", Panels: []Panel{
				timeInQueue("Time in queue by mailer",
					"p95 and p50 of the time inbound mail waits in the smtp-in queue, from reception to its successful relay to the imap tier, by mailer. "+
						"Red above 60 s (p95 over 5 minutes, for 10 minutes) fires SendmailInboundQueueDelayHigh: inbound mail is slow to reach the mailboxes. "+
						"Check the relay failure ratio and deferral reasons (the imap tier refusing or unreachable), then the queue depth.",
					[]Step{{60, Orange}}, []string{"SendmailInboundQueueDelayHigh"}),
				attemptDuration(12),
			}},
			{Title: "Traffic", Panels: []Panel{
				perMinuteUnit(Panel{
					Title: "Messages received",
					Description: "Messages accepted into the queue per minute: inbound mail from the Internet. A drop to zero at a time of day with mail means port 25 is unreachable " +
						"(see the probe alerts) or everything is refused (see the rejects).",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum", "sendmail_messages_received_total", on()), Legend: "received"}},
				}),
				deliveriesByStatus("Deliveries by status",
					"Delivery attempts per minute by outcome, all mailers: on smtp-in nearly all of them are the relay to the imap tier. "+
						"Sent should follow the messages received; deferred and bounced are the relay failing (see the ratio below).",
					"", 8),
				perMinuteUnit(Panel{
					Title: "Inbound STARTTLS",
					Description: "TLS handshakes with sending servers per minute, by result. Errors are usually clients with broken TLS stacks; " +
						"errors for everyone after a certificate renewal point at the certificate or key sendmail loads.",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (result)", "sendmail_starttls_total", on(`role="server"`)), Legend: "{{result}}"}},
				}),
				perMinuteUnit(Panel{
					Title: "Sessions without mail and lost connections",
					Description: "SMTP sessions that ended without a MAIL command, and clients that vanished mid-session (by stage), per minute. " +
						"Mostly scanners and spam bots; a surge together with fds or fail2ban bans is a connection flood.",
					Kind: TimeSeries,
					W:    12,
					Targets: []Target{
						{Expr: perMinute("sum", "sendmail_sessions_without_mail_total", on()), Legend: "no MAIL"},
						{Expr: perMinute("sum by (stage)", "sendmail_connections_lost_total", on()), Legend: "lost after {{stage}}"},
					},
				}),
				perMinuteUnit(Panel{
					Title: "DKIM verifications by result",
					Description: "DKIM signatures of inbound mail OpenDKIM verified per minute, by result. No alert: failures are mostly the senders' problem. " +
						"A jump of failures for every sender points at this tier (DNS resolution from the task, or a header rewriting milter before OpenDKIM).",
					Kind:    TimeSeries,
					W:       12,
					Targets: []Target{{Expr: perMinute("sum by (result)", "opendkim_verifications_total", on()), Legend: "{{result}}"}},
				}),
				perMinuteUnit(Panel{
					Title: "SMTP connections",
					Description: "SMTP connections sendmail served per minute, counted once per serving process from its log (sendmail logs no line when it accepts a connection). " +
						"Against the messages received it tells mail from noise: scanners and bots connect without sending. Misses connections sendmail refuses before forking " +
						"(MaxDaemonChildren, ConnectionRateThrottle, load average): see docs/collectors.md.",
					Kind:    TimeSeries,
					W:       12,
					Targets: []Target{{Expr: perMinute("sum", "sendmail_smtp_sessions_total", on()), Legend: "connections"}},
				}),
				perMinuteUnit(Panel{
					Title: "DMARC results",
					Description: "Inbound messages OpenDMARC evaluated per minute, by DMARC result of their From: domain, and the messages it let through unevaluated. " +
						"No alert: fail is mostly forged or misconfigured senders. The messages sendmail rejected or quarantined at OpenDMARC's request come from sendmail's log (OpenDMARC logs no disposition); " +
						"with RejectFailures false, as cabal-infra runs it, there are none. " +
						"A jump of temperror for every sender points at DNS from this tier; none for everyone after a change points at OpenDMARC losing its DNS.",
					Kind: TimeSeries,
					W:    12,
					Targets: []Target{
						{Expr: perMinute("sum by (result)", "opendmarc_results_total", on()), Legend: "{{result}}"},
						{Expr: perMinute("sum", "opendmarc_messages_not_evaluated_total", on()), Legend: "not evaluated"},
						{Expr: perMinute("sum by (disposition)", "sendmail_dmarc_dispositions_total", on()), Legend: "disposition {{disposition}}"},
					},
				}),
			}},
			{Title: "Errors", Panels: []Panel{
				{
					Title: "Non-spam reject ratio",
					Description: "Share of SMTP transactions that ended in a 5xx reject for a reason that is not a spam defence (relaying denied, unknown user, message too large, other): " +
						"rejects / (messages received + rejects). Red above 2% over 10 minutes fires SendmailRejectsHigh: legitimate mail may be refused. " +
						"Look at the reasons panel: relaying_denied and user_unknown bursts usually follow a change of the address maps (reconfigure) or of the access database.",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.02, Orange}},
					Runbooks: []string{"SendmailRejectsHigh"},
					W:        8,
					Targets:  []Target{{Expr: fmt.Sprintf("sum(%s) / (sum(%s) + sum(%s))", nonSpam, received, nonSpam), Legend: "reject ratio"}},
				},
				perMinuteUnit(Panel{
					Title: "Rejects by reason",
					Description: "SMTP commands refused per minute, by reason. pregreet, access_denied, milter and vrfy are spam defences working; " +
						"relaying_denied, user_unknown and message_too_large count towards the non-spam ratio. A new reason dominating is the place to start.",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (reason)", "sendmail_rejects_total", on()), Legend: "{{reason}}"}},
				}),
				{
					Title: "Relay to imap failure ratio",
					Description: "Share of the deliveries smtp-in hands to the next hop (the imap tier) that were deferred or bounced. " +
						"Red above 1% over 5 minutes fires SendmailRelayToImapFailuresHigh (critical): inbound mail piles up in the smtp-in queue or is returned. " +
						"Check that the imap tier runs and accepts on port 25 (its dashboard, the probes), and the deferral reasons below.",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.01, Red}},
					Runbooks: []string{"SendmailRelayToImapFailuresHigh"},
					W:        8,
					Targets:  []Target{{Expr: fmt.Sprintf("sum(%s) / sum(%s)", relayFailed, relayAll), Legend: "failure ratio"}},
				},
				deferredAndBounced(8),
				deferralsByReason(8),
				deferralsByMailer(8),
			}},
			{Title: "Saturation", Panels: []Panel{
				queueDepth("Messages waiting in the inbound queue, shared by every smtp-in task on EFS (so the maximum over tasks, not the sum). "+
					"Above 50 for 15 minutes fires SendmailQueueDepthHigh (warning), above 500 at once (critical): inbound mail is not reaching the imap tier; "+
					"growing by 10 in 30 minutes while successful deliveries halve fires SendmailQueueGrowingDeliveriesFalling. "+
					"Check the relay failure ratio and the deferral reasons, then whether the queue runners work (sendmail restarts, EFS I/O).",
					true, []Step{{50, Orange}, {500, Red}}, []string{"SendmailQueueDepthHigh", "SendmailQueueGrowingDeliveriesFalling"}, 8),
				oldestMessage(true, 8),
				queueBytes(8),
				fail2banPanels(8)[0],
				fail2banPanels(8)[1],
				fdsVsLimit([]string{"sendmail", "opendkim"}, 8),
			}},
			exporterRow(),
		},
	}
}
