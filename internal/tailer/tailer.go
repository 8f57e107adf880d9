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
// Truncation in place (copytruncate) is noticed by the library when the
// file is seen shrinking, and by this package when the file's first bytes
// change: a file truncated and rewritten past its old size within one
// poll never looks smaller. Either way it is read again from its start.
package tailer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
	// Truncated is called when the file was truncated or its content
	// replaced in place, and is read again from its start.
	Truncated()
	// Checkpoint reports, at each poll and when following stops, which
	// file is being read and how far: what a saved position needs.
	Checkpoint(c Checkpoint)
}

// Position identifies a file and an offset in it, so that reading can
// resume there after a restart. A file is the same when its device and
// inode are, and its first HeadLen bytes still hash to HeadHash: inodes
// are reused, and a file truncated and rewritten in place keeps its inode.
type Position struct {
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"inode"`
	HeadLen  int    `json:"head_length"`
	HeadHash string `json:"head_sha256"`
	Offset   int64  `json:"offset"`
}

// Checkpoint is a Position with the file's size when it was taken.
type Checkpoint struct {
	Position
	Size int64
}

// headMax is how many leading bytes identify a file's content.
const headMax = 256

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
	// Resume, when set, is a saved position to continue from: in the file
	// at the path if it is still the same file, else in the file it was
	// renamed to in the same directory (read to its end first), else from
	// the start of the file at the path.
	Resume *Position
	Logger *slog.Logger
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
// not exist yet, or cannot be opened yet. It returns nil when ctx ends, or
// an error that stops following (reading an open file failed).
func Follow(ctx context.Context, cfg Config, h Handler) error {
	if cfg.RotateWait <= 0 {
		cfg.RotateWait = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	first := true
	if cfg.Resume != nil {
		done, err := resume(ctx, cfg, h)
		if err != nil || ctx.Err() != nil {
			return err
		}
		first = !done
	}
	for {
		f, existed, err := waitOpen(ctx, cfg, h)
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

// resume continues from cfg.Resume. It returns true when the saved
// position was used (so the file now at the path, if another, is new and
// read from its start), false when nothing of it could be found and the
// path is to be opened as at a first start.
func resume(ctx context.Context, cfg Config, h Handler) (bool, error) {
	pos := *cfg.Resume
	log := cfg.Logger.With("path", cfg.Path)
	f, err := os.Open(cfg.Path)
	for warned := false; err != nil && !errors.Is(err, os.ErrNotExist); warned = true {
		// There, but not readable yet: wait rather than take it for a
		// rotation, which would read the same file again from its start.
		if !warned {
			log.Warn("cannot open the file; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return true, nil
		case <-time.After(pollInterval()):
		}
		f, err = os.Open(cfg.Path)
	}
	if err == nil {
		if same, _ := isSameFile(f, pos); same {
			log.Info("resuming at the saved position", "offset", pos.Offset)
			h.Opened(pos.Offset)
			err := followFile(ctx, cfg, f, pos.Offset, h)
			f.Close()
			return true, err
		}
		fi, err := f.Stat()
		f.Close()
		if err == nil && sameInode(fi, pos) {
			log.Warn("the file was truncated or replaced since the saved position; reading it from its start")
			return true, nil
		}
	}
	// The path names another file (or none): the saved one was rotated
	// while the exporter was down. Finish it under its new name first.
	if f := findRotated(cfg.Path, pos); f != nil {
		log.Info("finishing the rotated file from the saved position", "rotated", f.Name(), "offset", pos.Offset)
		h.Opened(pos.Offset)
		err := followFile(ctx, cfg, f, pos.Offset, h)
		f.Close()
		return true, err
	}
	log.Warn("the file of the saved position is gone; lines written to it after that position are lost")
	return true, nil
}

// findRotated looks in path's directory for the file of pos, renamed.
func findRotated(path string, pos Position) *os.File {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || !sameInode(info, pos) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil
		}
		if same, _ := isSameFile(f, pos); same {
			return f
		}
		f.Close()
		return nil
	}
	return nil
}

func sameInode(fi os.FileInfo, pos Position) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == pos.Dev && st.Ino == pos.Ino
}

// isSameFile reports whether f is the file of pos, with its content from
// before: same inode, at least pos.Offset bytes, same leading bytes.
func isSameFile(f *os.File, pos Position) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !sameInode(fi, pos) || fi.Size() < pos.Offset || fi.Size() < int64(pos.HeadLen) {
		return false, nil
	}
	head := make([]byte, pos.HeadLen)
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return hashHead(head) == pos.HeadHash, nil
}

func hashHead(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// waitOpen opens path, waiting until it can. A missing file is waited
// for quietly; any other failure (a file created before its owner or mode
// is set, as rsyslog and logrotate do; a directory in its place) is
// logged once per distinct error and retried, since giving up would stop
// the input for good. existed reports whether a file was there at the
// first try, readable or not.
func waitOpen(ctx context.Context, cfg Config, h Handler) (f *os.File, existed bool, err error) {
	existed = true
	first := true
	lastErr := ""
	for {
		f, err := os.Open(cfg.Path)
		if err == nil {
			fi, serr := f.Stat()
			switch {
			case serr != nil:
				err = serr
				f.Close()
			case !fi.Mode().IsRegular():
				err = fmt.Errorf("%s is not a regular file", cfg.Path)
				f.Close()
			default:
				return f, existed, nil
			}
		}
		if first {
			h.Missing()
		}
		if errors.Is(err, os.ErrNotExist) {
			if first {
				existed = false
			}
		} else if err.Error() != lastErr {
			cfg.Logger.Warn("cannot open the file; retrying", "path", cfg.Path, "err", err)
			lastErr = err.Error()
		}
		first = false
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

func (w *truncationWatch) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit > 0
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
	fw := &fileWatch{cfg: cfg, f: f, h: h, lastSize: -1, lastGrowth: time.Now()}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil {
		fw.dev, fw.ino = uint64(st.Dev), st.Ino
	}
	fw.readHead(fi.Size())
	for {
		restart, err := fw.run(ctx, offset)
		if err != nil || restart < 0 {
			return err
		}
		offset = restart
	}
}

// fileWatch is the state of following one open file.
type fileWatch struct {
	cfg        Config
	f          *os.File
	h          Handler
	dev, ino   uint64
	head       []byte // the file's first bytes as read, up to headMax
	read       int64  // offset after the last line handed on
	lastSize   int64
	lastGrowth time.Time
}

// readHead extends the remembered leading bytes up to headMax as the file
// grows. It reports false when the bytes already remembered have changed:
// the content was replaced in place.
func (fw *fileWatch) readHead(size int64) bool {
	n := min(size, headMax)
	if n < int64(len(fw.head)) {
		return false
	}
	buf := make([]byte, n)
	if _, err := fw.f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return true
	}
	if !bytes.Equal(buf[:len(fw.head)], fw.head) {
		return false
	}
	fw.head = buf
	return true
}

func (fw *fileWatch) checkpoint(size int64) {
	fw.h.Checkpoint(Checkpoint{
		Position: Position{Dev: fw.dev, Ino: fw.ino, HeadLen: len(fw.head), HeadHash: hashHead(fw.head), Offset: fw.read},
		Size:     size,
	})
}

// run reads f with one nxadm/tail from offset. It returns -1 when
// following ends (ctx done, or rotated and drained), or the offset to
// start again from after the content was replaced in place unnoticed.
func (fw *fileWatch) run(ctx context.Context, offset int64) (int64, error) {
	cfg, h := fw.cfg, fw.h
	fw.read = offset
	tw := &truncationWatch{log: cfg.Logger.With("path", cfg.Path)}
	tl, err := tail.TailFile(fmt.Sprintf("/proc/self/fd/%d", fw.f.Fd()), tail.Config{
		Location:      &tail.SeekInfo{Offset: offset, Whence: io.SeekStart},
		Follow:        true,
		MustExist:     true,
		Poll:          true,
		CompleteLines: true,
		Logger:        log.New(tw, "", 0),
	})
	if err != nil {
		return -1, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			// Stop never blocks on an undrained Lines: the library's send
			// also waits on its own stop.
			_ = tl.Stop()
		}
	}
	defer stop()
	truncated := func() {
		for n := tw.take(); n > 0; n-- {
			h.Truncated()
			fw.head = fw.head[:0]
		}
	}
	tick := time.NewTicker(pollInterval())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stop()
			size := fw.lastSize
			if fi, err := fw.f.Stat(); err == nil {
				size = fi.Size()
			}
			fw.checkpoint(size)
			return -1, nil
		case line, ok := <-tl.Lines:
			if !ok {
				err := tl.Err()
				if err == nil {
					err = errors.New("tail stopped")
				}
				return -1, err
			}
			if line.Err != nil {
				cfg.Logger.Warn("tail", "path", cfg.Path, "err", line.Err)
				continue
			}
			// A truncation the library noticed is logged before it reads
			// the new content, so it is seen here before the first new line.
			truncated()
			fw.read = line.SeekInfo.Offset
			h.Line(line.Text, fw.read)
		case now := <-tick.C:
			if tw.pending() {
				// Noticed, and no line of the new content handed on yet.
				truncated()
				fw.read = 0
			}
			fi, err := fw.f.Stat()
			if err != nil {
				return -1, err
			}
			size := fi.Size()
			if !fw.readHead(size) {
				// Replaced in place and grown past its old size within one
				// poll, which the library cannot see: read it again from
				// its start (or from where the library got, had it seen).
				// No line of the new content was handed on (that would have
				// reset the head), so it is read from 0 whether or not the
				// library noticed meanwhile.
				stop()
				tw.take()
				h.Truncated()
				fw.head = fw.head[:0]
				fw.readHead(size)
				fw.read = 0
				return 0, nil
			}
			fw.checkpoint(size)
			if size != fw.lastSize {
				fw.lastSize, fw.lastGrowth = size, now
			}
			pfi, perr := os.Stat(cfg.Path)
			if perr == nil && os.SameFile(fi, pfi) {
				continue
			}
			// Rotated (renamed, or removed). Move on once the old file is
			// drained and its writer has gone to the new one.
			idle := now.Sub(fw.lastGrowth) >= cfg.RotateWait
			drained := fw.read >= size
			newHasData := perr == nil && pfi.Size() > 0
			if (drained && (newHasData || idle)) || (idle && now.Sub(fw.lastGrowth) >= 2*cfg.RotateWait) {
				if !drained {
					cfg.Logger.Warn("rotated file ends in an incomplete line; moving on", "path", cfg.Path, "bytes", size-fw.read)
				}
				stop()
				fw.checkpoint(size)
				return -1, nil
			}
		}
	}
}
