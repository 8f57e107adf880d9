// Command follow is the floor of the live benchmarks: the least a follower
// of a log file does. It sleeps on an inotify watch of the file, reads what
// was appended and counts its lines, and stats the path once a second as
// the exporter's safety poll does. It parses nothing and serves nothing,
// so its CPU time is what waking up to read costs on the machine: the
// exporter's live figures are given as a ratio to it, measured on the same
// file in the same run.
//
//	follow FILE
package main

import "bytes"
import "fmt"
import "os"
import "syscall"
import "time"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: follow FILE")
		os.Exit(2)
	}
	path := os.Args[1]
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	offset, err := f.Seek(0, 2)
	if err != nil {
		fail(err)
	}
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		fail(err)
	}
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_MODIFY); err != nil {
		fail(err)
	}
	go func() { // the safety poll
		for range time.Tick(time.Second) {
			if _, err := os.Stat(path); err != nil {
				fail(err)
			}
		}
	}()
	events := make([]byte, 4096)
	buf := make([]byte, 64<<10)
	lines := 0
	for {
		if _, err := syscall.Read(fd, events); err != nil {
			fail(err)
		}
		for {
			n, err := f.ReadAt(buf, offset)
			offset += int64(n)
			lines += bytes.Count(buf[:n], []byte{'\n'})
			if n < len(buf) || err != nil {
				break
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
