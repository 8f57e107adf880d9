package dashboards

import "fmt"
import "strings"

// Query building blocks. Every selector names the tier and the instance
// (the exporter sidecar of one task), every range is $__rate_interval, and
// rates of events are shown per minute, as the golden-signal tables of the
// monitoring plan count them.

// on returns the matchers of a query on the tier of the dashboard's $tier
// variable, plus extra matchers.
func on(extra ...string) string {
	return strings.Join(append([]string{`tier=~"$tier"`, `instance=~"$instance"`}, extra...), ", ")
}

// onTier returns the matchers of a query on one named tier (the overview's
// columns), plus extra matchers.
func onTier(tier string, extra ...string) string {
	return strings.Join(append([]string{fmt.Sprintf("tier=%q", tier), `instance=~"$instance"`}, extra...), ", ")
}

// rate is the per-second rate of a counter over $__rate_interval.
func rate(metric, matchers string) string {
	return fmt.Sprintf("rate(%s{%s}[$__rate_interval])", metric, matchers)
}

// perMinute aggregates the rate of a counter with agg ("sum", "sum by
// (status)") and scales it to events per minute.
func perMinute(agg, metric, matchers string) string {
	return fmt.Sprintf("%s (%s) * 60", agg, rate(metric, matchers))
}

// quantile is the q-quantile of a histogram over $__rate_interval, from
// its buckets summed by le and the labels in by.
func quantile(q, metric, by, matchers string) string {
	groups := "le"
	if by != "" {
		groups += ", " + by
	}
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s_bucket{%s}[$__rate_interval])))", q, groups, metric, matchers)
}

// Mailer groups, as in rules/sendmail.rules.yml.
const (
	localMailers  = `mailer=~"local|procmail"`
	remoteMailers = `mailer=~"esmtp|smtp|smtp8|dsmtp|relay"`
	// nonSpamRejects are the reject reasons that are not spam defences.
	nonSpamRejects = `reason=~"relaying_denied|user_unknown|message_too_large|other"`
	// anyRate is a threshold of "any" event: one event in a rate window
	// of a few minutes is far above it, and zero is below.
	anyRate = 0.001
)

// perMinuteUnit gives a panel of per-minute rates its unit and axis label.
func perMinuteUnit(p Panel) Panel {
	p.Unit = "cpm"
	if p.AxisLabel == "" {
		p.AxisLabel = "per minute"
	}
	return p
}

// timeInQueue is the p50 and p95 of sendmail's time in queue (delay=) of
// successful deliveries, by mailer.
func timeInQueue(title, description string, steps []Step, runbooks []string) Panel {
	m := on(`status="sent"`)
	return Panel{
		Title:       title,
		Description: description,
		Kind:        TimeSeries,
		Unit:        "s",
		Steps:       steps,
		Runbooks:    runbooks,
		W:           12,
		Targets: []Target{
			{Expr: quantile("0.95", "sendmail_delivery_delay_seconds", "mailer", m), Legend: "p95 {{mailer}}"},
			{Expr: quantile("0.5", "sendmail_delivery_delay_seconds", "mailer", m), Legend: "p50 {{mailer}}"},
		},
	}
}

// deferralsByReason is shared by the three tiers.
func deferralsByReason(w int) Panel {
	return perMinuteUnit(Panel{
		Title: "Deferrals by reason",
		Description: "Delivery attempts sendmail deferred (4xx or a connection problem), by cause, per minute. " +
			"Deferred mail stays in the queue and is retried. A rise in connection_refused, connection_timeout or host_unknown points at the next hop or DNS; " +
			"rate_limited means a remote server is throttling this one (a reputation warning); policy is a remote refusing it by policy for now (any other 4.7.x: reverse DNS, greylisting, a blocklist); remote_tempfail is the remote's own 4xx. " +
			"When deferrals climb, look at the queue depth and the oldest message, and at which mailer they are on.",
		Kind: TimeSeries,
		W:    w,
		Targets: []Target{
			{Expr: perMinute("sum by (reason)", "sendmail_deferrals_total", on()), Legend: "{{reason}}"},
		},
	})
}

// deferralsByMailer is shared by the three tiers.
func deferralsByMailer(w int) Panel {
	return perMinuteUnit(Panel{
		Title: "Deferrals by mailer",
		Description: "Deferred delivery attempts per minute by mailer, i.e. by next hop. More than 80% of a tier's deferrals (over 10 in 15 minutes) on one mailer for 15 minutes, " +
			"while the tier delivers through others, fires SendmailDeferralsConcentrated: the next hop behind that mailer is failing, not the tier. " +
			"Check that destination (the imap tier for relay, the Internet for esmtp, the mailboxes for local) and the deferral reasons.",
		Kind:     TimeSeries,
		Runbooks: []string{"SendmailDeferralsConcentrated"},
		W:        w,
		Targets: []Target{
			{Expr: perMinute("sum by (mailer)", "sendmail_deferrals_total", on()), Legend: "{{mailer}}"},
		},
	})
}

