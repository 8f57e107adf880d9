// Package logline recognises the envelope of one log line: who wrote it and
// what it said, whatever file it came from.
//
// Four shapes are recognised, because these are what the mail tiers write:
//
//	traditional syslog  Nov 24 05:15:41 host sm-mta[9221]: message
//	rsyslog RFC 3339    2026-11-24T05:15:41.123456+00:00 host sm-mta[9221]: message
//	Dovecot log_path    2026-11-24 05:15:41 imap-login: Info: message
//	                    Dec 02 09:22:22 auth-worker(u,ip)<230299>: request [1]: Info: message (2.4)
//	fail2ban's own      2026-11-24 05:15:41,965 fail2ban.filter [9143]: INFO [jail] message
//
// rsyslog's "message repeated N times: [ msg ]" (RepeatedMsgReduction)
// is read as msg, with Repeats N: the line stands for N lines.
//
// Parse does no allocation: the fields of a Record are substrings of the
// line. It knows nothing of files or of what any daemon's message means.
package logline

import "strings"
import "time"

// Format says which envelope a line had.
type Format uint8

// The envelopes Parse recognises.
const (
	Unknown  Format = iota
	Syslog          // RFC 3164, "Nov 24 05:15:41 host prog[pid]: msg"
	RFC3339         // rsyslog's default file format
	Dovecot         // Dovecot's own log_path file
	Fail2ban        // fail2ban's own logtarget file
)

func (f Format) String() string {
	switch f {
	case Syslog:
		return "syslog"
	case RFC3339:
		return "rfc3339"
	case Dovecot:
		return "dovecot"
	case Fail2ban:
		return "fail2ban"
	}
	return "unknown"
}

// Record is one parsed line. Program is what collectors are routed by.
type Record struct {
	Format Format
	// Timestamp is the envelope's time text, unparsed: no metric needs it,
	// and parsing it would cost more than the rest of the envelope.
	Timestamp string
	Host      string // empty for Dovecot's and fail2ban's own files
	// Program is the syslog tag without its pid ("sm-mta", "dovecot"),
	// "dovecot" for Dovecot's own file and "fail2ban" for fail2ban's.
	Program string
	PID     string
	// Message is everything after "prog[pid]: ". For Dovecot's file it is
	// the line after the timestamp ("imap-login: Info: Login: ..."), the
	// shape Dovecot's syslog lines have; for fail2ban's file it is the line
	// after the timestamp ("fail2ban.filter [9143]: INFO [jail] Found ...").
	Message string
	// Repeats is how many lines the record stands for: 1, or N for
	// rsyslog's "message repeated N times: [ … ]", at most MaxRepeats.
	Repeats int
	// Arrived is when the pipeline read the line, by its clock read once
	// per batch of lines read together (not per line: reading the clock
	// cost more than parsing the envelope). Parse leaves it zero, and so
	// it stays for a line not read by the pipeline.
	Arrived time.Time
}

// MaxRepeats bounds Repeats. rsyslog flushes a repeated message at the
// latest when another one arrives or its mark interval passes; a larger
// count is a forged line, and handing it on whole would let one line
// stall the reader.
const MaxRepeats = 10000

// Parse recognises line's envelope. It reports false, with an empty Record,
// when the line has none of the known shapes.
func Parse(line string) (Record, bool) {
	var r Record
	ok := r.Parse(line)
	return r, ok
}

// Parse sets r to line's envelope, as the function Parse returns it, and
// reports whether line had one; r is left empty when it had none. The
// pipeline parses every line into one Record it reuses: a Record is
// larger than the registers that return a value, and returning one by
// value copied it twice per line, which cost more than reading the
// envelope.
func (r *Record) Parse(line string) bool {
	switch {
	case isTraditionalStamp(line):
		return r.parseAfterStamp(line, 15, Syslog)
	case len(line) > 19 && isDate(line) && line[10] == 'T' && isClock(line[11:19]):
		end := 19
		for end < len(line) && line[end] != ' ' {
			end++
		}
		return r.parseAfterStamp(line, end, RFC3339)
	case len(line) > 19 && isDate(line) && line[10] == ' ' && isClock(line[11:19]):
		if line[19] == ',' {
			return r.parseFail2ban(line)
		}
		if line[19] == ' ' {
			return r.parseDovecotFile(line, 19)
		}
	}
	*r = Record{}
	return false
}

