// Package positions saves how far each followed file has been read, so a
// restarted exporter resumes where it stopped instead of at the end of
// the file (losing what was written meanwhile) or at its start (counting
// everything again).
//
// The file is JSON, rewritten atomically (a temporary file in the same
// directory, synced, renamed over the old one) at a bounded interval and
// at shutdown. A line is counted before its position is recorded, so a
// crash replays at most the lines of one interval and loses none.
package positions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cabalmail/mailtier/internal/tailer"
)

// version is the file format's version.
const version = 1

type file struct {
	Version int                        `json:"version"`
	Files   map[string]tailer.Position `json:"files"`
}

// Store holds the positions of the followed files.
type Store struct {
	path  string
	mu    sync.Mutex
	files map[string]tailer.Position
	dirty bool
}

// Load reads the positions file at path. A file that does not exist yet
// gives an empty store; one that cannot be read or parsed is an error.
func Load(path string) (*Store, error) {
	s := &Store{path: path, files: map[string]tailer.Position{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("positions file %s: %w", path, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("positions file %s: version %d, want %d", path, f.Version, version)
	}
	for p, pos := range f.Files {
		if pos.Offset < 0 || pos.HeadLen < 0 {
			return nil, fmt.Errorf("positions file %s: negative offset or head length for %s", path, p)
		}
		s.files[p] = pos
	}
	return s, nil
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

// Save writes the positions if they changed since the last save.
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
	s.mu.Unlock()
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path, append(raw, '\n')); err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return err
	}
	return nil
}

// writeAtomic replaces path with data so that a crash leaves either the old
// file or the new one, never a part.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
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
		case <-t.C:
			if err := s.Save(); err != nil {
				logger.Error("saving positions", "file", s.path, "err", err)
			}
		}
	}
}
