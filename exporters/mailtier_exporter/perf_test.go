package main

import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "sync"
import "syscall"
import "testing"
import "time"

// The benchmarks of the live exporter's owned read loop. Each reports
// figures from its own run; with MAILTIER_BENCH_PEER naming another build
// of the exporter (for instance one from before a change), the same
// measurement is made on it in the same run and reported as a ratio.

// peerBinary is the build to compare with, or "".
func peerBinary() string { return os.Getenv("MAILTIER_BENCH_PEER") }

// cpuTime is a process's CPU time (user + system) over all its threads,
// in nanoseconds, from the scheduler's own account (/proc/<pid>/task/*/
// schedstat), which is exact where /proc/<pid>/stat counts 10 ms ticks.
// Threads that exited are not counted; the Go runtime keeps its threads.
func cpuTime(b testing.TB, pid int) time.Duration {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("no schedstat for %d: %v", pid, err)
	}
	var sum int64
	for _, p := range tasks {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just exited
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(raw))[0], 10, 64)
		sum += ns
	}
	return time.Duration(sum)
}

// contextSwitches counts a process's context switches over its threads:
// each is a wake-up.
func contextSwitches(b testing.TB, pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var sum int64
	for _, p := range tasks {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "voluntary_ctxt_switches:") || strings.HasPrefix(l, "nonvoluntary_ctxt_switches:") {
				n, _ := strconv.ParseInt(strings.TrimSpace(l[strings.IndexByte(l, ':')+1:]), 10, 64)
				sum += n
			}
		}
	}
	return sum
}

// startBinary starts exe as startExporter does, without its test-only
// poll interval.
func startBinary(b testing.TB, exe string, env []string, args ...string) *exporter {
	b.Helper()
	return launch(b, exe, env, append([]string{"--log.level=warn"}, args...)...)
}

func (e *exporter) kill() {
	e.cmd.Process.Kill()
	<-e.done
}

