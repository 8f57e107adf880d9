package mqueue

import "bufio"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/metrictest"

func write(t *testing.T, path string, size int, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", size)), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

var now = time.Date(2026, 11, 24, 5, 18, 30, 0, time.UTC)

func TestCollect(t *testing.T) {
	dir := t.TempDir()
	flat := filepath.Join(dir, "mqueue")
	write(t, filepath.Join(flat, "qfAAAAAAAA000001"), 700, now.Add(-time.Minute))
	write(t, filepath.Join(flat, "dfAAAAAAAA000001"), 1000, now.Add(-90*time.Second))
	write(t, filepath.Join(flat, "qfAAAAAAAA000002"), 700, now)
	write(t, filepath.Join(flat, "dfAAAAAAAA000002"), 24, now.Add(-10*time.Second))
	// A control file without a body yet: its T line gives its age.
	if err := os.WriteFile(filepath.Join(flat, "qfAAAAAAAA000003"), []byte("V8\nT"+strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)+"\nK0\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(flat, "hfAAAAAAAA000004"), 700, now)
	write(t, filepath.Join(flat, "dfAAAAAAAA000004"), 300, now.Add(-2*time.Hour))
	write(t, filepath.Join(flat, "QfAAAAAAAA000005"), 700, now)
	write(t, filepath.Join(flat, "tfAAAAAAAA000006"), 700, now)
	write(t, filepath.Join(flat, "xfAAAAAAAA000001"), 70, now)
	if err := os.Mkdir(filepath.Join(flat, "lost+found"), 0o750); err != nil {
		t.Fatal(err)
	}
	// sendmail's qf/ df/ xf/ subdirectory layout.
	split := filepath.Join(dir, "split")
	write(t, filepath.Join(split, "qf", "qfBBBBBBBB000001"), 700, now)
	write(t, filepath.Join(split, "df", "dfBBBBBBBB000001"), 5000, now.Add(-48*time.Hour))
	write(t, filepath.Join(split, "xf", "xfBBBBBBBB000001"), 10, now)
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	write(t, notDir, 1, now)
	missing := filepath.Join(dir, "missing")

	c := New([]string{flat, split, empty, notDir, missing}, nil, func() time.Time { return now })
	// Per queue: the readable ones' counts and sizes, the unreadable
	// ones' scrape failure and nothing else.
	metrictest.GoldenVars(t, c, "collect", map[string]string{"DIR": dir})
	metrictest.Lint(t, c)
}

// TestLabQueue rebuilds the queue the lab left behind (its ls -l listing:
// names, sizes, minutes) and checks it against the lab's count.
func TestLabQueue(t *testing.T) {
	f, err := os.Open("../../testdata/corpus/mqueue-state.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	var bytes int64
	oldest := now
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 9 || !strings.HasPrefix(fields[0], "-rw") {
			continue
		}
		size, err := strconv.Atoi(fields[4])
		if err != nil {
			t.Fatal(err)
		}
		hm := strings.Split(fields[7], ":")
		h, _ := strconv.Atoi(hm[0])
		m, _ := strconv.Atoi(hm[1])
		mtime := time.Date(2026, 11, 24, h, m, 0, 0, time.UTC)
		write(t, filepath.Join(dir, fields[8]), size, mtime)
		if strings.HasPrefix(fields[8], "df") {
			bytes += int64(size)
			if mtime.Before(oldest) {
				oldest = mtime
			}
		}
	}
	st, err := Scan(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	// ground-truth.json: queue_qf_files 60; the listing's df sizes and
	// minutes give the rest.
	want := Stats{Messages: 60, Bytes: bytes, OldestAge: now.Sub(oldest)}
	if st != want {
		t.Fatalf("Scan = %+v, want %+v", st, want)
	}
	// Worked out by hand from the listing: 60 bodies of 29 or 37 bytes,
	// the oldest written at 05:15, 3.5 minutes before the listing.
	if st.Bytes != 1900 || st.OldestAge != 210*time.Second {
		t.Fatalf("bytes %d, oldest %v; want 1900, 3m30s", st.Bytes, st.OldestAge)
	}
	// The same, exposed: 60 messages, 1900 bytes, 210 s.
	metrictest.GoldenVars(t, New([]string{dir}, nil, func() time.Time { return now }), "lab-queue", map[string]string{"DIR": dir})
}
