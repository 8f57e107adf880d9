package main

import "archive/zip"
import "bytes"
import "crypto/sha256"
import "encoding/base64"
import "io"
import "os"
import "path/filepath"
import "strings"
import "testing"

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	content := []byte("\x7fELF not really a binary, but bytes are bytes")
	if err := os.WriteFile(bin, content, 0o700); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "alert_sink.zip")
	hashPath := zipPath + ".base64sha256"
	if err := run(bin, zipPath, hashPath); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}

	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("entries = %v, want [bootstrap]", zr.File)
	}
	f := zr.File[0]
	if f.Mode() != 0o755 {
		t.Errorf("mode = %v, want -rwxr-xr-x", f.Mode())
	}
	if !f.Modified.Equal(modTime) {
		t.Errorf("modified = %v, want %v", f.Modified, modTime)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, content) {
		t.Errorf("content = %q", got)
	}

	sum := sha256.Sum256(data)
	hash, _ := os.ReadFile(hashPath)
	if want := base64.StdEncoding.EncodeToString(sum[:]) + "\n"; string(hash) != want {
		t.Errorf("hash file = %q, want %q", hash, want)
	}

	// Same input, same bytes: rebuilding does not change the hash.
	again := filepath.Join(dir, "again.zip")
	if err := run(bin, again, ""); err != nil {
		t.Fatal(err)
	}
	data2, _ := os.ReadFile(again)
	if !bytes.Equal(data, data2) {
		t.Error("two builds of the same binary differ")
	}
}

func TestRunMissingBinary(t *testing.T) {
	dir := t.TempDir()
	err := run(filepath.Join(dir, "nope"), filepath.Join(dir, "x.zip"), "")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v", err)
	}
}
