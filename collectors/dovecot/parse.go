package dovecot

import "strings"

// Kind is what a Dovecot line reports.
type Kind uint8

// The kinds of line Parse tells apart.
const (
	Unknown      Kind = iota // a shape this parser does not know
	Ignored                  // a known shape that counts nothing
	Login                    // "<service>-login: Login: user=<…>, …"
	LoginFailure             // "<service>-login: Disconnected…": a login session that ended without a login
	Delivery                 // "lda(user)<…>: msgid=…: saved mail to …" and its failures; LMTP alike
	Relay                    // "submission(user)<…>: Successfully relayed message" / "Failed to relay message"
	AuthFailure              // "auth: passwd-file(user,ip,<s>): Password mismatch" and friends
)

// Event is one parsed line. Every label value in it is one of this
// package's constants, never text from the line.
type Event struct {
	Kind Kind
	// Service is the protocol of a Login or LoginFailure.
	Service string
	// Reason is the cause of a LoginFailure or an AuthFailure.
	Reason string
	// RIP is the client address of a LoginFailure (the rip= field), a
	// substring of the line, or "" when the line has none.
	RIP string
	// Agent and Result of a Delivery; Result of a Relay.
	Agent  string
	Result string
	// Rejected marks an LDA "rejected:" line, which follows the
	// "save failed" line of the same message and mailbox.
	Rejected bool
	// Session is the "lda(user)<pid><session>" prefix of a Delivery, a
	// substring of the line: the key that ties a "rejected:" line to the
	// "save failed" line before it.
	Session string
}

// Label values. Unknown values fold into Other.
const (
	Other = "other"

	ServiceIMAP        = "imap"
	ServicePOP3        = "pop3"
	ServiceSubmission  = "submission"
	ServiceManageSieve = "managesieve"
	ServiceLMTP        = "lmtp"

	ReasonAuthFailed = "auth_failed"
	ReasonNoAuth     = "no_auth"
	ReasonTLSFailed  = "tls_failed"

	ReasonPasswordMismatch = "password_mismatch"
	ReasonUnknownUser      = "unknown_user"

	AgentLDA  = "lda"
	AgentLMTP = "lmtp"

	ResultSaved  = "saved"
	ResultFailed = "failed"
	ResultOK     = "ok"

	KnownBotTrue  = "true"
	KnownBotFalse = "false"
)

// The closed label sets, in exposition order.
var (
	Services         = services[:]
	LoginFailReasons = loginFailReasons[:]
	AuthFailReasons  = authFailReasons[:]
	Agents           = agents[:]
	DeliveryResults  = deliveryResults[:]
	RelayResults     = relayResults[:]
	KnownBotValues   = knownBotValues[:]
)

// The closed sets as arrays, whose lengths size the collector's arrays of
// counters. KnownBotValues' order is what Handle's indexes assume.
var (
	services         = [...]string{ServiceIMAP, ServicePOP3, ServiceSubmission, ServiceManageSieve, ServiceLMTP, Other}
	loginFailReasons = [...]string{ReasonAuthFailed, ReasonNoAuth, ReasonTLSFailed, Other}
	authFailReasons  = [...]string{ReasonPasswordMismatch, ReasonUnknownUser, Other}
	agents           = [...]string{AgentLDA, AgentLMTP}
	deliveryResults  = [...]string{ResultSaved, ResultFailed}
	relayResults     = [...]string{ResultOK, ResultFailed}
	knownBotValues   = [...]string{KnownBotTrue, KnownBotFalse}
)

const infoLevel = "Info: "

var (
	// nonInfoLevels are the levels Dovecot writes before a message over
	// syslog too; an Info line has none there.
	nonInfoLevels = [...]string{"Warning: ", "Error: ", "Fatal: ", "Panic: ", "Debug: "}
	// deliveryMarkers are the outcomes of mail_deliver(), with their results.
	// Pigeonhole's Sieve logs "stored mail into mailbox 'X'" and "failed
	// to store into mailbox 'X': reason" (sieve-actions.c); a quota
	// failure at Info level, any other at Error.
	deliveryMarkers    = [...]string{": saved mail to ", ": stored mail into mailbox ", ": save failed to ", ": failed to store into mailbox ", ": rejected: "}
	deliveryMarkResult = [...]string{ResultSaved, ResultSaved, ResultFailed, ResultFailed, ResultFailed}
)

