package notify

import "mime"
import "net/url"
import "strings"
import "unicode"
import "unicode/utf8"

// ellipsis marks text that was cut to fit a transport's limit.
const ellipsis = "…"

// truncateRunes cuts s to at most n characters, ending in an ellipsis when
// it cut. Pushover counts its limits in characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := n - utf8.RuneCountInString(ellipsis)
	i := 0
	for pos := range s {
		if i == keep {
			return s[:pos] + ellipsis
		}
		i++
	}
	return s
}

// truncateBytes cuts s to at most n bytes on a character boundary, ending
// in an ellipsis when it cut. ntfy counts its message limit in bytes.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// oneLine makes s safe as one line of a title or an HTTP header: every
// control character (newlines above all) becomes a space, and the rest is
// cleaned as cleanText does.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD")))
}

// cleanText makes a message body safe to show: alert text can carry
// log-derived, attacker-controlled content. It keeps line breaks (a group's
// body is one line per alert), turning CR LF, CR, NEL and the Unicode line
// and paragraph separators into LF; every other control character (NUL,
// ESC, DEL, the C1 set) becomes a space, as in a title; the bidirectional
// controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), which can make a
// line read as something else, are removed; invalid UTF-8 becomes U+FFFD.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\n', r == '\r', r == '\u0085', r == '\u2028', r == '\u2029':
			return '\n'
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s))
}

// headerValue makes s safe as an HTTP header value. Non-ASCII text is sent as
// an RFC 2047 encoded word, which ntfy decodes; raw UTF-8 in a header is
// mangled by some proxies.
func headerValue(s string) string {
	return mime.BEncoding.Encode("utf-8", oneLine(s))
}

// webURL returns s if it is an absolute http or https URL, else "". A
// runbook annotation that is not a link must not become a broken button.
func webURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}
