package main

import "fmt"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

// memLimit is the deployed soft memory limit (the sidecar's 128 MiB
// container runs with GOMEMLIMIT=96MiB), and peakLimit what the peak RSS
// must stay under whatever the input.
const (
	memLimit  = "96MiB"
	peakLimit = 100 << 20
)

// TestMemoryBounded: one endless line, followed, or read from the start
// of a NUL-filled sparse file, is skipped and counted; the lines after it
// are read; and the exporter's peak RSS (VmHWM) stays under 100 MiB.
func TestMemoryBounded(t *testing.T) {
	const after = "Nov 24 05:15:42 vm sm-mta[9001]: 6AO5Fg00000001: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA\n"
	// The deployed limit; startExporter's process inherits it.
	t.Setenv("GOMEMLIMIT", memLimit)
	t.Run("64 MiB line appended", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "maillog")
		if err := os.WriteFile(log, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		e := startExporter(t, "--tail.path="+log, "--no-collector.mqueue")
		e.waitFor(t, "the input to be open", func(s map[string]float64) bool {
			return s[fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)] == 1
		})
		f := openAppend(t, log)
		chunk := []byte(strings.Repeat("A", 1<<20))
		for range 64 {
			if _, err := f.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.WriteString("\n" + after + after); err != nil {
			t.Fatal(err)
		}
		f.Close()
		checkSkippedAndPeak(t, e, log)
	})
	t.Run("2 GiB sparse file from the start", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "maillog")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		// A hole of 2 GiB reads as NUL bytes: one line without an end.
		if _, err := f.WriteAt([]byte("\n"+after+after), 2<<30); err != nil {
			t.Fatal(err)
		}
		f.Close()
		e := startExporter(t, "--tail.path="+log, "--tail.from-start", "--no-collector.mqueue")
		checkSkippedAndPeak(t, e, log)
	})
}

// checkSkippedAndPeak waits for one line skipped as too long and the two
// lines after it, then checks the peak RSS. The wait is longer than
// waitFor's: the kernel zero-fills every page of a 2 GiB hole it reads,
// which takes the race detector's build over 20 s on a busy machine.
func checkSkippedAndPeak(t *testing.T, e *exporter, log string) {
	t.Helper()
	e.waitForWithin(t, "the long line skipped and the lines after it", 90*time.Second, func(s map[string]float64) bool {
		return s[fmt.Sprintf(`mailtier_exporter_lines_skipped_total{path=%q, reason="too_long"}`, log)] == 1 &&
			s["sendmail_sessions_without_mail_total"] == 2 && s[linesKey(log)] == 3
	})
	_, hwm := procStat(t, e.cmd.Process.Pid)
	t.Logf("peak RSS %.1f MiB", float64(hwm)/(1<<20))
	if hwm >= peakLimit {
		t.Fatalf("peak RSS %d bytes (%.1f MiB), want under %d MiB", hwm, float64(hwm)/(1<<20), peakLimit>>20)
	}
}