// deferredAndBounced shows failed delivery attempts by status, and the
// DSNs sendmail generated.
func deferredAndBounced(w int) Panel {
	return perMinuteUnit(Panel{
		Title: "Deferrals and bounces",
		Description: "Delivery attempts that were deferred (temporary, retried) or bounced (permanent, returned to the sender), per minute, " +
			"and the delivery status notifications (DSNs) sendmail generated. Bounces reach users as returned mail: " +
			"find the failing mailer in the time-in-queue and deliveries panels, then the remote reply in the mail log.",
		Kind: TimeSeries,
		W:    w,
		Targets: []Target{
			{Expr: perMinute("sum by (status)", "sendmail_deliveries_total", on(`status=~"deferred|bounced"`)), Legend: "{{status}}"},
			{Expr: perMinute("sum", "sendmail_dsns_total", on()), Legend: "DSNs generated"},
		},
	})
}

// deliveriesByStatus shows delivery attempts of the mailers selected by
// mailers ("" for all), by status.
func deliveriesByStatus(title, description, mailers string, w int) Panel {
	m := on()
	if mailers != "" {
		m = on(mailers)
	}
	return perMinuteUnit(Panel{
		Title:       title,
		Description: description,
		Kind:        TimeSeries,
		W:           w,
		Targets: []Target{
			{Expr: perMinute("sum by (status)", "sendmail_deliveries_total", m), Legend: "{{status}}"},
		},
	})
}

// queueDepth shows the messages waiting in sendmail's queue. shared says
// whether the tier's tasks share one queue directory (smtp-in, smtp-out on
// EFS): then every task reports the same queue and the panel shows the
// maximum, as the alerts do, rather than one line per task.
func queueDepth(description string, shared bool, steps []Step, runbooks []string, w int) Panel {
	expr, legend := `max by (queue) (sendmail_queue_messages{`+on()+`})`, "{{queue}}"
	if !shared {
		expr, legend = `sum by (instance) (sendmail_queue_messages{`+on()+`})`, "{{instance}}"
	}
	return Panel{
		Title:       "Queue depth",
		Description: description,
		Kind:        TimeSeries,
		Unit:        "short",
		AxisLabel:   "messages",
		Steps:       steps,
		Runbooks:    runbooks,
		W:           w,
		Targets:     []Target{{Expr: expr, Legend: legend}},
	}
}

// oldestMessage shows the age of the oldest message in the queue.
func oldestMessage(shared bool, w int) Panel {
	expr, legend := `max by (queue) (sendmail_queue_oldest_message_age_seconds{`+on()+`})`, "{{queue}}"
	if !shared {
		expr, legend = `max by (instance) (sendmail_queue_oldest_message_age_seconds{`+on()+`})`, "{{instance}}"
	}
	return Panel{
		Title: "Oldest queued message",
		Description: "How long the oldest message in the queue has waited, from its reception. " +
			"A queue that drains keeps this low even when it is deep; an age that only grows means one message (or one destination) is stuck: " +
			"find it with mailq, and its last deferral reason in the mail log. sendmail returns a message after its queue lifetime (5 days by default).",
		Kind:    TimeSeries,
		Unit:    "s",
		W:       w,
		Targets: []Target{{Expr: expr, Legend: legend}},
	}
}

// queueBytes shows the bytes of message bodies in the queue.
func queueBytes(w int) Panel {
	return Panel{
		Title: "Queue size",
		Description: "Bytes of message bodies waiting in the queue (df files). The queue lives on the shared EFS filesystem: " +
			"a large queue costs EFS throughput that every tier shares. A jump with a steady depth means a few large messages are stuck.",
		Kind:    TimeSeries,
		Unit:    "bytes",
		W:       w,
		Targets: []Target{{Expr: `max by (queue) (sendmail_queue_size_bytes{` + on() + `})`, Legend: "{{queue}}"}},
	}
}

// fdsVsLimit shows, for each daemon, the open file descriptors of the
// process closest to its limit as a share of that limit.
func fdsVsLimit(daemons []string, w int) Panel {
	var targets []Target
	for _, d := range daemons {
		targets = append(targets, Target{
			Expr:   fmt.Sprintf("max by (instance) (%[1]s_process_open_fds{%[2]s} / (%[1]s_process_max_fds{%[2]s} > 0))", d, on()),
			Legend: d + " {{instance}}",
		})
	}
	return Panel{
		Title: "Open file descriptors vs limit",
		Description: "Open file descriptors of the " + strings.Join(daemons, ", ") + " process closest to its limit, as a share of that limit (RLIMIT_NOFILE), per task. " +
			"Red above 80% fires ProcessFdsNearLimit: at the limit the daemon refuses connections and cannot open mailboxes or queue files. " +
			"Look for a connection flood (fail2ban, rejects) or a descriptor leak, and raise the task's nofile ulimit if the load is real.",
		Kind:     TimeSeries,
		Unit:     "percentunit",
		Steps:    []Step{{0.8, Orange}},
		Runbooks: []string{"ProcessFdsNearLimit"},
		W:        w,
		Targets:  targets,
	}
}

