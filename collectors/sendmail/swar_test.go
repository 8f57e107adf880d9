package sendmail

import (
	"strings"
	"testing"

	"github.com/cabalmail/mailtier/internal/metrictest"
)

// refSkipAddresses is skipAddresses as a scan of every byte.
func refSkipAddresses(s string) (string, bool) {
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
