package sendmail

import "math/bits"
import "slices"
import "strings"
import "time"
import "unsafe"

import "github.com/cabalmail/mailtier/collectors"

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
	Mailer string
	Status string
	// Delay and XDelay are delay= and xdelay= in seconds, when the line
	// has them (HasDelay, HasXDelay) and they are within MaxDelay.
	// BadDelays counts those that were out of range or malformed: they are
	// left out, the line still counts.
	Delay       float64
	XDelay      float64
	HasDelay    bool
	HasXDelay   bool
	BadDelays   int
	DeferReason string
	// DSN and Stat are the dsn= and stat= of a To line, substrings of the
	// line (stat= is the remote's reply text): what a deferral's reason is
	// decided from.
	DSN  string
	Stat string

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
	DeferPolicy            = "policy"
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
	DeferReasons = []string{DeferConnectionRefused, DeferConnectionTimeout, DeferHostUnknown, DeferRateLimited, DeferPolicy, DeferRemoteTempfail, Other}
)

// Parse reads the message part of one sendmail log line (after
// "sm-mta[pid]: "). It never allocates: strings in the Event are either
// constants or substrings of msg.
func Parse(msg string) Event {
	var ev Event
	qid, rest := splitQID(msg)
	parseAfterQID(&ev, qid, rest)
	return ev
}

// parseAfterQID is Parse for a message already split by splitQID, into
// ev: an Event is larger than the registers that return one, and the
// collector's per-line copies of it cost more than some of its parsers.
// It reports whether the line is a from= line with a daemon= field
// (after its addresses, which a hostile sender may fill with any text),
// which the session count would otherwise look for again.
func parseAfterQID(ev *Event, qid, rest string) (daemonField bool) {
	*ev = Event{QID: qid}
	switch {
	case strings.HasPrefix(rest, "from="):
		return parseFrom(ev, rest)
	case strings.HasPrefix(rest, "to="):
		parseTo(ev, rest)
		return false
	case strings.HasPrefix(rest, "ruleset="):
		parseRuleset(ev, rest)
		return false
	case strings.HasPrefix(rest, "STARTTLS"):
		parseStartTLS(ev, rest)
		return false
	case strings.HasPrefix(rest, "Milter"):
		parseMilter(ev, rest)
		return false
	case strings.HasPrefix(rest, "collect: "):
		parseCollect(ev, rest)
		return false
	case strings.HasPrefix(rest, "lost input channel from "):
		// "lost input channel from HOST [IP] to MTA after rcpt"
		ev.Kind, ev.Abort = Lost, true
		ev.Stage = Other
		if i := strings.LastIndex(rest, " after "); i >= 0 {
			ev.Stage = commandStage(rest[i+len(" after "):])
		}
		return false
	case strings.HasPrefix(rest, "message size (") && strings.Contains(rest, ") exceeds maximum ("):
		ev.Kind, ev.Stage, ev.Reason, ev.Refusal = Reject, StageData, ReasonTooLarge, true
		return false
	case strings.HasPrefix(rest, "rejecting commands from ") && strings.Contains(rest, " due to pre-greeting traffic"):
		ev.Kind, ev.Stage, ev.Reason = Reject, StageConnect, ReasonPregreet
		return false
	case strings.HasSuffix(rest, " [rejected]") && isVrfyRefusal(rest):
		// "[IP]: VRFY user [rejected]" (PrivacyOptions novrfy / noexpn)
		ev.Kind, ev.Stage, ev.Reason = Reject, Other, ReasonVrfy
		return false
	case qid != "" && strings.HasPrefix(rest, "<"):
		parseRecipientRefusal(ev, rest)
		return false
	case strings.Contains(rest, " did not issue MAIL/EXPN/VRFY/ETRN during connection to "):
		ev.Kind = NoMail
		return false
	case strings.HasPrefix(rest, "AUTH=server, ") || strings.HasPrefix(rest, "AUTH=client, "):
		ev.Kind, ev.Result = Auth, ResultOK
		return false
	case strings.HasPrefix(rest, "AUTH failure ("):
		ev.Kind, ev.Result = Auth, ResultFail
		return false
	case strings.HasPrefix(rest, "starting daemon ("), strings.HasPrefix(rest, "alias database "),
		strings.HasPrefix(rest, "connect from "), strings.HasPrefix(rest, "clone "),
		strings.HasPrefix(rest, "done; "), strings.Contains(rest, ": possible SMTP attack: command="),
		strings.HasPrefix(rest, "SMTP outgoing connect on "):
		// "done; delay=…, ntries=N" ends a message's queue run;
		// "CLIENT: possible SMTP attack: command=AUTH, count=5" is
		// srvrsmtp.c's checksmtpattack slowing a client down; "SMTP
		// outgoing connect on IF" is daemon.c's, at LogLevel 12 and up.
		ev.Kind = Ignored
		return false
	}
	// "QID: NEWQID: DSN: reason" and its siblings (savemail.c's
	// returntosender): every one is a notification sendmail generated.
	if qid != "" {
		if q2, r2 := splitQID(rest); q2 != "" {
			for _, kind := range notifyKinds {
				if strings.HasPrefix(r2, kind) {
					ev.Kind = DSN
					return false
				}
			}
		}
	}
	return false
}

