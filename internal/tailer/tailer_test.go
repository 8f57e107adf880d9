package tailer

import "context"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "sync"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	lines     []string
	ends      []int64
	tooLong   []int64
	opened    []int64
	truncated int
	missing   int
	last      Checkpoint
}

func (r *recorder) Line(text string, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.Clone(text)) // text is valid only during Line
	r.ends = append(r.ends, end)
}
func (r *recorder) TooLong(n, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tooLong = append(r.tooLong, n)
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

// stepWaker drives a Follow one pass at a time: the Follow parks in Wait,
// and step lets it make exactly one more pass. Nothing is left to timing.
type stepWaker struct {
	parked, wake chan struct{}
}

func (w *stepWaker) Wait(ctx context.Context, _ time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case w.parked <- struct{}{}:
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.wake:
		return true
	}
}

// follow is a running Follow driven by a stepWaker.
type follow struct {
	t     *testing.T
	rec   *recorder
	waker *stepWaker
	clock *testenv.Clock // a manual clock for RotateWait
	done  chan error
	stop  func()
}

// startFollow starts Follow on cfg and waits for its first park: the file
// found at start is opened and read.
func startFollow(t *testing.T, cfg Config) *follow {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fl := &follow{t: t, rec: &recorder{}, waker: &stepWaker{parked: make(chan struct{}), wake: make(chan struct{})},
		clock: testenv.NewClock(time.Unix(1_700_000_000, 0)), done: make(chan error, 1)}
	cfg.Waker, cfg.Now = fl.waker, fl.clock.Now
	go func() { fl.done <- Follow(ctx, cfg, fl.rec) }()
	stopped := false
	fl.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-fl.done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	}
	t.Cleanup(fl.stop)
	fl.parked()
	return fl
}

func (fl *follow) parked() {
	fl.t.Helper()
	select {
	case <-fl.waker.parked:
	case err := <-fl.done:
		fl.t.Fatalf("Follow returned: %v", err)
	}
}

// step lets Follow make one pass, as after one inotify event or poll.
func (fl *follow) step() {
	fl.t.Helper()
	select {
	case fl.waker.wake <- struct{}{}:
	case err := <-fl.done:
		fl.t.Fatalf("Follow returned: %v", err)
	}
	fl.parked()
}

func (fl *follow) snapshot() (lines []string, opened []int64, truncated int) {
	r := fl.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), slices.Clone(r.opened), r.truncated
}

func (fl *follow) wantLines(want ...string) {
	fl.t.Helper()
	got, _, _ := fl.snapshot()
	if !slices.Equal(got, want) {
		fl.t.Fatalf("lines:\n got %q\nwant %q", got, want)
	}
}

func (fl *follow) wantOpened(want ...int64) {
	fl.t.Helper()
	if _, got, _ := fl.snapshot(); !slices.Equal(got, want) {
		fl.t.Fatalf("opened at %v, want %v", got, want)
	}
}

func (fl *follow) checkpoint() Position {
	fl.rec.mu.Lock()
	defer fl.rec.mu.Unlock()
	return fl.rec.last.Position
}

// followFile writes content to a log file in a fresh directory and starts
// Follow on it with cfg; it returns the file's path.
func followFile(t *testing.T, content string, cfg Config) (string, *follow) {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "maillog")
	appendTo(t, cfg.Path, content)
	return cfg.Path, startFollow(t, cfg)
}

// stoppedAfter follows a new empty file, appends content to it, reads
// it (want is the lines read), stops, and returns the path and the last
// checkpoint.
func stoppedAfter(t *testing.T, content string, want ...string) (string, Position) {
	t.Helper()
	path, fl := followFile(t, "", Config{})
	appendTo(t, path, content)
	fl.step()
	fl.wantLines(want...)
	fl.stop()
	return path, fl.checkpoint()
}

func (fl *follow) wantTruncations(want int) {
	fl.t.Helper()
	if _, _, n := fl.snapshot(); n != want {
		fl.t.Fatalf("truncations %d, want %d", n, want)
	}
}

