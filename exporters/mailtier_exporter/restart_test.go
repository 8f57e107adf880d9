package main

import "bytes"
import "encoding/json"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "regexp"
import "strconv"
import "sync"
import "syscall"
import "testing"
import "time"

// blockWriter appends numbered sendmail lines to a file in 4 KiB blocks
// that split lines, as a busy syslog daemon's buffered writes do. Every
// line is one sendmail_sessions_without_mail_total.
type blockWriter struct {
	mu      sync.Mutex
	f       *os.File
	pending []byte
	written int // whole lines handed to the file or pending
}

func openAppend(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// add queues n lines and writes every full 4 KiB block.
func (w *blockWriter) add(t *testing.T, n int) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 0; i < n; i++ {
		w.written++
		w.pending = fmt.Appendf(w.pending, "Nov 24 05:15:42 vm sm-mta[%d]: 6AO5Fg%08d: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA\n", 9000+w.written%1000, w.written)
	}
	for len(w.pending) >= 4096 {
		if _, err := w.f.Write(w.pending[:4096]); err != nil {
			t.Error(err) // add may run on a goroutine of its own
			return
		}
		w.pending = w.pending[4096:]
	}
}

// flush writes what is pending, ending on a whole line.
func (w *blockWriter) flush(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(w.pending); err != nil {
		t.Fatal(err)
	}
	w.pending = w.pending[:0]
}

// switchTo makes the writer write to another file, as a syslog daemon
// does when told to reopen its files.
func (w *blockWriter) switchTo(f *os.File) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	w.f = f
}

var stoppedRE = regexp.MustCompile(`msg="input stopped" path=(\S+) lines=(\d+) offset=(\d+)`)

// stoppedLines reads how many lines an exporter counted from its last log line.
func stoppedLines(t *testing.T, stderr string) int {
	t.Helper()
	m := stoppedRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no \"input stopped\" line in:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

func linesKey(path string) string {
	return fmt.Sprintf(`mailtier_exporter_lines_read_total{path=%q}`, path)
}

// TestRestartWithPositions: rename rotation with late writes to the old
// file, a SIGTERM and restart while lines keep arriving, and a
// copytruncate; every line is counted exactly once over the two runs.
func TestRestartWithPositions(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "maillog")
	pos := filepath.Join(dir, "positions.json")
	w := &blockWriter{f: openAppend(t, log)}
	args := []string{"--tail.path=" + log, "--tail.positions=" + pos, "--tail.positions-interval=100ms",
		"--no-collector.mqueue", "--tail.rotate-wait=500ms", "--collector.sendmail.decision-delay=1ms"}
	e1 := startExporter(t, args...)
	e1.waitFor(t, "the input to be open", func(s map[string]float64) bool {
		return s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)] == 1
	})

	w.add(t, 300)
	// Rename rotation: the writer keeps the renamed file until told.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.add(t, 200) // late writes to the old file
	w.flush(t)
	w.switchTo(openAppend(t, log))
	w.add(t, 300)

	// SIGTERM while lines keep arriving.
	stopWriting := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stopWriting:
				return
			default:
				w.add(t, 20)
			}
		}
	}()
	e1.waitFor(t, "some lines of the new file", func(s map[string]float64) bool { return s[linesKey(log)] > 600 })
	if err := e1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-e1.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, e1.stderr.String())
	}
	counted1 := stoppedLines(t, e1.stderr.String())
	w.add(t, 100) // while no exporter runs

	e2 := startExporter(t, args...)
	w.add(t, 100)
	close(stopWriting)
	<-writerDone
	w.flush(t)
	total := w.written
	e2.waitFor(t, "the second run to catch up", func(s map[string]float64) bool {
		return float64(counted1)+s[linesKey(log)] == float64(total)
	})

	// copytruncate, once the exporter has read everything (lines written
	// between logrotate's copy and its truncate exist only in the copy:
	// no reader of the log can see them).
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log+".2", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	e2.waitFor(t, "the truncation to be seen", func(s map[string]float64) bool {
		return s[fmt.Sprintf(`mailtier_exporter_truncations_total{path=%q}`, log)] == 1
	})
	w.add(t, 250)
	w.flush(t)
	total = w.written
	// Every line, read and handed to the collector: the second run's share
	// of the sessions equals its share of the lines. (A scrape gathers the
	// collectors concurrently, so one taken while the last lines are being
	// handled may show them read but not yet counted: wait for both.)
	got := e2.waitFor(t, "every line", func(s map[string]float64) bool {
		return float64(counted1)+s[linesKey(log)] == float64(total) &&
			s["sendmail_sessions_without_mail_total"] == s[linesKey(log)]
	})
	s := samples(t, got)
	t.Logf("%d lines: %d in the first run, %v in the second", total, counted1, s[linesKey(log)])
}

// savedOffset reads the offset saved for path.
func savedOffset(t *testing.T, posFile, path string) int64 {
	t.Helper()
	raw, err := os.ReadFile(posFile)
	if err != nil {
		return -1
	}
	var f struct {
		Files map[string]struct {
			Offset int64 `json:"offset"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	p, ok := f.Files[path]
	if !ok {
		return -1
	}
	return p.Offset
}

// TestSIGKILLReplaysOneInterval: after a SIGKILL the exporter resumes at
// the last saved position, so it reads again only what came after that
// save, and misses nothing.
func TestSIGKILLReplaysOneInterval(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "maillog")
	pos := filepath.Join(dir, "positions.json")
	w := &blockWriter{f: openAppend(t, log)}
	args := []string{"--tail.path=" + log, "--tail.positions=" + pos, "--tail.positions-interval=200ms", "--no-collector.mqueue"}
	e1 := startExporter(t, args...)
	e1.waitFor(t, "the input to be open", func(s map[string]float64) bool {
		return s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)] == 1
	})
	w.add(t, 500)
	w.flush(t)
	caughtUp := w.written
	e1.waitFor(t, "the first lines", func(s map[string]float64) bool { return s[linesKey(log)] == float64(caughtUp) })
	size, _ := os.Stat(log)
	deadline := time.Now().Add(10 * time.Second)
	for savedOffset(t, pos, log) != size.Size() {
		if time.Now().After(deadline) {
			t.Fatal("the position was not saved within an interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Lines after the last save, then a crash.
	w.add(t, 150)
	w.flush(t)
	e1.waitFor(t, "lines after the save", func(s map[string]float64) bool { return s[linesKey(log)] > float64(caughtUp) })
	if err := e1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-e1.done
	saved := savedOffset(t, pos, log)
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	before, err := io.ReadAll(io.LimitReader(f, saved))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	linesBefore := bytes.Count(before, []byte("\n"))
	if linesBefore < caughtUp {
		t.Fatalf("saved position covers %d lines, but %d were counted and saved before the crash", linesBefore, caughtUp)
	}
	e2 := startExporter(t, args...)
	w.add(t, 100)
	w.flush(t)
	total := w.written
	// The second run reads exactly what follows the saved position: what
	// the crash may have counted twice is at most the lines after the last
	// save, and nothing is missed.
	e2.waitFor(t, "the rest", func(s map[string]float64) bool { return s[linesKey(log)] == float64(total-linesBefore) })
	replayed := caughtUp + 150 - linesBefore
	if replayed > 150 {
		t.Fatalf("replayed %d lines, more than the %d written since the last save", replayed, 150)
	}
	t.Logf("saved position after %d of %d lines; %d replayed", linesBefore, caughtUp+150, replayed)
}