// notifyKinds are the kinds of notification savemail.c logs as
// "QID: NEWQID: <kind>: <reason>": a bounce (DSN), a delay warning (sender
// notify), a copy to the postmaster, and an answer to the sender.
var notifyKinds = [...]string{"DSN: ", "sender notify: ", "postmaster notify: ", "return to sender: "}

// isVrfyRefusal recognises srvrsmtp.c's "CLIENT: CMD ARGS [rejected]" for
// VRFY and EXPN, CLIENT being "[IP]", "HOST [IP]" or "HOST [IP] (may be
// forged)". The command is the client's own text, in any case.
func isVrfyRefusal(rest string) bool {
	i := strings.IndexByte(rest, ']')
	if i < 0 || strings.Contains(rest[:i], ": ") {
		return false
	}
	cmd := rest[i+1:]
	cmd = strings.TrimPrefix(cmd, " (may be forged)")
	if !strings.HasPrefix(cmd, ": ") || len(cmd) < 7 {
		return false
	}
	verb := cmd[2:6]
	return (strings.EqualFold(verb, "VRFY") || strings.EqualFold(verb, "EXPN")) && (cmd[6] == ' ' || len(cmd) == 6)
}

// parseRecipientRefusal reads "QID: <addr>... TEXT": sendmail's account
// of a recipient it refused at RCPT, after the address failed to resolve
// (an unknown local user, a virtusertable error: entry). TEXT is sendmail's
// ("User unknown") or the site's own ("No such user here"), so only
// sendmail's own wording names the reason; any other text is a refusal
// at RCPT for reason other.
func parseRecipientRefusal(ev *Event, rest string) {
	tail, ok := skipAddresses(rest)
	if !ok || !strings.HasPrefix(tail, "... ") || len(tail) == len("... ") {
		return
	}
	text := tail[len("... "):]
	ev.Kind, ev.Stage, ev.Reason = Reject, StageRcpt, Other
	if strings.HasPrefix(text, "User unknown") {
		ev.Reason = ReasonUserUnknown
	}
}

