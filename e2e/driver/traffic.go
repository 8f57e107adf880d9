package main

import "fmt"
import "strings"
import "sync/atomic"
import "time"

// An action is one thing a client does. run performs it, and fails unless
// every server reply is the expected one; then adds what it caused to the
// expected metrics, once run has succeeded.
type action struct {
	name string
	run  func() error
	then func(x *expected)
}

// outside are the clients from elsewhere: the first three have no name
// (sendmail logs "IP name lookup failed"), the others resolve through the
// namespace's /etc/hosts.
var outside = []struct{ ip, helo string }{
	{"127.0.0.10", "client10.remote.test"},
	{"127.0.0.11", "client11.remote.test"},
	{"127.0.0.12", "client12.remote.test"},
	{"127.0.0.20", "mx20.remote.test"},
	{"127.0.0.21", "mx21.remote.test"},
	{"127.0.0.22", "mx22.remote.test"},
}

// Dovecot's users (e2e/conf/dovecot/users). dave's quota is one byte;
// frank is a system user that Dovecot does not know.
var passwords = map[string]string{
	"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret", "dave": "dave-secret",
}

var mailboxes = []string{"alice", "bob", "carol"}

// --- what the actions cause, per collector ---------------------------------

func received(x *expected, daemon string) {
	x.add(1, "sendmail_messages_received_total", "daemon", daemon)
}

// delivered counts n delivery attempts, in the counter and in both
// histograms of their delays.
func delivered(x *expected, n float64, mailer, status string) {
	for _, name := range []string{"sendmail_deliveries_total", "sendmail_delivery_delay_seconds_count", "sendmail_delivery_xdelay_seconds_count"} {
		x.add(n, name, "mailer", mailer, "status", status)
	}
}

// deferred counts a delivery attempt of the relay mailer to the closed port.
func deferred(x *expected) {
	delivered(x, 1, "relay", "deferred")
	x.add(1, "sendmail_deferrals_total", "mailer", "relay", "reason", "connection_refused")
}

func rejected(x *expected, stage, reason string) {
	x.add(1, "sendmail_rejects_total", "stage", stage, "reason", reason)
}

// dovecotDelivery counts n deliveries by dovecot-lda or LMTP, in the log
// and in Dovecot's stats (mail_delivery_finished, saved or failed).
func dovecotDelivery(x *expected, n float64, agent, result string) {
	x.add(n, "dovecot_deliveries_total", "agent", agent, "result", result)
	x.add(n, "dovecot_stats_delivery_duration_seconds_count")
}

func ldaSaved(x *expected, n float64) { dovecotDelivery(x, n, "lda", "saved") }

// savedInbound counts a message received by the MTA and delivered to n
// local mailboxes, each saved by dovecot-lda.
func savedInbound(x *expected, n float64) {
	received(x, "MTA")
	delivered(x, n, "local", "sent")
	ldaSaved(x, n)
}

// login counts a login, in the log and in Dovecot's stats
// (auth_request_finished, success).
func login(x *expected, service string) {
	x.add(1, "dovecot_logins_total", "service", service)
	x.add(1, "dovecot_stats_auth_successes_total")
}

// loginFailed counts a login session that ended without a login; src is
// the client, a known bot when it is in e2e/conf/known-bots.
func loginFailed(x *expected, service, reason, src string) {
	bot := "false"
	if knownBots[src] {
		bot = "true"
	}
	x.add(1, "dovecot_login_failures_total", "service", service, "reason", reason, "known_bot", bot)
	if reason == "auth_failed" {
		x.add(1, "dovecot_stats_auth_failures_total")
	}
}

// knownBots are the clients in the exporter's known-bot networks file.
var knownBots = map[string]bool{"127.0.0.2": true}

func authFailed(x *expected, reason string) {
	x.add(1, "dovecot_auth_failures_total", "reason", reason)
}

// --- inbound SMTP (sendmail MTA, 2525) --------------------------------------

// greeted connects to the MTA from outside client i and takes its
// greeting; it returns the connection and the client's HELO name.
func greeted(i int) (*conn, string) {
	o := outside[i%len(outside)]
	c := dial(o.ip, portMTA)
	c.expect(220, "greeting")
	return c, o.helo
}