// prefix is the "<service>(<user>)<pid><session>: [Level: ]" head of a
// Dovecot message.
type prefix struct {
	service string // "imap-login", "lda", "auth-worker"
	head    string // everything before ": ", e.g. "lda(bob)<9301><3LpJ…>"
	hasUser bool   // a "(…)" part followed the service
	info    bool   // Info level: "Info: " (Dovecot's file) or no level (syslog)
	errLvl  bool   // Error level
	body    string // the text after the level
}

// splitPrefix reads the head of msg. Over syslog an Info line has no
// level and other levels carry theirs ("Warning: "); in Dovecot's own file
// every line carries its level.
// It fills *p, which the caller holds, rather than returning a copy.
func splitPrefix(msg string, p *prefix) bool {
	i := 0
	for i < len(msg) && isServiceChar(msg[i]) {
		i++
	}
	if i == 0 || i >= len(msg) {
		return false
	}
	p.service = msg[:i]
	j := i
	if msg[j] == '(' {
		// The user part ends at the first ')' followed by '<' (pid and
		// session follow) or ':' (the message follows).
		k := j + 1
		for {
			e := strings.IndexByte(msg[k:], ')')
			if e < 0 {
				return false
			}
			k += e + 1
			if k < len(msg) && (msg[k] == '<' || msg[k] == ':') {
				break
			}
		}
		p.hasUser = true
		j = k
	}
	for j < len(msg) && msg[j] == '<' {
		e := strings.IndexByte(msg[j:], '>')
		if e < 0 {
			return false
		}
		j += e + 1
	}
	if j+1 >= len(msg) || msg[j] != ':' || msg[j+1] != ' ' {
		return false
	}
	p.head = msg[:j]
	body := skipRequest(msg[j+2:])
	p.info = true
	if body != "" {
		// The levels start with distinct letters.
		switch body[0] {
		case 'I':
			body = strings.TrimPrefix(body, infoLevel)
		case 'W', 'E', 'F', 'P', 'D':
			for _, l := range nonInfoLevels {
				if strings.HasPrefix(body, l) {
					body = body[len(l):]
					p.info = false
					p.errLvl = l == "Error: "
					break
				}
			}
		}
	}
	p.body = skipRequest(body)
	return true
}

// skipRequest skips the "request [N]: " event prefix Dovecot 2.4 appends
// to the lines of an auth request, before or after the level:
// "auth-worker(u,ip)<230299>: request [1]: Info: sql: unknown user".
func skipRequest(s string) string {
	const head = "request ["
	if !strings.HasPrefix(s, head) {
		return s
	}
	i := len(head)
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == len(head) || !strings.HasPrefix(s[i:], "]: ") {
		return s
	}
	return s[i+3:]
}

func isServiceChar(c byte) bool { return serviceChars[c] }

// serviceChars are the bytes of a service name: letters, digits, - and _.
var serviceChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
	}
	return t
}()

// Parse reads the message part of one Dovecot line: after "dovecot: " in
// syslog, or after the timestamp in Dovecot's own log_path file. It never
// allocates: strings in the Event are constants or substrings of msg.
func Parse(msg string) Event {
	var p prefix
	if !splitPrefix(msg, &p) {
		return Event{}
	}
	if !p.info {
		switch {
		case p.service == "master" && strings.HasPrefix(p.body, "Killed with signal "):
			return Event{Kind: Ignored}
		case p.errLvl && (p.service == "lda" || p.service == "lmtp") && p.hasUser:
			// A Sieve store that failed for a reason other than quota.
			if ev := parseDelivery(&p); ev.Kind == Delivery && ev.Result == ResultFailed {
				return ev
			}
		}
		return Event{}
	}
	switch {
	case strings.HasSuffix(p.service, "-login") && !p.hasUser:
		return parseLogin(&p)
	case p.service == "auth" || p.service == "auth-worker":
		return parseAuth(&p)
	case (p.service == "lda" || p.service == "lmtp") && p.hasUser:
		return parseDelivery(&p)
	case p.service == "submission" && p.hasUser:
		switch {
		case strings.HasPrefix(p.body, "Successfully relayed message"):
			return Event{Kind: Relay, Result: ResultOK}
		case strings.HasPrefix(p.body, "Failed to relay message"):
			return Event{Kind: Relay, Result: ResultFailed}
		case strings.HasPrefix(p.body, "Disconnected"):
			return Event{Kind: Ignored}
		}
	case (p.service == "imap" || p.service == "pop3" || p.service == "managesieve") && p.hasUser:
		if strings.HasPrefix(p.body, "Disconnected") || strings.HasPrefix(p.body, "Logged out") {
			return Event{Kind: Ignored}
		}
	case p.service == "master":
		if strings.HasPrefix(p.body, "Dovecot v") && strings.Contains(p.body, " starting up") {
			return Event{Kind: Ignored}
		}
	}
	return Event{}
}

