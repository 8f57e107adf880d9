package sendmail

// SMTP sessions per minute, from sendmail's log.
//
// sendmail logs no line when it accepts a connection (not at LogLevel 9;
// see docs/collectors.md for the levels above). It serves every SMTP
// connection in a process of its own, forked for it, and every line that
// process writes carries its pid. So a session is counted the first time
// a pid writes a line only a serving process writes: a from= line that
// names the daemon that received it, the end of a session without mail,
// a client gone, a connection refused by check_relay, a refused command, a
// STARTTLS=server or AUTH=server outcome. At LogLevel 9 every session
// writes at least one of them. A pid is remembered for an hour: sendmail's
// longest timeout (Timeout.datablock) is an hour, and a pid reused by
// another session within that hour counts once.

import "strings"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"

// SessionWindow is how long a session's pid is remembered.
const SessionWindow = time.Hour

// MaxSessionPIDs bounds the pids remembered; past it the oldest half of
// the window is forgotten.
const MaxSessionPIDs = 100000

// sessionPrefixes are the starts of messages (after a queue id, if any)
// that only a process serving an SMTP connection writes.
var sessionPrefixes = collectors.PrefixSet(
	"ruleset=check_relay, ", // connection refused at connect (access map, DNSBL)
	"ruleset=check_mail, ",
	"ruleset=check_rcpt, ",
	"STARTTLS=server, ",
	"AUTH=server, ",
	"AUTH failure (",
	"rejecting commands from ", // greet_pause: pre-greeting traffic
	"lost input channel from ",
	"timeout waiting for input from ",
	"collect: premature EOM",
	"collect: I/O error",
	"Possible SMTP RCPT flood",
)

// isSessionLine reports whether rest, a message after its queue id (see
// afterQID), is a line only a process serving an SMTP connection writes.
func isSessionLine(rest string) bool {
	if _, _, ok := sessionPrefixes.Match(rest); ok {
		return true
	}
	if strings.HasPrefix(rest, "from=") && strings.Contains(rest, ", daemon=") {
		// A message received over SMTP; a command-line submission has no
		// daemon=.
		return true
	}
	if containsNoMail(rest) {
		return true
	}
	// "]: VRFY " or "]: EXPN ", looked for at each ']' in one pass.
	for s := rest; ; {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if strings.HasPrefix(s, ": VRFY ") || strings.HasPrefix(s, ": EXPN ") {
			return true
		}
	}
}

// noMailText is what sendmail logs of a session without mail, after
// its client; noMailAnchor is the rarest part of it, from its first '/'
// to its end.
const (
	noMailText   = " did not issue MAIL/EXPN/VRFY/ETRN during connection to "
	noMailAnchor = "/EXPN/VRFY/ETRN during connection to "
)

// containsNoMail is strings.Contains(rest, noMailText). It looks for the
// text's first '/' (rare in a log line) rather than its first byte, a
// space (in every other word), and checks the whole text where it is.
func containsNoMail(rest string) bool {
	const off = len(noMailText) - len(noMailAnchor)
	for i := off; i <= len(rest)-(len(noMailText)-off); {
		j := strings.Index(rest[i:], noMailAnchor)
		if j < 0 {
			return false
		}
		if at := i + j - off; at >= 0 && rest[at:at+off] == noMailText[:off] {
			return true
		}
		i += j + 1
	}
	return false
}

// afterQID returns a message without its leading queue id, if it has one,
// given splitQID's parts of it: what follows "QID: ", but the whole
// message for "NOQUEUE: …" (its session and DMARC checks never took
// NOQUEUE for a queue id).
func afterQID(msg, qid, rest string) string {
	if qid != "" {
		return rest
	}
	return msg
}

func isQIDText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

func isAlnumByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// sessionCounter counts SMTP sessions by the pids of their processes.
// Its owner serialises observe (the collector's lock).
type sessionCounter struct {
	total prometheus.Counter

	// seen holds when each pid's last session line was read. It is keyed
	// by the pid's value, not its text: the text is part of a line, valid
	// only while the line is handled, and a number needs no copy to keep.
	seen map[uint64]time.Time
}

func newSessionCounter() *sessionCounter {
	return &sessionCounter{
		total: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendmail_smtp_sessions_total",
			Help: "SMTP connections sendmail served, counted once per serving process: the first line of a pid that only a serving process writes (from= with daemon=, did not issue MAIL, lost input channel, check_relay refusals, STARTTLS=server, …).",
		}),
		seen: map[uint64]time.Time{},
	}
}

// pidKey is the value of pid, the digits of the envelope's "[pid]". A pid
// longer than any system's (a forged line) saturates: such lines share one
// key, as a reused pid would.
func pidKey(pid string) uint64 {
	var v uint64
	for i := 0; i < len(pid); i++ {
		if v >= 1<<59 {
			return 1 << 63
		}
		v = v*10 + uint64(pid[i]-'0')
	}
	return v
}

// observe counts the session of a line, if it is a session line of a pid
// not seen within SessionWindow. rest is the line's message after its
// queue id (afterQID); known says it is already known to be a session
// line.
func (s *sessionCounter) observe(pid, rest string, known bool, now time.Time) {
	if pid == "" || !(known || isSessionLine(rest)) {
		return
	}
	key := pidKey(pid)
	last, ok := s.seen[key]
	if !ok || now.Sub(last) > SessionWindow {
		s.total.Inc()
		if !ok && len(s.seen) >= MaxSessionPIDs {
			s.forget(now)
		}
	}
	s.seen[key] = now
}

// forget drops the pids not seen within the window, or if none is that
// old, those not seen in the last half of it.
func (s *sessionCounter) forget(now time.Time) {
	for _, age := range []time.Duration{SessionWindow, SessionWindow / 2, 0} {
		for pid, t := range s.seen {
			if now.Sub(t) >= age {
				delete(s.seen, pid)
			}
		}
		if len(s.seen) < MaxSessionPIDs {
			return
		}
	}
}