// helloFrom is greeted followed by EHLO.
func helloFrom(i int) *conn {
	c, helo := greeted(i)
	c.cmd("EHLO "+helo, 250)
	return c
}

func id(kind string, i int) string { return fmt.Sprintf("%s-%03d", kind, i) }

// inbound is one SMTP transaction from an outside client: every RCPT is
// answered rcptWant[i]; when one was accepted, the message is sent and its
// end answered dataWant.
func inbound(i int, kind, from string, rcpts []string, rcptWant []int, dataWant, pad int) error {
	c := helloFrom(i)
	c.cmd("MAIL FROM:<"+from+">", 250)
	accepted := false
	for j, r := range rcpts {
		c.cmd("RCPT TO:<"+r+">", rcptWant[j])
		accepted = accepted || rcptWant[j] == 250
	}
	if accepted {
		c.data(message(id(kind, i), from, rcpts[0], pad), dataWant)
	}
	c.cmd("QUIT", 221)
	return c.close()
}

func sender(i int) string {
	return []string{"news", "billing", "jdoe"}[i%3] + "@" + []string{"remote.test", "partner.test"}[i%2]
}

func local(i int) string { return mailboxes[i%len(mailboxes)] + "@e2e.test" }

func inboundOK(i int) action {
	return action{"inbound accepted", func() error {
		return inbound(i, "in-ok", sender(i), []string{local(i)}, []int{250}, 250, 0)
	}, func(x *expected) {
		savedInbound(x, 1)
	}}
}

func inboundTwoRcpts(i int) action {
	return action{"inbound, two recipients", func() error {
		return inbound(i, "in-two", sender(i), []string{local(i), local(i + 1)}, []int{250, 250}, 250, 0)
	}, func(x *expected) {
		savedInbound(x, 2)
	}}
}

func inboundMixed(i int) action {
	return action{"inbound, one known and one unknown recipient", func() error {
		return inbound(i, "in-mixed", sender(i), []string{local(i), fmt.Sprintf("nobody%d@e2e.test", i)}, []int{250, 550}, 250, 0)
	}, func(x *expected) {
		savedInbound(x, 1)
		rejected(x, "rcpt", "user_unknown")
	}}
}

func inboundUnknownUser(i int) action {
	return action{"inbound, unknown user", func() error {
		return inbound(i, "in-unknown", sender(i), []string{fmt.Sprintf("nobody%d@e2e.test", i)}, []int{550}, 0, 0)
	}, func(x *expected) { rejected(x, "rcpt", "user_unknown") }}
}

// relayRefused asks, from the client address ip, to relay to rcpt, which
// the MTA must refuse with 550.
func relayRefused(ip, helo, from, rcpt string) error {
	c := dial(ip, portMTA)
	c.expect(220, "greeting")
	c.cmd("EHLO "+helo, 250)
	c.cmd("MAIL FROM:<"+from+">", 250)
	c.cmd("RCPT TO:<"+rcpt+">", 550)
	c.cmd("QUIT", 221)
	return c.close()
}

// inboundRelayDenied asks a client with a name (relay.spam.test) to relay:
// a line fail2ban's sendmail-reject filter does not match.
func inboundRelayDenied(i int) action {
	return action{"inbound, relaying denied", func() error {
		return relayRefused("127.0.0.23", "relay.spam.test", "bulk@spam.test", fmt.Sprintf("victim%d@elsewhere.test", i))
	}, func(x *expected) { rejected(x, "rcpt", "relaying_denied") }}
}

// relayProbe asks to relay from 127.0.0.5, which has no name: fail2ban's
// sendmail-reject filter matches "Relaying denied. IP name lookup failed".
func relayProbe(i int) action {
	return action{"relay probe (fail2ban)", func() error {
		return relayRefused("127.0.0.5", "probe.remote.test", "probe@remote.test", fmt.Sprintf("x%d@elsewhere.test", i))
	}, func(x *expected) {
		rejected(x, "rcpt", "relaying_denied")
		x.add(1, "fail2ban_matches_total", "jail", "sendmail-reject")
	}}
}

