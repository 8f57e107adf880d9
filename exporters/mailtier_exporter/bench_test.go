package main

import "bufio"
import "cmp"
import "fmt"
import "io"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "sync"
import "syscall"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"

// The throughput and memory benchmarks of --once, side by side with a
// line-count floor and with mtail, each a whole process reading the same
// generated file in the same run.

// mixShares is the realistic mix of a mail log the benchmarks generate, in
// lines per hundred: sendmail, Dovecot, OpenDKIM, fail2ban.
var mixShares = [...]struct {
	share int
	pick  func(line string) bool
	file  string
}{
	{46, func(l string) bool { return strings.Contains(l, " sm-mta[") }, "maillog"},
	{43, func(l string) bool { return strings.Contains(l, " dovecot: ") }, "maillog"},
	{8, func(l string) bool { return strings.Contains(l, " opendkim[") }, "maillog"},
	{3, func(string) bool { return true }, "fail2ban.log"},
}

// renewed are the parts of a line that name a message, a user or a peer:
// queue ids (their first 8 characters), IPv4 addresses, and the user
// names of user=<…> and of addresses. The generator renews them at every
// pass over the corpus, so the exporter sees as many distinct ones as
// lines, and any state it keeps per message, user or peer must stay
// bounded.
var renewed = regexp.MustCompile(`\b[0-9A-Za-z]{8}[0-9]{6}\b|\b(?:\d{1,3}\.){3}\d{1,3}\b|user=<[^<>@,\s]+|<[^<>@,\s]+@`)

// piece is a run of a template line: literal text, then what stands for
// the renewed part that follows it.
type piece struct {
	text string
	kind byte   // 0 nothing, 'q' queue id, 'i' address, 'u' user name
	tail string // what follows the renewed part of a queue id
}

type template []piece

func splitTemplate(line string) template {
	var t template
	last := 0
	for _, m := range renewed.FindAllStringIndex(line, -1) {
		s := line[m[0]:m[1]]
		switch {
		case strings.HasPrefix(s, "user=<"), strings.HasPrefix(s, "<"):
			t = append(t, piece{text: line[last:m[1]], kind: 'u'})
		case strings.Count(s, ".") == 3:
			t = append(t, piece{text: line[last:m[0]], kind: 'i'})
		default:
			t = append(t, piece{text: line[last:m[0]], kind: 'q', tail: s[8:]})
		}
		last = m[1]
	}
	return append(t, piece{text: line[last:]})
}

// write writes the template's line for the given pass over the corpus.
func (t template) write(w *bufio.Writer, pass int) {
	var num [16]byte
	for _, p := range t {
		w.WriteString(p.text)
		switch p.kind {
		case 'q':
			s := strconv.AppendInt(num[:0], int64(pass), 36)
			for range 8 - len(s) {
				w.WriteByte('0')
			}
			w.Write(s)
			w.WriteString(p.tail)
		case 'i':
			fmt.Fprintf(w, "10.%d.%d.%d", pass>>16&255, pass>>8&255, pass&255)
		case 'u':
			w.WriteByte('x')
			w.Write(strconv.AppendInt(num[:0], int64(pass), 36))
		}
	}
	w.WriteByte('\n')
}

// mixGenerator writes n lines of the realistic mix (mixShares), made of
// the corpus's real lines with their queue ids, addresses and users
// renewed at every pass.
func mixGenerator(t testing.TB, w io.Writer, n int) error {
	var byShare [len(mixShares)][]template
	lines := map[string][]string{} // by corpus file, read once
	for i, m := range mixShares {
		if lines[m.file] == nil {
			raw, err := os.ReadFile(filepath.Join("../../testdata/corpus", m.file))
			if err != nil {
				t.Fatal(err)
			}
			lines[m.file] = strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		}
		for _, l := range lines[m.file] {
			if m.pick(l) {
				byShare[i] = append(byShare[i], splitTemplate(l))
			}
		}
		if len(byShare[i]) == 0 {
			t.Fatalf("no %s lines for share %d", m.file, i)
		}
	}
	// One round is 100 lines, the shares interleaved as evenly as a
	// Bresenham walk puts them.
	var round []int
	var acc [len(mixShares)]int
	for range 100 {
		best := 0
		for i, m := range mixShares {
			acc[i] += m.share
			if acc[i] > acc[best] {
				best = i
			}
		}
		acc[best] -= 100
		round = append(round, best)
	}
	var next [len(mixShares)]int
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := range n {
		s := round[i%len(round)]
		k := next[s]
		next[s]++
		byShare[s][k%len(byShare[s])].write(bw, k/len(byShare[s]))
	}
	return bw.Flush()
}

