package sendmail

import (
	"strings"
)

// Kind is what a sendmail line reports.
type Kind uint8

// The kinds of line Parse tells apart.
const (
	Unknown  Kind = iota // a shape this parser does not know
	Ignored              // a known shape that counts nothing on its own
	From                 // "QID: from=<…>, size=N, class=N, nrcpts=N, …": the sender line of a transaction
	To                   // "QID: to=<…>, delay=…, mailer=…, stat=…": a delivery attempt, or the echo of a refusal
	Reject               // a refused SMTP command
	Lost                 // the client vanished
	NoMail               // a session that never gave MAIL
	StartTLS             // a TLS handshake
	DSN                  // a delivery status notification was generated
	Auth                 // an SMTP AUTH outcome
)

// Event is one parsed line. Every label value in it is one of this
// package's constants, never text from the line, so no line can add a
// label value outside the closed sets.
type Event struct {
	Kind Kind
	// QID is the queue id, a substring of the line, or "" when the line
	// has none.
	QID string

	// From lines.
	Daemon string
	Nrcpts int
	Size   int64

	// To lines. Mailer is "" when the line names no mailer: the echo of a
	// message refused at the end of DATA, not a delivery.
	Mailer      string
	Status      string
	Delay       float64
	XDelay      float64
	HasXDelay   bool
	DeferReason string

	// Reject and Lost lines.
	Stage  string
	Reason string
	// Refusal marks a refusal of the message that the preceding from= line
	// announced (message too large, milter reject at end of DATA).
	Refusal bool
	// Abort marks a client that vanished before its message was complete;
	// sendmail logs it before the from= line.
	Abort bool

	// StartTLS and Auth lines.
	Role   string
	Result string
}

// Label values. Unknown values fold into Other.
const (
	Other = "other"

	StatusSent     = "sent"
	StatusDeferred = "deferred"
	StatusBounced  = "bounced"

	StageConnect = "connect"
	StageHelo    = "helo"
	StageMail    = "mail"
	StageRcpt    = "rcpt"
	StageData    = "data"

	ReasonRelayingDenied = "relaying_denied"
	ReasonUserUnknown    = "user_unknown"
	ReasonAccessDenied   = "access_denied"
	ReasonTooLarge       = "message_too_large"
	ReasonPregreet       = "pregreet"
	ReasonVrfy           = "vrfy"
	ReasonMilter         = "milter"

	DeferConnectionRefused = "connection_refused"
	DeferConnectionTimeout = "connection_timeout"
	DeferHostUnknown       = "host_unknown"
	DeferRateLimited       = "rate_limited"
	DeferRemoteTempfail    = "remote_tempfail"

	RoleServer = "server"
	RoleClient = "client"
	ResultOK   = "ok"
	ResultErr  = "error"
	ResultFail = "failed"

	DaemonLocal = "local"
)

// The closed label sets, in exposition order.
var (
	Daemons      = []string{"MTA", "MSA", "MTA-v4", "MTA-v6", "MSP-v4", "MSP-v6", DaemonLocal, Other}
	Mailers      = []string{"local", "esmtp", "smtp", "smtp8", "dsmtp", "relay", "prog", "procmail", "file", "include", Other}
	Statuses     = []string{StatusSent, StatusDeferred, StatusBounced, Other}
	Stages       = []string{StageConnect, StageHelo, StageMail, StageRcpt, StageData, Other}
	Reasons      = []string{ReasonRelayingDenied, ReasonUserUnknown, ReasonAccessDenied, ReasonTooLarge, ReasonPregreet, ReasonVrfy, ReasonMilter, Other}
	DeferReasons = []string{DeferConnectionRefused, DeferConnectionTimeout, DeferHostUnknown, DeferRateLimited, DeferRemoteTempfail, Other}
)

