package dashboards

import "fmt"

// overview puts the three tiers side by side, one column each (imap,
// smtp-in, smtp-out), one row per golden signal, under the alerts that are
// firing. Every cell is a stat drawn in the colour of the alert threshold
// it is measured against, and links to its tier's dashboard.
func overview() Dashboard {
	alerts := func(severity string) string {
		return fmt.Sprintf(`count(ALERTS{alertstate="firing", severity=%q, tier=~"$tier"}) or vector(0)`, severity)
	}
	return Dashboard{
		File:  "overview.json",
		UID:   "mailtier-overview",
		Title: "Mail tiers: overview",
		Description: "The alerts firing now, and the three mail tiers side by side (imap, smtp-in, smtp-out) by the four golden signals, " +
			"each against its alert threshold. Open a tier's dashboard from any of its cells.",
		Tags: []string{"mailtier"},
		Rows: []Row{
			{Title: "Alerts", Panels: []Panel{
				{
					Title: "Critical alerts firing",
					Description: "Critical alerts firing now on the selected tiers: each one pages. Open the table beside it for which, and follow the alert's runbook. " +
						"Zero is green.",
					Kind:    Stat,
					Unit:    "none",
					Steps:   []Step{{1, Red}},
					W:       4,
					H:       8,
					Targets: []Target{{Expr: alerts("critical"), Legend: "critical"}},
					Links:   []Link{{Title: "Alert list and runbooks", URL: "https://github.com/cabalmail/mailtier/blob/main/docs/alerts.md"}},
				},
				{
					Title: "Warnings firing",
					Description: "Warning alerts firing now on the selected tiers: they notify without waking anyone. Each has a runbook; a warning that stays for days " +
						"is a threshold to tune or a problem to schedule.",
					Kind:    Stat,
					Unit:    "none",
					Steps:   []Step{{1, Orange}},
					W:       4,
					H:       8,
					Targets: []Target{{Expr: alerts("warning"), Legend: "warning"}},
					Links:   []Link{{Title: "Alert list and runbooks", URL: "https://github.com/cabalmail/mailtier/blob/main/docs/alerts.md"}},
				},
				{
					Title: "Firing alerts",
					Description: "Every alert firing now on the selected tiers, with its severity, tier and instance. Click an alert name for its runbook. " +
						"Empty is the normal state. Alerts of the AWS tiers (api, data, auth, frontend, platform) show when the tier variable includes them (All does).",
					Kind:    Table,
					Unit:    "none",
					W:       16,
					H:       8,
					Columns: []string{"alertname", "severity", "tier", "instance"},
					Targets: []Target{{
						Expr:    `sum by (alertname, severity, tier, instance) (ALERTS{alertstate="firing", tier=~"$tier"})`,
						Instant: true,
					}},
				},
			}},
			{Title: "Latency", Panels: []Panel{
				tierStat("imap", "IMAP command p95",
					"p95 of the time Dovecot takes to answer an IMAP command (IDLE excluded). Above 1 s for 10 minutes fires DovecotImapCommandLatencyHigh: "+
						"clients feel slow. Open the imap dashboard: EFS I/O, CPU, file descriptors.",
					"s", quantile("0.95", "dovecot_imap_command_duration_seconds", "", onTier("imap")),
					[]Step{{1, Orange}}, []string{"DovecotImapCommandLatencyHigh"}, 8),
				tierStat("smtp-in", "time in queue p95",
					"p95 of the time inbound mail waits in the smtp-in queue before its relay to imap. Above 60 s for 10 minutes fires SendmailInboundQueueDelayHigh. "+
						"Open the smtp-in dashboard: relay failures and deferral reasons.",
					"s", quantile("0.95", "sendmail_delivery_delay_seconds", "", onTier("smtp-in", `status="sent"`)),
					[]Step{{60, Orange}}, []string{"SendmailInboundQueueDelayHigh"}, 8),
				tierStat("smtp-out", "time in queue p95",
					"p95 of the time from submission to the relay to the remote server. Above 30 s for 10 minutes fires SendmailSubmissionRelayDelayHigh. "+
						"Open the smtp-out dashboard: deferral reasons, rate limiting, DKIM signing time.",
					"s", quantile("0.95", "sendmail_delivery_delay_seconds", "", onTier("smtp-out", `status="sent"`)),
					[]Step{{30, Orange}}, []string{"SendmailSubmissionRelayDelayHigh"}, 4),
				tierStat("smtp-out", "DKIM signing p95",
					"p95 of OpenDKIM's signing time measured by the exporter's milter probe. Above 200 ms for 10 minutes fires OpendkimSigningLatencyHigh: "+
						"every outgoing message waits for it. Open the smtp-out dashboard.",
					"s", quantile("0.95", "opendkim_probe_duration_seconds", "", onTier("smtp-out")),
					[]Step{{0.2, Orange}}, []string{"OpendkimSigningLatencyHigh"}, 4),
			}},
			{Title: "Traffic", Panels: []Panel{
				tierStat("imap", "IMAP logins",
					"Successful IMAP logins per minute. No alert: zero at a busy hour means users cannot reach IMAP (probes) or cannot authenticate (see the errors row).",
					"cpm", perMinute("sum", "dovecot_logins_total", onTier("imap", `service="imap"`)), nil, nil, 8),
				tierStat("smtp-in", "messages received",
					"Inbound messages accepted per minute. No alert: zero at a busy hour means port 25 is unreachable (probes) or everything is refused (see the errors row).",
					"cpm", perMinute("sum", "sendmail_messages_received_total", onTier("smtp-in")), nil, nil, 8),
				tierStat("smtp-out", "messages submitted",
					"Messages users submitted (accepted into the outbound queue) per minute. No alert: zero at a busy hour means submission (587, 465) is unreachable or logins fail.",
					"cpm", perMinute("sum", "sendmail_messages_received_total", onTier("smtp-out")), nil, nil, 8),
			}},
			{Title: "Errors", Panels: []Panel{
				tierStat("imap", "login failure ratio",
					"Share of IMAP logins that failed, known bots excluded. Above 20% over 5 minutes fires DovecotImapAuthFailuresHigh: users are locked out "+
						"or the password backend (Cognito) fails.",
					"percentunit", loginFailureRatio("imap", onTier("imap", `service="imap"`)),
					[]Step{{0.2, Orange}}, []string{"DovecotImapAuthFailuresHigh"}, 8),
				tierStat("smtp-in", "non-spam reject ratio",
					"Share of SMTP transactions refused for a non-spam reason (relaying denied, unknown user, too large, other). Above 2% over 10 minutes fires SendmailRejectsHigh: "+
						"legitimate mail may be refused.",
					"percentunit", fmt.Sprintf("sum(%[1]s) / (sum(%[2]s) + sum(%[1]s))",
						rate("sendmail_rejects_total", onTier("smtp-in", nonSpamRejects)), rate("sendmail_messages_received_total", onTier("smtp-in"))),
					[]Step{{0.02, Orange}}, []string{"SendmailRejectsHigh"}, 8),
				tierStat("smtp-out", "remote bounce ratio",
					"Share of final outcomes of outgoing mail that remote servers rejected permanently (5xx). Above 5% over 30 minutes fires SendmailOutboundRejectsHigh (critical): "+
						"users' mail bounces.",
					"percentunit", fmt.Sprintf("sum(%s) / sum(%s)",
						rate("sendmail_deliveries_total", onTier("smtp-out", remoteMailers, `status="bounced"`)),
						rate("sendmail_deliveries_total", onTier("smtp-out", remoteMailers, `status=~"sent|bounced"`))),
					[]Step{{0.05, Red}}, []string{"SendmailOutboundRejectsHigh"}, 8),
				tierStat("imap", "local delivery failure ratio",
					"Share of deliveries into the mailboxes that were deferred or bounced. Above 1% over 5 minutes fires SendmailLocalDeliveryFailuresHigh (critical): "+
						"mail reaches the tier but not the users.",
					"percentunit", fmt.Sprintf("sum(%s) / sum(%s)",
						rate("sendmail_deliveries_total", onTier("imap", localMailers, `status=~"deferred|bounced"`)),
						rate("sendmail_deliveries_total", onTier("imap", localMailers))),
					[]Step{{0.01, Red}}, []string{"SendmailLocalDeliveryFailuresHigh"}, 8),
				tierStat("smtp-in", "relay to imap failure ratio",
					"Share of smtp-in's relays to the imap tier that were deferred or bounced. Above 1% over 5 minutes fires SendmailRelayToImapFailuresHigh (critical): "+
						"inbound mail piles up or returns.",
					"percentunit", fmt.Sprintf("sum(%s) / sum(%s)",
						rate("sendmail_deliveries_total", onTier("smtp-in", remoteMailers, `status=~"deferred|bounced"`)),
						rate("sendmail_deliveries_total", onTier("smtp-in", remoteMailers))),
					[]Step{{0.01, Red}}, []string{"SendmailRelayToImapFailuresHigh"}, 8),
				tierStat("smtp-out", "DKIM signing failures",
					"Messages OpenDKIM failed to sign, per minute. Any, for 5 minutes, fires OpendkimSigningFailures: mail leaves unsigned.",
					"cpm", perMinute("sum", "opendkim_sign_failures_total", onTier("smtp-out")),
					[]Step{{anyRate, Orange}}, []string{"OpendkimSigningFailures"}, 4),
				tierStat("smtp-out", "submission login failure ratio",
					"Share of submission logins (587, 465) that failed, known bots excluded. Above 20% over 5 minutes fires DovecotSubmissionAuthFailuresHigh: users cannot send.",
					"percentunit", loginFailureRatio("submission", onTier("smtp-out", `service="submission"`)),
					[]Step{{0.2, Orange}}, []string{"DovecotSubmissionAuthFailuresHigh"}, 4),
			}},
			{Title: "Saturation", Panels: []Panel{
				tierStat("imap", "queue depth",
					"Messages waiting in the imap tasks' own queues, summed. No alert on this tier: a growing queue means local delivery is deferred.",
					"short", `sum(sendmail_queue_messages{`+onTier("imap")+`})`, nil, nil, 4),
				tierStat("imap", "file descriptors used",
					"Open file descriptors of the dovecot and sendmail processes closest to their limit, as a share of it. Above 80% fires ProcessFdsNearLimit: "+
						"at the limit connections are refused.",
					"percentunit", "", []Step{{0.8, Orange}}, []string{"ProcessFdsNearLimit"}, 4),
				tierStat("smtp-in", "queue depth",
					"Messages waiting in the shared inbound queue. Above 50 for 15 minutes fires SendmailQueueDepthHigh (warning), above 500 (critical): inbound mail is not reaching imap.",
					"short", `max(sendmail_queue_messages{`+onTier("smtp-in")+`})`,
					[]Step{{50, Orange}, {500, Red}}, []string{"SendmailQueueDepthHigh"}, 4),
				tierStat("smtp-in", "addresses banned",
					"Addresses fail2ban holds banned: the brute-force signal. No alert; a sudden climb is an attack in progress.",
					"short", `sum(fail2ban_banned{`+onTier("smtp-in")+`})`, nil, nil, 4),
				tierStat("smtp-out", "queue depth",
					"Messages waiting in the shared outbound queue. Above 50 for 15 minutes fires SendmailQueueDepthHigh: deliveries to the Internet fail or are slow.",
					"short", `max(sendmail_queue_messages{`+onTier("smtp-out")+`})`,
					[]Step{{50, Orange}}, []string{"SendmailQueueDepthHigh"}, 4),
				tierStat("smtp-out", "remote rate limiting",
					"Deliveries deferred per minute because remote servers throttle this one: the reputation signal. Any, continuously for 30 minutes, fires SendmailRemoteRateLimited.",
					"cpm", perMinute("sum", "sendmail_deferrals_total", onTier("smtp-out", `reason="rate_limited"`)),
					[]Step{{anyRate, Orange}}, []string{"SendmailRemoteRateLimited"}, 4),
			}},
			{Title: "Exporter health", Panels: []Panel{
				{
					Title: "Exporters up",
					Description: "Per tier, whether Prometheus scrapes every exporter sidecar (the minimum of up over its tasks). Red means that tier's panels and alerts are blind: " +
						"see MailtierExporterDown.",
					Kind:     Stat,
					Unit:     "none",
					Base:     Red,
					Steps:    []Step{{1, Green}},
					Mappings: map[string]string{"0": "down", "1": "up"},
					Runbooks: []string{"MailtierExporterDown"},
					W:        8,
					Targets:  []Target{{Expr: `min by (tier) (up{job="mailtier", ` + on() + `})`, Legend: "{{tier}}"}},
				},
				{
					Title: "Stalest log by tier",
					Description: "Per tier, the time since the exporter last read a line from the log that has been silent longest. Above 30 minutes (for 5 minutes) fires MailtierLogStale: " +
						"a log stopped moving or the exporter follows the wrong file.",
					Kind:     TimeSeries,
					Unit:     "s",
					Steps:    []Step{{1800, Orange}},
					Runbooks: []string{"MailtierLogStale"},
					W:        8,
					Targets: []Target{{
						Expr:   `time() - min by (tier) (mailtier_exporter_last_line_timestamp_seconds{` + on() + `} > 0)`,
						Legend: "{{tier}}",
					}},
				},
				{
					Title: "Unmatched lines by tier",
					Description: "Per tier, the share of log lines the collectors claimed but did not recognise. Above 20% for 15 minutes fires MailtierUnmatchedLinesHigh (info): " +
						"a daemon's log format changed and its metrics undercount.",
					Kind:     TimeSeries,
					Unit:     "percentunit",
					Steps:    []Step{{0.2, Orange}},
					Runbooks: []string{"MailtierUnmatchedLinesHigh"},
					W:        8,
					Targets: []Target{{
						Expr: fmt.Sprintf("sum by (tier) (%s) / sum by (tier) (%s)",
							rate("mailtier_exporter_collector_lines_total", on(`result="unmatched"`)),
							rate("mailtier_exporter_collector_lines_total", on())),
						Legend: "{{tier}}",
					}},
				},
			}},
		},
	}
}