func inboundTooLargeData(i int) action {
	return action{"inbound, too large (after DATA)", func() error {
		return inbound(i, "in-large", sender(i), []string{local(i)}, []int{250}, 552, 150000)
	}, func(x *expected) { rejected(x, "data", "message_too_large") }}
}

func inboundTooLargeMail(i int) action {
	return action{"inbound, too large (SIZE= at MAIL)", func() error {
		c := helloFrom(i)
		c.cmd("MAIL FROM:<"+sender(i)+"> SIZE=500000", 552)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) { rejected(x, "mail", "message_too_large") }}
}

// inboundNoMail ends a session without MAIL: with QUIT after EHLO, or by
// closing right after the greeting.
func inboundNoMail(i int, quit bool) action {
	return action{"inbound, no MAIL", func() error {
		c, helo := greeted(i)
		if quit {
			c.cmd("EHLO "+helo, 250)
			c.cmd("QUIT", 221)
		}
		return c.close()
	}, func(x *expected) { x.add(1, "sendmail_sessions_without_mail_total") }}
}

func inboundTLS(i int) action {
	return action{"inbound over STARTTLS", func() error {
		from, to := sender(i), local(i)
		c, helo := greeted(i)
		c.cmd("EHLO "+helo, 250)
		c.cmd("STARTTLS", 220)
		c.startTLS()
		c.cmd("EHLO "+helo, 250)
		c.cmd("MAIL FROM:<"+from+">", 250)
		c.cmd("RCPT TO:<"+to+">", 250)
		c.data(message(id("in-tls", i), from, to, 0), 250)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) {
		x.add(1, "sendmail_starttls_total", "role", "server", "result", "ok")
		savedInbound(x, 1)
	}}
}

// inboundTLSAbort closes the connection after STARTTLS's 220, before the
// handshake.
func inboundTLSAbort(i int) action {
	return action{"inbound, STARTTLS abandoned", func() error {
		c := helloFrom(i)
		c.cmd("STARTTLS", 220)
		return c.close()
	}, func(x *expected) {
		x.add(1, "sendmail_starttls_total", "role", "server", "result", "error")
		x.add(1, "sendmail_sessions_without_mail_total")
	}}
}

func inboundLostAfterRcpt(i int) action {
	return action{"inbound, client gone after RCPT", func() error {
		c := helloFrom(i)
		c.cmd("MAIL FROM:<"+sender(i)+">", 250)
		c.cmd("RCPT TO:<"+local(i)+">", 250)
		return c.close()
	}, func(x *expected) { x.add(1, "sendmail_connections_lost_total", "stage", "rcpt") }}
}

func inboundLostInData(i int) action {
	return action{"inbound, client gone in DATA", func() error {
		c := helloFrom(i)
		c.cmd("MAIL FROM:<"+sender(i)+">", 250)
		c.cmd("RCPT TO:<"+local(i)+">", 250)
		c.cmd("DATA", 354)
		c.write("Subject: cut short\r\n\r\nthe first line of a body that never ends\r\n")
		return c.close()
	}, func(x *expected) { x.add(1, "sendmail_connections_lost_total", "stage", "data") }}
}

// inboundDeferred is accepted for down.test, whose relay port is closed:
// the message stays in the queue.
func inboundDeferred(i int) action {
	return action{"inbound, deferred", func() error {
		return inbound(i, "in-deferred", sender(i), []string{fmt.Sprintf("user%d@down.test", i)}, []int{250}, 250, 0)
	}, func(x *expected) {
		received(x, "MTA")
		deferred(x)
		x.note("queued", 1)
	}}
}

func inboundAccessConnect(i int) action {
	return action{"inbound, client refused by the access map", func() error {
		c := dial("127.0.0.66", portMTA)
		c.expect(220, "greeting")
		c.cmd("EHLO blocked.remote.test", 250)
		c.cmd("MAIL FROM:<x@remote.test>", 550)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) { rejected(x, "connect", "access_denied") }}
}