// Parse reads the message part of one sendmail log line (after
// "sm-mta[pid]: "). It never allocates: strings in the Event are either
// constants or substrings of msg.
func Parse(msg string) Event {
	qid, rest := splitQID(msg)
	ev := Event{QID: qid}
	switch {
	case strings.HasPrefix(rest, "from="):
		return parseFrom(ev, rest)
	case strings.HasPrefix(rest, "to="):
		return parseTo(ev, rest)
	case strings.HasPrefix(rest, "ruleset="):
		return parseRuleset(ev, rest)
	case strings.HasPrefix(rest, "STARTTLS"):
		return parseStartTLS(ev, rest)
	case strings.HasPrefix(rest, "Milter"):
		return parseMilter(ev, rest)
	case strings.HasPrefix(rest, "collect: "):
		return parseCollect(ev, rest)
	case strings.HasPrefix(rest, "lost input channel from "):
		// "lost input channel from HOST [IP] to MTA after rcpt"
		ev.Kind, ev.Abort = Lost, true
		ev.Stage = Other
		if i := strings.LastIndex(rest, " after "); i >= 0 {
			ev.Stage = commandStage(rest[i+len(" after "):])
		}
		return ev
	case strings.HasPrefix(rest, "message size (") && strings.Contains(rest, ") exceeds maximum ("):
		ev.Kind, ev.Stage, ev.Reason, ev.Refusal = Reject, StageData, ReasonTooLarge, true
		return ev
	case strings.HasPrefix(rest, "rejecting commands from ") && strings.Contains(rest, " due to pre-greeting traffic"):
		ev.Kind, ev.Stage, ev.Reason = Reject, StageConnect, ReasonPregreet
		return ev
	case strings.HasSuffix(rest, " [rejected]") && (strings.Contains(rest, "]: VRFY ") || strings.Contains(rest, "]: EXPN ")):
		// "[IP]: VRFY user [rejected]" (PrivacyOptions novrfy / noexpn)
		ev.Kind, ev.Stage, ev.Reason = Reject, Other, ReasonVrfy
		return ev
	case strings.HasPrefix(rest, "<") && strings.HasSuffix(rest, ">... User unknown"):
		ev.Kind, ev.Stage, ev.Reason = Reject, StageRcpt, ReasonUserUnknown
		return ev
	case strings.Contains(rest, " did not issue MAIL/EXPN/VRFY/ETRN during connection to "):
		ev.Kind = NoMail
		return ev
	case strings.HasPrefix(rest, "AUTH=server, ") || strings.HasPrefix(rest, "AUTH=client, "):
		ev.Kind, ev.Result = Auth, ResultOK
		return ev
	case strings.HasPrefix(rest, "AUTH failure ("):
		ev.Kind, ev.Result = Auth, ResultFail
		return ev
	case strings.HasPrefix(rest, "starting daemon ("), strings.HasPrefix(rest, "alias database "),
		strings.HasPrefix(rest, "connect from "), strings.HasPrefix(rest, "clone "),
		strings.HasPrefix(rest, "done; delivery mode"):
		ev.Kind = Ignored
		return ev
	}
	// "QID: NEWQID: DSN: reason"
	if qid != "" {
		if q2, r2 := splitQID(rest); q2 != "" && strings.HasPrefix(r2, "DSN: ") {
			ev.Kind = DSN
			return ev
		}
	}
	return ev
}

