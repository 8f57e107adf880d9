package main

import "bufio"
import "fmt"
import "net/http"
import "os"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

const mib = 1 << 20

// peakRSS reads the process's high-water resident set (VmHWM) in bytes.
func peakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// coldStartStats collects one figure per started process.
type coldStartStats struct {
	ready, firstResponse time.Duration
	peak                 int64
	n                    int
}

func (s *coldStartStats) report(b *testing.B) {
	b.ReportMetric(float64(s.ready.Microseconds())/1000/float64(s.n), "ms-ready")
	if s.firstResponse > 0 {
		b.ReportMetric(float64(s.firstResponse.Microseconds())/1000/float64(s.n), "ms-first-response")
	}
	b.ReportMetric(float64(s.peak)/mib, "MiB-peak-rss")
}

// BenchmarkColdStart starts the shipped binary (CGO_ENABLED=0,
// -tags lambda.norpc) once per iteration and reports, averaged, the time
// from exec until it serves and, as the maximum over all runs, its peak RSS
// after handling one notification.
//
// http: until GET /-/healthy answers in HTTP mode.
// lambda: until its first call for work to a fake Runtime API, after
// loading its secrets from a fake SSM; ms-first-response adds the first
// invocation, which claims and records its delivery in a fake DynamoDB.
//
//	go test -run '^$' -bench ColdStart -benchtime 20x ./lambda/alert_sink/
func BenchmarkColdStart(b *testing.B) {
	bin := buildBinary(b)
	if fi, err := os.Stat(bin); err == nil {
		b.Logf("binary: %.1f MiB", float64(fi.Size())/mib)
	}
	warning := `{"severity":"warning","source":"kuma/IMAP reachable (internal)","summary":"IMAP slow"}`

	b.Run("http", func(b *testing.B) {
		pushover, ntfy := fakes.NewPushover(b), fakes.NewNtfy(b)
		var s coldStartStats
		for b.Loop() {
			p := startProcess(b, httpEnv(pushover, ntfy), "--web.listen-address=127.0.0.1:0")
			base := "http://" + p.listenAddress(b)
			resp, err := http.Get(base + "/-/healthy")
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("healthy: %v %v", resp, err)
			}
			resp.Body.Close()
			s.ready += time.Since(p.started)

			req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(warning))
			req.Header.Set("X-Alert-Secret", testSecret)
			resp, err = http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("notification: %v %v", resp, err)
			}
			resp.Body.Close()
			s.peak = max(s.peak, peakRSS(b, p.cmd.Process.Pid))
			s.n++
			p.stop()
		}
		s.report(b)
	})

	b.Run("lambda", func(b *testing.B) {
		pushover, ntfy := fakes.NewPushover(b), fakes.NewNtfy(b)
		ssmSrv := fakeSSM(b, ssmParams)
		// As shipped: its records in the DynamoDB table (a fake on loopback).
		db := fakes.NewDynamoDB(b, "cabal-mailtier-alert-sink-dedupe", dedupe.AttrKey)
		event := functionURLEvent(b, map[string]string{"x-alert-secret": testSecret}, warning)
		var s coldStartStats
		for b.Loop() {
			rt := newFakeRuntime(b, event)
			env := append(lambdaEnv(rt.Server, ssmSrv, pushover, ntfy),
				"ALERT_SINK_DEDUPE_TABLE=cabal-mailtier-alert-sink-dedupe", "AWS_ENDPOINT_URL_DYNAMODB="+db.URL)
			p := startProcess(b, env)
			if resp := rt.waitResponse(b, "req-1", p); resp.StatusCode != http.StatusOK {
				b.Fatalf("invocation: %d %s", resp.StatusCode, resp.Body)
			}
			rt.mu.Lock()
			s.ready += rt.firstNext.Sub(p.started)
			s.firstResponse += rt.answered["req-1"].Sub(p.started)
			rt.mu.Unlock()
			s.peak = max(s.peak, peakRSS(b, p.cmd.Process.Pid))
			s.n++
			p.stop()
			rt.Close()
		}
		s.report(b)
	})
}
