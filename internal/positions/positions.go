// Package positions saves how far each followed file has been read, so a
// restarted exporter resumes where it stopped instead of at the end of
// the file (losing what was written meanwhile) or at its start (counting
// everything again).
//
// The file is JSON, rewritten atomically (a temporary file in the same
// directory, synced, renamed over the old one) as soon as an input has a
// first position, then at a bounded interval and at shutdown. A line is
// counted before its position is recorded, so a crash replays at most the
// lines of one interval and loses none.
//
// The file is the exporter's own state and must never keep it from
// starting: one that cannot be used is moved aside (MoveAside) and the
// exporter starts as if there were none.
package positions

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "sync"
import "time"

import "github.com/cabalmail/mailtier/internal/tailer"

// version is the file format's version.
const version = 1

type file struct {
	Version int                        `json:"version"`
	Files   map[string]tailer.Position `json:"files"`
}

// maxFileBytes bounds what Load reads: a positions file holds a few
// hundred bytes per input, and a file grown past this is not one.
const maxFileBytes = 1 << 20

// Store holds the positions of the followed files.
type Store struct {
	path  string
	mu    sync.Mutex
	files map[string]tailer.Position
	dirty bool
	soon  chan struct{}
	// snapshots numbers the snapshots saves take, in order. A save renames
	// its file over the old one only if no later snapshot was renamed
	// before it: the periodic save and the final one can overlap (the
	// periodic one syncing to disk while the inputs stop), and the older
	// must not land last.
	snapshots uint64
	// renameMu orders the renames; renamed is the number of the last.
	renameMu sync.Mutex
	renamed  uint64
}

// testHookWritten, when set, is called by Save after it wrote and synced
// its temporary file, before the rename.
var testHookWritten func()

// New returns an empty store saved at path.
func New(path string) *Store {
	return &Store{path: path, files: map[string]tailer.Position{}, soon: make(chan struct{}, 1)}
}

// Load reads the positions file at path. A file that does not exist yet
// gives an empty store; one that cannot be read or parsed, or holds
// impossible values, is an error.
func Load(path string) (*Store, error) {
	s := New(path)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("positions file %s: %w", path, err)
	}
	if len(raw) > maxFileBytes {
		return nil, fmt.Errorf("positions file %s: larger than %d bytes", path, maxFileBytes)
	}
	if err := s.parse(raw); err != nil {
		return nil, err
	}
	return s, nil
}

// parse fills s from the file's content.
func (s *Store) parse(raw []byte) error {
	path := s.path
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("positions file %s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("positions file %s: data after the JSON object", path)
	}
	if f.Version != version {
		return fmt.Errorf("positions file %s: version %d, want %d", path, f.Version, version)
	}
	for p, pos := range f.Files {
		if pos.Offset < 0 || pos.HeadLen < 0 {
			return fmt.Errorf("positions file %s: negative offset or head length for %s", path, p)
		}
		// The head identifies a file by its first bytes: never more than
		// the tailer remembers, so resuming never allocates more.
		if pos.HeadLen > tailer.HeadMax {
			return fmt.Errorf("positions file %s: head length %d for %s, more than %d", path, pos.HeadLen, p, tailer.HeadMax)
		}
		s.files[p] = pos
	}
	return nil
}

// MoveAside renames an unusable positions file to path.corrupt (replacing
// an older one), keeping it for a look while a new file is written, and
// returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".corrupt"
	return aside, os.Rename(path, aside)
}

// SaveSoon asks Run to save now rather than at the end of its interval.
func (s *Store) SaveSoon() {
	select {
	case s.soon <- struct{}{}:
	default:
	}
}

// Get returns the saved position of the followed path.
func (s *Store) Get(path string) (tailer.Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.files[path]
	return p, ok
}

// Set records the position of the followed path.
func (s *Store) Set(path string, pos tailer.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.files[path]; ok && old == pos {
		return
	}
	s.files[path] = pos
	s.dirty = true
}

// Keep forgets every path not in paths, so a file no longer followed does
// not stay in the file forever.
func (s *Store) Keep(paths []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := map[string]bool{}
	for _, p := range paths {
		keep[p] = true
	}
	for p := range s.files {
		if !keep[p] {
			delete(s.files, p)
			s.dirty = true
		}
	}
}

// Save writes the positions if they changed since the last save. Saves
// may overlap: the file always ends with the newest snapshot.
func (s *Store) Save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	f := file{Version: version, Files: make(map[string]tailer.Position, len(s.files))}
	for p, pos := range s.files {
		f.Files[p] = pos
	}
	s.dirty = false
	s.snapshots++
	snapshot := s.snapshots
	s.mu.Unlock()
	raw, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		err = s.writeAtomic(append(raw, '\n'), snapshot)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
	return err
}

// writeAtomic replaces the file with data, snapshot number snapshot, so
// that a crash leaves either the old file or the new one, never a part.
// A snapshot older than one already renamed is dropped.
func (s *Store) writeAtomic(data []byte, snapshot uint64) error {
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if testHookWritten != nil {
		testHookWritten()
	}
	s.renameMu.Lock()
	defer s.renameMu.Unlock()
	if snapshot < s.renamed {
		return nil // a newer snapshot is in place
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	s.renamed = snapshot
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Run saves every interval until ctx ends. The final save, after the
// inputs have stopped, is the caller's.
func (s *Store) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.soon:
			if err := s.Save(); err != nil {
				logger.Error("saving positions", "file", s.path, "err", err)
			}
		case <-t.C:
			if err := s.Save(); err != nil {
				logger.Error("saving positions", "file", s.path, "err", err)
			}
		}
	}
}