// splitQID splits "QID: rest". sendmail 8.17's queue ids are 14 letters
// and digits; older and newer formats differ in length, so any run of
// 8 to 20 of them before ": " counts. "NOQUEUE: " is sendmail's marker
// for a line of no queue.
func splitQID(msg string) (qid, rest string) {
	i := 0
	for i < len(msg) && i <= 20 && isAlnum(msg[i]) {
		i++
	}
	if i >= 8 && i <= 20 && i+1 < len(msg) && msg[i] == ':' && msg[i+1] == ' ' {
		if msg[:i] == "NOQUEUE" {
			return "", msg[i+2:]
		}
		return msg[:i], msg[i+2:]
	}
	if strings.HasPrefix(msg, "NOQUEUE: ") {
		return "", msg[len("NOQUEUE: "):]
	}
	return "", msg
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// parseFrom reads "from=<a>, size=N, class=N, nrcpts=N, [msgid=<…>, ]… daemon=NAME, relay=…".
// The sender address is attacker-controlled (a quoted local part may
// spell ", nrcpts=9"), so it is skipped as an address before any field
// is read.
func parseFrom(ev Event, rest string) Event {
	ev.Kind = From
	ev.Daemon = DaemonLocal
	tail, ok := skipAddresses(rest[len("from="):])
	if !ok || !strings.HasPrefix(tail, ", size=") {
		ev.Kind = Unknown
		return ev
	}
	tail = tail[len(", size="):]
	size, n := atoi(tail)
	if n == 0 || !strings.HasPrefix(tail[n:], ", class=") {
		ev.Kind = Unknown
		return ev
	}
	ev.Size = size
	tail = tail[n+len(", class="):]
	_, n = atoi(tail)
	tail = tail[n:]
	if !strings.HasPrefix(tail, ", nrcpts=") {
		ev.Kind = Unknown
		return ev
	}
	tail = tail[len(", nrcpts="):]
	nr, n := atoi(tail)
	if n == 0 {
		ev.Kind = Unknown
		return ev
	}
	ev.Nrcpts = int(nr)
	tail = tail[n:]
	if strings.HasPrefix(tail, ", msgid=") {
		// The Message-ID is the sender's too; skip it as an address.
		if t, ok := skipAddresses(tail[len(", msgid="):]); ok {
			tail = t
		}
	}
	if j := strings.Index(tail, ", daemon="); j >= 0 {
		v := tail[j+len(", daemon="):]
		if k := strings.IndexByte(v, ','); k >= 0 {
			v = v[:k]
		}
		ev.Daemon = daemonLabel(v)
	}
	return ev
}

// skipAddresses skips the address list at the start of s and returns what
// follows it (", size=…"). Addresses are "<…>" with quoted strings and
// backslash escapes inside, several joined by commas ("<a>,<b>"), or bare
// ("root", "|/usr/bin/procmail") up to ", ".
func skipAddresses(s string) (string, bool) {
	for {
		if s == "" {
			return "", false
		}
		if s[0] != '<' {
			i := strings.Index(s, ", ")
			if i < 0 {
				return "", false
			}
			return s[i:], true
		}
		i, quoted := 1, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' {
				i++
				continue
			}
			if c == '"' {
				quoted = !quoted
			} else if c == '>' && !quoted {
				break
			}
		}
		if i >= len(s) {
			return "", false
		}
		s = s[i+1:]
		if len(s) > 1 && s[0] == ',' && s[1] == '<' {
			s = s[1:]
			continue
		}
		return s, true
	}
}

func daemonLabel(v string) string {
	for _, d := range Daemons {
		if v == d && d != DaemonLocal {
			return d
		}
	}
	return Other
}

// parseTo reads "to=<a>,<b>, [ctladdr=<c> (u/g), ]delay=D, [xdelay=D, ]
// [mailer=M, ]pri=N, [relay=R, ][dsn=X.Y.Z, ]stat=TEXT". The addresses
// are attacker-controlled and skipped as addresses first.
func parseTo(ev Event, rest string) Event {
	ev.Kind = To
	tail, ok := skipAddresses(rest[len("to="):])
	if ok && strings.HasPrefix(tail, ", ctladdr=") {
		tail, ok = skipAddresses(tail[len(", ctladdr="):])
		if ok && strings.HasPrefix(tail, " (") {
			if i := strings.IndexByte(tail, ')'); i >= 0 {
				tail = tail[i+1:]
			}
		}
	}
	if !ok || !strings.HasPrefix(tail, ", delay=") {
		ev.Kind = Unknown
		return ev
	}
	d, n := parseDuration(tail[len(", delay="):])
	if n == 0 {
		ev.Kind = Unknown
		return ev
	}
	ev.Delay = d
	tail = tail[len(", delay=")+n:]
	if strings.HasPrefix(tail, ", xdelay=") {
		d, n := parseDuration(tail[len(", xdelay="):])
		if n > 0 {
			ev.XDelay, ev.HasXDelay = d, true
			tail = tail[len(", xdelay=")+n:]
		}
	}
	if strings.HasPrefix(tail, ", mailer=") {
		v := tail[len(", mailer="):]
		k := strings.IndexByte(v, ',')
		if k < 0 {
			k = len(v)
		}
		ev.Mailer = mailerLabel(v[:k])
		tail = v[k:]
	}
	// stat= is last and free text (a remote's reply); the fields before it
	// are sendmail's own, so the first ", stat=" is the real one unless a
	// relay host name holds it, which DNS names cannot.
	stat := ""
	if i := strings.Index(tail, ", stat="); i >= 0 {
		stat = tail[i+len(", stat="):]
		tail = tail[:i]
	}
	dsnClass := byte(0)
	dsn := ""
	if i := strings.Index(tail, ", dsn="); i >= 0 {
		dsn = tail[i+len(", dsn="):]
		if k := strings.IndexByte(dsn, ','); k >= 0 {
			dsn = dsn[:k]
		}
		if len(dsn) >= 5 && dsn[1] == '.' && (dsn[0] == '2' || dsn[0] == '4' || dsn[0] == '5') {
			dsnClass = dsn[0]
		}
	}
	switch {
	case dsnClass == '2':
		ev.Status = StatusSent
	case dsnClass == '4':
		ev.Status = StatusDeferred
	case dsnClass == '5':
		ev.Status = StatusBounced
	case strings.HasPrefix(stat, "Sent"):
		ev.Status = StatusSent
	case strings.HasPrefix(stat, "Deferred"):
		ev.Status = StatusDeferred
	default:
		ev.Status = Other
	}
	if ev.Status == StatusDeferred {
		ev.DeferReason = deferReason(dsn, stat)
	}
	return ev
}

