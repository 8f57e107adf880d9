package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	SetPollInterval(10 * time.Millisecond)
	os.Exit(m.Run())
}

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	lines     []string
	ends      []int64
	opened    []int64
	truncated int
	missing   int
	last      Checkpoint
}

func (r *recorder) Line(text string, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, text)
	r.ends = append(r.ends, end)
}
func (r *recorder) Opened(off int64) { r.mu.Lock(); r.opened = append(r.opened, off); r.mu.Unlock() }
func (r *recorder) Truncated()       { r.mu.Lock(); r.truncated++; r.mu.Unlock() }
func (r *recorder) Missing()         { r.mu.Lock(); r.missing++; r.mu.Unlock() }
func (r *recorder) Checkpoint(c Checkpoint) {
	r.mu.Lock()
	r.last = c
	r.mu.Unlock()
}

func (r *recorder) snapshot() (lines []string, opened []int64, truncated int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), slices.Clone(r.opened), r.truncated
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func start(t *testing.T, cfg Config) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, cfg, rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	})
	return rec
}

// waitOpened waits for the first (and only) file to be opened.
func waitOpened(t *testing.T, rec *recorder) {
	t.Helper()
	eventually(t, "open", func() bool { _, o, _ := rec.snapshot(); return len(o) == 1 })
}

func waitLines(t *testing.T, rec *recorder, want []string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d lines", len(want)), func() bool {
		got, _, _ := rec.snapshot()
		return len(got) >= len(want)
	})
	got, _, _ := rec.snapshot()
	if !slices.Equal(got, want) {
		t.Fatalf("lines:\n got %q\nwant %q", got, want)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStartsAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "old 1\nold 2\n")
	rec := start(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "new 1\n")
	waitLines(t, rec, []string{"new 1"})
	_, opened, _ := rec.snapshot()
	if !slices.Equal(opened, []int64{12}) {
		t.Fatalf("opened at %v, want [12]", opened)
	}
}

func TestFromStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "old 1\nold 2\n")
	rec := start(t, Config{Path: path, FromStart: true})
	waitLines(t, rec, []string{"old 1", "old 2"})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.ends, []int64{6, 12}) {
		t.Fatalf("ends %v, want [6 12]", rec.ends)
	}
}

func TestFileAppearsLate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	rec := start(t, Config{Path: path})
	eventually(t, "missing", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.missing == 1 })
	// A file that did not exist at start is read from its beginning.
	appendTo(t, path, "first\nsecond\n")
	waitLines(t, rec, []string{"first", "second"})
}

func TestPartialLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "whole\nhalf a li")
	waitLines(t, rec, []string{"whole"})
	appendTo(t, path, "ne\n")
	waitLines(t, rec, []string{"whole", "half a line"})
}

// TestRenameRotationWithLateWrites is logrotate's create mode with a
// syslog daemon that keeps writing the old file until its HUP.
func TestRenameRotationWithLateWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path, RotateWait: time.Second})
	waitOpened(t, rec)

	old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fmt.Fprint(old, "line 1\nline 2\n")
	waitLines(t, rec, []string{"line 1", "line 2"})

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "") // logrotate's create
	// The writer has not been told yet: it writes the renamed file, in
	// pieces that split a line.
	fmt.Fprint(old, "line 3\nline")
	fmt.Fprint(old, " 4\n")
	// HUP: the writer reopens the path.
	old.Close()
	appendTo(t, path, "line 5\nline 6\n")
	waitLines(t, rec, []string{"line 1", "line 2", "line 3", "line 4", "line 5", "line 6"})
	_, opened, _ := rec.snapshot()
	if !slices.Equal(opened, []int64{0, 0}) {
		t.Fatalf("opened %v, want [0 0]", opened)
	}
}

// TestRotationByRemoval: the old file is deleted, not renamed, while its
// writer still holds it.
func TestRotationByRemoval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path, RotateWait: 100 * time.Millisecond})
	waitOpened(t, rec)
	old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(old, "a\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(old, "b\n")
	old.Close()
	waitLines(t, rec, []string{"a", "b"})
	appendTo(t, path, "c\n")
	waitLines(t, rec, []string{"a", "b", "c"})
}

func TestCopyTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "a long first line\nanother long line\n")
	waitLines(t, rec, []string{"a long first line", "another long line"})
	// logrotate copytruncate: copy, then truncate in place; the writer
	// (O_APPEND) goes on at the new end.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "truncation noticed", func() bool { _, _, n := rec.snapshot(); return n == 1 })
	appendTo(t, path, "after\n")
	waitLines(t, rec, []string{"a long first line", "another long line", "after"})
}

func TestLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path})
	waitOpened(t, rec)
	long := strings.Repeat("x", 256<<10)
	appendTo(t, path, long+"\nshort\n")
	waitLines(t, rec, []string{long, "short"})
}

func TestStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, Config{Path: filepath.Join(t.TempDir(), "never")}, &recorder{}) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v", err)
	}
}

// TestReplacedInPlaceSameSize: content rewritten in place without the file
// ever looking smaller; only its first bytes tell.
func TestReplacedInPlaceSameSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec := start(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "old line 1\nold line 2\n")
	waitLines(t, rec, []string{"old line 1", "old line 2"})
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("new line 1\nnew line 2\n"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitLines(t, rec, []string{"old line 1", "old line 2", "new line 1", "new line 2"})
	if _, _, n := rec.snapshot(); n != 1 {
		t.Fatalf("truncations %d, want 1", n)
	}
}

// follow runs Follow until stopped, returning the recorder and a stop
// function that waits for Follow to return.
func follow(t *testing.T, cfg Config) (*recorder, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, cfg, rec) }()
	return rec, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	}
}

func checkpoint(rec *recorder) Position {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.last.Position
}

func TestResumeSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec, stop := follow(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "one\ntwo\n")
	waitLines(t, rec, []string{"one", "two"})
	stop()
	pos := checkpoint(rec)
	if pos.Offset != 8 || pos.HeadLen != 8 {
		t.Fatalf("checkpoint %+v, want offset 8, head 8", pos)
	}
	appendTo(t, path, "three\n") // written while stopped
	rec2 := start(t, Config{Path: path, Resume: &pos})
	waitLines(t, rec2, []string{"three"})
	if _, o, _ := rec2.snapshot(); !slices.Equal(o, []int64{8}) {
		t.Fatalf("opened at %v, want [8]", o)
	}
}

func TestResumeRotatedWhileStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec, stop := follow(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "one\n")
	waitLines(t, rec, []string{"one"})
	stop()
	pos := checkpoint(rec)
	// While stopped: more lines, a rotation, lines in the new file.
	appendTo(t, path, "two\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "three\n")
	rec2 := start(t, Config{Path: path, Resume: &pos, RotateWait: 100 * time.Millisecond})
	waitLines(t, rec2, []string{"two", "three"})
}

func TestResumeTruncatedWhileStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	rec, stop := follow(t, Config{Path: path})
	waitOpened(t, rec)
	appendTo(t, path, "one\ntwo\n")
	waitLines(t, rec, []string{"one", "two"})
	stop()
	pos := checkpoint(rec)
	// copytruncate while stopped, then more lines than there were.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "three\nfour\nfive\n")
	rec2 := start(t, Config{Path: path, Resume: &pos})
	waitLines(t, rec2, []string{"three", "four", "five"})
}

func TestResumeGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "one\n")
	pos := Position{Dev: 1, Ino: 1, HeadLen: 4, HeadHash: "x", Offset: 4}
	rec := start(t, Config{Path: path, Resume: &pos})
	// Nothing of the saved file is left: the file at the path is new.
	waitLines(t, rec, []string{"one"})
}

// TestUnopenableThenReadable: a path that cannot be opened yet, for
// another reason than absence, is retried until it can. (Tests run as
// root, for whom permissions do not fail; a symbolic link loop and a
// directory fail for everyone.)
func TestUnopenableThenReadable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block func(path string) error
	}{
		{"symlink loop", func(path string) error { return os.Symlink(filepath.Base(path), path) }},
		{"directory", func(path string) error { return os.Mkdir(path, 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "maillog")
			if err := tc.block(path); err != nil {
				t.Fatal(err)
			}
			rec := start(t, Config{Path: path})
			eventually(t, "missing", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.missing == 1 })
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			// Create it aside and rename it in, so it appears whole.
			if err := os.WriteFile(path+".new", []byte("first\nsecond\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
			// It existed, unreadable, at start: reading starts at its end.
			waitOpened(t, rec)
			appendTo(t, path, "third\n")
			waitLines(t, rec, []string{"third"})
		})
	}
}
