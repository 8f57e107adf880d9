package tailer

import "bytes"
import "context"
import "encoding/binary"
import "errors"
import "log/slog"
import "os"
import "path/filepath"
import "syscall"
import "time"

// A Waker tells Follow when to look at its file again. Follow reads all
// there is, checks for rotation, and then waits on its Waker.
type Waker interface {
	// Wait returns true when the file may have changed, and at the
	// latest after within; false when ctx ended.
	Wait(ctx context.Context, within time.Duration) bool
}

// watchMask is what the directory watch reports: writes and truncation
// (MODIFY), a permission change that may make the file readable (ATTRIB),
// the path's creation, removal and renames, and the directory's own.
const watchMask = syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_CREATE |
	syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR

// inotifyWaker wakes on inotify events naming the followed path in its
// directory: writes to the file, and its rename, removal or creation. A
// directory watch, not a file watch, because a file watch follows the
// inode away at a rename and cannot see the next file appear. Where
// inotify does not work (it sees no writes made on another machine, as
// over NFS) the slow safety poll still finds every change.
//
// The descriptor is waited on in the runtime's poller and read with a raw
// read(2) in the waiting goroutine itself: no goroutine of its own that
// hands events over (as fsnotify's does), and no system call that wakes
// the runtime's monitor thread (rawsys.go; docs/performance.md).
type inotifyWaker struct {
	dir, base string
	log       *slog.Logger
	// fd is the inotify instance, non-blocking; file is the same
	// descriptor in the runtime's poller, whose read deadline ends a
	// wait. -1 and nil where inotify is unavailable.
	fd       int
	file     *os.File
	conn     syscall.RawConn
	wd       int32 // the directory's watch, when watching
	watching bool
	warned   bool
	events   [16 << 10]byte
	timer    *time.Timer // the wait without inotify
}

func newInotifyWaker(path string, log *slog.Logger) *inotifyWaker {
	iw := &inotifyWaker{dir: filepath.Dir(path), base: filepath.Base(path), log: log.With("path", path), fd: -1}
	iw.timer = time.NewTimer(time.Hour)
	iw.timer.Stop()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		iw.log.Warn("inotify unavailable; the file is only polled", "err", err)
		return iw
	}
	// A non-blocking descriptor makes a File the runtime polls.
	iw.fd, iw.file = fd, os.NewFile(uintptr(fd), "inotify")
	if iw.conn, err = iw.file.SyscallConn(); err != nil {
		iw.log.Warn("inotify unavailable; the file is only polled", "err", err)
		iw.file.Close()
		iw.fd, iw.file = -1, nil
		return iw
	}
	// Watch before the file is first opened, so no write is missed between.
	iw.watch()
	return iw
}

// watch adds the directory's watch when it is not in place.
func (iw *inotifyWaker) watch() {
	if iw.file == nil || iw.watching {
		return
	}
	wd, err := syscall.InotifyAddWatch(iw.fd, iw.dir, watchMask)
	if err != nil {
		if !iw.warned {
			iw.log.Warn("cannot watch the directory; the file is only polled until it can", "dir", iw.dir, "err", err)
			iw.warned = true
		}
		return
	}
	iw.wd, iw.watching = int32(wd), true
}

func (iw *inotifyWaker) close() {
	iw.timer.Stop()
	if iw.file != nil {
		iw.file.Close()
	}
}

// Wait implements Waker.
func (iw *inotifyWaker) Wait(ctx context.Context, within time.Duration) bool {
	iw.watch() // retried at every wait: the directory may not exist yet
	if iw.file == nil {
		return iw.sleep(ctx, within)
	}
	_, ok := iw.block(ctx, within)
	return ok
}

// sleep waits for d, or until ctx ends (false).
func (iw *inotifyWaker) sleep(ctx context.Context, d time.Duration) bool {
	iw.timer.Reset(d)
	defer iw.timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-iw.timer.C:
		return true
	}
}

// block waits for an event that concerns the path (woke), for within, or
// until ctx ends (ok false).
func (iw *inotifyWaker) block(ctx context.Context, within time.Duration) (woke, ok bool) {
	iw.file.SetReadDeadline(time.Now().Add(within))
	// Ending ctx ends the wait at once: the deadline moves to the past.
	stop := context.AfterFunc(ctx, func() { iw.file.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		var n int
		var rerr error
		err := iw.conn.Read(func(fd uintptr) bool {
			n, rerr = rawRead(int(fd), iw.events[:])
			return rerr != syscall.EAGAIN && rerr != syscall.EINTR
		})
		if ctx.Err() != nil {
			return false, false
		}
		if err == nil {
			err = rerr
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return false, true
		case err != nil:
			// Not expected of inotify; look now, and only poll from
			// here on rather than fail again at every wait.
			iw.log.Warn("reading inotify failed; the file is only polled from now on", "err", err)
			iw.file.Close()
			iw.file, iw.fd, iw.watching = nil, -1, false
			return true, true
		case iw.concerned(iw.events[:n]):
			return true, true
		}
		// Events for other files in the directory: wait on.
	}
}

// concerned reads a buffer of inotify events and says whether one
// concerns the path: names it, overflowed the queue (events were lost),
// or ended or moved the directory's watch (which is then renewed).
func (iw *inotifyWaker) concerned(b []byte) bool {
	hit := false
	for len(b) >= syscall.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		size := syscall.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:]))
		if size > len(b) {
			return true // cut short: cannot happen, but look rather than guess
		}
		name := bytes.TrimRight(b[syscall.SizeofInotifyEvent:size], "\x00")
		b = b[size:]
		switch {
		case mask&syscall.IN_Q_OVERFLOW != 0:
			hit = true
		case wd == iw.wd && mask&(syscall.IN_IGNORED|syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF) != 0:
			if iw.watching && mask&syscall.IN_MOVE_SELF != 0 {
				// The watch would follow the directory to its new name.
				syscall.InotifyRmWatch(iw.fd, uint32(iw.wd))
			}
			iw.watching = false
			hit = true
		case string(name) == iw.base:
			hit = true
		}
	}
	return hit
}