// splitQID splits "QID: rest". sendmail 8.17's queue ids are 14 letters
// and digits; older and newer formats differ in length, so any run of
// 8 to 20 of them before ": " counts. "NOQUEUE: " is sendmail's marker
// for a line of no queue.
func splitQID(msg string) (qid, rest string) {
	// The run stops at 21 bytes: longer is no queue id.
	i := collectors.AlnumPrefix(msg, 21)
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

// parseFrom reads "from=<a>, size=N, class=N, nrcpts=N, [msgid=<…>, ]… daemon=NAME, relay=…".
// The sender address is attacker-controlled (a quoted local part may
// spell ", nrcpts=9"), so it is skipped as an address before any field
// is read. The fields after it are read by name: a value this parser does
// not expect (a negative class= for bulk or junk precedence, a field of a
// later sendmail) is passed over, never a reason to drop the line. The
// line is a sender line when it has size= or nrcpts=.
func parseFrom(ev *Event, rest string) (daemonField bool) {
	ev.Daemon = DaemonLocal
	tail, ok := skipAddresses(rest[len("from="):])
	if !ok {
		return false
	}
	known := false
	for strings.HasPrefix(tail, ", ") {
		kv := tail[2:]
		if kv != "" && kv[0] == 'm' && strings.HasPrefix(kv, "msgid=") {
			// The Message-ID is the sender's too; skip it as an address.
			if t, ok := skipAddresses(kv[len("msgid="):]); ok {
				tail = t
				continue
			}
		}
		var field string
		field, tail = cutField(kv)
		if field == "" {
			continue
		}
		// The first byte picks the one name a field can have.
		switch field[0] {
		case 's':
			if strings.HasPrefix(field, "size=") {
				if v, n := atoi(field[len("size="):]); n > 0 {
					ev.Size, known = v, true
				}
			}
		case 'n':
			if strings.HasPrefix(field, "nrcpts=") {
				if v, n := atoi(field[len("nrcpts="):]); n > 0 {
					ev.Nrcpts, known = int(v), true
				}
			}
		case 'd':
			if strings.HasPrefix(field, "daemon=") {
				ev.Daemon = daemonLabel(field[len("daemon="):])
				daemonField = true
			}
		}
	}
	if known {
		ev.Kind = From
	}
	return daemonField
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
		// Only '>', '"' and '\\' change the scan, so it jumps from one
		// of them to the next.
		i, quoted := 1, false
		for {
			j := indexAddressByte(s[i:])
			if j < 0 {
				return "", false
			}
			i += j
			if c := s[i]; c == '\\' {
				i++
			} else if c == '"' {
				quoted = !quoted
			} else if !quoted {
				break
			}
			if i++; i >= len(s) {
				return "", false
			}
		}
		s = s[i+1:]
		if len(s) > 1 && s[0] == ',' && s[1] == '<' {
			s = s[1:]
			continue
		}
		return s, true
	}
}

// Byte masks for finding bytes eight at a time (SWAR).
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// zeroBytes has the high bit set of the lowest zero byte of v (and
// possibly of bytes above it, never below): 0 when v has none.
func zeroBytes(v uint64) uint64 { return (v - lowBits) &^ v & highBits }