// fail2banPanels shows the addresses fail2ban holds banned now and the
// bans it makes.
func fail2banPanels(w int) []Panel {
	return []Panel{
		{
			Title: "Addresses banned now",
			Description: "Addresses fail2ban holds banned, by jail: the brute-force signal. No alert: a steady background of bans is normal on an Internet-facing port. " +
				"A sudden climb is an attack in progress; check that login failures of real users (the known-bots-excluded ratio) stay low, and that fds and connections are not saturated.",
			Kind:      TimeSeries,
			Unit:      "short",
			AxisLabel: "addresses",
			W:         w,
			Targets:   []Target{{Expr: `sum by (jail) (fail2ban_banned{` + on() + `})`, Legend: "{{jail}}"}},
		},
		perMinuteUnit(Panel{
			Title: "Bans and filter matches",
			Description: "New bans and filter matches (log lines a jail's filter caught) per minute, by jail. Many matches with few bans means attackers stay under maxretry; " +
				"bans without matches means the jail's log path is wrong.",
			Kind: TimeSeries,
			W:    w,
			Targets: []Target{
				{Expr: perMinute("sum by (jail)", "fail2ban_bans_total", on()), Legend: "bans {{jail}}"},
				{Expr: perMinute("sum by (jail)", "fail2ban_matches_total", on()), Legend: "matches {{jail}}"},
			},
		}),
	}
}

// loginPanels shows the logins of a Dovecot service and their failures,
// known bots apart, and the failure ratio the alert watches.
func loginPanels(service, alert string) (traffic, failRatio, failReasons Panel) {
	svc := fmt.Sprintf("service=%q", service)
	traffic = perMinuteUnit(Panel{
		Title: fmt.Sprintf("Logins (%s)", service),
		Description: fmt.Sprintf("Successful %s logins, and failed login sessions split into real clients and known bots (known_bot), per minute. ", service) +
			"Traffic drops to zero when clients cannot reach the tier (check the probes) or when authentication is failing for everyone (check the failure ratio and Cognito).",
		Kind: TimeSeries,
		W:    8,
		Targets: []Target{
			{Expr: perMinute("sum", "dovecot_logins_total", on(svc)), Legend: "logins"},
			{Expr: perMinute("sum", "dovecot_login_failures_total", on(svc, `known_bot="false"`)), Legend: "failures"},
			{Expr: perMinute("sum", "dovecot_login_failures_total", on(svc, `known_bot="true"`)), Legend: "failures (known bots)"},
		},
	})
	fails := rate("dovecot_login_failures_total", on(svc, `known_bot="false"`))
	failRatio = Panel{
		Title: fmt.Sprintf("Login failure ratio (%s, known bots excluded)", service),
		Description: fmt.Sprintf("Share of %s login attempts that failed, known bots excluded: failures / (failures + logins). ", service) +
			fmt.Sprintf("Red above 20%% over 5 minutes fires %s. Users are locked out, or the Cognito-backed password check is failing: ", alert) +
			"look at the reasons panel (auth_failed against tls_failed), the password-check failures, and Cognito's sign-in alerts.",
		Kind:     TimeSeries,
		Unit:     "percentunit",
		Steps:    []Step{{0.2, Orange}},
		Runbooks: []string{alert},
		W:        8,
		Targets: []Target{{
			Expr:   fmt.Sprintf("sum(%s) / (sum(%s) + sum(%s))", fails, fails, rate("dovecot_logins_total", on(svc))),
			Legend: "failure ratio",
		}},
	}
	failReasons = perMinuteUnit(Panel{
		Title: fmt.Sprintf("Login failures by reason (%s)", service),
		Description: "Failed login sessions by reason, known bots shown apart, per minute: auth_failed (wrong password or user), no_auth (the client left before authenticating), " +
			"tls_failed (the TLS handshake failed). A burst of tls_failed after a certificate change points at the certificate; auth_failed from real clients at the password backend.",
		Kind: TimeSeries,
		W:    8,
		Targets: []Target{
			{Expr: perMinute("sum by (reason, known_bot)", "dovecot_login_failures_total", on(svc)), Legend: "{{reason}} (known bot: {{known_bot}})"},
		},
	})
	return traffic, failRatio, failReasons
}

