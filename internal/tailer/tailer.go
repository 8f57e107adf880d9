// Package tailer follows a log file by its path, across rotations, and
// hands on complete lines with the offset after each. It knows nothing of
// what the lines mean.
//
// It reads the descriptor it holds with a buffer of its own (Splitter):
// memory is bounded whatever the file holds, and a line longer than the
// bound is reported and skipped as it streams past. It is woken by
// inotify events on the path's directory, with a slow safety poll for
// what inotify cannot see; after each wake it reads everything there is,
// then looks for truncation and rotation.
//
// Rotation by rename loses nothing: when the path names another file (or
// none), the old file is still read until it is drained — read to its end,
// and either the new file has data or the old one stopped growing for
// RotateWait — because a syslog daemon keeps appending to it until it is
// told to reopen the path. Only then is the new file read, from its start.
// Lines therefore arrive in the order they were written.
//
// Truncation in place (copytruncate) is seen when the file is smaller
// than what was read, or when its first bytes changed (a file truncated
// and rewritten past its old size between two looks never looks smaller).
// Either way it is read again from its start.
package tailer

import "bytes"
import "cmp"
import "context"
import "crypto/sha256"
import "encoding/hex"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "syscall"
import "time"

// Handler receives what a Follow sees. Its methods are called from the
// Follow's goroutine only.
type Handler interface {
	// Line is one complete line, without its newline; end is the offset
	// in the file just after it. text aliases the reader's buffer (see
	// LineString): it is valid only until Line returns, and a handler
	// that keeps any part of it must copy it.
	Line(text string, end int64)
	// TooLong reports a line longer than the bound, skipped: n is its
	// length, newline included, and end the offset after it.
	TooLong(n int64, end int64)
	// Missing is called when the path is found not to exist (or not to
	// be a readable regular file), before waiting for it.
	Missing()
	// Opened is called each time a file at the path is opened; offset is
	// where reading starts.
	Opened(offset int64)
	// Truncated is called when the file was truncated or its content
	// replaced in place, and is read again from its start.
	Truncated()
	// Checkpoint reports, after each read and when following stops, which
	// file is being read and how far: what a saved position needs. Lines
	// handed on before it are complete.
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

// HeadMax is how many leading bytes identify a file's content; a saved
// position claiming more is not trusted.
const HeadMax = 256

// DefaultPoll is the safety poll when Config.Poll is 0.
const DefaultPoll = time.Second

// checkpointEvery is how many bytes are read between checkpoints while
// catching up a backlog, so that progress shows and is saved.
const checkpointEvery = 1 << 20

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
	// MaxLine is the longest line handed on; 0 means MaxLineBytes.
	MaxLine int
	// Poll is the safety poll: the longest wait without an inotify event.
	// 0 means DefaultPoll.
	Poll time.Duration
	// Waker, when set, replaces inotify and the safety poll (tests drive
	// Follow with it, one pass at a time).
	Waker Waker
	// Now is the clock for RotateWait; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// discard is the Logger of a Config that names none.
var discard = slog.New(slog.DiscardHandler)

// Follow follows cfg.Path until ctx is done. It waits for a file that does
// not exist yet, or cannot be opened yet. It returns nil when ctx ends, or
// an error that stops following (reading an open file failed).
func Follow(ctx context.Context, cfg Config, h Handler) error {
	if cfg.RotateWait <= 0 {
		cfg.RotateWait = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Logger = cmp.Or(cfg.Logger, discard)
	if cfg.Waker == nil {
		iw := newInotifyWaker(cfg.Path, cfg.Logger)
		defer iw.close()
		cfg.Waker = iw
	}
	pathz, err := syscall.ByteSliceFromString(cfg.Path)
	if err != nil {
		return fmt.Errorf("path %q: %w", cfg.Path, err)
	}
	t := &follower{cfg: cfg, h: h, log: cfg.Logger.With("path", cfg.Path), pathz: pathz}
	first := true
	if cfg.Resume != nil {
		done, err := t.resume(ctx)
		if err != nil || ctx.Err() != nil {
			return err
		}
		first = !done
	}
	for {
		f, existed, err := t.waitOpen(ctx)
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
		err = t.followFile(ctx, f, offset)
		f.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// follower is one Follow's state.
type follower struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	pathz []byte // cfg.Path NUL-terminated, for stat(2)
	sp    *Splitter
	// missingWarned: a missing path is warned about once per Follow; it is
	// normal for a moment during a rotation.
	missingWarned bool
}

// errNotRegular is why a FIFO, device or directory at the path is refused.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading without ever blocking: a FIFO opened
// for reading blocks open(2) until a writer comes, so it is opened
// non-blocking and refused, like any file that is not a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is %w (%s)", path, errNotRegular, fileType(fi.Mode()))
	}
	return f, nil
}

func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

// resume continues from cfg.Resume. It returns true when the saved
// position was used (so the file now at the path, if another, is new and
// read from its start), false when nothing of it could be found and the
// path is to be opened as at a first start.
func (t *follower) resume(ctx context.Context) (bool, error) {
	pos := *t.cfg.Resume
	f, err := openRegular(t.cfg.Path)
	for warned := false; err != nil && !errors.Is(err, os.ErrNotExist); warned = true {
		// There, but not readable yet: wait rather than take it for a
		// rotation, which would read the same file again from its start.
		if !warned {
			t.log.Warn("cannot open the file; retrying", "err", err)
			t.h.Missing()
		}
		if !t.cfg.Waker.Wait(ctx, t.cfg.Poll) {
			return true, nil
		}
		f, err = openRegular(t.cfg.Path)
	}
	if err == nil {
		if same, _ := isSameFile(f, pos); same {
			t.log.Info("resuming at the saved position", "offset", pos.Offset)
			t.h.Opened(pos.Offset)
			err := t.followFile(ctx, f, pos.Offset)
			f.Close()
			return true, err
		}
		fi, err := f.Stat()
		f.Close()
		if err == nil && sameInode(fi, pos) {
			t.log.Warn("the file was truncated or replaced since the saved position; reading it from its start")
			return true, nil
		}
	}
	// The path names another file (or none): the saved one was rotated
	// while the exporter was down. Finish it under its new name first.
	if f := findRotated(t.cfg.Path, pos); f != nil {
		t.log.Info("finishing the rotated file from the saved position", "rotated", f.Name(), "offset", pos.Offset)
		t.h.Opened(pos.Offset)
		err := t.followFile(ctx, f, pos.Offset)
		f.Close()
		return true, err
	}
	t.log.Warn("the file of the saved position is gone; lines written to it after that position are lost")
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
		f, err := openRegular(filepath.Join(dir, e.Name()))
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
	if pos.HeadLen < 0 || pos.HeadLen > HeadMax || !sameInode(fi, pos) ||
		fi.Size() < pos.Offset || fi.Size() < int64(pos.HeadLen) {
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

// waitOpen opens the path, waiting until it can. A missing file is warned
// about once; any other failure (a file created before its owner or mode
// is set, as rsyslog and logrotate do; a directory or a FIFO in its place)
// is logged once per distinct error and retried, since giving up would
// stop the input for good. existed reports whether a file was there at the
// first try, readable or not.
func (t *follower) waitOpen(ctx context.Context) (f *os.File, existed bool, err error) {
	existed = true
	first := true
	lastErr := ""
	for {
		f, err := openRegular(t.cfg.Path)
		if err == nil {
			return f, existed, nil
		}
		if first {
			t.h.Missing()
		}
		if errors.Is(err, os.ErrNotExist) {
			if first {
				existed = false
			}
			if !t.missingWarned {
				t.log.Warn("the file does not exist; waiting for it")
				t.missingWarned = true
			}
		} else if err.Error() != lastErr {
			msg := "cannot open the file; retrying"
			if errors.Is(err, errNotRegular) {
				msg = "refusing to read a file that is not a regular file; retrying"
			}
			t.log.Warn(msg, "err", err)
			lastErr = err.Error()
		}
		first = false
		if !t.cfg.Waker.Wait(ctx, t.cfg.Poll) {
			return nil, false, nil
		}
	}
}

// fileState is what is known of the open file being read.
type fileState struct {
	f          *os.File
	fd         int  // f's descriptor, for pread
	raw        bool // on a local file system: see rawsys.go
	dev, ino   uint64
	head       []byte // the file's first bytes as read, up to HeadMax
	headHash   string // of head, computed when head changes
	size       int64  // at the last look
	lastSize   int64
	lastGrowth time.Time
	rotating   bool // the path names another file, or none
}

// offsetReader reads the file at the splitter's offset with one pread:
// the descriptor's own offset is never used, so nothing needs seeking. A
// read shorter than asked means the end of the file was reached (os.File's
// ReadAt would read again to be told so: a system call per pass saved).
type offsetReader struct {
	fs    *fileState
	sp    *Splitter
	short bool // the last read ended at the end of the file
}

func (r *offsetReader) Read(p []byte) (int, error) {
	n, err := r.fs.pread(p, r.sp.Consumed())
	if err != nil {
		return 0, &os.PathError{Op: "pread", Path: r.fs.f.Name(), Err: err}
	}
	r.short = n < len(p)
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// followFile reads the open file f from offset until ctx ends, or until
// the path names another file and f is drained.
func (t *follower) followFile(ctx context.Context, f *os.File, offset int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fs := &fileState{f: f, fd: int(f.Fd()), lastSize: -1, lastGrowth: t.cfg.Now()}
	fs.raw = isLocal(fs.fd)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		fs.dev, fs.ino = uint64(st.Dev), st.Ino
	}
	fs.readHead(fi.Size())
	if t.sp == nil {
		t.sp = NewSplitter(t.cfg.MaxLine, offset)
	} else {
		t.sp.Reset(offset)
	}
	for {
		if err := t.pass(fs); err != nil {
			return err
		}
		within := t.cfg.Poll
		moved, err := t.rotated(fs)
		if err != nil {
			return err
		}
		if moved {
			return nil
		}
		if fs.rotating {
			// Late writes to a renamed file do not wake the path's watch.
			within = min(within, t.cfg.RotateWait/4)
		}
		if !t.cfg.Waker.Wait(ctx, within) {
			t.checkpoint(fs)
			return nil
		}
	}
}

// pass reads everything the file holds beyond what was read, after
// checking it was not truncated or replaced in place.
func (t *follower) pass(fs *fileState) error {
	var st syscall.Stat_t
	if err := fs.fstat(&st); err != nil {
		return &os.PathError{Op: "fstat", Path: fs.f.Name(), Err: err}
	}
	fs.size = st.Size
	if fs.size < t.sp.Consumed() || !fs.readHead(fs.size) {
		t.h.Truncated()
		fs.head, fs.headHash = fs.head[:0], ""
		fs.readHead(fs.size)
		t.sp.Reset(0)
	}
	r := &offsetReader{fs: fs, sp: t.sp}
	var sinceCheckpoint int
	for {
		n, err := t.sp.Fill(r)
		for {
			line, end, tooLong, ok := t.sp.Next()
			if !ok {
				break
			}
			if tooLong > 0 {
				t.h.TooLong(tooLong, end)
			} else {
				// No copy: the handler is done with the line
				// before the next Fill writes to the buffer.
				t.h.Line(LineString(line), end)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && (n == 0 || r.short)) {
			break
		}
		if err != nil {
			return err
		}
		if sinceCheckpoint += n; sinceCheckpoint >= checkpointEvery {
			sinceCheckpoint = 0
			t.checkpoint(fs)
		}
	}
	if c := t.sp.Consumed(); c > fs.size {
		fs.size = c
	}
	if !fs.headComplete() {
		fs.readHead(fs.size)
	}
	t.checkpoint(fs)
	return nil
}

// rotated looks whether the path still names the file being read. When it
// does not, it reports true once the file is drained and its writer has
// gone to the new one.
func (t *follower) rotated(fs *fileState) (bool, error) {
	now := t.cfg.Now()
	if fs.size != fs.lastSize {
		fs.lastSize, fs.lastGrowth = fs.size, now
	}
	var pst syscall.Stat_t
	perr := fs.stat(t.pathz, &pst)
	if perr == nil && uint64(pst.Dev) == fs.dev && pst.Ino == fs.ino {
		fs.rotating = false
		return false, nil
	}
	fs.rotating = true
	// Rotated (renamed, or removed). Move on once the old file is drained
	// and its writer has gone to the new one.
	idleFor := now.Sub(fs.lastGrowth)
	idle := idleFor >= t.cfg.RotateWait
	drained := t.sp.LineEnd() >= fs.size
	newHasData := perr == nil && pst.Size > 0
	if (drained && (newHasData || idle)) || idleFor >= 2*t.cfg.RotateWait {
		if !drained {
			t.log.Warn("rotated file ends in an incomplete line; moving on", "bytes", fs.size-t.sp.LineEnd())
		}
		t.checkpoint(fs)
		return true, nil
	}
	return false, nil
}

func (t *follower) checkpoint(fs *fileState) {
	if fs.headHash == "" {
		fs.headHash = hashHead(fs.head)
	}
	t.h.Checkpoint(Checkpoint{
		Position: Position{Dev: fs.dev, Ino: fs.ino, HeadLen: len(fs.head), HeadHash: fs.headHash, Offset: t.sp.LineEnd()},
		Size:     fs.size,
	})
}

func (fs *fileState) headComplete() bool { return len(fs.head) == HeadMax }

// readHead checks the remembered leading bytes against the file and
// extends them up to HeadMax as it grows. It reports false when the bytes
// already remembered have changed: the content was replaced in place.
func (fs *fileState) readHead(size int64) bool {
	n := min(size, HeadMax)
	if n < int64(len(fs.head)) {
		return false
	}
	var buf [HeadMax]byte
	got, err := fs.pread(buf[:n], 0)
	if err != nil {
		return true
	}
	if !bytes.Equal(buf[:min(got, len(fs.head))], fs.head[:min(got, len(fs.head))]) || got < len(fs.head) {
		return false
	}
	if got > len(fs.head) {
		fs.head = append(fs.head[:0], buf[:got]...)
		fs.headHash = ""
	}
	return true
}