func inboundAccessFrom(i int) action {
	return action{"inbound, sender refused by the access map", func() error {
		c := helloFrom(i)
		c.cmd("MAIL FROM:<spammer@spam.test>", 550)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) { rejected(x, "mail", "access_denied") }}
}

// inboundLDAFailure is accepted for dave (over quota) or frank (unknown
// to Dovecot): dovecot-lda refuses it, sendmail bounces it with a DSN to
// the sender, delivered to the sink.
func inboundLDAFailure(i int, user string) action {
	return action{"inbound, refused by dovecot-lda (" + user + ")", func() error {
		return inbound(i, "in-lda-"+user, sender(i), []string{user + "@e2e.test"}, []int{250}, 250, 0)
	}, func(x *expected) {
		received(x, "MTA")
		delivered(x, 1, "local", "bounced")
		x.add(1, "sendmail_dsns_total")
		delivered(x, 1, "esmtp", "sent")
		x.note("sink messages", 1)
		x.note("sink bounces", 1)
		if user == "dave" {
			dovecotDelivery(x, 1, "lda", "failed")
		} else {
			authFailed(x, "unknown_user")
		}
	}}
}

func vrfy(i int) action {
	return action{"VRFY (refused)", func() error {
		c := dial("127.0.0.8", portMTA)
		c.expect(220, "greeting")
		c.cmd("EHLO probe.remote.test", 250)
		c.cmd("VRFY "+mailboxes[i%len(mailboxes)], 252)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) {
		rejected(x, "other", "vrfy")
		x.add(1, "fail2ban_matches_total", "jail", "sendmail-reject")
	}}
}

// pregreet talks before the greeting, which GreetPause delays for
// 127.0.0.7 (e2e/conf/mail/access).
func pregreet(int) action {
	return action{"talks before the greeting", func() error {
		c := dial("127.0.0.7", portMTA)
		c.write("EHLO early.remote.test\r\n")
		c.expect(554, "greeting")
		c.write("QUIT\r\n")
		return c.close()
	}, func(x *expected) {
		rejected(x, "connect", "pregreet")
		x.add(1, "fail2ban_matches_total", "jail", "sendmail-reject")
	}}
}

// --- submission (Dovecot 1587 → sendmail MSA 2587 → OpenDKIM) ---------------

func submit(i int, kind, user, from, to string, dataWant int) error {
	c := dial("127.0.0.1", portSubmission)
	c.expect(220, "greeting")
	c.cmd("EHLO ws-"+user+".e2e.test", 250)
	c.cmd("AUTH PLAIN "+authPlain(user, passwords[user]), 235)
	c.cmd("MAIL FROM:<"+from+">", 250)
	c.cmd("RCPT TO:<"+to+">", 250)
	c.data(message(id(kind, i), from, to, 0), dataWant)
	c.cmd("QUIT", 221)
	return c.close()
}

func mailbox(i int) string { return mailboxes[i%len(mailboxes)] }

// submitted is what every message relayed through submission causes.
func submitted(x *expected) {
	login(x, "submission")
	x.add(1, "dovecot_submission_relays_total", "result", "ok")
	received(x, "MSA")
}

func submitRemote(i int) action {
	return action{"submission, signed, to a remote domain", func() error {
		return submit(i, "sub-remote", mailbox(i), mailbox(i)+"@e2e.test", fmt.Sprintf("friend%d@partner.test", i), 250)
	}, func(x *expected) {
		submitted(x)
		x.add(1, "opendkim_messages_signed_total")
		delivered(x, 1, "esmtp", "sent")
		x.note("sink messages", 1)
		x.note("sink signed", 1)
	}}
}

func submitLocal(i int) action {
	return action{"submission, signed, to a local user", func() error {
		return submit(i, "sub-local", mailbox(i), mailbox(i)+"@e2e.test", local(i+1), 250)
	}, func(x *expected) {
		submitted(x)
		x.add(1, "opendkim_messages_signed_total")
		delivered(x, 1, "local", "sent")
		ldaSaved(x, 1)
	}}
}