// loginService maps "imap" of "imap-login" to its label value.
func loginService(svc string) string {
	switch svc {
	case "imap":
		return ServiceIMAP
	case "pop3":
		return ServicePOP3
	case "submission":
		return ServiceSubmission
	case "managesieve":
		return ServiceManageSieve
	case "lmtp":
		return ServiceLMTP
	}
	return Other
}

// parseLogin reads the lines of a login process ("imap-login: …").
//
//	Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=9217, secured, session=<…>
//	Logged in: user=<alice>, …                                                       (2.4)
//	Disconnected: Aborted login by logging out (auth failed, 1 attempts in 2 secs): user=<dave>, method=PLAIN, rip=…
//	Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, rip=127.0.0.4, …
//	Disconnected: Connection closed: SSL_accept() failed: error:… (no auth attempts in 0 secs): user=<>, rip=…, TLS handshaking: …
//	Login aborted: Connection closed (auth failed, 3 attempts in 16 secs) (auth_failed): user=<test>, …  (2.4)
//	Client has quit the connection (auth failed, 1 attempts in 2 secs): user=<u>, …  (submission-login, 2.3 before 2.3.11)
//
// Older versions write "Disconnected (auth failed, …)" and "Aborted login
// (…)"; the parenthesised reason is what counts, and Dovecot 2.4's fixed
// reason tag when there is one (login-common's
// client_get_extra_disconnect_reason). The user name after "user=<" is the
// client's text, so the reason is looked for only before it.
func parseLogin(p *prefix) Event {
	service := loginService(p.service[:len(p.service)-len("-login")])
	body := p.body
	if strings.HasPrefix(body, "Login: ") || strings.HasPrefix(body, "Logged in: ") {
		return Event{Kind: Login, Service: service}
	}
	head, fields := body, ""
	if i := strings.Index(body, ": user=<"); i >= 0 {
		head, fields = body[:i], body[i:]
	} else if i := strings.Index(body, ": rip="); i >= 0 {
		head, fields = body[:i], body[i:]
	}
	ev := Event{Kind: LoginFailure, Service: service, Reason: Other, RIP: loginRIP(body)}
	switch {
	case strings.HasPrefix(body, "Login aborted"):
		// 2.4: the last parenthesised word is a fixed tag.
		if tag, ok := lastParen(head); ok {
			ev.Reason = loginAbortReason(tag)
			return ev
		}
	case strings.HasPrefix(body, "Disconnected"), strings.HasPrefix(body, "Aborted login"):
	default:
		// Another opening (submission-login's "Client has quit the
		// connection", "Remote closed connection", …) is a session end
		// only with one of the reasons Dovecot appends to one.
		if fields == "" || strings.HasPrefix(body, "ID sent: ") {
			// imap_id_log's "ID sent: …" is the client's own text.
			return Event{}
		}
		if r := humanReason(head, fields); r != Other {
			ev.Reason = r
			return ev
		}
		if strings.HasPrefix(head, "Maximum number of connections from user+IP exceeded") {
			// sasl-server.c's ERR_TOO_MANY_USERIP_CONNECTIONS: the login
			// refused after the password was right; later versions
			// write it after "Disconnected: ".
			return ev
		}
		return Event{}
	}
	ev.Reason = humanReason(head, fields)
	return ev
}