func (fl *follow) wantMissing(want int) {
	fl.t.Helper()
	fl.rec.mu.Lock()
	got := fl.rec.missing
	fl.rec.mu.Unlock()
	if got != want {
		fl.t.Fatalf("missing %d, want %d", got, want)
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
	path, fl := followFile(t, "old 1\nold 2\n", Config{})
	fl.wantOpened(12)
	appendTo(t, path, "new 1\n")
	fl.step()
	fl.wantLines("new 1")
}

func TestFromStart(t *testing.T) {
	_, fl := followFile(t, "old 1\nold 2\n", Config{FromStart: true})
	fl.wantLines("old 1", "old 2")
	fl.rec.mu.Lock()
	defer fl.rec.mu.Unlock()
	if !slices.Equal(fl.rec.ends, []int64{6, 12}) {
		t.Fatalf("ends %v, want [6 12]", fl.rec.ends)
	}
}

func TestFileAppearsLate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	fl := startFollow(t, Config{Path: path})
	fl.wantMissing(1)
	fl.step() // still missing: no second report
	// A file that did not exist at start is read from its beginning.
	appendTo(t, path, "first\nsecond\n")
	fl.step()
	fl.wantLines("first", "second")
	fl.wantOpened(0)
	fl.wantMissing(1)
}

func TestPartialLastLine(t *testing.T) {
	path, fl := followFile(t, "", Config{})
	appendTo(t, path, "whole\nhalf a li")
	fl.step()
	fl.wantLines("whole")
	if pos := fl.checkpoint(); pos.Offset != 6 {
		t.Fatalf("checkpoint offset %d, want 6 (after the last whole line)", pos.Offset)
	}
	appendTo(t, path, "ne\n")
	fl.step()
	fl.wantLines("whole", "half a line")
}

// TestRenameRotationWithLateWrites is logrotate's create mode with a
// syslog daemon that keeps writing the old file until its HUP.
func TestRenameRotationWithLateWrites(t *testing.T) {
	path, fl := followFile(t, "", Config{RotateWait: time.Second})

	old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fmt.Fprint(old, "line 1\nline 2\n")
	fl.step()
	fl.wantLines("line 1", "line 2")

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "") // logrotate's create
	fl.step()
	// The writer has not been told yet: it writes the renamed file, in
	// pieces that split a line.
	fmt.Fprint(old, "line 3\nline")
	fl.step()
	fl.wantLines("line 1", "line 2", "line 3")
	fmt.Fprint(old, " 4\n")
	fl.clock.Advance(10 * time.Second) // however long the writer takes
	fl.step()
	fl.wantLines("line 1", "line 2", "line 3", "line 4")
	// HUP: the writer reopens the path.
	old.Close()
	appendTo(t, path, "line 5\nline 6\n")
	fl.step()
	fl.wantLines("line 1", "line 2", "line 3", "line 4", "line 5", "line 6")
	fl.wantOpened(0, 0)
}

// TestRotationStaysWhileOldGrows: the new file is empty and the old one
// still grows: the old one is read for as long as it grows within
// RotateWait.
func TestRotationStaysWhileOldGrows(t *testing.T) {
	path, fl := followFile(t, "", Config{RotateWait: time.Second})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "")
	for i := range 3 {
		appendTo(t, path+".1", fmt.Sprintf("late %d\n", i))
		fl.clock.Advance(900 * time.Millisecond)
		fl.step()
	}
	fl.wantOpened(0)
	fl.clock.Advance(time.Second)
	fl.step() // idle for RotateWait and drained: on to the new file
	fl.wantOpened(0, 0)
	appendTo(t, path, "new\n")
	fl.step()
	fl.wantLines("late 0", "late 1", "late 2", "new")
}

