package collectors

import "fmt"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/alecthomas/kingpin/v2"

// TestCollectorFlags: a collector's flags are named after its
// Registration, its programs flag defaults to the Registration's
// Programs, and a flag without defaults has none (unlike a default of "").
func TestCollectorFlags(t *testing.T) {
	var programs, noDefault *[]string
	var url *string
	var wait *time.Duration
	reg := Registration{
		Name:     "demo",
		Programs: []string{"demo", "demo-helper"},
		Flags: func(f CollectorFlags) Builder {
			programs = f.Programs("Syslog program names whose lines are demo's.")
			url = f.Flag("stats-url", "Where its stats are.", "").String()
			wait = f.Flag("probe.timeout", "How long a probe waits.", "2s").Duration()
			noDefault = f.Flag("log-path", "Its log files.").Strings()
			return nil // the flags alone are tested
		},
	}
	app := kingpin.New("test", "")
	reg.DeclareFlags(app)
	var got []string
	for _, fl := range app.Model().Flags {
		if strings.HasPrefix(fl.Name, "collector.") {
			got = append(got, fmt.Sprintf("%s %q", fl.Name, fl.Default))
		}
	}
	want := []string{`collector.demo.programs ["demo" "demo-helper"]`, `collector.demo.stats-url [""]`,
		`collector.demo.probe.timeout ["2s"]`, `collector.demo.log-path []`}
	if !slices.Equal(got, want) {
		t.Fatalf("flags and defaults %q, want %q", got, want)
	}
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*programs, reg.Programs) || *url != "" || *wait != 2*time.Second || len(*noDefault) != 0 {
		t.Fatalf("defaults: programs %q, stats-url %q, probe.timeout %s, log-path %q", *programs, *url, *wait, *noDefault)
	}
	app = kingpin.New("test", "")
	reg.DeclareFlags(app)
	if _, err := app.Parse([]string{"--collector.demo.programs=other", "--collector.demo.probe.timeout=3s", "--collector.demo.log-path=a"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*programs, []string{"other"}) || *wait != 3*time.Second || !slices.Equal(*noDefault, []string{"a"}) {
		t.Fatalf("set: programs %q, probe.timeout %s, log-path %q", *programs, *wait, *noDefault)
	}
}
