package main

import (
	"io"
	"os"
	"runtime/pprof"
	"testing"
)

// TestRefreshPGOProfile writes default.pgo, the CPU profile that `go
// build` optimises the exporter with (profile-guided optimisation: it
// inlines and devirtualises the calls of the per-line path). It is a
// profile of --once over the realistic mix the benchmarks read, 10 M
// lines, made by this process running the exporter's own run function.
// It runs only when asked:
//
//	MAILTIER_PGO_REFRESH=1 go test -run TestRefreshPGOProfile ./exporters/mailtier_exporter
//
// A profile a little behind the code still helps; refresh it after the
// per-line path changes shape.
func TestRefreshPGOProfile(t *testing.T) {
	if os.Getenv("MAILTIER_PGO_REFRESH") == "" {
		t.Skip("set MAILTIER_PGO_REFRESH=1 to rewrite default.pgo")
	}
	in, err := os.Open(mixFile(t, 10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create("default.pgo")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		t.Fatal(err)
	}
	code := run([]string{"--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=-"}, in, io.Discard, io.Discard)
	pprof.StopCPUProfile()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("--once exited %d", code)
	}
}
