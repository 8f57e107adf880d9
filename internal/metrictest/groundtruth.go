package metrictest

import "bufio"
import "os"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/collectors"

// GroundTruthWants reads file (a testdata file of the collector's
// package), which says what the corpus's series must be in the terms of
// GroundTruth's counts, one series a line:
//
//	# a comment
//	name{k=v,k=v} count [+ count | - count]…   the sum of those counts; each must be one
//	name{k=v,k=v} 0                             a series that must stay 0
//
// A count GroundTruth lacks, counts that add up to 0 (the corpus does not
// exercise the series), or a line of another shape, fail the test at once.
func GroundTruthWants(t testing.TB, file string) []Want {
	t.Helper()
	g := GroundTruth(t)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wants []Want
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		name, labels, ok := strings.Cut(strings.TrimSuffix(fields[0], "}"), "{")
		if !ok || len(fields) < 2 || len(fields)%2 != 0 {
			t.Fatalf("%s:%d: want 'name{labels} count [+|- count]…', got %q", file, n, sc.Text())
		}
		w := Want{Name: name, Labels: labels}
		if len(fields) == 2 && fields[1] == "0" {
			wants = append(wants, w)
			continue
		}
		for i := 1; i < len(fields); i += 2 {
			sign := 1.0
			if i > 1 {
				switch fields[i-1] {
				case "+":
				case "-":
					sign = -1
				default:
					t.Fatalf("%s:%d: %q between counts, want + or -", file, n, fields[i-1])
				}
			}
			v, ok := g[fields[i]]
			if !ok {
				t.Fatalf("%s:%d: ground truth has no count %s", file, n, strconv.Quote(fields[i]))
			}
			w.Value += sign * v
		}
		if w.Value == 0 {
			t.Fatalf("%s:%d: the counts add up to 0 (write 0 for a series that must stay 0)", file, n)
		}
		wants = append(wants, w)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(wants) == 0 {
		t.Fatalf("%s: no series", file)
	}
	return wants
}

// ExpectCorpus replays each of the corpus's syslog files (maillog, and
// maillog.rfc3339 with RFC 3339 timestamps) to a collector build makes,
// named name, and checks what it exposes against
// testdata/corpus-<file>.prom (Golden), every series of
// testdata/corpus-ground-truth.txt against the ground truth
// (GroundTruthWants; each must exist), and that exactly matched lines were
// recognised and none was of an unknown shape (ExpectLines).
func ExpectCorpus(t *testing.T, name string, matched float64, build func(t *testing.T) collectors.LogCollector) {
	t.Helper()
	wants := GroundTruthWants(t, "testdata/corpus-ground-truth.txt")
	for _, file := range []string{"maillog", "maillog.rfc3339"} {
		t.Run(file, func(t *testing.T) {
			c := build(t)
			r := Replay(t, name, c, file)
			Golden(t, c, "corpus-"+file)
			for _, w := range wants {
				if got := Value(t, c, w.Name, w.Labels); got != w.Value {
					t.Errorf("%s{%s} = %v, want %v", w.Name, w.Labels, got, w.Value)
				}
			}
			ExpectLines(t, r, name, matched)
		})
	}
}