func mailerLabel(v string) string {
	switch v {
	case "*file*":
		return "file"
	case "*include*":
		return "include"
	}
	for _, m := range Mailers {
		if v == m {
			return m
		}
	}
	return Other
}

// deferReason classifies a deferral. Rate limiting is what the remote's
// enhanced status code 4.7.x says (RFC 3463 "security or policy status",
// which large providers use for throttling), or what its text says.
func deferReason(dsn, stat string) string {
	switch {
	case strings.HasPrefix(dsn, "4.7."):
		return DeferRateLimited
	case containsFold(stat, "rate limit"), containsFold(stat, "too many"), containsFold(stat, "throttl"),
		containsFold(stat, "unusual rate"):
		return DeferRateLimited
	case strings.Contains(stat, "Connection refused"):
		return DeferConnectionRefused
	case strings.Contains(stat, "timed out"), strings.Contains(stat, "Connection reset"):
		return DeferConnectionTimeout
	case strings.Contains(stat, "Host unknown"), strings.Contains(stat, "host name lookup failure"),
		strings.Contains(stat, "Name server"), strings.HasPrefix(dsn, "4.4.3"):
		return DeferHostUnknown
	case len(stat) > len("Deferred: 4") && strings.HasPrefix(stat, "Deferred: 4"):
		return DeferRemoteTempfail
	}
	return Other
}

// containsFold is strings.Contains ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

// parseRuleset reads "ruleset=check_X, arg1=…, relay=…, reject=CODE TEXT".
func parseRuleset(ev Event, rest string) Event {
	name := rest[len("ruleset="):]
	if k := strings.IndexByte(name, ','); k >= 0 {
		name = name[:k]
	}
	i := strings.LastIndex(rest, ", reject=")
	if i < 0 {
		// ", discard" and ", quarantine=…" accept the command.
		ev.Kind = Ignored
		return ev
	}
	text := rest[i+len(", reject="):]
	ev.Kind = Reject
	switch name {
	case "check_relay":
		ev.Stage = StageConnect
	case "check_helo":
		ev.Stage = StageHelo
	case "check_mail":
		ev.Stage = StageMail
	case "check_rcpt":
		ev.Stage = StageRcpt
	case "check_data", "check_eoh", "check_eom":
		ev.Stage = StageData
	default:
		ev.Stage = Other
	}
	switch {
	case strings.Contains(text, "Relaying denied"):
		ev.Reason = ReasonRelayingDenied
	case strings.HasSuffix(text, "Access denied"):
		ev.Reason = ReasonAccessDenied
	case strings.HasSuffix(text, "User unknown"):
		ev.Reason = ReasonUserUnknown
	default:
		ev.Reason = Other
	}
	return ev
}

