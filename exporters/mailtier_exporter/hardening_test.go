package main

import "github.com/cabalmail/mailtier/internal/testenv"

import "bytes"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

// waitExit waits for the exporter to exit after a signal; an exporter
// that does not exit within 10 s is stuck.
func waitExit(t *testing.T, e *exporter) error {
	t.Helper()
	select {
	case err := <-e.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10 s\n%s", e.stderr.String())
		return nil
	}
}

// waitStderr waits until the exporter has logged want.
func waitStderr(t *testing.T, e *exporter, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged:\n%s", want, e.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHelpAndVersion: help and version go to stdout, exit 0, and never
// start serving.
func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		flag, want string
	}{
		{"--help", "usage: mailtier_exporter [<flags>]"},
		{"-h", "usage: mailtier_exporter [<flags>]"},
		{"--help-long", "usage: mailtier_exporter [<flags>]"},
		{"--help-man", ".TH mailtier_exporter 1"},
		{"--version", "mailtier_exporter, version"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			// A listen address that is free: were it to serve, it would.
			cmd := exec.Command(binary, tc.flag, "--web.listen-address="+testenv.FreeAddr(t))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit: %v; stderr %q", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running after 10 s (serving?); stderr %q", stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.want) || stderr.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q; want %q on stdout, nothing on stderr", stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}

// TestLandingPageNoPprof: the landing page links nothing that is not
// served.
func TestLandingPageNoPprof(t *testing.T) {
	e := startExporter(t, "--no-collector.mqueue")
	e.waitFor(t, "the exporter to serve", func(map[string]float64) bool { return true })
	resp, err := http.Get("http://" + e.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(body, []byte("debug/pprof")) {
		t.Fatalf("landing page %d links pprof:\n%s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + e.addr + "/debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/debug/pprof/heap: %d, want 404", resp.StatusCode)
	}
}

// TestSIGHUPDuringStartup: a SIGHUP while the collectors are being built
// (here: fail2ban's log replay, held open on a FIFO the test writes) does
// not kill the exporter.
func TestSIGHUPDuringStartup(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fail2ban.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--no-collector.mqueue", "--collector.fail2ban", "--collector.fail2ban.log-path="+fifo)
	// Opening the FIFO for writing returns once the exporter has opened it
	// for reading: it is replaying, in the middle of its start-up.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The signal is delivered at once; the replay goes on.
	fmt.Fprintln(w, "2026-11-24 05:15:42,123 fail2ban.actions        [812]: NOTICE  [sendmail-auth] Ban 192.0.2.7")
	w.Close()
	e.waitFor(t, "the exporter to serve", func(map[string]float64) bool { return true })
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, e); err != nil {
		t.Fatalf("exit %v after SIGHUP during start-up and SIGTERM\n%s", err, e.stderr.String())
	}
}

// TestOnceWithoutPath: --once with nothing to read is an error.
func TestOnceWithoutPath(t *testing.T) {
	cmd := exec.Command(binary, "--once", "--no-collector.mqueue")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	want := "mailtier_exporter: --once needs at least one --tail.path to read\n"
	if code != 2 || stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %d bytes; want exit 2, %q, nothing", code, stderr.String(), stdout.Len(), want)
	}
}

// TestOnceInputUp: under --once, a file read to its end is up.
func TestOnceInputUp(t *testing.T) {
	s := samples(t, runOnceBinary(t, nil, "--no-collector.mqueue", "--tail.path=testdata/live.log"))
	if got := s[`mailtier_exporter_input_up{path="testdata/live.log"}`]; got != 1 {
		t.Fatalf("input_up %v, want 1", got)
	}
}

// TestMissingPathWarnsOnce: a path that does not exist is warned about,
// once, however long it stays missing.
func TestMissingPathWarnsOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "maillog")
	e := startExporter(t, "--tail.path="+missing, "--no-collector.mqueue", "--tail.poll-interval=5ms")
	want := `msg="the file does not exist; waiting for it" path=` + missing + "\n"
	waitStderr(t, e, want)
	// Many polls later, still once.
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, e)
	if n := strings.Count(e.stderr.String(), want); n != 1 {
		t.Fatalf("warned %d times, want 1:\n%s", n, e.stderr.String())
	}
}

// TestFIFOInput: a FIFO at --tail.path is refused with a warning, the
// other inputs are read, and SIGTERM stops the exporter at once with their
// positions saved.
func TestFIFOInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "maillog")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pos := filepath.Join(dir, "positions.json")
	e := startExporter(t, "--tail.path="+fifo, "--tail.path="+log, "--tail.positions="+pos, "--tail.positions-interval=1h", "--no-collector.mqueue")
	e.waitFor(t, "the regular file to be open", func(s map[string]float64) bool {
		return s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)] == 1
	})
	w := &blockWriter{f: openAppend(t, log)}
	w.add(t, 10)
	w.flush(t)
	e.waitFor(t, "its lines", func(s map[string]float64) bool { return s[linesKey(log)] == 10 })
	got := e.waitFor(t, "the FIFO to be down", func(s map[string]float64) bool {
		_, ok := s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, fifo)]
		return ok
	})
	if v := samples(t, got)[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, fifo)]; v != 0 {
		t.Fatalf("input_up of the FIFO %v, want 0", v)
	}
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, e); err != nil {
		t.Fatalf("exit %v\n%s", err, e.stderr.String())
	}
	if want := fmt.Sprintf(`msg="refusing to read a file that is not a regular file; retrying" path=%s err="%s is not a regular file (a FIFO)"`, fifo, fifo); !strings.Contains(e.stderr.String(), want) {
		t.Fatalf("no %q logged:\n%s", want, e.stderr.String())
	}
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := savedOffset(t, pos, log); got != fi.Size() {
		t.Fatalf("saved offset %d, want %d", got, fi.Size())
	}
}