// authFailures shows the password checks Dovecot's auth process failed.
func authFailures(w int) Panel {
	return perMinuteUnit(Panel{
		Title: "Password check failures by reason",
		Description: "Password checks Dovecot's auth process failed, per minute: password_mismatch (a known user, a wrong password) or unknown_user. " +
			"A rise of password_mismatch for real users with no bot activity points at the password backend (PAM to Cognito); unknown_user bursts are usually guessing.",
		Kind:    TimeSeries,
		W:       w,
		Targets: []Target{{Expr: perMinute("sum by (reason)", "dovecot_auth_failures_total", on()), Legend: "{{reason}}"}},
	})
}

// exporterRow is the health of the exporter sidecars of the tier: when it
// is blind, every other panel is silently flat.
func exporterRow() Row {
	return Row{Title: "Exporter health", Panels: []Panel{
		{
			Title: "Exporter up",
			Description: "Whether Prometheus scrapes every exporter sidecar of the tier (scrape), whether each follows all its log files (inputs), reads the queue directory (queue), " +
				"and started from its saved positions (positions: down when the positions file was unusable at start and moved aside, so lines written while it was down were not counted); " +
				"the minimum over the selected instances. Red means the panels above are blind for that part: see MailtierExporterDown, MailtierInputDown, MailtierQueueScrapeFailing and MailtierPositionsCorrupt.",
			Kind:     Stat,
			Unit:     "none",
			Base:     Red,
			Steps:    []Step{{1, Green}},
			Mappings: map[string]string{"0": "down", "1": "up"},
			Runbooks: []string{"MailtierExporterDown", "MailtierInputDown", "MailtierQueueScrapeFailing", "MailtierPositionsCorrupt"},
			W:        4,
			Targets: []Target{
				{Expr: `min(up{job="mailtier", ` + on() + `})`, Legend: "scrape"},
				{Expr: `min(mailtier_exporter_input_up{` + on() + `})`, Legend: "inputs"},
				{Expr: `min(mailtier_exporter_queue_scrape_success{` + on() + `})`, Legend: "queue"},
				// The counter stays 1 until a restart: its alert says the same.
				{Expr: `1 - clamp_max(count(ALERTS{alertname="MailtierPositionsCorrupt", alertstate="firing", ` + on() + `}) or vector(0), 1)`, Legend: "positions"},
			},
		},
		{
			Title: "Log age",
			Description: "Time since the exporter last read a line from each log it follows. Probes alone write lines every minute, so a quiet log is a broken one: " +
				"red above 30 minutes (for 5 minutes) fires MailtierLogStale. Check that rsyslog runs and writes the file the exporter follows.",
			Kind:     TimeSeries,
			Unit:     "s",
			Steps:    []Step{{1800, Orange}},
			Runbooks: []string{"MailtierLogStale"},
			W:        5,
			Targets: []Target{{
				Expr:   `time() - max by (instance, path) (mailtier_exporter_last_line_timestamp_seconds{` + on() + `} > 0)`,
				Legend: "{{instance}} {{path}}",
			}},
		},
		{
			Title: "Lines read",
			Description: "Log lines the exporter reads per second, by file: the tier's log volume. It follows the mail traffic; " +
				"a drop to zero while mail flows means the exporter lost its file (see Log age and Exporter up).",
			Kind:      TimeSeries,
			Unit:      "cps",
			AxisLabel: "lines/s",
			W:         5,
			Targets:   []Target{{Expr: `sum by (path) (` + rate("mailtier_exporter_lines_read_total", on()) + `)`, Legend: "{{path}}"}},
		},
		{
			Title: "Unmatched lines",
			Description: "Share of the lines each collector claimed whose shape it did not recognise. Above 20% for 15 minutes MailtierUnmatchedLinesHigh fires (info): " +
				"a daemon upgrade or a configuration change altered the log format and the collector undercounts; compare sample lines with the collector's tests.",
			Kind:     TimeSeries,
			Unit:     "percentunit",
			Steps:    []Step{{0.2, Orange}},
			Runbooks: []string{"MailtierUnmatchedLinesHigh"},
			W:        5,
			Targets: []Target{{
				Expr: fmt.Sprintf("sum by (collector) (%s) / sum by (collector) (%s)",
					rate("mailtier_exporter_collector_lines_total", on(`result="unmatched"`)),
					rate("mailtier_exporter_collector_lines_total", on())),
				Legend: "{{collector}}",
			}},
		},
		{
			Title: "Read backlog",
			Description: "Bytes written to each followed log that the exporter has not read yet. Near zero normally; a backlog that keeps growing means the exporter cannot keep up " +
				"(CPU limit of the sidecar) and every rate above lags behind.",
			Kind:    TimeSeries,
			Unit:    "bytes",
			W:       5,
			Targets: []Target{{Expr: `max by (instance, path) (mailtier_exporter_bytes_behind{` + on() + `})`, Legend: "{{instance}} {{path}}"}},
		},
	}}
}
