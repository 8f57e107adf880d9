package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// corpusGenerator writes n mail log lines made of the corpus's lines with
// their queue ids renewed at every pass, so queue ids never repeat: the
// exporter's per-message state must stay bounded however many it sees.
func corpusGenerator(t testing.TB, w io.Writer, n int) error {
	raw, err := os.ReadFile("../../testdata/corpus/maillog")
	if err != nil {
		t.Fatal(err)
	}
	qid := regexp.MustCompile(`\b[0-9A-Za-z]{8}[0-9]{6}\b`)
	type piece struct{ text, qidTail string }
	var templates [][]piece
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var ps []piece
		last := 0
		for _, m := range qid.FindAllStringIndex(l, -1) {
			ps = append(ps, piece{l[last:m[0]], l[m[0]+8 : m[1]]})
			last = m[1]
		}
		ps = append(ps, piece{text: l[last:]})
		templates = append(templates, ps)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := 0; i < n; i++ {
		pass := strconv.FormatInt(int64(i/len(templates)), 36)
		prefix := strings.Repeat("0", 8-len(pass)) + pass
		for _, p := range templates[i%len(templates)] {
			bw.WriteString(p.text)
			if p.qidTail != "" {
				bw.WriteString(prefix)
				bw.WriteString(p.qidTail)
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// benchmarkProcess runs the real binary with --once over n generated lines
// on its standard input and reports its CPU time and peak RSS.
func benchmarkProcess(b *testing.B, n int) {
	for b.Loop() {
		cmd := exec.Command(binary, "--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=-")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout = io.Discard
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if err := corpusGenerator(b, stdin, n); err != nil {
			b.Fatal(err)
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		b.ReportMetric(float64(n)/cpu, "lines/cpu-s")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}

func BenchmarkOnce1M(b *testing.B)  { benchmarkProcess(b, 1_000_000) }
func BenchmarkOnce10M(b *testing.B) { benchmarkProcess(b, 10_000_000) }
