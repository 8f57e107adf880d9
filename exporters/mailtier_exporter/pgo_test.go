package main

import "io"
import "os"
import "testing"

// BenchmarkOnceInProcess runs --once inside the test process over 10 M
// lines of the realistic mix the other benchmarks read. Its CPU profile is
// default.pgo, the profile `go build` optimises the exporter with
// (profile-guided optimisation: it inlines and devirtualises the calls of
// the per-line path); `make pgo` writes it:
//
//	go test -run '^$' -bench OnceInProcess -benchtime 1x -cpuprofile default.pgo ./exporters/mailtier_exporter
//
// A profile a little behind the code still helps; refresh it after the
// per-line path changes shape.
func BenchmarkOnceInProcess(b *testing.B) {
	const lines = 10_000_000
	file := mixFile(b, lines)
	for b.Loop() {
		in, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		code := run([]string{"--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=-"}, in, io.Discard, io.Discard)
		in.Close()
		if code != 0 {
			b.Fatalf("--once exited %d", code)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