// TestRotationByRemoval: the old file is deleted, not renamed, while its
// writer still holds it.
func TestRotationByRemoval(t *testing.T) {
	path, fl := followFile(t, "", Config{RotateWait: 100 * time.Millisecond})
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
	fl.step()
	fl.wantLines("a", "b")
	fl.clock.Advance(100 * time.Millisecond)
	fl.step() // drained and idle: the old file is left; the path is missing
	appendTo(t, path, "c\n")
	fl.step()
	fl.wantLines("a", "b", "c")
	fl.wantOpened(0, 0)
}

func TestCopyTruncate(t *testing.T) {
	path, fl := followFile(t, "", Config{})
	appendTo(t, path, "a long first line\nanother long line\n")
	fl.step()
	fl.wantLines("a long first line", "another long line")
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
	fl.step()
	fl.wantTruncations(1)
	appendTo(t, path, "after\n")
	fl.step()
	fl.wantLines("a long first line", "another long line", "after")
	fl.wantTruncations(1)
}

// TestTruncatedAndRewrittenLonger: truncated and rewritten past its old
// size between two looks; the file never looks smaller.
func TestTruncatedAndRewrittenLonger(t *testing.T) {
	path, fl := followFile(t, "", Config{})
	appendTo(t, path, "first\n")
	fl.step()
	if err := os.WriteFile(path, []byte("second, longer\nthird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fl.step()
	fl.wantLines("first", "second, longer", "third")
}

func TestLongLine(t *testing.T) {
	path, fl := followFile(t, "", Config{})
	atMax := strings.Repeat("x", MaxLineBytes)
	long := strings.Repeat("y", 3*MaxLineBytes+17)
	appendTo(t, path, atMax+"\n"+long+"\nshort\n")
	fl.step()
	fl.wantLines(atMax, "short")
	fl.rec.mu.Lock()
	defer fl.rec.mu.Unlock()
	if !slices.Equal(fl.rec.tooLong, []int64{int64(len(long)) + 1}) {
		t.Fatalf("too long %v, want [%d]", fl.rec.tooLong, len(long)+1)
	}
	want := []int64{int64(len(atMax)) + 1, int64(len(atMax) + len(long) + 2), int64(len(atMax) + len(long) + 8)}
	if !slices.Equal(fl.rec.ends, want) {
		t.Fatalf("ends %v, want %v", fl.rec.ends, want)
	}
}

// TestLongLineArrivingInPieces: an over-long line written over several
// passes is skipped once, and its position never passes its start until
// its end is read.
func TestLongLineArrivingInPieces(t *testing.T) {
	path, fl := followFile(t, "", Config{MaxLine: 10})
	appendTo(t, path, "ok\n0123456789abc")
	fl.step()
	appendTo(t, path, "defghijklmnop")
	fl.step()
	if pos := fl.checkpoint(); pos.Offset != 3 {
		t.Fatalf("checkpoint offset %d inside a long line, want 3", pos.Offset)
	}
	appendTo(t, path, "qrs\nnext\n")
	fl.step()
	fl.wantLines("ok", "next")
	if !slices.Equal(fl.rec.tooLong, []int64{30}) {
		t.Fatalf("too long %v, want [30]", fl.rec.tooLong)
	}
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
	path, fl := followFile(t, "", Config{})
	appendTo(t, path, "old line 1\nold line 2\n")
	fl.step()
	fl.wantLines("old line 1", "old line 2")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("new line 1\nnew line 2\n"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fl.step()
	fl.wantLines("old line 1", "old line 2", "new line 1", "new line 2")
	fl.wantTruncations(1)
}

func TestResumeSameFile(t *testing.T) {
	path, pos := stoppedAfter(t, "one\ntwo\n", "one", "two")
	if pos.Offset != 8 || pos.HeadLen != 8 {
		t.Fatalf("checkpoint %+v, want offset 8, head 8", pos)
	}
	appendTo(t, path, "three\n") // written while stopped
	fl2 := startFollow(t, Config{Path: path, Resume: &pos})
	fl2.wantLines("three")
	fl2.wantOpened(8)
}

func TestResumeRotatedWhileStopped(t *testing.T) {
	path, pos := stoppedAfter(t, "one\n", "one")
	// While stopped: more lines, a rotation, lines in the new file.
	appendTo(t, path, "two\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "three\n")
	fl2 := startFollow(t, Config{Path: path, Resume: &pos, RotateWait: 100 * time.Millisecond})
	// The renamed file is read to its end at once, and left since the new
	// file has data.
	fl2.wantLines("two", "three")
	fl2.wantOpened(4, 0)
}

func TestResumeTruncatedWhileStopped(t *testing.T) {
	path, pos := stoppedAfter(t, "one\ntwo\n", "one", "two")
	// copytruncate while stopped, then more lines than there were.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "three\nfour\nfive\n")
	fl2 := startFollow(t, Config{Path: path, Resume: &pos})
	fl2.wantLines("three", "four", "five")
}

func TestResumeGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "one\n")
	pos := Position{Dev: 1, Ino: 1, HeadLen: 4, HeadHash: "x", Offset: 4}
	// Nothing of the saved file is left: the file at the path is new.
	fl := startFollow(t, Config{Path: path, Resume: &pos})
	fl.wantLines("one")
}

// TestResumeHeadLengthNotTrusted: a saved head length past HeadMax (a
// corrupt or forged positions file) is not read: the position is not
// trusted, and the file is read as new.
func TestResumeHeadLengthNotTrusted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "one\n")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	pos := Position{Dev: uint64(st.Dev), Ino: st.Ino, HeadLen: 1 << 40, HeadHash: "x", Offset: 0}
	fl := startFollow(t, Config{Path: path, Resume: &pos})
	fl.wantLines("one")
}

