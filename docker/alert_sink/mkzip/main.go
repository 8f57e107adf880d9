// Command mkzip packages a Lambda bootstrap binary as a deployment zip.
//
//	mkzip -o alert_sink.zip [-hash alert_sink.zip.base64sha256] bootstrap
//
// The archive holds one entry, "bootstrap", with mode 0755 (Lambda's
// provided runtimes execute it) and a fixed modification time, so the same
// binary always gives the same zip, byte for byte, and the same hash. With
// -hash it also writes the base64 of the zip's SHA-256, the value Lambda
// reports as CodeSha256 and Terraform as source_code_hash.
package main

import "archive/zip"
import "bytes"
import "crypto/sha256"
import "encoding/base64"
import "flag"
import "fmt"
import "io"
import "os"
import "time"

// modTime is the timestamp of the entry: the earliest a zip can record.
var modTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("o", "", "zip file to write")
	hashOut := flag.String("hash", "", "file to write the zip's base64-encoded SHA-256 to")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o ZIP [-hash FILE] BOOTSTRAP")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *hashOut); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

func run(binPath, zipPath, hashPath string) error {
	bin, err := os.Open(binPath)
	if err != nil {
		return err
	}
	defer bin.Close()
	data, err := build(bin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(zipPath, data, 0o644); err != nil {
		return err
	}
	if hashPath != "" {
		sum := sha256.Sum256(data)
		return os.WriteFile(hashPath, []byte(base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o644)
	}
	return nil
}

// build returns the zip archive holding bin as "bootstrap".
func build(bin io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: modTime}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, bin); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