// parseStartTLS reads "STARTTLS=server, relay=…, version=…" (a handshake
// done) and "STARTTLS=server, error: accept failed=…" (one that failed).
// Other STARTTLS lines (OpenSSL's detail after an error) count nothing.
func parseStartTLS(ev Event, rest string) Event {
	var role string
	switch {
	case strings.HasPrefix(rest, "STARTTLS=server, "):
		role = RoleServer
	case strings.HasPrefix(rest, "STARTTLS=client, "):
		role = RoleClient
	default:
		ev.Kind = Ignored
		return ev
	}
	body := rest[len("STARTTLS=server, "):]
	switch {
	case strings.HasPrefix(body, "error:"):
		ev.Kind, ev.Role, ev.Result = StartTLS, role, ResultErr
	case strings.Contains(body, ", version="):
		ev.Kind, ev.Role, ev.Result = StartTLS, role, ResultOK
	default:
		ev.Kind = Ignored
	}
	return ev
}

// parseMilter reads "Milter: data, reject=…" and its siblings for the
// other stages, and recognises the milters' header changes.
func parseMilter(ev Event, rest string) Event {
	if !strings.HasPrefix(rest, "Milter: ") {
		// "Milter (opendkim) insert (0): header: …", "Milter (x): init success …"
		ev.Kind = Ignored
		return ev
	}
	body := rest[len("Milter: "):]
	i := strings.LastIndex(body, ", reject=")
	if i < 0 {
		ev.Kind = Ignored
		return ev
	}
	ev.Kind, ev.Reason = Reject, ReasonMilter
	switch {
	case strings.HasPrefix(body, "data,"), strings.HasPrefix(body, "eoh,"), strings.HasPrefix(body, "body,"):
		ev.Stage, ev.Refusal = StageData, true
	case strings.HasPrefix(body, "to="):
		ev.Stage = StageRcpt
	case strings.HasPrefix(body, "from="):
		ev.Stage = StageMail
	case strings.HasPrefix(body, "helo="):
		ev.Stage = StageHelo
	case strings.HasPrefix(body, "connect"):
		ev.Stage = StageConnect
	default:
		ev.Stage = Other
	}
	return ev
}

// parseCollect reads the lines sendmail logs while collecting DATA.
// "collect: premature EOM: unexpected close" is a client gone in the
// middle of DATA (sendmail 8.17 logs no "lost input channel … after data");
// the "collect: relay=…, info=…" line that follows describes the same event.
func parseCollect(ev Event, rest string) Event {
	body := rest[len("collect: "):]
	switch {
	case strings.HasPrefix(body, "premature EOM"), strings.HasPrefix(body, "I/O error on connection"):
		ev.Kind, ev.Stage, ev.Abort = Lost, StageData, true
	default:
		ev.Kind = Ignored
	}
	return ev
}

// commandStage maps an SMTP command name, as sendmail logs it after
// "lost input channel … after", to a stage.
func commandStage(cmd string) string {
	switch cmd {
	case "connect":
		return StageConnect
	case "helo", "ehlo":
		return StageHelo
	case "mail":
		return StageMail
	case "rcpt":
		return StageRcpt
	case "data":
		return StageData
	}
	return Other
}

// atoi reads the leading decimal digits of s, returning the value and how
// many bytes it used; values past int64 saturate.
func atoi(s string) (int64, int) {
	var v int64
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if v < (1<<62)/10 {
			v = v*10 + int64(s[i]-'0')
		}
		i++
	}
	return v, i
}

// parseDuration reads sendmail's "[D+]HH:MM:SS" and returns seconds and
// the bytes used, or 0 bytes when s does not start with one.
func parseDuration(s string) (float64, int) {
	days, n := atoi(s)
	off := 0
	if n > 0 && n < len(s) && s[n] == '+' {
		off = n + 1
	} else {
		days = 0
	}
	h, n1 := atoi(s[off:])
	if n1 == 0 || off+n1 >= len(s) || s[off+n1] != ':' {
		return 0, 0
	}
	off += n1 + 1
	m, n2 := atoi(s[off:])
	if n2 != 2 || off+n2 >= len(s) || s[off+n2] != ':' {
		return 0, 0
	}
	off += n2 + 1
	sec, n3 := atoi(s[off:])
	if n3 != 2 {
		return 0, 0
	}
	off += n3
	return float64(days*86400 + h*3600 + m*60 + sec), off
}