// waitServing scrapes until the exporter answers with key present.
func waitServing(b testing.TB, e *exporter, key string) {
	deadline := time.Now().Add(20 * time.Second)
	for scrapeValue(e, key) < 0 {
		if time.Now().After(deadline) {
			b.Fatalf("the exporter does not serve %s:\n%s", key, e.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleCPU follows a file nothing writes to for d after start-up and
// returns the exporter's share of a core and its wake-ups per second.
func idleCPU(b *testing.B, exe string, d time.Duration) (pct, wakeups, floorPct float64) {
	dir := b.TempDir()
	log := filepath.Join(dir, "maillog")
	if err := os.WriteFile(log, []byte("Nov 24 05:15:42 vm sm-mta[9001]: x\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	e := startBinary(b, exe, nil, "--tail.path="+log, "--no-collector.mqueue", "--no-collector.opendkim", "--no-collector.fail2ban")
	floor := startFollowFloor(b, log, nil)
	waitServing(b, e, linesKey(log))
	time.Sleep(time.Second) // let start-up settle; not measured
	cpu0, cs0, fcpu0 := cpuTime(b, e.cmd.Process.Pid), contextSwitches(b, e.cmd.Process.Pid), cpuTime(b, floor)
	start := time.Now()
	time.Sleep(d)
	elapsed := time.Since(start)
	cpu1, cs1, fcpu1 := cpuTime(b, e.cmd.Process.Pid), contextSwitches(b, e.cmd.Process.Pid), cpuTime(b, floor)
	e.kill()
	return 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds(), float64(cs1-cs0) / elapsed.Seconds(),
		100 * (fcpu1 - fcpu0).Seconds() / elapsed.Seconds()
}

// startFollowFloor starts the live benchmarks' floor (testdata/follow: an
// inotify wait, a read of what was appended, a stat a second) on file, in
// the runtime environment env that the exporter it is compared with has,
// and returns its pid; it is killed when the benchmark ends.
func startFollowFloor(b testing.TB, file string, env []string) int {
	b.Helper()
	cmd := exec.Command(benchTool(b, "follow"), file)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// BenchmarkIdle: the live exporter following a quiet file, with its
// defaults. Goal: under 0.05 % of a core.
func BenchmarkIdle(b *testing.B) {
	for b.Loop() {
		pct, wake, floor := idleCPU(b, binary, 20*time.Second)
		b.ReportMetric(pct, "%CPU")
		b.ReportMetric(wake, "wakeups/s")
		b.ReportMetric(pct/0.05, "x-goal")
		b.ReportMetric(floor, "floor-%CPU")
		b.ReportMetric(pct/floor, "x-floor")
		if peer := peerBinary(); peer != "" {
			ppct, pwake, _ := idleCPU(b, peer, 20*time.Second)
			b.ReportMetric(ppct, "peer-%CPU")
			b.ReportMetric(pwake, "peer-wakeups/s")
			b.ReportMetric(pct/ppct, "x-peer")
		}
	}
}

// catchUp follows file from its start until all n lines are read and
// returns the exporter's CPU time for it.
func catchUp(b *testing.B, exe, file string, n int) time.Duration {
	e := startBinary(b, exe, nil, "--tail.path="+file, "--tail.from-start", "--no-collector.mqueue", "--web.disable-exporter-metrics")
	key := linesKey(file)
	deadline := time.Now().Add(5 * time.Minute)
	for scrapeValue(e, key) < float64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("not caught up within 5 minutes:\n%s", e.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu := cpuTime(b, e.cmd.Process.Pid)
	e.kill()
	return cpu
}

// onceCPU runs --once over file and returns its CPU time.
func onceCPU(b *testing.B, exe, file string) time.Duration {
	cmd := exec.Command(exe, "--once", "--no-collector.mqueue", "--log.level=error", "--tail.path="+file)
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCatchUp: the live exporter reading a 1 M-line backlog from its
// start (--tail.from-start; a positions resume reads the same way), against
// --once over the same file in the same run. Goal: at least 0.8x --once.
func BenchmarkCatchUp(b *testing.B) {
	const n = 1_000_000
	file := mixFile(b, n)
	for b.Loop() {
		once := onceCPU(b, binary, file)
		live := catchUp(b, binary, file, n)
		b.ReportMetric(float64(n)/once.Seconds(), "once-lines/cpu-s")
		b.ReportMetric(float64(n)/live.Seconds(), "catchup-lines/cpu-s")
		b.ReportMetric(once.Seconds()/live.Seconds(), "x-once")
		if peer := peerBinary(); peer != "" {
			ponce := onceCPU(b, peer, file)
			plive := catchUp(b, peer, file, n)
			b.ReportMetric(ponce.Seconds()/plive.Seconds(), "peer-x-once")
			b.ReportMetric(plive.Seconds()/live.Seconds(), "x-peer-speed")
		}
	}
}

// scrapeStorm sends 200 scrapes at once, 5 rounds, to an exporter holding
// the corpus's series, under the deployed GOMEMLIMIT, and returns every
// latency and how many were refused with 503.
func scrapeStorm(b *testing.B, exe string, extra ...string) (all, ok []time.Duration, refused int) {
	e := startBinary(b, exe, []string{"GOMEMLIMIT=" + memLimit}, append([]string{"--tail.path=../../testdata/corpus/maillog", "--tail.from-start",
		"--tail.path=../../testdata/corpus/dovecot.log", "--no-collector.mqueue"}, extra...)...)
	waitServing(b, e, linesKey("../../testdata/corpus/maillog"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 0}}
	var mu sync.Mutex
	for range 5 {
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				t0 := time.Now()
				resp, err := client.Get("http://" + e.addr + "/metrics")
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				all = append(all, d)
				switch resp.StatusCode {
				case 200:
					ok = append(ok, d)
				case http.StatusServiceUnavailable:
					refused++
				default:
					b.Errorf("scrape: %d", resp.StatusCode)
				}
			}()
		}
		close(startGate)
		wg.Wait()
	}
	e.kill()
	return all, ok, refused
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
}

// BenchmarkScrapes200: 200 concurrent scrapes, 5 times, with the default
// --web.max-requests (40).
func BenchmarkScrapes200(b *testing.B) {
	for b.Loop() {
		all, ok, refused := scrapeStorm(b, binary)
		b.ReportMetric(percentile(all, 0.99), "p99-ms")
		b.ReportMetric(percentile(ok, 0.99), "p99-served-ms")
		b.ReportMetric(percentile(ok, 0.5), "p50-served-ms")
		b.ReportMetric(float64(refused)/float64(len(all)), "refused-share")
		if peer := peerBinary(); peer != "" {
			pall, _, _ := scrapeStorm(b, peer)
			b.ReportMetric(percentile(pall, 0.99), "peer-p99-ms")
			b.ReportMetric(percentile(all, 0.99)/percentile(pall, 0.99), "x-peer")
		}
	}
}
