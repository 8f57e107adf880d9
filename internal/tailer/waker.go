package tailer

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"
)

// A Waker tells Follow when to look at its file again. Follow reads all
// there is, checks for rotation, and then waits on its Waker.
type Waker interface {
	// Wait returns true when the file may have changed, and at the
	// latest after within; false when ctx ended.
	Wait(ctx context.Context, within time.Duration) bool
}

// DefaultMinInterval is Config.MinInterval when it is 0.
const DefaultMinInterval = 15 * time.Millisecond

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
// Waking up is what a follower mostly pays for at everyday rates: one
// wake costs far more than reading and counting a few lines. So while
// writes keep coming, passes are at least minInterval apart: a Wait that
// follows a busy pass sleeps out the interval, then takes everything that
// piled up in one pass. The events that arrive meanwhile must wait in the
// kernel's queue and wake nobody. That rules out the runtime's poller
// (it wakes a thread at every event on a descriptor it watches, read or
// not) and fsnotify (its goroutine reads every event as it comes): the
// waker blocks in epoll_wait(2) on a set of its own, and sleeps with
// nanosleep(2) (docs/performance.md has the figures). The first write
// after a quiet spell is still read at once.
type inotifyWaker struct {
	dir, base string
	log       *slog.Logger
	// fd is the inotify instance; ep an epoll set of fd and the read end
	// of cancel, whose write end wakes a wait when its ctx ends. All -1
	// where inotify is unavailable.
	fd, ep   int
	cancel   [2]int
	wd       int32 // the directory's watch, when watching
	watching bool
	warned   bool
	events   [16 << 10]byte

	minInterval time.Duration
	busy        bool      // the last wake came less than minInterval after the one before
	last        time.Time // when Wait last returned, that is, when the last pass began
	// now is time.Now, and sleep nanosleep(2); tests replace them, and
	// set blocking to act once a wait is about to block.
	now      func() time.Time
	sleep    func(d time.Duration)
	blocking func()
}

func newInotifyWaker(path string, minInterval time.Duration, log *slog.Logger) *inotifyWaker {
	iw := &inotifyWaker{dir: filepath.Dir(path), base: filepath.Base(path), log: log.With("path", path),
		fd: -1, ep: -1, cancel: [2]int{-1, -1}, minInterval: minInterval, now: time.Now, sleep: nanosleep}
	if err := iw.open(); err != nil {
		iw.log.Warn("inotify unavailable; the file is only polled", "err", err)
		iw.close()
		iw.fd, iw.ep, iw.cancel = -1, -1, [2]int{-1, -1}
		return iw
	}
	// Watch before the file is first opened, so no write is missed between.
	iw.watch()
	return iw
}

// open makes the inotify instance, the cancel pipe and the epoll set.
func (iw *inotifyWaker) open() error {
	var err error
	if iw.fd, err = syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC); err != nil {
		return err
	}
	if err = syscall.Pipe2(iw.cancel[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return err
	}
	if iw.ep, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return err
	}
	for _, fd := range []int{iw.fd, iw.cancel[0]} {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err = syscall.EpollCtl(iw.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
	return nil
}

// watch adds the directory's watch when it is not in place.
func (iw *inotifyWaker) watch() {
	if iw.fd < 0 || iw.watching {
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
	for _, fd := range []int{iw.ep, iw.fd, iw.cancel[0], iw.cancel[1]} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
}

// Wait implements Waker.
func (iw *inotifyWaker) Wait(ctx context.Context, within time.Duration) bool {
	iw.watch() // retried at every wait: the directory may not exist yet
	if iw.busy && iw.watching {
		// Writes came faster than minInterval: let them pile up. A
		// sleep this short is not cut by ctx.
		rest := min(iw.last.Add(iw.minInterval).Sub(iw.now()), within)
		if rest > 0 {
			iw.sleep(rest)
		}
		if ctx.Err() != nil {
			return false
		}
		if iw.pending() || rest == within {
			iw.last = iw.now()
			return true
		}
		// Quiet again: the next write wakes at once.
	}
	woke, ok := iw.block(ctx, within)
	if !ok {
		return false
	}
	now := iw.now()
	iw.busy = woke && now.Sub(iw.last) < iw.minInterval
	iw.last = now
	return true
}

// nanosleep sleeps d in the calling thread, without a timer of the
// runtime's: one wake-up at its end, and none for the runtime to plan.
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

// pending reads the events queued without waiting, and says whether one
// of them concerns the path.
func (iw *inotifyWaker) pending() bool {
	hit := false
	for {
		n, err := syscall.Read(iw.fd, iw.events[:])
		if err == syscall.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return hit
		}
		hit = iw.concerned(iw.events[:n]) || hit
	}
}

// block waits for an event that concerns the path (woke), for within, or
// until ctx ends (ok false). Without inotify, or without a watch, it
// waits out within.
func (iw *inotifyWaker) block(ctx context.Context, within time.Duration) (woke, ok bool) {
	if iw.ep < 0 {
		select {
		case <-ctx.Done():
			return false, false
		case <-time.After(within):
			return false, true
		}
	}
	if iw.blocking != nil {
		iw.blocking()
	}
	// Ending ctx ends the wait at once: a byte in the cancel pipe.
	stop := context.AfterFunc(ctx, func() { syscall.Write(iw.cancel[1], []byte{0}) })
	defer stop()
	deadline := iw.now().Add(within)
	var ready [2]syscall.EpollEvent
	for {
		if ctx.Err() != nil {
			return false, false
		}
		left := deadline.Sub(iw.now())
		if left <= 0 {
			return false, true
		}
		// Rounded up: a wait of 0 ms would spin until the deadline.
		_, err := syscall.EpollWait(iw.ep, ready[:], int((left+time.Millisecond-1)/time.Millisecond))
		if err != nil && err != syscall.EINTR {
			// Not expected of epoll; only poll from here on rather
			// than fail again at every wait.
			iw.log.Warn("waiting on inotify failed; the file is only polled from now on", "err", err)
			iw.close()
			iw.fd, iw.ep, iw.cancel, iw.watching = -1, -1, [2]int{-1, -1}, false
			return true, true
		}
		// Read what is queued even without a watch: the epoll set is
		// level-triggered, and stale events would end every wait.
		if iw.pending() {
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
