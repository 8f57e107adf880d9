package tailer

import "context"
import "encoding/binary"
import "log/slog"
import "os"
import "path/filepath"
import "syscall"
import "testing"
import "time"

// TestWakerIgnoresOtherFiles: writes to other files in the directory end
// no wait; a wait on them ends at its deadline, not woken.
func TestWakerIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maillog")
	iw := newInotifyWaker(path, slog.New(slog.DiscardHandler))
	t.Cleanup(iw.close)
	appendTo(t, filepath.Join(dir, "syslog"), "other\n")
	if woke, ok := iw.block(context.Background(), 20*time.Millisecond); woke || !ok {
		t.Fatalf("woke %v ok %v, want a wait to its deadline", woke, ok)
	}
	appendTo(t, path, "mine\n")
	if woke, ok := iw.block(context.Background(), time.Hour); !woke || !ok {
		t.Fatalf("woke %v ok %v, want woken by the path's write", woke, ok)
	}
}

// TestWakerCancelled: ending ctx ends a wait of an hour.
func TestWakerCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	iw := newInotifyWaker(path, slog.New(slog.DiscardHandler))
	t.Cleanup(iw.close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool, 1)
	go func() { done <- iw.Wait(ctx, time.Hour) }()
	cancel()
	select {
	case woke := <-done:
		if woke {
			t.Fatal("Wait returned true for an ended ctx")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not end with its ctx")
	}
}

// TestWakerDirectoryReplaced: removing the directory ends the watch and
// wakes; the directory made again is watched again at the next wait.
func TestWakerDirectoryReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "maillog")
	iw := newInotifyWaker(path, slog.New(slog.DiscardHandler))
	t.Cleanup(iw.close)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if woke, _ := iw.block(context.Background(), time.Hour); !woke || iw.watching {
		t.Fatalf("woke %v watching %v, want woken and the watch gone", woke, iw.watching)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	iw.watch()
	if !iw.watching {
		t.Fatal("the new directory is not watched")
	}
	appendTo(t, path, "again\n")
	if woke, ok := iw.block(context.Background(), time.Hour); !woke || !ok {
		t.Fatalf("woke %v ok %v, want woken by a write in the new directory", woke, ok)
	}
}

// TestWakerConcerned: which events concern the path, from their bytes as
// the kernel writes them.
func TestWakerConcerned(t *testing.T) {
	iw := &inotifyWaker{base: "maillog", wd: 3, watching: true, fd: -1}
	event := func(wd int32, mask uint32, name string) []byte {
		b := make([]byte, syscall.SizeofInotifyEvent, syscall.SizeofInotifyEvent+16)
		binary.NativeEndian.PutUint32(b[0:], uint32(wd))
		binary.NativeEndian.PutUint32(b[4:], mask)
		if name != "" {
			padded := make([]byte, 16)
			copy(padded, name)
			binary.NativeEndian.PutUint32(b[12:], uint32(len(padded)))
			b = append(b, padded...)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		events []byte
		want   bool
	}{
		{"a write to the path", event(3, syscall.IN_MODIFY, "maillog"), true},
		{"a write to another file", event(3, syscall.IN_MODIFY, "maillog.1"), false},
		{"the path renamed away", append(event(3, syscall.IN_MODIFY, "syslog"), event(3, syscall.IN_MOVED_FROM, "maillog")...), true},
		{"a lost queue", event(-1, syscall.IN_Q_OVERFLOW, ""), true},
		{"another watch's end", event(9, syscall.IN_IGNORED, ""), false},
		{"a cut event", event(3, syscall.IN_MODIFY, "maillog")[:20], true},
	} {
		if got := iw.concerned(c.events); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !iw.watching {
		t.Fatal("the watch was dropped for another watch's end")
	}
	if !iw.concerned(event(3, syscall.IN_IGNORED, "")) || iw.watching {
		t.Fatal("the watch's own end: want a wake and the watch gone")
	}
}
