package main

import "bufio"
import "math/rand/v2"
import "os"
import "path/filepath"
import "regexp"
import "sort"
import "strings"
import "testing"

import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

// hostileLog writes n lines built from the corpus's real sendmail lines
// with every attacker-controlled part replaced by hostile text (random
// queue ids, users, host names, addresses, daemon and mailer names that
// are not sendmail's, quotes and fields spelled inside addresses), mixed
// with 64 KiB lines, invalid UTF-8, NUL bytes and plain garbage.
func hostileLog(t testing.TB, path string, n int) {
	var templates []string
	for _, name := range []string{"maillog", "maillog.rfc3339", "dovecot.log", "fail2ban.log"} {
		corpus, err := os.ReadFile("../../testdata/corpus/" + name)
		if err != nil {
			t.Fatal(err)
		}
		templates = append(templates, strings.Split(strings.TrimSuffix(string(corpus), "\n"), "\n")...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(min, max int, alphabet string) string {
		b := make([]byte, min+rng.IntN(max-min+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const nasty = "abc\"<>,=;: \\\x00\xff\xfe\xc3(é)日本-_.[]@"
	// The attacker-controlled parts of each template, found once: the
	// generation loop only splices.
	kinds := []*regexp.Regexp{
		regexp.MustCompile(`[0-9A-Za-z]{8}[0-9]{6}`),                                   // queue id
		regexp.MustCompile(`<[^>]*>`),                                                  // address
		regexp.MustCompile(`\b[a-z0-9.-]+\.test\b`),                                    // host name
		regexp.MustCompile(`127\.0\.0\.\d+`),                                           // IP
		regexp.MustCompile(`\(([a-z0-9@.]+)[,)]`),                                      // Dovecot's (user) and passwd-file(user,…)
		regexp.MustCompile(`\[[a-z-]+\]`),                                              // fail2ban's [jail]
		regexp.MustCompile(`(daemon|mailer|dsn|stat|ruleset|method|user|reply)=[^,]*`), // field values
	}
	type span struct{ start, end, kind int }
	spans := make([][]span, len(templates))
	for i, l := range templates {
		var ss []span
		for k, re := range kinds {
			for _, m := range re.FindAllStringIndex(l, -1) {
				ss = append(ss, span{m[0], m[1], k})
			}
		}
		sort.Slice(ss, func(a, b int) bool {
			return ss[a].start < ss[b].start || (ss[a].start == ss[b].start && ss[a].kind < ss[b].kind)
		})
		var kept []span
		end := 0
		for _, sp := range ss {
			if sp.start >= end {
				kept = append(kept, sp)
				end = sp.end
			}
		}
		spans[i] = kept
	}
	replace := func(l string, sp span) string {
		m := l[sp.start:sp.end]
		switch sp.kind {
		case 0:
			return word(8, 20, alnum)
		case 1:
			return "<" + word(1, 40, nasty) + ", nrcpts=" + word(1, 3, "0123456789") + ", daemon=" + word(1, 8, nasty) + "@" + word(1, 20, alnum) + ">"
		case 2:
			return word(1, 30, nasty)
		case 3:
			return word(7, 39, "0123456789abcdef.:")
		case 4:
			return "(" + word(1, 30, nasty) + m[len(m)-1:]
		case 5:
			if rng.IntN(2) == 0 {
				return "[" + word(1, 30, nasty) + "]"
			}
		case 6:
			if rng.IntN(4) == 0 {
				return m[:strings.IndexByte(m, '=')+1] + word(0, 30, nasty)
			}
		}
		return m
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		switch r := rng.IntN(100); {
		case r == 0:
			w.WriteString(strings.Repeat(word(1, 1, alnum), 64<<10))
		case r == 1:
			w.WriteString("Nov 24 05:15:41 vm sm-mta[1]: " + word(0, 200, nasty))
		case r == 2:
			w.WriteString(word(0, 300, nasty+alnum))
		default:
			j := rng.IntN(len(templates))
			l := templates[j]
			last := 0
			for _, sp := range spans[j] {
				w.WriteString(l[last:sp.start])
				w.WriteString(replace(l, sp))
				last = sp.end
			}
			w.WriteString(l[last:])
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestHostileInput replays 100 000 hostile lines through the real binary:
// it must exit cleanly, print a valid exposition, and create no series
// whose labels fall outside the closed sets.
func TestHostileInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hostile.log")
	hostileLog(t, path, 100000)
	out := runOnceBinary(t, nil, "--no-collector.mqueue", "--tail.path="+path)

	allowed := map[string]map[string]bool{"path": {path: true}}
	for _, sets := range closedSets() {
		for label, values := range sets {
			if allowed[label] == nil {
				allowed[label] = map[string]bool{}
			}
			for _, v := range values {
				allowed[label][v] = true
			}
		}
	}
	build := map[string]bool{"branch": true, "goarch": true, "goos": true, "goversion": true, "revision": true, "tags": true, "version": true}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	series := 0
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			series++
			for _, lp := range m.GetLabel() {
				if name == "mailtier_exporter_build_info" && build[lp.GetName()] {
					continue
				}
				ok, known := allowed[lp.GetName()]
				if !known || !ok[lp.GetValue()] {
					t.Errorf("%s: label %s=%q outside its closed set", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	s := samples(t, out)
	if got := s[`mailtier_exporter_lines_read_total{path="`+path+`"}`]; got != 100000 {
		t.Errorf("lines read = %v, want 100000", got)
	}
	// 1 % of the lines are 64 KiB (65536 bytes, within the limit) and are
	// parsed; nothing is longer.
	if got := s[`mailtier_exporter_lines_skipped_total{path="`+path+`", reason="too_long"}`]; got != 0 {
		t.Errorf("too long = %v, want 0", got)
	}
	t.Logf("%d series, %v lines matched, %v unmatched", series,
		s[`mailtier_exporter_collector_lines_total{collector="sendmail", result="matched"}`],
		s[`mailtier_exporter_collector_lines_total{collector="sendmail", result="unmatched"}`])
}