// humanReason reads the reason Dovecot 2.2 and 2.3 append to the end of a
// login session in words.
func humanReason(head, fields string) string {
	switch {
	case tlsFailure(head):
		// An SSL_accept failure also says "no auth attempts": it is a TLS failure only.
		return ReasonTLSFailed
	case hasParen(head, "(auth failed, "):
		return ReasonAuthFailed
	case hasParen(head, "(no auth attempts") || hasParen(head, "(disconnected before auth was ready"):
		// Older layouts say the handshake failed only in the fields
		// ("…, TLS handshaking: SSL_accept() failed: …"). With no auth
		// attempt there is no user name, so the fields hold no client text
		// before it.
		if strings.Contains(fields, ", TLS handshaking") {
			return ReasonTLSFailed
		}
		return ReasonNoAuth
	}
	return Other
}

// tlsFailure reports whether head says "SSL_accept()" or "TLS handshak"
// ("(disconnected during TLS handshake" among them). Both hold an 'S',
// which the rest of a login line seldom does: it visits those only.
func tlsFailure(head string) bool {
	for at := 0; ; at++ {
		i := strings.IndexByte(head[at:], 'S')
		if i < 0 {
			return false
		}
		at += i
		if strings.HasPrefix(head[at:], "SSL_accept()") || at >= 2 && strings.HasPrefix(head[at-2:], "TLS handshak") {
			return true
		}
	}
}

// hasParen is strings.Contains(head, phrase) for a phrase that starts
// with '(': it visits the parentheses of head only.
func hasParen(head, phrase string) bool {
	for at := 0; ; at++ {
		i := strings.IndexByte(head[at:], '(')
		if i < 0 {
			return false
		}
		at += i
		if strings.HasPrefix(head[at:], phrase) {
			return true
		}
	}
}

// lastParen returns the word in the last "(…)" that ends head, when it is
// a tag of lower-case letters and '_'.
func lastParen(head string) (string, bool) {
	if !strings.HasSuffix(head, ")") {
		return "", false
	}
	i := strings.LastIndexByte(head, '(')
	if i < 0 {
		return "", false
	}
	tag := head[i+1 : len(head)-1]
	if tag == "" {
		return "", false
	}
	for k := 0; k < len(tag); k++ {
		if c := tag[k]; (c < 'a' || c > 'z') && c != '_' {
			return "", false
		}
	}
	return tag, true
}

// loginAbortReason maps Dovecot 2.4's reason tags of "Login aborted" to
// the label: what 2.3's words for the same end map to.
func loginAbortReason(tag string) string {
	switch tag {
	case "auth_failed":
		return ReasonAuthFailed
	case "no_auth_attempts", "auth_process_not_ready":
		return ReasonNoAuth
	case "tls_handshake_not_finished":
		return ReasonTLSFailed
	}
	return Other
}

// loginRIP returns the rip= field of a login line. It is the last one:
// the user name, which comes first, may hold any text.
func loginRIP(body string) string {
	i := lastIndex(body, ", rip=")
	if i >= 0 {
		i += len(", rip=")
	} else if j := strings.Index(body, ": rip="); j >= 0 {
		i = j + len(": rip=")
	} else {
		return ""
	}
	end := i
	for end < len(body) && body[end] != ',' && body[end] != ' ' {
		end++
	}
	return body[i:end]
}

// parseAuth reads an auth process line with auth_verbose=yes:
//
//	passwd-file(alice,127.0.0.2,<S1hA…>): Password mismatch                 (2.3)
//	passwd-file(frank): unknown user
//	pam(alice,192.0.2.1,<…>): pam_authenticate() failed: Authentication failure (Password mismatch?)
//	auth(info@example.com,192.0.2.110,sasl:login)<…>: sql: Password mismatch  (2.4: the user is in the prefix)
//	auth-worker(u,192.0.2.1)<230299>: request [1]: sql: unknown user          (2.4)
//
// The user name inside the parentheses is the client's text, so in 2.3's
// layout the message is what follows the last "): ". In 2.4's the user is
// in the line's prefix and the message follows the passdb's name.
func parseAuth(p *prefix) Event {
	body := p.body
	if p.hasUser && !pidOnly(p.head) {
		// 2.4: "<passdb name>: message".
		i := 0
		for i < len(body) && (isServiceChar(body[i]) || body[i] == '.') {
			i++
		}
		if i > 0 && strings.HasPrefix(body[i:], ": ") {
			return authOutcome(body[i+2:])
		}
	}
	i := lastIndex(body, "): ")
	if i < 0 || strings.IndexByte(body[:i], '(') <= 0 {
		return Event{}
	}
	return authOutcome(body[i+3:])
}