// mixFile writes n generated lines to a file in dir.
func mixFile(b testing.TB, n int) string {
	file := filepath.Join(b.TempDir(), "maillog")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := mixGenerator(b, f, n); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return file
}

// usage is a finished child's CPU time (user + system, seconds) and peak
// RSS (MiB).
type usage struct{ cpu, rssMiB float64 }

// benchTool returns the benchmarks' small program testdata/<name>, built
// once per run of the package's tests beside the exporter's binary:
//
//   - linecount, the floor of --once: a stdlib bufio.Scanner counting the
//     lines of its standard input, the least any line reader does;
//   - rusage, the runner that measures a child (it says why the test
//     binary cannot);
//   - follow, the floor of the live benchmarks.
func benchTool(b testing.TB, name string) string {
	b.Helper()
	toolsMu.Lock()
	defer toolsMu.Unlock()
	exe := filepath.Join(filepath.Dir(binary), name)
	if !toolsBuilt[name] {
		if out, err := exec.Command("go", "build", "-o", exe, "./testdata/"+name).CombinedOutput(); err != nil {
			b.Fatalf("building %s: %v\n%s", name, err, out)
		}
		toolsBuilt[name] = true
	}
	return exe
}

var (
	toolsMu    sync.Mutex
	toolsBuilt = map[string]bool{}
)

// measure runs args through the runner with file copied into its standard
// input through a pipe (the copying is the benchmark's, not the child's),
// and returns the child's usage.
func measure(b testing.TB, runner, file string, args ...string) usage {
	b.Helper()
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// The child reads a pipe the benchmark fills from the page cache,
	// with a 1 MiB buffer so that the child seldom finds it empty. A
	// child as fast as the line counter still does at times, which is
	// part of why the floor moves from run to run.
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, pw.Fd(), syscall.F_SETPIPE_SZ, 1<<20); errno != 0 {
		b.Fatalf("F_SETPIPE_SZ: %v", errno)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(pw, f)
		pw.Close()
		copied <- err
	}()
	cmd := exec.Command(runner, args...)
	cmd.Stdin = pr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	pr.Close()
	if err != nil {
		b.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	if err := <-copied; err != nil {
		b.Fatal(err)
	}
	var cpuNS, rssKiB int64
	last := stderr.String()[strings.LastIndex(strings.TrimSuffix(stderr.String(), "\n"), "\n")+1:]
	if _, err := fmt.Sscanf(last, "rusage: %d %d", &cpuNS, &rssKiB); err != nil {
		b.Fatalf("%v: no usage in %q", args, stderr.String())
	}
	return usage{cpu: float64(cpuNS) / 1e9, rssMiB: float64(rssKiB) / 1024}
}

// runsPerFloor is how many times the floor and --once are each measured,
// alternately, for one ratio. One measurement of the floor, a few tens of
// nanoseconds a line, moves by a third from one to the next (how often it
// finds its pipe empty); the median of several does not.
const runsPerFloor = 5

// floorAndOnce measures the line-count floor and exe --once on file,
// alternately, runs times each, and returns the median of each (peak RSS:
// the largest) and the floor's spread, its slowest CPU time over its
// fastest.
func floorAndOnce(b testing.TB, runner, floor, exe, file string, runs int) (fl, once usage, spread float64) {
	b.Helper()
	fls, onces := make([]usage, runs), make([]usage, runs)
	for i := range runs {
		fls[i] = measure(b, runner, file, floor)
		onces[i] = measure(b, runner, file, onceArgs(exe)...)
	}
	median := func(us []usage) usage {
		m := usage{}
		cpus := make([]float64, len(us))
		for i, u := range us {
			cpus[i] = u.cpu
			m.rssMiB = max(m.rssMiB, u.rssMiB)
		}
		slices.Sort(cpus)
		m.cpu = cpus[len(cpus)/2]
		return m
	}
	fl, once = median(fls), median(onces)
	spread = slices.MaxFunc(fls, byCPU).cpu / slices.MinFunc(fls, byCPU).cpu
	return fl, once, spread
}

