package sendmail

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

// refSkipAddresses is skipAddresses as a scan of every byte, one state
// per byte: outside a quoted string, inside one, or just after a
// backslash.
func refSkipAddresses(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if s[0] != '<' {
		if _, after, ok := strings.Cut(s, ", "); ok {
			return s[len(s)-len(after)-2:], true
		}
		return "", false
	}
	const (
		plain = iota
		quoted
		escapedPlain
		escapedQuoted
	)
	state := plain
	for i := 1; i < len(s); i++ {
		switch c := s[i]; state {
		case escapedPlain:
			state = plain
		case escapedQuoted:
			state = quoted
		case quoted:
			switch c {
			case '\\':
				state = escapedQuoted
			case '"':
				state = plain
			}
		default:
			switch c {
			case '\\':
				state = escapedPlain
			case '"':
				state = quoted
			case '>':
				rest := s[i+1:]
				if strings.HasPrefix(rest, ",<") {
					return refSkipAddresses(rest[1:])
				}
				return rest, true
			}
		}
	}
	return "", false
}

// refCutField is cutField by strings.Index.
func refCutField(kv string) (string, string) {
	end := strings.Index(kv, ", ")
	if end < 0 {
		end = len(kv)
	}
	return kv[:end], kv[end:]
}

// TestScannersMatchReferences: the eight-bytes-at-a-time and plain-loop
// scanners find exactly what the byte-by-byte and strings forms do, at
// every offset within a word and across words.
func TestScannersMatchReferences(t *testing.T) {
	pieces := []string{"<", ">", "\"", "\\", ",", " ", ", ", ",<", "a", "jdoe@partner.test", "0123456789abcdef",
		"size=0", "x>y", "\\>", "\"a>b\"", "\u00e9"}
	texts := append(metrictest.Texts(pieces, 200000), "", "<", "<>", "<\\", "<\"", "<a\\>", "<\"\\\">x")
	for _, s := range texts {
		for _, in := range []string{s, "<" + s} {
			gotRest, gotOK := skipAddresses(in)
			wantRest, wantOK := refSkipAddresses(in)
			if gotRest != wantRest || gotOK != wantOK {
				t.Fatalf("skipAddresses(%q) = %q, %v; want %q, %v", in, gotRest, gotOK, wantRest, wantOK)
			}
		}
		if got, want := indexAddressByte(s), strings.IndexAny(s, ">\"\\"); got != want {
			t.Fatalf("indexAddressByte(%q) = %d, want %d", s, got, want)
		}
		f, r := cutField(s)
		if wf, wr := refCutField(s); f != wf || r != wr {
			t.Fatalf("cutField(%q) = %q, %q; want %q, %q", s, f, r, wf, wr)
		}
	}
}

// TestDaemonFieldIsSessionLine: the parser's report of a daemon= field,
// which spares the session check its own search, is only ever given for
// a session line, and the session count it feeds is unchanged.
func TestDaemonFieldIsSessionLine(t *testing.T) {
	pieces := []string{"from=", "<a>", "<\", daemon=MTA\">", ", ", "daemon=", "daemon=MTA", ", daemon=MSA", "size=1",
		"nrcpts=1", "msgid=<x, daemon=y>", "NOQUEUE: ", "ABCDEFGHIJ: ", ",", " "}
	msgs := append(messages(t), metrictest.Texts(pieces, 100000)...)
	seen := 0
	for _, msg := range msgs {
		qid, rest := splitQID(msg)
		after := afterQID(msg, qid, rest)
		var ev Event
		if parseAfterQID(&ev, qid, rest) && len(after) == len(rest) {
			seen++
			if !isSessionLine(after) {
				t.Fatalf("%q: a daemon= field reported, but not a session line", msg)
			}
		}
		if got, want := Parse(msg), ev; got != want {
			t.Fatalf("%q: Parse %+v, parseAfterQID %+v", msg, got, want)
		}
	}
	if seen == 0 {
		t.Fatal("no line with a daemon= field")
	}
}

// TestDefaultTextsSetMatchesBuilt: the default rate-limit texts' set,
// built once, classifies as a set built for each deferral from copies of
// the same texts, and other texts get a set of their own.
func TestDefaultTextsSetMatchesBuilt(t *testing.T) {
	copies := make([]string, len(DefaultRateLimits.Texts))
	for i, s := range DefaultRateLimits.Texts {
		copies[i] = strings.Clone(s)
	}
	if sameStrings(copies, defaultTexts.subs) || !sameStrings(DefaultRateLimits.Texts, defaultTexts.subs) {
		t.Fatal("sameStrings tells the default texts from their copies wrongly")
	}
	cloned := RateLimits{DSNs: DefaultRateLimits.DSNs, Texts: copies}
	other := RateLimits{Texts: []string{"slow down", "Ѕpam"}}
	pieces := append([]string{"Deferred: ", "4", "21 ", "Rate", " LIMIT", "too", " many", "THROTTL", "slow", "down",
		"ѕpam", "Ѕpam", "SPAM", " ", "Connection refused", "timed out"}, DefaultRateLimits.Texts...)
	for _, stat := range metrictest.Texts(pieces, 50000) {
		for _, dsn := range []string{"4.0.0", "4.7.1", "4.7.28"} {
			if got, want := DefaultRateLimits.DeferReason(dsn, stat), cloned.DeferReason(dsn, stat); got != want {
				t.Fatalf("DeferReason(%q, %q) = %q by the default set, %q by a built one", dsn, stat, got, want)
			}
			want := containsAnyFold(stat, other.Texts)
			if got := other.DeferReason(dsn, stat) == DeferRateLimited; got != want {
				t.Fatalf("other texts: DeferReason(%q, %q) rate limited %v, want %v", dsn, stat, got, want)
			}
		}
	}
}
