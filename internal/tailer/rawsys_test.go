package tailer

import "context"
import "errors"
import "os"
import "path/filepath"
import "syscall"
import "testing"
import "time"

// TestRawCalls: the raw calls of a pass answer what the runtime's usual
// calls answer, errors included.
func TestRawCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "Nov 24 05:15:42 vm sm-mta[9001]: hello\n")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if !isLocal(fd) {
		t.Fatal("a file in the test's temporary directory is not on a local file system")
	}
	if isLocal(-1) {
		t.Fatal("a bad descriptor counts as local")
	}
	var raw, usual syscall.Stat_t
	if err := rawFstat(fd, &raw); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fstat(fd, &usual); err != nil {
		t.Fatal(err)
	}
	if raw != usual {
		t.Fatalf("fstat: raw %+v, usual %+v", raw, usual)
	}
	pathz, err := syscall.ByteSliceFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	raw = syscall.Stat_t{}
	if err := rawStat(pathz, &raw); err != nil {
		t.Fatal(err)
	}
	if raw != usual {
		t.Fatalf("stat: raw %+v, usual %+v", raw, usual)
	}
	missing, _ := syscall.ByteSliceFromString(path + ".1")
	if err := rawStat(missing, &raw); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat of a missing file: %v, want ENOENT", err)
	}
	buf := make([]byte, 64)
	n, err := rawPread(fd, buf, 33)
	if err != nil || string(buf[:n]) != "hello\n" {
		t.Fatalf("pread at 33: %q, %v; want \"hello\\n\"", buf[:n], err)
	}
	if n, err := rawPread(fd, buf, 1000); n != 0 || err != nil {
		t.Fatalf("pread past the end: %d, %v; want 0, nil", n, err)
	}
	if _, err := rawPread(-1, buf, 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("pread of a bad descriptor: %v, want EBADF", err)
	}
}

// TestPathWithNUL: a path no system call can take is a clear error, not
// a wait for a file that can never appear (the command line cannot pass
// one; a program using the package can).
func TestPathWithNUL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Follow(ctx, Config{Path: "/var/log/mail\x00log"}, &chanHandler{})
	if err == nil || err.Error() != `path "/var/log/mail\x00log": invalid argument` {
		t.Fatalf("err %v", err)
	}
}