// isTraditionalStamp matches "Mmm dd hh:mm:ss " (day space-padded). The
// cheap fixed-position checks come first, and the month is told by a
// switch on its first letter, not by comparing it with every month name:
// this runs for every line.
func isTraditionalStamp(s string) bool {
	if len(s) < 16 || s[3] != ' ' || s[6] != ' ' || s[15] != ' ' || s[9] != ':' || s[12] != ':' {
		return false
	}
	if !isMonth(s[0], s[1], s[2]) {
		return false
	}
	if (s[4] != ' ' && !isDigit(s[4])) || !isDigit(s[5]) {
		return false
	}
	return isClock(s[7:15])
}

// isMonth reports whether a, b, c spell an English month's abbreviation,
// as syslog writes it ("Jan" … "Dec", case as written).
func isMonth(a, b, c byte) bool {
	switch a {
	case 'J':
		return (b == 'a' && c == 'n') || (b == 'u' && (c == 'n' || c == 'l'))
	case 'F':
		return b == 'e' && c == 'b'
	case 'M':
		return b == 'a' && (c == 'r' || c == 'y')
	case 'A':
		return (b == 'p' && c == 'r') || (b == 'u' && c == 'g')
	case 'S':
		return b == 'e' && c == 'p'
	case 'O':
		return b == 'c' && c == 't'
	case 'N':
		return b == 'o' && c == 'v'
	case 'D':
		return b == 'e' && c == 'c'
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isDate matches "YYYY-MM-DD" at the start of s (len(s) >= 10 is checked by callers).
func isDate(s string) bool {
	return isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-' &&
		isDigit(s[5]) && isDigit(s[6]) && s[7] == '-' && isDigit(s[8]) && isDigit(s[9])
}

// isClock matches exactly "hh:mm:ss".
func isClock(s string) bool {
	return len(s) == 8 && isDigit(s[0]) && isDigit(s[1]) && s[2] == ':' && isDigit(s[3]) &&
		isDigit(s[4]) && s[5] == ':' && isDigit(s[6]) && isDigit(s[7])
}

// parseAfterStamp reads " host tag[pid]: message" after a stamp that ends
// at stampEnd. Dovecot's own file with its default log_timestamp
// ("%b %d %H:%M:%S ") has the traditional stamp too; it is told apart by
// the token after the stamp, which ends in ':' and is followed by a level.
func (r *Record) parseAfterStamp(line string, stampEnd int, f Format) bool {
	*r = Record{}
	if stampEnd >= len(line) || line[stampEnd] != ' ' {
		return false
	}
	rest := line[stampEnd+1:]
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return false
	}
	if f == Syslog && isDovecotHead(rest) {
		return r.parseDovecotFile(line, stampEnd)
	}
	tag := rest[sp+1:]
	// The tag ends at '[' (a pid follows) or at ':'; tags hold no spaces.
	i := 0
	for i < len(tag) && !tagEnd[tag[i]] {
		i++
	}
	if i == 0 || i == len(tag) || tag[i] == ' ' {
		return false
	}
	program, pid := tag[:i], ""
	if tag[i] == '[' {
		j := i + 1
		for j < len(tag) && isDigit(tag[j]) {
			j++
		}
		if j == i+1 || j >= len(tag) || tag[j] != ']' {
			return false
		}
		pid = tag[i+1 : j]
		i = j + 1
		if i >= len(tag) || tag[i] != ':' {
			return false
		}
	}
	// tag[i] == ':'; the message follows ": ".
	i++
	if i < len(tag) && tag[i] == ' ' {
		i++
	}
	r.Format, r.Timestamp, r.Host = f, line[:stampEnd], rest[:sp]
	r.Program, r.PID = program, pid
	r.Message, r.Repeats = repeated(tag[i:])
	return true
}

// tagEnd marks the bytes that end a syslog tag: one table load per byte
// of every line's tag instead of three compares.
var tagEnd = [256]bool{'[': true, ':': true, ' ': true}

// repeated reads rsyslog's "message repeated N times: [ msg]" (its text
// in rsyslog's msg.c is "message repeated %d times: [%.800s]"; msg keeps
// its leading space). It returns the message and how many lines it
// stands for.
func repeated(msg string) (string, int) {
	const head = "message repeated "
	if len(msg) < len(head) || msg[:len(head)] != head || msg[len(msg)-1] != ']' {
		return msg, 1
	}
	i := len(head)
	n := 0
	for i < len(msg) && isDigit(msg[i]) {
		if n <= MaxRepeats {
			n = n*10 + int(msg[i]-'0')
		}
		i++
	}
	const mid = " times: ["
	if i == len(head) || n == 0 || len(msg)-i < len(mid)+1 || msg[i:i+len(mid)] != mid {
		return msg, 1
	}
	inner := msg[i+len(mid) : len(msg)-1]
	if inner != "" && inner[0] == ' ' {
		inner = inner[1:]
	}
	if n > MaxRepeats {
		n = MaxRepeats
	}
	return inner, n
}

var levels = [...]string{"Info: ", "Warning: ", "Error: ", "Fatal: ", "Panic: ", "Debug: "}

func hasLevel(s string) bool {
	for _, l := range levels {
		if len(s) >= len(l) && s[:len(l)] == l {
			return true
		}
	}
	return false
}

// parseDovecotFile reads "<service...>: <Level>: message" after the stamp.
func (r *Record) parseDovecotFile(line string, stampEnd int) bool {
	*r = Record{}
	rest := line[stampEnd+1:]
	if !isDovecotHead(rest) {
		return false
	}
	r.Format, r.Timestamp, r.Program, r.Message, r.Repeats = Dovecot, line[:stampEnd], "dovecot", rest, 1
	return true
}

// isDovecotHead reports whether s starts as a line of Dovecot's own file
// does: a log prefix, "service", "service(…)" and any "<…>" parts (pid,
// session), then ": ", then a level. Dovecot 2.4 puts appended event
// prefixes such as "request [N]: " before the level
// ("auth-worker(u,ip)<230299>: request [1]: Info: sql: unknown user").
// The "(…)" part holds the user name, attacker-controlled and possibly
// with spaces, so the level is what confirms the shape.
func isDovecotHead(s string) bool {
	i := 0
	for i < len(s) && isServiceChar(s[i]) {
		i++
	}
	if i == 0 || i >= len(s) {
		return false
	}
	if s[i] == '(' {
		// The user part ends at the first ')' followed by '<' or ':'.
		for {
			e := strings.IndexByte(s[i:], ')')
			if e < 0 {
				return false
			}
			i += e + 1
			if i >= len(s) || s[i] == '<' || s[i] == ':' {
				break
			}
		}
	}
	for i < len(s) && s[i] == '<' {
		e := strings.IndexByte(s[i:], '>')
		if e < 0 {
			return false
		}
		i += e + 1
	}
	if i+1 >= len(s) || s[i] != ':' || s[i+1] != ' ' {
		return false
	}
	rest := s[i+2:]
	if n := requestPrefix(rest); n > 0 {
		rest = rest[n:]
	}
	return hasLevel(rest)
}

// requestPrefix returns the length of a leading "request [N]: ", or 0.
func requestPrefix(s string) int {
	const head = "request ["
	if len(s) < len(head) || s[:len(head)] != head {
		return 0
	}
	i := len(head)
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == len(head) || i+2 >= len(s) || s[i] != ']' || s[i+1] != ':' || s[i+2] != ' ' {
		return 0
	}
	return i + 3
}

func isServiceChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '-' || c == '_'
}

// parseFail2ban reads "YYYY-MM-DD hh:mm:ss,mmm fail2ban.module [pid]: LEVEL msg".
func (r *Record) parseFail2ban(line string) bool {
	*r = Record{}
	if len(line) < 25 || !isDigit(line[20]) || !isDigit(line[21]) || !isDigit(line[22]) || line[23] != ' ' {
		return false
	}
	rest := line[24:]
	if len(rest) < 9 || rest[:9] != "fail2ban." {
		return false
	}
	r.Format, r.Timestamp, r.Program, r.Message, r.Repeats = Fail2ban, line[:23], "fail2ban", rest, 1
	return true
}
