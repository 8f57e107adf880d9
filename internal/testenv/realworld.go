package testenv

import "os"
import "path/filepath"
import "strings"
import "testing"

// RealWorldLines returns the log lines (those after "> ") of the files
// testdata/realworld/<pattern>.cases, in the order of their names then of
// their lines; pattern is a filepath.Match pattern such as "sendmail" or
// "*". The test fails when no file matches or one cannot be read.
func RealWorldLines(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(RepoRoot(t), "testdata", "realworld", pattern+".cases"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no real-world cases %s.cases: %v", pattern, err)
	}
	var lines []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if line, ok := strings.CutPrefix(l, "> "); ok {
				lines = append(lines, line)
			}
		}
	}
	return lines
}
