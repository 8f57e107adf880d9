package payload

import "encoding/json"
import "fmt"
import "strings"
import "syscall"
import "testing"
import "time"

// largeGroupAlerts is how many alerts with distinct names fit in a 1 MiB
// Alertmanager body when each alert carries only its status and a
// three-character alertname.
const largeGroupAlerts = 21058

// largeGroupBody returns an Alertmanager body of exactly 1 MiB (alert_sink's
// limit) holding largeGroupAlerts firing alerts, each with its own name; the
// group key pads it to the limit.
func largeGroupBody(tb testing.TB) []byte {
	tb.Helper()
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var alerts strings.Builder
	for i := range largeGroupAlerts {
		if i > 0 {
			alerts.WriteByte(',')
		}
		name := string([]byte{digits[i/(36*36)], digits[i/36%36], digits[i%36]})
		fmt.Fprintf(&alerts, `{"status":"firing","labels":{"alertname":%q}}`, name)
	}
	frame := `{"version":"4","status":"firing","groupKey":"%s","alerts":[%s]}`
	pad := 1<<20 - len(fmt.Sprintf(frame, "", alerts.String()))
	if pad < 0 {
		tb.Fatalf("alerts alone exceed 1 MiB by %d bytes", -pad)
	}
	body := fmt.Sprintf(frame, strings.Repeat("g", pad), alerts.String())
	if len(body) != 1<<20 {
		tb.Fatalf("body is %d bytes", len(body))
	}
	return []byte(body)
}

// TestLargeGroupSource checks the source of a 1 MiB group of distinct
// names, and that names are counted once however often they repeat.
func TestLargeGroupSource(t *testing.T) {
	notes, err := Decode(largeGroupBody(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || len(notes[0].Alerts) != largeGroupAlerts {
		t.Fatalf("got %d notifications", len(notes))
	}
	if got, want := notes[0].Source, "alertmanager/000 +21057"; got != want {
		t.Errorf("source = %q, want %q", got, want)
	}

	var repeated []Alert
	for _, n := range []string{"B", "A", "B", "C", "A", "B"} {
		repeated = append(repeated, Alert{Name: n, Instance: "i"})
	}
	if got, want := alertmanagerSource(repeated), "alertmanager/B +2"; got != want {
		t.Errorf("source of B A B C A B = %q, want %q", got, want)
	}
	if got, want := alertmanagerSource(repeated[:1]), "alertmanager/B/i"; got != want {
		t.Errorf("source of one alert = %q, want %q", got, want)
	}
}

// processCPU is the CPU time, user and system, the whole process has used:
// the decoding goroutine and the garbage collector's workers alike.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeLargeGroup decodes a 1 MiB group of 21 058 distinct alert
// names. Goal: under 50 ms of CPU per decode (cpu-ms/op: the process's CPU
// time, garbage collection included, which on a loaded machine is less than
// the wall time ms/op), so that a 128 MB Lambda's fraction of a vCPU stays
// well inside the 10 s timeout. x-json is the ratio to the floor measured in
// the same run: json.Unmarshal of the same body into the webhook type, which
// every decode has to do anyway.
//
//	go test -run '^$' -bench DecodeLargeGroup -cpu 1 ./lambda/alert_sink/payload/
func BenchmarkDecodeLargeGroup(b *testing.B) {
	body := largeGroupBody(b)
	var floor time.Duration
	const floorRuns = 5
	for range floorRuns {
		start := time.Now()
		var m webhookMessage
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(start)
	}
	floor /= floorRuns
	b.SetBytes(int64(len(body)))
	cpuBefore := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := processCPU(b) - cpuBefore
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perOp.Microseconds())/1000, "ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(perOp)/float64(floor), "x-json")
}
