package positions

import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/tailer"

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("/var/log/maillog"); ok {
		t.Fatal("position in a new store")
	}
	pos := tailer.Position{Dev: 2049, Ino: 1234, HeadLen: 256, HeadHash: "ab", Offset: 9999}
	s.Set("/var/log/maillog", pos)
	s.Set("/var/log/old", pos)
	s.Keep([]string{"/var/log/maillog"})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "files": {
    "/var/log/maillog": {
      "dev": 2049,
      "inode": 1234,
      "head_length": 256,
      "head_sha256": "ab",
      "offset": 9999
    }
  }
}
`
	if string(raw) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", raw, want)
	}
	s2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Get("/var/log/maillog"); !ok || got != pos {
		t.Fatalf("loaded %+v %v, want %+v", got, ok, pos)
	}
	// Nothing left behind but the file itself.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory, want 1", len(entries))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content, err string
	}{
		{"", "positions file DIR/p.json: EOF"},
		{"{", "positions file DIR/p.json: unexpected EOF"},
		{`{"version": 2, "files": {}}`, "positions file DIR/p.json: version 2, want 1"},
		{`{"version": 1, "files": {}, "extra": 1}`, `positions file DIR/p.json: json: unknown field "extra"`},
		{`{"version": 1, "files": {"/a": {"offset": -1}}}`, "positions file DIR/p.json: negative offset or head length for /a"},
		{`{"version": 1, "files": {"/a": {"offset": "x"}}}`, "positions file DIR/p.json: json: cannot unmarshal string into Go struct field Position.files.offset of type int64"},
		{`{"version": 1, "files": {"/a": {"head_length": 257}}}`, "positions file DIR/p.json: head length 257 for /a, more than 256"},
		{`{"version": 1, "files": {}} {}`, "positions file DIR/p.json: data after the JSON object"},
		{`{"version": 1, "files": {}}` + strings.Repeat(" ", 1<<20), "positions file DIR/p.json: larger than 1048576 bytes"},
	} {
		path := filepath.Join(dir, "p.json")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		want := strings.ReplaceAll(tc.err, "DIR", dir)
		if err == nil || err.Error() != want {
			t.Errorf("Load(%q) = %v, want %q", tc.content, err, want)
		}
	}
}

// TestMoveAside: an unusable file is kept under another name, and a new
// store saves over the path.
func TestMoveAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("loaded a corrupt file")
	}
	aside, err := MoveAside(path)
	if err != nil || aside != path+".corrupt" {
		t.Fatalf("MoveAside = %q, %v", aside, err)
	}
	if raw, err := os.ReadFile(aside); err != nil || string(raw) != "{" {
		t.Fatalf("aside: %q %v", raw, err)
	}
	s := New(path)
	s.Set("/var/log/maillog", tailer.Position{Offset: 1})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoad: whatever the file holds, Load either refuses it with an
// error or gives positions a resume can trust, and saving them gives a
// file that loads to the same positions.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version": 1, "files": {"/var/log/maillog": {"dev": 2049, "inode": 1234, "head_length": 256, "head_sha256": "ab", "offset": 9999}}}`))
	f.Add([]byte(`{"version": 1, "files": {}}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"version": 1, "files": {"/a": {"head_length": 2147483648}}}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "p.json")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			if s != nil {
				t.Fatal("a store with an error")
			}
			return
		}
		for p, pos := range s.files {
			if pos.Offset < 0 || pos.HeadLen < 0 || pos.HeadLen > tailer.HeadMax {
				t.Fatalf("%q: untrustworthy position %+v", p, pos)
			}
		}
		s.dirty = true
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
		s2, err := Load(path)
		if err != nil {
			t.Fatalf("reloading a saved store: %v", err)
		}
		if len(s2.files) != len(s.files) {
			t.Fatalf("%d positions after a save, want %d", len(s2.files), len(s.files))
		}
		for p, pos := range s.files {
			if s2.files[p] != pos {
				t.Fatalf("%q: %+v after a save, want %+v", p, s2.files[p], pos)
			}
		}
	})
}

// TestOverlappingSavesKeepTheNewest: the periodic save can still be
// syncing its file when the final save at shutdown writes the last
// positions. The older snapshot must not be renamed over the newer: a
// restart would resume before lines already counted and count them again.
func TestOverlappingSavesKeepTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	s := New(path)
	old := tailer.Position{Dev: 1, Ino: 2, HeadLen: 256, HeadHash: "ab", Offset: 1327007}
	last := old
	last.Offset = 1417152
	s.Set("/var/log/maillog", old)

	// The first save writes its temporary file, then waits before its
	// rename until the second save has finished.
	written, release := make(chan struct{}), make(chan struct{})
	calls := 0
	testHookWritten = func() {
		if calls++; calls == 1 {
			close(written)
			<-release
		}
	}
	defer func() { testHookWritten = nil }()
	first := make(chan error, 1)
	go func() { first <- s.Save() }()
	<-written
	s.Set("/var/log/maillog", last)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := loaded.Get("/var/log/maillog"); got != last {
		t.Errorf("saved %+v, want the last position %+v", got, last)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".positions.json.*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
