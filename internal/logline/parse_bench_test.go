package logline

import "os"
import "strings"
import "testing"

// BenchmarkParseCorpus reads the envelopes of the corpus's lines, in
// their order: traditional syslog (sendmail, OpenDKIM, Dovecot through
// syslog), RFC 3339, and fail2ban's own file. It must not allocate.
func BenchmarkParseCorpus(b *testing.B) {
	var lines []string
	for _, f := range []string{"maillog", "maillog.rfc3339", "fail2ban.log"} {
		raw, err := os.ReadFile("../../testdata/corpus/" + f)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")...)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, ok := Parse(lines[n%len(lines)]); !ok {
			b.Fatalf("not recognised: %q", lines[n%len(lines)])
		}
		n++
	}
}
