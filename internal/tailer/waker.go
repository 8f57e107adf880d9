package tailer

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// A Waker tells Follow when to look at its file again. Follow reads all
// there is, checks for rotation, and then waits on its Waker.
type Waker interface {
	// Wait returns true when the file may have changed, and at the
	// latest after within; false when ctx ended.
	Wait(ctx context.Context, within time.Duration) bool
}

// inotifyWaker wakes on inotify events naming the followed path in its
// directory: writes to the file, and its rename, removal or creation. A
// directory watch, not a file watch, because a file watch follows the
// inode away at a rename and cannot see the next file appear. Where
// inotify does not work (it sees no writes made on another machine, as
// over NFS) the slow safety poll still finds every change.
type inotifyWaker struct {
	dir, base string
	log       *slog.Logger
	w         *fsnotify.Watcher
	watching  bool
	warned    bool
	timer     *time.Timer
}

func newInotifyWaker(path string, log *slog.Logger) *inotifyWaker {
	iw := &inotifyWaker{dir: filepath.Dir(path), base: filepath.Base(path), log: log.With("path", path)}
	iw.timer = time.NewTimer(time.Hour)
	iw.timer.Stop()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		iw.log.Warn("inotify unavailable; the file is only polled", "err", err)
		return iw
	}
	iw.w = w
	// Watch before the file is first opened, so no write is missed between.
	iw.watch()
	return iw
}

// watch adds the directory's watch when it is not in place.
func (iw *inotifyWaker) watch() {
	if iw.w == nil || iw.watching {
		return
	}
	if err := iw.w.Add(iw.dir); err != nil {
		if !iw.warned {
			iw.log.Warn("cannot watch the directory; the file is only polled until it can", "dir", iw.dir, "err", err)
			iw.warned = true
		}
		return
	}
	iw.watching = true
}

func (iw *inotifyWaker) close() {
	iw.timer.Stop()
	if iw.w != nil {
		iw.w.Close()
	}
}

// Wait implements Waker.
func (iw *inotifyWaker) Wait(ctx context.Context, within time.Duration) bool {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if iw.w != nil {
		iw.watch() // retried at every wait: the directory may not exist yet
		events, errs = iw.w.Events, iw.w.Errors
	}
	iw.timer.Reset(within)
	defer iw.timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-iw.timer.C:
			return true
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Name == iw.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				iw.watching = false // the watch went with the directory
				return true
			}
			if filepath.Base(ev.Name) != iw.base {
				continue
			}
			iw.drain()
			return true
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed queue lost events: look now.
			iw.log.Debug("inotify", "err", err)
			return true
		}
	}
}

// drain takes the events already queued, so a burst of writes costs one
// pass over the file rather than one per write.
func (iw *inotifyWaker) drain() {
	for {
		select {
		case _, ok := <-iw.w.Events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}
