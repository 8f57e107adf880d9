package dashboards

import "fmt"

// smtpOut is the smtp-out tier: Dovecot submission (587, 465) taking mail
// from users, sendmail relaying it to the Internet, OpenDKIM signing it.
func smtpOut() Dashboard {
	loginTraffic, loginRatio, loginReasons := loginPanels("submission", "DovecotSubmissionAuthFailuresHigh")
	bounced := rate("sendmail_deliveries_total", on(remoteMailers, `status="bounced"`))
	final := rate("sendmail_deliveries_total", on(remoteMailers, `status=~"sent|bounced"`))
	return Dashboard{
		File:  "smtp-out.json",
		UID:   "mailtier-smtp-out",
		Title: "Mail tier: smtp-out",
		Description: "The smtp-out tier by the four golden signals: time from submission to relay and DKIM signing time, " +
			"submitted and signed messages, remote rejects, rate limiting and signing failures, and the saturation of the outbound queue.",
		Tags: []string{"mailtier", "smtp-out"},
		Tier: "smtp-out",
		Rows: []Row{
			{Title: "Latency", Panels: []Panel{
				timeInQueue("Time in queue by mailer",
					"p95 and p50 of the time from submission to the successful relay to the remote server, by mailer. "+
						"Red above 30 s (p95 over 5 minutes, for 10 minutes) fires SendmailSubmissionRelayDelayHigh: outgoing mail is slow to leave. "+
						"Check the deferral reasons (remote rate limiting, DNS, connection timeouts), the DKIM signing time, and the queue depth.",
					[]Step{{30, Orange}}, []string{"SendmailSubmissionRelayDelayHigh"}),
				attemptDuration(6),
				{
					Title: "DKIM signing time",
					Description: "p95 and p50 of the time OpenDKIM takes to sign a test message, measured by the exporter's milter probe. " +
						"Every outgoing message waits for the milter: red above 200 ms for 10 minutes fires OpendkimSigningLatencyHigh. " +
						"Check the host's CPU, OpenDKIM's key table (a key read from a slow file system) and its restarts.",
					Kind:     TimeSeries,
					Unit:     "s",
					Steps:    []Step{{0.2, Orange}},
					Runbooks: []string{"OpendkimSigningLatencyHigh"},
					W:        6,
					Targets: []Target{
						{Expr: quantile("0.95", "opendkim_probe_duration_seconds", "", on()), Legend: "p95"},
						{Expr: quantile("0.5", "opendkim_probe_duration_seconds", "", on()), Legend: "p50"},
					},
				},
			}},
			{Title: "Traffic", Panels: []Panel{
				perMinuteUnit(Panel{
					Title: "Submitted and signed messages",
					Description: "Messages accepted into the queue (submitted by users through Dovecot submission) and messages OpenDKIM signed, per minute. " +
						"The two lines should move together: signed falling below submitted means mail leaves unsigned (see the signing failures and the not-signed reasons).",
					Kind: TimeSeries,
					W:    8,
					Targets: []Target{
						{Expr: perMinute("sum", "sendmail_messages_received_total", on()), Legend: "submitted"},
						{Expr: perMinute("sum", "opendkim_messages_signed_total", on()), Legend: "DKIM-signed"},
					},
				}),
				deliveriesByStatus("Deliveries by status",
					"Delivery attempts per minute by outcome, all mailers: on smtp-out these are relays to remote servers (and local hand-offs). "+
						"Deferred attempts are retried; bounced ones return to the user (see the remote bounce ratio).",
					"", 8),
				loginTraffic,
				perMinuteUnit(Panel{
					Title: "Submission relays by result",
					Description: "Messages Dovecot submission handed to the local sendmail per minute, by result. Failed relays are users' messages refused before they reach the queue: " +
						"check that sendmail listens on the relay port and does not reject the submission host.",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (result)", "dovecot_submission_relays_total", on()), Legend: "{{result}}"}},
				}),
				perMinuteUnit(Panel{
					Title: "Messages not signed by reason",
					Description: "Messages OpenDKIM passed without signing, per minute, by reason. A sender domain missing from the signing table shows here: " +
						"users' mail leaves unsigned and is likely to be junked. Add the domain and its key, then check the signed line above.",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (reason)", "opendkim_messages_not_signed_total", on()), Legend: "{{reason}}"}},
				}),
				perMinuteUnit(Panel{
					Title: "Outbound STARTTLS",
					Description: "TLS handshakes with remote servers per minute, by result. Errors for a few destinations are theirs; " +
						"errors everywhere point at this tier's TLS client configuration or CA bundle.",
					Kind:    TimeSeries,
					W:       8,
					Targets: []Target{{Expr: perMinute("sum by (result)", "sendmail_starttls_total", on(`role="client"`)), Legend: "{{result}}"}},
				}),
			}},
			{Title: "Errors", Panels: []Panel{
				{
					Title: "Remote bounce ratio",
					Description: "Share of final outcomes of outgoing mail that were permanent (5xx) rejects by the remote server: bounced / (sent + bounced), remote mailers. " +
						"Red above 5% over 30 minutes fires SendmailOutboundRejectsHigh (critical): users' mail is bouncing. " +
						"Read the remote replies in the mail log: blocklisting, SPF/DKIM/DMARC failures (check the DKIM panels) or bad recipients.",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.05, Red}},
					Runbooks: []string{"SendmailOutboundRejectsHigh"},
					W:        8,
					Targets:  []Target{{Expr: fmt.Sprintf("sum(%s) / sum(%s)", bounced, final), Legend: "bounce ratio"}},
				},
				perMinuteUnit(Panel{
					Title: "Remote rate limiting",
					Description: "Deliveries deferred because a remote server throttles this one (the replies and DSN codes of --collector.sendmail.rate-limit-text and -dsn: \"rate limit\", \"too many\", 4.7.28, …; not other 4.7.x policy refusals), per minute: the reputation signal. " +
						"Any, continuously for 30 minutes, fires SendmailRemoteRateLimited. Check blocklists and the sending volume per user (a compromised account sending spam).",
					Kind:     TimeSeries,
					Steps:    []Step{{anyRate, Orange}},
					Runbooks: []string{"SendmailRemoteRateLimited"},
					W:        8,
					Targets:  []Target{{Expr: perMinute("sum", "sendmail_deferrals_total", on(`reason="rate_limited"`)), Legend: "rate limited"}},
				}),
				perMinuteUnit(Panel{
					Title: "DKIM signing failures by reason",
					Description: "Messages OpenDKIM failed to sign, per minute, by reason. Any, for 5 minutes, fires OpendkimSigningFailures: outgoing mail leaves unsigned " +
						"and is likely to be rejected or junked. A key error means the private key is missing, unreadable or does not match the DNS record.",
					Kind:     TimeSeries,
					Steps:    []Step{{anyRate, Orange}},
					Runbooks: []string{"OpendkimSigningFailures"},
					W:        8,
					Targets:  []Target{{Expr: perMinute("sum by (reason)", "opendkim_sign_failures_total", on()), Legend: "{{reason}}"}},
				}),
				loginRatio,
				loginReasons,
				deferralsByReason(8),
				deferredAndBounced(12),
				deferralsByMailer(12),
			}},
			{Title: "Saturation", Panels: []Panel{
				queueDepth("Messages waiting in the outbound queue, shared by every smtp-out task on EFS (so the maximum over tasks, not the sum). "+
					"Above 50 for 15 minutes fires SendmailQueueDepthHigh: deliveries to the Internet are failing or too slow; "+
					"growing by 10 in 30 minutes while successful deliveries halve fires SendmailQueueGrowingDeliveriesFalling. "+
					"Check the deferral reasons and remote rate limiting, then the queue runners.",
					true, []Step{{50, Orange}}, []string{"SendmailQueueDepthHigh", "SendmailQueueGrowingDeliveriesFalling"}, 6),
				oldestMessage(true, 6),
				queueBytes(6),
				{
					Title: "DKIM signing probe",
					Description: "Whether the exporter's milter probe got a signature from OpenDKIM at its last run (the minimum over the selected tasks). " +
						"Red for 5 minutes fires OpendkimProbeFailing: OpenDKIM is not answering or not signing, and outgoing mail waits or leaves unsigned. Restart OpenDKIM and read its log.",
					Kind:     Stat,
					Unit:     "none",
					Base:     Red,
					Steps:    []Step{{1, Green}},
					Mappings: map[string]string{"0": "failing", "1": "signing"},
					Runbooks: []string{"OpendkimProbeFailing"},
					W:        6,
					Targets:  []Target{{Expr: `min(opendkim_probe_success{` + on() + `})`, Legend: "probe"}},
				},
				fdsVsLimit([]string{"dovecot", "sendmail", "opendkim"}, 24),
			}},
			exporterRow(),
		},
	}
}