// loginFailureRatio is the failed share of a Dovecot service's logins,
// known bots excluded, on the given matchers (which name the service).
func loginFailureRatio(service, matchers string) string {
	fails := rate("dovecot_login_failures_total", matchers+`, known_bot="false"`)
	return fmt.Sprintf("sum(%s) / (sum(%s) + sum(%s))", fails, fails, rate("dovecot_logins_total", matchers))
}

// tierStat is one cell of the overview: a stat of one tier, titled
// "<tier>: <what>", linking to the tier's dashboard. An empty expr is the
// file descriptor cell, one value per daemon.
func tierStat(tier, what, description, unit, expr string, steps []Step, runbooks []string, w int) Panel {
	targets := []Target{{Expr: expr, Legend: what}}
	if expr == "" {
		targets = nil
		for _, d := range []string{"dovecot", "sendmail"} {
			targets = append(targets, Target{
				Expr:   fmt.Sprintf("max(%[1]s_process_open_fds{%[2]s} / (%[1]s_process_max_fds{%[2]s} > 0))", d, onTier(tier)),
				Legend: d,
			})
		}
	}
	return Panel{
		Title:       tier + ": " + what,
		Description: description,
		Kind:        Stat,
		Unit:        unit,
		Steps:       steps,
		Runbooks:    runbooks,
		Links: []Link{{
			Title: tier + " dashboard",
			URL:   "/d/mailtier-" + tier + "?${__url_time_range}&${instance:queryparam}",
		}},
		W:       w,
		H:       5,
		Targets: targets,
	}
}
