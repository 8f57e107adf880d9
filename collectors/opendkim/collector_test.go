package opendkim_test

import "context"
import "net"
import "net/textproto"
import "path/filepath"
import "sync/atomic"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

import "github.com/emersion/go-milter"
import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/opendkim"

// value returns the value of the series name{labels} ("k=v,k=v") from c;
// a histogram's value is its sample count.
func value(t *testing.T, c prometheus.Collector, name, labels string) float64 {
	t.Helper()
	return metrictest.Value(t, c, name, labels)
}

func lookup(t *testing.T, c prometheus.Collector, name, labels string) (float64, bool) {
	t.Helper()
	return metrictest.Lookup(t, c, name, labels)
}

// feed hands syslog lines to c as the pipeline would and returns how many
// it recognised.
func feed(t *testing.T, c *opendkim.Collector, lines ...string) int {
	t.Helper()
	return metrictest.Feed(t, c, lines...)
}

// TestCorpus replays the lab's real OpenDKIM logs, in both syslog formats,
// and checks every count against the lab driver's ground truth.
func TestCorpus(t *testing.T) {
	// Every OpenDKIM line of the corpus has a known shape: 140 signed, 25
	// not signed, 20 × 2 key failures, start and stop.
	metrictest.ExpectCorpus(t, "opendkim", 207, func(t *testing.T) collectors.LogCollector {
		return metrictest.New(t, opendkim.New, opendkim.Config{})
	})
}

func TestProbeLinesAreNotMail(t *testing.T) {
	c := metrictest.New(t, opendkim.New, opendkim.Config{})
	n := feed(t, c,
		"Nov 24 05:15:41 vm opendkim[9056]: mailtierprobe: DKIM-Signature field added (s=mail, d=lab.test)",
		"Nov 24 05:15:41 vm opendkim[9056]: mailtierprobe: no signing table match for 'probe@other.test'",
		"Nov 24 05:15:41 vm opendkim[9056]: can't load key from /k: No such file or directory",
		"Nov 24 05:15:41 vm opendkim[9056]: mailtierprobe: error loading key 'brk._domainkey.broken.test'",
		"Nov 24 05:15:41 vm opendkim[9056]: 6AO5FfLr009227: DKIM-Signature field added (s=mail, d=lab.test)",
	)
	if n != 5 {
		t.Errorf("%d lines recognised, want 5", n)
	}
	metrictest.Golden(t, c, "probe-lines")
}

func TestLint(t *testing.T) {
	c := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: "inet:8891@127.0.0.1", ProbeFrom: "probe@lab.test", ProbeInterval: time.Minute, ProbeTimeout: time.Second})
	feed(t, c, "Nov 24 05:15:41 vm opendkim[9056]: 6AO5FfLr009227: DKIM-Signature field added (s=mail, d=lab.test)")
	metrictest.Lint(t, c)
}

func TestProbeMetricsOnlyWithAProbe(t *testing.T) {
	c := metrictest.New(t, opendkim.New, opendkim.Config{})
	if _, ok := lookup(t, c, "opendkim_probe_success", ""); ok {
		t.Error("opendkim_probe_success without a probe")
	}
	if err := c.Probe(context.Background()); err != opendkim.ErrNoProbe {
		t.Errorf("Probe without a probe: %v", err)
	}
	c.Start(context.Background()) // does nothing
	c = metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: "unix:/nonexistent", ProbeFrom: "p@lab.test", ProbeInterval: time.Minute, ProbeTimeout: time.Second})
	if got := value(t, c, "opendkim_probe_success", ""); got != 0 {
		t.Errorf("opendkim_probe_success before any probe = %v", got)
	}
	if got := value(t, c, "opendkim_probe_duration_seconds", ""); got != 0 {
		t.Errorf("probe count before any probe = %v", got)
	}
}

func TestProbeConfig(t *testing.T) {
	ok := opendkim.Config{ProbeAddress: "inet:8891@127.0.0.1", ProbeFrom: "probe@lab.test", ProbeInterval: 30 * time.Second, ProbeTimeout: 5 * time.Second}
	for _, tc := range []struct {
		change func(*opendkim.Config)
		err    string
	}{
		{func(c *opendkim.Config) { c.ProbeAddress = "8891" }, `--collector.opendkim.probe.address: milter socket "8891": want inet:PORT@HOST, inet6:PORT@HOST or unix:PATH`},
		{func(c *opendkim.Config) { c.ProbeAddress = "inet:x@127.0.0.1" }, `--collector.opendkim.probe.address: milter socket "inet:x@127.0.0.1": bad port "x"`},
		{func(c *opendkim.Config) { c.ProbeFrom = "probe@" }, `--collector.opendkim.probe.from must be an address in a domain OpenDKIM signs for, got "probe@"`},
		{func(c *opendkim.Config) { c.ProbeInterval = 0 }, `--collector.opendkim.probe.interval must be positive, got 0s`},
		{func(c *opendkim.Config) { c.ProbeTimeout = time.Minute }, `--collector.opendkim.probe.timeout must be positive and at most the interval (30s), got 1m0s`},
	} {
		cfg := ok
		tc.change(&cfg)
		_, err := opendkim.New(cfg)
		if err == nil || err.Error() != tc.err {
			t.Errorf("got error %v, want %s", err, tc.err)
		}
	}
	if _, err := opendkim.New(ok); err != nil {
		t.Error(err)
	}
	// Without a sender the collector is built, and every probe fails
	// without asking OpenDKIM.
	noFrom := ok
	noFrom.ProbeFrom = ""
	c, err := opendkim.New(noFrom)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Probe(context.Background()); err != opendkim.ErrNoProbeFrom {
		t.Errorf("probe with no sender: %v", err)
	}
	if got := value(t, c, "opendkim_probe_success", ""); got != 0 {
		t.Errorf("opendkim_probe_success = %v with no sender", got)
	}
	// Without an address the other probe flags are not checked.
	if _, err := opendkim.New(opendkim.Config{ProbeFrom: "junk"}); err != nil {
		t.Error(err)
	}
}