// pidOnly reports whether head is "auth-worker(1234)": 2.3's auth worker,
// whose parentheses hold its pid, not a user.
func pidOnly(head string) bool {
	i := strings.IndexByte(head, '(')
	if i < 0 || !strings.HasSuffix(head, ")") || i+2 > len(head)-1 {
		return false
	}
	for _, c := range head[i+1 : len(head)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// authOutcome classifies the auth process's message about one lookup.
func authOutcome(m string) Event {
	switch {
	case strings.HasPrefix(m, "Password mismatch"):
		return Event{Kind: AuthFailure, Reason: ReasonPasswordMismatch}
	case strings.HasPrefix(m, "unknown user"):
		return Event{Kind: AuthFailure, Reason: ReasonUnknownUser}
	case strings.HasPrefix(m, "pam_authenticate() failed: "):
		if strings.Contains(m, "(Password mismatch?)") || strings.Contains(m, "(password mismatch?)") {
			return Event{Kind: AuthFailure, Reason: ReasonPasswordMismatch}
		}
		return Event{Kind: AuthFailure, Reason: Other}
	case strings.HasPrefix(m, "invalid password field"), strings.HasPrefix(m, "invalid credentials"):
		return Event{Kind: AuthFailure, Reason: Other}
	}
	return Event{}
}

// parseDelivery reads the lines of dovecot-lda and LMTP (deliver_log_format
// "msgid=%m: %$"):
//
//	lda(alice)<9226><j82h…>: msgid=<…>: saved mail to INBOX
//	lmtp(bob@lab.test)<9576><+OnW…>: msgid=<…>: saved mail to INBOX
//	lda(dave)<9268><KaJj…>: msgid=<…>: save failed to INBOX: Quota exceeded (mailbox for user is full)
//	lda(dave)<9268><KaJj…>: msgid=<…>: rejected: Quota exceeded (mailbox for user is full)
//
// The message id is the sender's text and may hold any of the markers, so
// the last marker of the line decides.
func parseDelivery(p *prefix) Event {
	agent := AgentLDA
	if p.service == "lmtp" {
		agent = AgentLMTP
	}
	body := p.body
	best := lastDeliveryMarker(body)
	if best < 0 {
		if agent == AgentLMTP && (strings.HasPrefix(body, "Connect from ") || strings.HasPrefix(body, "Disconnect from ")) {
			return Event{Kind: Ignored}
		}
		if strings.HasPrefix(body, "Mailbox ") && strings.Contains(body, ": save: ") {
			// The mail_log plugin's account of the same save (2.4:
			// "Mailbox INBOX: save: uid=7, msgid=<…>, size=1901").
			return Event{Kind: Ignored}
		}
		return Event{}
	}
	return Event{Kind: Delivery, Agent: agent, Result: deliveryMarkResult[best],
		Rejected: deliveryMarkers[best] == ": rejected: ", Session: p.head}
}

// lastDeliveryMarker returns the index in deliveryMarkers of the marker
// that starts last in body, or -1. It walks back over the ": " of body
// once; no marker is a prefix of another, so at most one starts at any
// place. A body with none that starts with a marker's text (a
// deliver_log_format without "msgid=%m: ") has that marker.
func lastDeliveryMarker(body string) int {
	for end := len(body); end > 0; {
		i := strings.LastIndexByte(body[:end], ':')
		if i < 0 {
			break
		}
		if i+1 < len(body) && body[i+1] == ' ' {
			for k, m := range deliveryMarkers {
				if strings.HasPrefix(body[i:], m) {
					return k
				}
			}
		}
		end = i
	}
	for k, m := range deliveryMarkers {
		if strings.HasPrefix(body, m[2:]) {
			return k
		}
	}
	return -1
}

// lastIndex is strings.LastIndex for the short, fixed needles of this
// package: it steps back over the places of the needle's last byte, which
// costs less than LastIndex's rolling hash over the whole line.
func lastIndex(s, needle string) int {
	n := len(needle)
	last := needle[n-1]
	for end := len(s); end >= n; {
		i := strings.LastIndexByte(s[:end], last)
		if i < n-1 {
			return -1
		}
		if s[i-n+1:i+1] == needle {
			return i - n + 1
		}
		end = i
	}
	return -1
}
