package main

import "fmt"
import "os"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "testing"
import "time"

// procStat returns a process's CPU time (user + system) and peak RSS.
func procStat(t testing.TB, pid int) (cpu time.Duration, hwm int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			hwm = kb * 1024
		}
	}
	return cpu, hwm
}

// scrapeValue scrapes once and returns one sample's value (-1 when the
// scrape fails).
func scrapeValue(e *exporter, key string) float64 {
	text := e.scrape(nil)
	if text == "" {
		return -1
	}
	v, ok := samples(nil, text)[key]
	if !ok {
		return -1
	}
	return v
}

// deployedEnv is the Go runtime's environment in the sidecar's task
// definition (terraform/modules/mailtier_sidecar/locals.tf, with its
// defaults; TestSoakRunsAsDeployed holds the two together). The sidecar has
// 32 CPU units, a 32nd of a vCPU: one processor is all it can use, and
// with one the goroutine woken by inotify hands the wake-up to the reader
// without waking a second thread.
var deployedEnv = []string{"GOMAXPROCS=1", "GOMEMLIMIT=" + memLimit}

// benchmarkSoak runs the live exporter as deployed (deployedEnv; inotify,
// 1 s safety poll), on a file written at rate lines per second for 5 s, and
// reports its CPU use, its peak RSS and the delay from a line's write to
// its count on /metrics. With the Go runtime's defaults instead (as many
// processors as the machine has), it reports the CPU use of the same 5 s
// as %CPU-runtime-defaults.
func benchmarkSoak(b *testing.B, rate int) {
	for b.Loop() {
		_, cpu, _, _, _ := soak(b, rate, nil, false)
		b.ReportMetric(cpu, "%CPU-runtime-defaults")
		linesPerSec, cpu, floor, hwm, delays := soak(b, rate, deployedEnv, true)
		b.ReportMetric(linesPerSec, "lines/s")
		b.ReportMetric(cpu, "%CPU")
		b.ReportMetric(floor, "floor-%CPU")
		b.ReportMetric(cpu/floor, "x-floor")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		if len(delays) > 0 {
			b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-delay-ms")
			b.ReportMetric(float64(delays[min(len(delays)-1, len(delays)*99/100)].Microseconds())/1000, "p99-delay-ms")
			b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-delay-ms")
		}
	}
}

// soak runs one exporter with env for the 5 s of CPU and memory, and, when
// timed, the 4 s of write-to-/metrics delays.
func soak(b *testing.B, rate int, env []string, timed bool) (linesPerSec, cpuPercent, floorPercent float64, hwm int64, delays []time.Duration) {
	dir := b.TempDir()
	log := filepath.Join(dir, "maillog")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	e := startBinary(b, binary, env, "--tail.path="+log, "--no-collector.mqueue", "--web.disable-exporter-metrics")
	key := linesKey(log)
	for scrapeValue(e, key) != 0 {
		time.Sleep(10 * time.Millisecond) // waiting for start-up, not measured
	}
	floor := startFollowFloor(b, log, env)
	f := openAppend(b, log)
	const period = 10 * time.Millisecond
	written := 0
	// write appends the lines due in one period (rate/100, carrying
	// fractions for low rates) and returns when it wrote.
	acc := 0.0
	write := func() (time.Time, int) {
		acc += float64(rate) * period.Seconds()
		n := int(acc)
		acc -= float64(n)
		var buf []byte
		for i := 0; i < n; i++ {
			written++
			buf = fmt.Appendf(buf, "Nov 24 05:15:42 vm sm-mta[9001]: 6AO5Fg%08d: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA\n", written)
		}
		wrote := time.Now()
		if len(buf) > 0 {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		return wrote, n
	}
	// Phase 1, 5 s: CPU and memory, with no scrape but one at the end.
	cpu0, fcpu0 := cpuTime(b, e.cmd.Process.Pid), cpuTime(b, floor)
	start := time.Now()
	next := start
	for time.Since(start) < 5*time.Second {
		write()
		next = next.Add(period)
		time.Sleep(time.Until(next))
	}
	elapsed := time.Since(start)
	cpu1, fcpu1 := cpuTime(b, e.cmd.Process.Pid), cpuTime(b, floor)
	_, hwm = procStat(b, e.cmd.Process.Pid)
	cpuPercent = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	floorPercent = 100 * (fcpu1 - fcpu0).Seconds() / elapsed.Seconds()
	linesPerSec = float64(written) / elapsed.Seconds()
	// Phase 2, 4 s: every 20 ms, time one write's way to /metrics by
	// scraping until its lines are counted.
	start = time.Now()
	next = start
	for i := 0; timed && time.Since(start) < 4*time.Second; i++ {
		wrote, n := write()
		if i%2 == 0 && n > 0 {
			for scrapeValue(e, key) < float64(written) {
				if time.Since(wrote) > 5*time.Second {
					b.Fatal("a line did not show within 5 s")
				}
			}
			delays = append(delays, time.Since(wrote))
		}
		next = next.Add(period)
		time.Sleep(time.Until(next))
	}
	f.Close()
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	e.cmd.Process.Kill()
	<-e.done
	return linesPerSec, cpuPercent, floorPercent, hwm, delays
}

func BenchmarkSoak100(b *testing.B)   { benchmarkSoak(b, 100) }
func BenchmarkSoak1000(b *testing.B)  { benchmarkSoak(b, 1000) }
func BenchmarkSoak10000(b *testing.B) { benchmarkSoak(b, 10000) }