// load64 is the eight bytes of s from i, little-endian: one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// indexAddressByte returns the index of the first '>', '"' or '\\' in s,
// or -1. It tests eight bytes at a time: addresses are long runs of other
// bytes, and a byte-at-a-time scan of them was a fifth of Parse.
func indexAddressByte(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		if m := zeroBytes(x^('>'*lowBits)) | zeroBytes(x^('"'*lowBits)) | zeroBytes(x^('\\'*lowBits)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '>' || c == '"' || c == '\\' {
			return i
		}
	}
	return -1
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
// [mailer=M, ]pri=N, [relay=R, ][dsn=X.Y.Z, ]stat=TEXT" (deliver.c's
// logdelivery). The addresses are attacker-controlled and skipped as
// addresses first; the fields after them are read by name up to stat=,
// which is last and free text (a remote's reply). The line is a delivery
// line when it has delay= or stat=.
func parseTo(ev *Event, rest string) {
	tail, ok := skipAddresses(rest[len("to="):])
	if ok && strings.HasPrefix(tail, ", ctladdr=") {
		tail, ok = skipAddresses(tail[len(", ctladdr="):])
		if ok && strings.HasPrefix(tail, " (") {
			if i := strings.IndexByte(tail, ')'); i >= 0 {
				tail = tail[i+1:]
			}
		}
	}
	if !ok {
		return
	}
	known := false
	for strings.HasPrefix(tail, ", ") {
		kv := tail[2:]
		if strings.HasPrefix(kv, "stat=") {
			ev.Stat, known = kv[len("stat="):], true
			break
		}
		var field string
		field, tail = cutField(kv)
		if field == "" {
			continue
		}
		switch {
		case field[0] == 'p' || field[0] == 'r':
			// pri= and relay=, the commonest fields that count nothing.
		case strings.HasPrefix(field, "delay="):
			known = true
			if d, ok := parseDelay(field[len("delay="):]); ok {
				ev.Delay, ev.HasDelay = d, true
			} else {
				ev.BadDelays++
			}
		case strings.HasPrefix(field, "xdelay="):
			if d, ok := parseDelay(field[len("xdelay="):]); ok {
				ev.XDelay, ev.HasXDelay = d, true
			} else {
				ev.BadDelays++
			}
		case strings.HasPrefix(field, "mailer="):
			ev.Mailer = mailerLabel(field[len("mailer="):])
		case strings.HasPrefix(field, "dsn="):
			ev.DSN = field[len("dsn="):]
		}
	}
	if !known {
		return
	}
	ev.Kind = To
	dsnClass := byte(0)
	if d := ev.DSN; len(d) >= 5 && d[1] == '.' && (d[0] == '2' || d[0] == '4' || d[0] == '5') {
		dsnClass = d[0]
	}
	switch {
	case dsnClass == '2':
		ev.Status = StatusSent
	case dsnClass == '4':
		ev.Status = StatusDeferred
	case dsnClass == '5':
		ev.Status = StatusBounced
	case strings.HasPrefix(ev.Stat, "Sent"):
		ev.Status = StatusSent
	case strings.HasPrefix(ev.Stat, "Deferred"):
		ev.Status = StatusDeferred
	default:
		ev.Status = Other
	}
	if ev.Status == StatusDeferred {
		ev.DeferReason = DefaultRateLimits.DeferReason(ev.DSN, ev.Stat)
	}
}

// parseDelay reads a whole delay= or xdelay= value; false when it is not
// sendmail's "[D+]HH:MM:SS" or lies beyond MaxDelay.
func parseDelay(v string) (float64, bool) {
	d, n := parseDuration(v)
	if n == 0 || n != len(v) || d > MaxDelay.Seconds() {
		return 0, false
	}
	return d, true
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

// RateLimits says which deferrals are a remote throttling this server:
// the operator's choice, since no standard code says it. A deferral is
// rate_limited when its enhanced status code starts with one of DSNs or
// its reply contains one of Texts (ASCII case ignored).
type RateLimits struct {
	DSNs  []string
	Texts []string
}

// DefaultRateLimits are the flags' defaults: Gmail's 4.7.28 and the
// wordings large providers and sendmail's own ratecontrol use.
var DefaultRateLimits = RateLimits{
	DSNs:  []string{"4.7.28"},
	Texts: []string{"rate limit", "ratelimit", "rate-limit", "too many", "throttl", "unusual rate", "unexpected volume"},
}

// DeferReason classifies a deferral from its DSN code and reply text.
// rate_limited is what the operator's RateLimits say; any other 4.7.x
// (RFC 3463 "security or policy status": a client host or sender refused
// by policy, greylisting, a blocklist) is policy; then the transport's
// failures; then any other 4xx reply of the remote.
func (rl RateLimits) DeferReason(dsn, stat string) string {
	for _, d := range rl.DSNs {
		if d != "" && strings.HasPrefix(dsn, d) {
			return DeferRateLimited
		}
	}
	var texts *foldSet
	if sameStrings(rl.Texts, defaultTexts.subs) {
		texts = &defaultTexts
	} else {
		texts = new(foldSet) // on the stack: it does not escape
		texts.init(rl.Texts)
	}
	if texts.containedIn(stat) {
		return DeferRateLimited
	}
	switch {
	case strings.HasPrefix(dsn, "4.7."):
		return DeferPolicy
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

// containsFold is strings.Contains ignoring case, without allocating: it
// reports whether some window of s as long as sub (in bytes) is
// strings.EqualFold to sub.
//
// For an ASCII sub, which every rate-limit text is in practice, only an
// ASCII window can be (a window holding a multi-byte rune has fewer runes
// than sub), so the windows are compared by ASCII case alone, and only
// where their first byte matches sub's: one pass over s instead of an
// EqualFold call at every byte of it.
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	if !isASCII(sub) {
		for i := 0; i+n <= len(s); i++ {
			if strings.EqualFold(s[i:i+n], sub) {
				return true
			}
		}
		return false
	}
	lo, up := lowerASCII(sub[0]), upperASCII(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; (c == lo || c == up) && equalFoldASCII(s[i+1:i+n], sub[1:]) {
			return true
		}
	}
	return false
}

// containsAnyFold reports whether s contains one of subs ignoring case,
// as containsFold does, skipping empty ones. The ASCII ones are looked for
// together, in one pass over s: only where a byte of s is, in either case,
// the first byte of one of them is that one compared.
func containsAnyFold(s string, subs []string) bool {
	var f foldSet
	f.init(subs)
	return f.containedIn(s)
}

// foldSet is the texts containsAnyFold looks for, with the table of their
// first bytes. The default rate-limit texts' set is built once
// (defaultTexts): building it for every deferral cost as much as the
// search.
type foldSet struct {
	subs     []string
	first    [256]bool
	ascii    int  // ASCII texts among subs
	nonASCII bool // some text of subs is not ASCII
}

// defaultTexts is the set of DefaultRateLimits.Texts as they were when the
// program started; DeferReason uses it for texts that are still those
// very strings.
var defaultTexts = func() (f foldSet) {
	f.init(slices.Clone(DefaultRateLimits.Texts))
	return f
}()

func (f *foldSet) init(subs []string) {
	f.subs, f.first, f.ascii, f.nonASCII = subs, [256]bool{}, 0, false
	for _, sub := range subs {
		switch {
		case sub == "":
		case isASCII(sub):
			f.first[lowerASCII(sub[0])], f.first[upperASCII(sub[0])] = true, true
			f.ascii++
		default:
			f.nonASCII = true
		}
	}
}

// sameStrings reports whether a and b hold the very same strings (the
// same bytes in memory), which are then equal: a check without a call
// per string.
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || unsafe.StringData(a[i]) != unsafe.StringData(b[i]) {
			return false
		}
	}
	return true
}

// containedIn is containsAnyFold(s, f.subs).
func (f *foldSet) containedIn(s string) bool {
	if f.nonASCII {
		for _, sub := range f.subs {
			if sub != "" && !isASCII(sub) && containsFold(s, sub) {
				return true
			}
		}
	}
	if f.ascii == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !f.first[c] {
			continue
		}
		// A non-ASCII sub is compared too when its first byte matches:
		// bytes equal but for ASCII case are EqualFold, so a match is one.
		lc := lowerASCII(c)
		for _, sub := range f.subs {
			if sub != "" && len(s)-i >= len(sub) && lowerASCII(sub[0]) == lc &&
				equalFoldASCII(s[i+1:i+len(sub)], sub[1:]) {
				return true
			}
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// equalFoldASCII reports whether a and b, of equal length, are equal
// ignoring ASCII case.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(b); i++ {
		if a[i] != b[i] && lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// parseRuleset reads "ruleset=check_X, arg1=…, relay=…, reject=CODE TEXT".
func parseRuleset(ev *Event, rest string) {
	name := rest[len("ruleset="):]
	if k := strings.IndexByte(name, ','); k >= 0 {
		name = name[:k]
	}
	i := strings.LastIndex(rest, ", reject=")
	if i < 0 {
		// ", discard" and ", quarantine=…" accept the command.
		ev.Kind = Ignored
		return
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
}

// parseStartTLS reads "STARTTLS=server, relay=…, version=…" (a handshake
// done) and "STARTTLS=server, error: accept failed=…" (one that failed).
// Other STARTTLS lines (OpenSSL's detail after an error) count nothing.
func parseStartTLS(ev *Event, rest string) {
	var role string
	switch {
	case strings.HasPrefix(rest, "STARTTLS=server, "):
		role = RoleServer
	case strings.HasPrefix(rest, "STARTTLS=client, "):
		role = RoleClient
	default:
		ev.Kind = Ignored
		return
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
}

// parseMilter reads "Milter: data, reject=…" and its siblings for the
// other stages, and recognises the milters' header changes.
func parseMilter(ev *Event, rest string) {
	if !strings.HasPrefix(rest, "Milter: ") {
		// "Milter (opendkim) insert (0): header: …", "Milter (x): init success …"
		ev.Kind = Ignored
		return
	}
	body := rest[len("Milter: "):]
	i := strings.LastIndex(body, ", reject=")
	if i < 0 {
		ev.Kind = Ignored
		return
	}
	ev.Kind, ev.Reason = Reject, ReasonMilter
	switch {
	case strings.HasPrefix(body, "data,"), strings.HasPrefix(body, "eoh,"), strings.HasPrefix(body, "body,"):
		ev.Stage, ev.Refusal = StageData, true
	case strings.HasPrefix(body, "cmd=data,"):
		// Refused at the DATA command, before the message was read: its
		// from= line is never logged.
		ev.Stage = StageData
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
}

// parseCollect reads the lines sendmail logs while collecting DATA.
// "collect: premature EOM: unexpected close" is a client gone in the
// middle of DATA (sendmail 8.17 logs no "lost input channel … after data");
// the "collect: relay=…, info=…" line that follows describes the same event.
func parseCollect(ev *Event, rest string) {
	body := rest[len("collect: "):]
	switch {
	case strings.HasPrefix(body, "premature EOM"), strings.HasPrefix(body, "I/O error on connection"):
		ev.Kind, ev.Stage, ev.Abort = Lost, StageData, true
	default:
		ev.Kind = Ignored
	}
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

// MaxDelay is the longest delay= or xdelay= believed: a year. sendmail
// returns a message after Timeout.queuereturn (five days by default); a
// longer value is a forged or corrupt line, and left out of the
// histograms rather than let one line skew their sums.
const MaxDelay = 365 * 24 * time.Hour

// parseDuration reads sendmail's "[D+]HH:MM:SS" (pintvl in util.c) and
// returns seconds and the bytes used, or 0 bytes when s does not start
// with one. Minutes and seconds are two digits below 60; days and hours
// may be of any length, and saturate rather than overflow.
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
	if n2 != 2 || m > 59 || off+n2 >= len(s) || s[off+n2] != ':' {
		return 0, 0
	}
	off += n2 + 1
	sec, n3 := atoi(s[off:])
	if n3 != 2 || sec > 59 {
		return 0, 0
	}
	off += n3
	// In float64: days and hours as large as atoi allows cannot overflow.
	return float64(days)*86400 + float64(h)*3600 + float64(m*60+sec), off
}

// cutField splits the first "name=value" field off kv, a list of fields
// separated by ", ", and returns it with the rest (starting at its ", ").
// Fields are short ("size=0", "pri=30221"): a loop over words finds their
// end sooner than strings.Index, whose setup costs more than the scan.
func cutField(kv string) (field, rest string) {
	i := 0
	for ; i+8 <= len(kv); i += 8 {
		if m := zeroBytes(load64(kv, i) ^ (',' * lowBits)); m != 0 {
			// The first ',' of the word; a later one is found from it.
			i += bits.TrailingZeros64(m) / 8
			if i+1 < len(kv) && kv[i+1] == ' ' {
				return kv[:i], kv[i:]
			}
			i -= 7 // the loop adds 8: on from the byte after the ','
		}
	}
	for ; i+1 < len(kv); i++ {
		if kv[i] == ',' && kv[i+1] == ' ' {
			return kv[:i], kv[i:]
		}
	}
	return kv, ""
}