func byCPU(a, b usage) int { return cmp.Compare(a.cpu, b.cpu) }

// onceArgs runs exe --once over its standard input.
func onceArgs(exe string) []string {
	return []string{exe, "--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=-"}
}

// BenchmarkOnceVsPeers: --once over 1 M lines of the realistic mix,
// against the line-count floor and against mtail --one_shot running an
// equivalent program (testdata/mtail/mail.mtail) on the same file, in the
// same run. Goals: at least 1/5 of the floor's lines per CPU-second, and
// at least 40x mtail's. mtail is Debian's package (`make bench` installs
// it); under MAILTIER_INTEGRATION=1 its absence fails the benchmark. With
// MAILTIER_BENCH_PEER naming another build, that build is measured too.
func BenchmarkOnceVsPeers(b *testing.B) {
	const n = 1_000_000
	mtail := testenv.Binary(b, "mtail", "mtail")
	file := mixFile(b, n)
	floor, runner := benchTool(b, "linecount"), benchTool(b, "rusage")
	for b.Loop() {
		fl, once, spread := floorAndOnce(b, runner, floor, binary, file, runsPerFloor)
		// mtail reads its logs by path: given a pipe it waits for more
		// after the end. Its own reading is a sliver of its CPU time.
		mt := measure(b, runner, os.DevNull, mtail, "--one_shot", "--one_shot_format=prometheus",
			"--progs=testdata/mtail", "--logs="+file, "--emit_prog_label=false")
		b.ReportMetric(n/fl.cpu, "floor-lines/cpu-s")
		b.ReportMetric(n/once.cpu, "once-lines/cpu-s")
		b.ReportMetric(n/mt.cpu, "mtail-lines/cpu-s")
		b.ReportMetric(fl.cpu/once.cpu, "x-floor")
		b.ReportMetric(spread, "floor-spread")
		b.ReportMetric(mt.cpu/once.cpu, "x-mtail")
		b.ReportMetric(once.rssMiB, "once-peak-RSS-MiB")
		b.ReportMetric(mt.rssMiB, "mtail-peak-RSS-MiB")
		if peer := peerBinary(); peer != "" {
			p := measure(b, runner, file, onceArgs(peer)...)
			b.ReportMetric(fl.cpu/p.cpu, "peer-x-floor")
			b.ReportMetric(mt.cpu/p.cpu, "peer-x-mtail")
			b.ReportMetric(p.cpu/once.cpu, "x-peer-speed")
		}
	}
}

// benchmarkOnceMemory runs --once over n lines of the realistic mix, every
// queue id, address and user new at each pass, and reports its peak RSS
// and its speed against the line-count floor (medians of runs alternate
// measurements). Goal at 10 M lines: at most 24 MiB.
func benchmarkOnceMemory(b *testing.B, n, runs int) {
	file := mixFile(b, n)
	floor, runner := benchTool(b, "linecount"), benchTool(b, "rusage")
	for b.Loop() {
		fl, once, spread := floorAndOnce(b, runner, floor, binary, file, runs)
		b.ReportMetric(float64(n)/fl.cpu, "floor-lines/cpu-s")
		b.ReportMetric(float64(n)/once.cpu, "once-lines/cpu-s")
		b.ReportMetric(fl.cpu/once.cpu, "x-floor")
		b.ReportMetric(spread, "floor-spread")
		b.ReportMetric(once.rssMiB, "peak-RSS-MiB")
	}
}

func BenchmarkOnce1M(b *testing.B)  { benchmarkOnceMemory(b, 1_000_000, runsPerFloor) }
func BenchmarkOnce10M(b *testing.B) { benchmarkOnceMemory(b, 10_000_000, 3) }
