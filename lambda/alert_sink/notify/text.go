package notify

import (
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

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

// oneLine turns control characters (newlines above all) into spaces, so a
// value can go into an HTTP header or a one-line title without splitting it.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
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