func submitDeferred(i int) action {
	return action{"submission, signed, deferred", func() error {
		return submit(i, "sub-deferred", mailbox(i), mailbox(i)+"@e2e.test", fmt.Sprintf("ops%d@down.test", i), 250)
	}, func(x *expected) {
		submitted(x)
		x.add(1, "opendkim_messages_signed_total")
		deferred(x)
		x.note("queued", 1)
	}}
}

// submitUnsigned sends From a domain the signing table does not list.
func submitUnsigned(i int) action {
	return action{"submission, not signed (other domain)", func() error {
		return submit(i, "sub-other", mailbox(i), mailbox(i)+"@other.test", fmt.Sprintf("friend%d@partner.test", i), 250)
	}, func(x *expected) {
		submitted(x)
		x.add(1, "opendkim_messages_not_signed_total", "reason", "no_signing_table_match")
		delivered(x, 1, "esmtp", "sent")
		x.note("sink messages", 1)
	}}
}

// submitKeyMissing sends From broken.test, whose key file is missing:
// OpenDKIM fails, sendmail answers 451 at the end of DATA, and Dovecot
// passes that on.
func submitKeyMissing(i int) action {
	return action{"submission, signing fails (key missing)", func() error {
		return submit(i, "sub-broken", mailbox(i), mailbox(i)+"@broken.test", fmt.Sprintf("friend%d@partner.test", i), 451)
	}, func(x *expected) {
		login(x, "submission")
		x.add(1, "dovecot_submission_relays_total", "result", "failed")
		x.add(1, "opendkim_sign_failures_total", "reason", "key_load")
		rejected(x, "data", "milter")
	}}
}

func submitAuthFailed(i int) action {
	return action{"submission, wrong password", func() error {
		c := dial("127.0.0.1", portSubmission)
		c.expect(220, "greeting")
		c.cmd("EHLO ws.e2e.test", 250)
		c.cmd("AUTH PLAIN "+authPlain(mailbox(i), "wrong"), 535)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) {
		loginFailed(x, "submission", "auth_failed", "127.0.0.1")
		authFailed(x, "password_mismatch")
	}}
}

// --- IMAP and LMTP (Dovecot) ------------------------------------------------

// imapOK logs in, selects INBOX, runs NOOP and logs out: three commands
// of the imap process, which Dovecot's stats time (imap-login answers the
// login).
func imapOK(i int, useTLS bool) action {
	port, name := portIMAP, "IMAP login"
	if useTLS {
		port, name = portIMAPS, "IMAPS login"
	}
	return action{name, func() error {
		u := mailbox(i)
		m := dialIMAP("127.0.0.1", port, useTLS)
		m.expect(fmt.Sprintf("LOGIN %s %s", u, passwords[u]), "OK")
		m.expect("SELECT INBOX", "OK")
		m.expect("NOOP", "OK")
		m.expect("LOGOUT", "OK")
		return m.close()
	}, func(x *expected) {
		login(x, "imap")
		x.add(3, "dovecot_imap_command_duration_seconds_count")
	}}
}

// imapBadLogin fails a login from src: a wrong password, or an unknown
// user.
func imapBadLogin(i int, src string, unknown bool) action {
	return action{"IMAP login refused", func() error {
		u, pw := mailbox(i), "wrong"
		if unknown {
			u = fmt.Sprintf("ghost%d", i)
		}
		m := dialIMAP(src, portIMAP, false)
		m.expect(fmt.Sprintf("LOGIN %s %s", u, pw), "NO")
		m.expect("LOGOUT", "OK")
		return m.close()
	}, func(x *expected) {
		loginFailed(x, "imap", "auth_failed", src)
		if unknown {
			authFailed(x, "unknown_user")
		} else {
			authFailed(x, "password_mismatch")
		}
		if src != "127.0.0.1" {
			// fail2ban's dovecot filter matches both lines of a failed login
			x.add(2, "fail2ban_matches_total", "jail", "dovecot")
		}
	}}
}

// imapNoAuth connects and leaves without logging in.
func imapNoAuth(int) action {
	return action{"IMAP, left without a login", func() error {
		m := dialIMAP("127.0.0.4", portIMAP, false)
		return m.close()
	}, func(x *expected) { loginFailed(x, "imap", "no_auth", "127.0.0.4") }}
}