// TestCorruptPositionsFile: a positions file that cannot be used is moved
// aside and counted; the exporter starts as if there were none, and saves
// a good one.
func TestCorruptPositionsFile(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"not JSON", "{not json"},
		{"truncated", `{"version": 1, "files": {"/a": {"dev": 1, "ino`},
		// A head length past what the tailer keeps would have it allocate
		// up to the file's size.
		{"huge head length", `{"version": 1, "files": {"LOG": {"dev": 1, "inode": 2, "head_length": 2147483648, "head_sha256": "00", "offset": 0}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "maillog")
			if err := os.WriteFile(log, []byte("Nov 24 05:15:42 vm sm-mta[1]: old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pos := filepath.Join(dir, "positions.json")
			content := strings.ReplaceAll(tc.content, "LOG", log)
			if err := os.WriteFile(pos, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := startExporter(t, "--tail.path="+log, "--tail.positions="+pos, "--no-collector.mqueue")
			e.waitFor(t, "the input to be open and the file counted", func(s map[string]float64) bool {
				return s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)] == 1 &&
					s["mailtier_exporter_positions_corrupt_total"] == 1
			})
			aside, err := os.ReadFile(pos + ".corrupt")
			if err != nil || string(aside) != content {
				t.Fatalf("moved aside: %q %v, want the old content", aside, err)
			}
			waitStderr(t, e, fmt.Sprintf(`msg="positions file unusable; moved aside, starting without it" file=%s moved_to=%s.corrupt`, pos, pos))
			// Started as if absent: at the end of the file, and a new
			// positions file is written.
			if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := waitExit(t, e); err != nil {
				t.Fatalf("exit %v", err)
			}
			if got := savedOffset(t, pos, log); got != 34 {
				t.Fatalf("saved offset %d, want 34 (the end of the file)", got)
			}
		})
	}
}

// TestPositionsSavedAtOpen: the first positions are saved as soon as the
// inputs are open, not an interval later, so a crash at once loses
// nothing written after the start.
func TestPositionsSavedAtOpen(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "maillog")
	pos := filepath.Join(dir, "positions.json")
	w := &blockWriter{f: openAppend(t, log)}
	w.add(t, 100) // before the start: not read, reading starts at the end
	w.flush(t)
	before := w.written
	args := []string{"--tail.path=" + log, "--tail.positions=" + pos, "--tail.positions-interval=1h", "--no-collector.mqueue"}
	e1 := startExporter(t, args...)
	deadline := time.Now().Add(10 * time.Second)
	for savedOffset(t, pos, log) < 0 {
		if time.Now().After(deadline) {
			t.Fatal("no position saved within 10 s of the start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.add(t, 300)
	w.flush(t)
	if err := e1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-e1.done
	e2 := startExporter(t, args...)
	e2.waitFor(t, "every line written after the first start", func(s map[string]float64) bool {
		return s[linesKey(log)] >= float64(w.written-before)
	})
	got := samples(t, e2.scrape(t))[linesKey(log)]
	if got != float64(w.written-before) {
		t.Fatalf("second run read %v lines, want %d", got, w.written-before)
	}
}

// TestScrapesLimited: scrapes beyond --web.max-requests are answered 503
// at once while the others are served.
func TestScrapesLimited(t *testing.T) {
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte("# EOF\n"))
	}))
	t.Cleanup(stats.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	e := startExporter(t, "--no-collector.mqueue", "--web.max-requests=1", "--web.disable-exporter-metrics",
		"--collector.dovecot.stats-url="+stats.URL+"/metrics", "--collector.dovecot.stats-timeout=1m")
	type result struct {
		code int
		err  error
	}
	get := func() result {
		resp, err := http.Get("http://" + e.addr + "/metrics")
		if err != nil {
			return result{0, err}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return result{resp.StatusCode, nil}
	}
	// Wait for the exporter to listen, without scraping.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + e.addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exporter does not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := make(chan result, 1)
	go func() { first <- get() }()
	<-arrived // the first scrape is in flight, held by the stats listener
	if r := get(); r.err != nil || r.code != http.StatusServiceUnavailable {
		t.Fatalf("second scrape: %d %v, want 503", r.code, r.err)
	}
	close(release)
	if r := <-first; r.err != nil || r.code != 200 {
		t.Fatalf("first scrape: %d %v, want 200", r.code, r.err)
	}
	if r := get(); r.err != nil || r.code != 200 {
		t.Fatalf("third scrape: %d %v, want 200", r.code, r.err)
	}
}

// TestOnceStopsOnSIGTERM: --once, held reading standard input, still ends
// on SIGTERM as a replay always did.
func TestOnceStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(binary, "--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// A thread blocked in read(2) on descriptor 0 means the replay is
	// under way, past start-up.
	deadline := time.Now().Add(10 * time.Second)
	for !readingStdin(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("the replay did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Fatalf("exit %v, want killed by SIGTERM; stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("--once ignored SIGTERM")
	}
}

// readingStdin reports whether a thread of the process is blocked in
// read(2) on its standard input (/proc/<pid>/task/*/syscall: number 0,
// first argument 0).
func readingStdin(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, p := range tasks {
		raw, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(raw), "0 0x0 ") {
			return true
		}
	}
	return false
}
