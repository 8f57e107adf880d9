// Package tailer follows a log file by its path, across rotations, and
// hands on complete lines with the offset after each. It knows nothing of
// what the lines mean.
//
// Reading is nxadm/tail's, with complete lines only. On its own that
// library loses lines at a rename rotation: on the rename it reopens the
// path at once and drops whatever the writer still appends to the old
// file until it is told to reopen (rsyslog until its HUP; nxadm/tail
// issue 28). So the library is never given the path. It is given
// /proc/self/fd/N of a descriptor this package holds, which names the
// inode, not the path. This package watches the path itself; when the
// path names another file (or none), it keeps reading the old inode until
// it is drained — read to its end, and either the new file has data or
// the old one stopped growing for RotateWait — and only then moves on to
// the new file, from its start. Lines therefore arrive in the order they
// were written, and none is lost.
//
// Truncation in place (copytruncate) is the library's: it notices the
// file shrink and reads again from the start.
package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nxadm/tail"
	"github.com/nxadm/tail/watch"
)

// Handler receives what a Follow sees.
type Handler interface {
	// Line is one complete line, without its newline; end is the offset
	// in the file just after it.
	Line(text string, end int64)
	// Missing is called when the path is found not to exist, before
	// waiting for it.
	Missing()
	// Opened is called each time a file at the path is opened; offset is
	// where reading starts.
	Opened(offset int64)
	// Truncated is called when the file shrank and is read again from its
	// start.
	Truncated()
	// Progress reports, at each poll, the size of the file being read and
	// the offset read so far.
	Progress(size, offset int64)
}

// Config says what to follow and how.
type Config struct {
	Path string
	// FromStart reads the file found at start-up from its beginning; by
	// default reading starts at its end. Files that appear later, or
	// replace it after a rotation, are always read from their beginning.
	FromStart bool
	// RotateWait is how long a rotated file that stopped growing is kept
	// open before the new file is read, for writers that have not yet
	// reopened the path. 0 means 5 s.
	RotateWait time.Duration
	Logger     *slog.Logger
}

var pollOnce sync.Once

// SetPollInterval sets how often files are checked for growth and
// rotation. nxadm/tail keeps this in a package variable, so it applies to
// every file and must be set before the first Follow.
func SetPollInterval(d time.Duration) {
	pollOnce.Do(func() { watch.POLL_DURATION = d })
}

func pollInterval() time.Duration { return watch.POLL_DURATION }

// Follow follows cfg.Path until ctx is done. It waits for a file that does
// not exist yet. It returns nil when ctx ends, or an error that stops
// following (the path cannot be opened for another reason than absence).
func Follow(ctx context.Context, cfg Config, h Handler) error {
	if cfg.RotateWait <= 0 {
		cfg.RotateWait = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	first := true
	for {
		f, existed, err := waitOpen(ctx, cfg.Path, h)
		if err != nil {
			return err
		}
		if f == nil {
			return nil // ctx done
		}
		var offset int64
		if first && existed && !cfg.FromStart {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return err
			}
			offset = fi.Size()
		}
		first = false
		h.Opened(offset)
		err = followFile(ctx, cfg, f, offset, h)
		f.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// waitOpen opens path, waiting for it to exist. existed reports whether it
// was there at the first try.
func waitOpen(ctx context.Context, path string, h Handler) (f *os.File, existed bool, err error) {
	existed = true
	for {
		f, err := os.Open(path)
		if err == nil {
			return f, existed, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, false, err
		}
		if existed {
			h.Missing()
		}
		existed = false
		select {
		case <-ctx.Done():
			return nil, false, nil
		case <-time.After(pollInterval()):
		}
	}
}

// truncationWatch turns nxadm/tail's log line about a truncated file into
// a flag, since the library reports truncation no other way.
type truncationWatch struct {
	mu  sync.Mutex
	hit int
	log *slog.Logger
}

var truncMsg = []byte("Re-opening truncated file")

func (w *truncationWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, truncMsg) {
		w.mu.Lock()
		w.hit++
		w.mu.Unlock()
	}
	w.log.Debug("tail", "msg", string(bytes.TrimSpace(p)))
	return len(p), nil
}

func (w *truncationWatch) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.hit
	w.hit = 0
	return n
}

// followFile reads the open file f from offset until ctx ends, or until
// the path names another file and f is drained.
func followFile(ctx context.Context, cfg Config, f *os.File, offset int64, h Handler) error {
	tw := &truncationWatch{log: cfg.Logger.With("path", cfg.Path)}
	tl, err := tail.TailFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), tail.Config{
		Location:      &tail.SeekInfo{Offset: offset, Whence: io.SeekStart},
		Follow:        true,
		MustExist:     true,
		Poll:          true,
		CompleteLines: true,
		Logger:        log.New(tw, "", 0),
	})
	if err != nil {
		return err
	}
	defer func() {
		// Stop never blocks on an undrained Lines: the library's send
		// also waits on its own stop.
		_ = tl.Stop()
	}()
	tick := time.NewTicker(pollInterval())
	defer tick.Stop()
	read := offset
	lastSize := int64(-1)
	lastGrowth := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-tl.Lines:
			if !ok {
				err := tl.Err()
				if err == nil {
					err = errors.New("tail stopped")
				}
				return err
			}
			if line.Err != nil {
				cfg.Logger.Warn("tail", "path", cfg.Path, "err", line.Err)
				continue
			}
			for n := tw.take(); n > 0; n-- {
				h.Truncated()
			}
			read = line.SeekInfo.Offset
			h.Line(line.Text, read)
		case now := <-tick.C:
			for n := tw.take(); n > 0; n-- {
				h.Truncated()
				read = 0
			}
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			size := fi.Size()
			h.Progress(size, read)
			if size != lastSize {
				lastSize, lastGrowth = size, now
			}
			pfi, perr := os.Stat(cfg.Path)
			if perr == nil && os.SameFile(fi, pfi) {
				continue
			}
			// Rotated (renamed, or removed). Move on once the old file is
			// drained and its writer has gone to the new one.
			idle := now.Sub(lastGrowth) >= cfg.RotateWait
			drained := read >= size
			newHasData := perr == nil && pfi.Size() > 0
			if (drained && (newHasData || idle)) || (idle && now.Sub(lastGrowth) >= 2*cfg.RotateWait) {
				if !drained {
					cfg.Logger.Warn("rotated file ends in an incomplete line; moving on", "path", cfg.Path, "bytes", size-read)
				}
				return nil
			}
		}
	}
}