// TestUnopenableThenReadable: a path that cannot be opened yet, for
// another reason than absence, is retried until it can. (Tests may run as
// root, for whom permissions do not fail; a symbolic link loop, a
// directory and a FIFO fail for everyone.)
func TestUnopenableThenReadable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block func(path string) error
	}{
		{"symlink loop", func(path string) error { return os.Symlink(filepath.Base(path), path) }},
		{"directory", func(path string) error { return os.Mkdir(path, 0o755) }},
		// open(2) of a FIFO for reading blocks until a writer comes: it
		// must be refused without opening it that way.
		{"fifo", func(path string) error { return syscall.Mkfifo(path, 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "maillog")
			if err := tc.block(path); err != nil {
				t.Fatal(err)
			}
			fl := startFollow(t, Config{Path: path})
			fl.wantMissing(1)
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
			fl.step()
			fl.wantOpened(13)
			appendTo(t, path, "third\n")
			fl.step()
			fl.wantLines("third")
		})
	}
}

// TestResumeOnFIFO: a FIFO where a saved position's file was is refused
// too, without blocking.
func TestResumeOnFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	pos := Position{Dev: 1, Ino: 1, HeadLen: 0, Offset: 0}
	fl := startFollow(t, Config{Path: path, Resume: &pos})
	fl.wantMissing(1)
}

// TestInotifyWakes: with the real waker and a safety poll far longer than
// the test, a write is read because inotify reported it.
func TestInotifyWakes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := make(chan string, 10)
	h := &chanHandler{lines: lines, opened: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, Config{Path: path, Poll: time.Hour}, h) }()
	<-h.opened
	appendTo(t, path, "hello\n")
	select {
	case l := <-lines:
		if l != "hello" {
			t.Fatalf("line %q, want hello", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up within 10 s with a poll of an hour")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type chanHandler struct {
	lines  chan string
	opened chan struct{}
}

func (h *chanHandler) Line(text string, _ int64) { h.lines <- strings.Clone(text) }
func (h *chanHandler) TooLong(int64, int64)      {}
func (h *chanHandler) Missing()                  {}
func (h *chanHandler) Opened(int64)              { h.opened <- struct{}{} }
func (h *chanHandler) Truncated()                {}
func (h *chanHandler) Checkpoint(Checkpoint)     {}