// imapTLSFailed speaks plaintext to the IMAPS port.
func imapTLSFailed(int) action {
	return action{"IMAPS, failed TLS handshake", func() error {
		c := dial("127.0.0.9", portIMAPS)
		c.write("a1 LOGIN alice guess\r\n")
		if c.err == nil {
			_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.r.ReadString('\n') // the server's TLS alert, or its close
		}
		return c.close()
	}, func(x *expected) { loginFailed(x, "imap", "tls_failed", "127.0.0.9") }}
}

func lmtp(i int, user string, dataWant int) action {
	return action{"LMTP delivery to " + user, func() error {
		from, to := sender(i), user+"@e2e.test"
		c := dial("127.0.0.1", portLMTP)
		c.expect(220, "greeting")
		c.cmd("LHLO mx.e2e.test", 250)
		c.cmd("MAIL FROM:<"+from+">", 250)
		c.cmd("RCPT TO:<"+to+">", 250)
		c.data(message(id("lmtp", i), from, to, 0), dataWant)
		c.cmd("QUIT", 221)
		return c.close()
	}, func(x *expected) {
		result := "saved"
		if dataWant != 250 {
			result = "failed"
		}
		dovecotDelivery(x, 1, "lmtp", result)
	}}
}

// --- the mix ----------------------------------------------------------------

// serial numbers the actions: every message and address is unique.
var serial atomic.Int64

// repeat makes n actions of one kind.
func repeat(n int, f func(int) action) []action {
	out := make([]action, n)
	for k := range out {
		out[k] = f(int(serial.Add(1)))
	}
	return out
}

// mix is the ordinary traffic of a phase: every kind twice, or more.
func mix() []action {
	var a []action
	add := func(n int, f func(int) action) { a = append(a, repeat(2*n, f)...) }
	add(3, inboundOK)
	add(1, inboundTwoRcpts)
	add(1, inboundMixed)
	add(1, inboundUnknownUser)
	add(1, inboundRelayDenied)
	add(1, inboundTooLargeData)
	add(1, inboundTooLargeMail)
	add(1, func(i int) action { return inboundNoMail(i, true) })
	add(1, func(i int) action { return inboundNoMail(i, false) })
	add(1, inboundTLS)
	add(1, inboundTLSAbort)
	add(1, inboundLostAfterRcpt)
	add(1, inboundLostInData)
	add(1, inboundDeferred)
	add(1, inboundAccessConnect)
	add(1, inboundAccessFrom)
	add(1, func(i int) action { return inboundLDAFailure(i, "dave") })
	add(1, func(i int) action { return inboundLDAFailure(i, "frank") })
	add(2, submitRemote)
	add(1, submitLocal)
	add(1, submitDeferred)
	add(1, submitUnsigned)
	add(1, submitKeyMissing)
	add(1, submitAuthFailed)
	add(2, func(i int) action { return imapOK(i, false) })
	add(1, func(i int) action { return imapOK(i, true) })
	add(1, func(i int) action { return imapBadLogin(i, "127.0.0.1", false) })
	add(1, func(i int) action { return imapBadLogin(i, "127.0.0.1", true) })
	add(1, imapNoAuth)
	add(1, imapTLSFailed)
	add(1, func(i int) action { return lmtp(i, mailbox(i), 250) })
	add(1, func(i int) action { return lmtp(i, "dave", 552) })
	return interleave(a)
}

// interleave spreads the kinds of a list over it, the same way every run.
func interleave(a []action) []action {
	const stride = 7
	out := make([]action, 0, len(a))
	for first := range stride {
		for k := first; k < len(a); k += stride {
			out = append(out, a[k])
		}
	}
	return out
}

func describe(a []action) string {
	n := map[string]int{}
	var order []string
	for _, x := range a {
		if n[x.name] == 0 {
			order = append(order, x.name)
		}
		n[x.name]++
	}
	parts := make([]string, len(order))
	for k, name := range order {
		parts[k] = fmt.Sprintf("%d× %s", n[name], name)
	}
	return strings.Join(parts, ", ")
}
