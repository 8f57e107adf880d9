package fail2ban

import "strings"

// Kind is what a fail2ban line reports.
type Kind uint8

// The kinds of line Parse tells apart.
const (
	Unknown   Kind = iota // a "[jail] …" shape this parser does not know
	Ignored               // a known shape that counts nothing (and fail2ban's housekeeping)
	Match                 // "[jail] Found <ip> - <time>": a line of the jail's filter matched
	Ban                   // "[jail] Ban <ip>"
	Restore               // "[jail] Restore Ban <ip>": a ban re-applied from fail2ban's database at start
	Reban                 // "[jail] Reban <ip>": an existing ban applied again (not a new ban)
	Unban                 // "[jail] Unban <ip>"
	Flush                 // "[jail] Flush ticket(s) with <action>": every ban of the jail removed at once
	JailReset             // "Creating new jail 'x'" / "Jail 'x' stopped": the jail has no bans
)

// Event is one parsed line. Jail and IP are substrings of the line; the
// collector maps Jail onto its closed set and never uses IP as a label.
type Event struct {
	Kind Kind
	Jail string
	IP   string
}

// Parse reads a fail2ban message in either envelope:
//
//	fail2ban.actions        [9143]: NOTICE  [dovecot] Ban 127.0.0.2   (fail2ban's own log file)
//	fail2ban.actions: NOTICE [sendmail] Ban 1.2.3.4                      (fail2ban 0.8's own file)
//	NOTICE  [dovecot] Ban 127.0.0.2                                     (over syslog, tag fail2ban.actions)
//
// It never allocates.
func Parse(msg string) Event {
	if strings.HasPrefix(msg, "fail2ban.") {
		// "fail2ban.<module> <padding>[<pid>]: ", or "fail2ban.<module>: "
		// as fail2ban 0.8 wrote it: the module and pid hold no ": ".
		i := indexPair(msg, ':', ' ')
		if i < 0 {
			return Event{}
		}
		msg = msg[i+2:]
	}
	// The level: upper-case letters, padded with spaces to 7 characters.
	i := 0
	for i < len(msg) && msg[i] >= 'A' && msg[i] <= 'Z' {
		i++
	}
	if i == 0 || i >= len(msg) || msg[i] != ' ' {
		return Event{}
	}
	for i < len(msg) && msg[i] == ' ' {
		i++
	}
	body := msg[i:]
	if !strings.HasPrefix(body, "[") {
		return parseServer(body)
	}
	end := indexPair(body, ']', ' ')
	if end <= 1 {
		return Event{}
	}
	ev := Event{Jail: body[1:end]}
	rest := body[end+2:]
	// The words start with distinct letters but for F and R: the first
	// byte picks the few worth comparing.
	var first byte
	if rest != "" {
		first = rest[0]
	}
	switch {
	case first == 'F' && strings.HasPrefix(rest, "Found "):
		ev.Kind = Match
		ev.IP = field(rest[len("Found "):])
	case first == 'B' && strings.HasPrefix(rest, "Ban "):
		ev.Kind = Ban
		ev.IP = field(rest[len("Ban "):])
	case first == 'R' && strings.HasPrefix(rest, "Restore Ban "):
		ev.Kind = Restore
		ev.IP = field(rest[len("Restore Ban "):])
	case first == 'R' && strings.HasPrefix(rest, "Reban "):
		ev.Kind = Reban
		ev.IP = strings.TrimSuffix(field(rest[len("Reban "):]), ",")
	case first == 'U' && strings.HasPrefix(rest, "Unban "):
		ev.Kind = Unban
		ev.IP = field(rest[len("Unban "):])
	case first == 'F' && strings.HasPrefix(rest, "Flush ticket(s) with "):
		ev.Kind = Flush
	case first == 'I' && (strings.HasPrefix(rest, "Increase Ban ") || strings.HasPrefix(rest, "Ignore ")),
		strings.HasSuffix(rest, " already banned"):
		ev.Kind = Ignored
	default:
		return Event{}
	}
	if ev.Kind != Flush && ev.Kind != Ignored && ev.IP == "" {
		return Event{}
	}
	return ev
}

// parseServer reads the lines without a jail prefix: jails created and
// stopped matter, the rest is housekeeping.
func parseServer(body string) Event {
	for _, p := range [...]struct{ before, after string }{
		{"Creating new jail '", "'"},
		{"Jail '", "' stopped"},
	} {
		if strings.HasPrefix(body, p.before) && strings.HasSuffix(body, p.after) && len(body) > len(p.before)+len(p.after) {
			return Event{Kind: JailReset, Jail: body[len(p.before) : len(body)-len(p.after)]}
		}
	}
	return Event{Kind: Ignored}
}

// field returns s up to its first space.
func field(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// indexPair is strings.Index(s, string([]byte{a, b})) by IndexByte of a,
// which is the quicker where a is rarely not followed by b.
func indexPair(s string, a, b byte) int {
	for at := 0; ; {
		i := strings.IndexByte(s[at:], a)
		if i < 0 {
			return -1
		}
		at += i
		if at+1 < len(s) && s[at+1] == b {
			return at
		}
		at++
	}
}