// signingMilter is a stand-in for OpenDKIM that signs everything: it adds
// a DKIM-Signature at the end of each message and counts them.
type signingMilter struct {
	milter.NoOpMilter
	n *atomic.Int64
}

func (m signingMilter) Headers(h textproto.MIMEHeader, mod *milter.Modifier) (milter.Response, error) {
	return milter.RespContinue, nil
}

func (m signingMilter) Body(mod *milter.Modifier) (milter.Response, error) {
	m.n.Add(1)
	if err := mod.InsertHeader(1, "DKIM-Signature", "v=1; a=rsa-sha256; d=lab.test; s=mail; b=x"); err != nil {
		return nil, err
	}
	return milter.RespAccept, nil
}

func startFakeMilter(t *testing.T) (spec string, count *atomic.Int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "milter.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	count = &atomic.Int64{}
	srv := &milter.Server{
		NewMilter: func() milter.Milter { return signingMilter{n: count} },
		Actions:   milter.OptAddHeader | milter.OptChangeHeader,
	}
	done := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "unix:" + path, count
}

// TestProbeRunsOnItsInterval checks that the probe runs on its own
// interval, not at scrape time.
func TestProbeRunsOnItsInterval(t *testing.T) {
	spec, count := startFakeMilter(t)
	c := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: spec, ProbeFrom: "probe@lab.test", ProbeInterval: time.Hour, ProbeTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	c.Start(ctx) // a second Start starts nothing more
	// The first probe runs at once.
	testenv.WaitUntil(t, "the first probe", 10*time.Second, func() bool { return value(t, c, "opendkim_probe_duration_seconds", "") == 1 })
	if got := value(t, c, "opendkim_probe_success", ""); got != 1 {
		t.Fatalf("opendkim_probe_success = %v", got)
	}
	// Scrapes run no probe.
	for i := 0; i < 20; i++ {
		testutil.CollectAndCount(c)
	}
	if got := count.Load(); got != 1 {
		t.Errorf("the milter saw %d messages after 20 scrapes, want 1", got)
	}
	if got := value(t, c, "opendkim_probe_duration_seconds", ""); got != 1 {
		t.Errorf("probe count = %v, want 1", got)
	}

	// A short interval: probes keep coming.
	spec2, count2 := startFakeMilter(t)
	c2 := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: spec2, ProbeFrom: "probe@lab.test", ProbeInterval: 20 * time.Millisecond, ProbeTimeout: 20 * time.Millisecond})
	ctx2, cancel2 := context.WithCancel(context.Background())
	c2.Start(ctx2)
	defer cancel2()
	testenv.WaitUntil(t, "five probes", 10*time.Second, func() bool { return count2.Load() >= 5 })
}

func TestProbeFailure(t *testing.T) {
	spec, _ := startFakeMilter(t)
	c := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: spec, ProbeFrom: "probe@lab.test", ProbeInterval: time.Hour, ProbeTimeout: 5 * time.Second})
	if err := c.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(t, c, "opendkim_probe_success", ""); got != 1 {
		t.Fatalf("opendkim_probe_success = %v", got)
	}
	// Nothing listens there.
	c2 := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: "unix:" + filepath.Join(t.TempDir(), "none.sock"), ProbeFrom: "probe@lab.test", ProbeInterval: time.Hour, ProbeTimeout: 5 * time.Second})
	if err := c2.Probe(context.Background()); err == nil {
		t.Fatal("probe of a missing socket succeeded")
	}
	if got := value(t, c2, "opendkim_probe_success", ""); got != 0 {
		t.Errorf("opendkim_probe_success = %v, want 0", got)
	}
	if got := value(t, c2, "opendkim_probe_duration_seconds", ""); got != 0 {
		t.Errorf("a failed probe was timed: count %v", got)
	}
	// A milter that never answers: the timeout ends the probe.
	path := testenv.ServeUnix(t, "mute.sock", testenv.Mute)
	c3 := metrictest.New(t, opendkim.New, opendkim.Config{ProbeAddress: "unix:" + path, ProbeFrom: "probe@lab.test", ProbeInterval: time.Hour, ProbeTimeout: 200 * time.Millisecond})
	start := time.Now()
	if err := c3.Probe(context.Background()); err == nil {
		t.Fatal("probe of a mute milter succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the probe took %s despite its 200ms timeout", d)
	}
	if got := value(t, c3, "opendkim_probe_success", ""); got != 0 {
		t.Errorf("opendkim_probe_success = %v, want 0", got)
	}
}
