// Package opendkim turns OpenDKIM's log lines into counts of messages
// signed, not signed and verified, and measures OpenDKIM's signing time
// with a probe that asks it to sign a message over the milter protocol.
//
// OpenDKIM logs a signed message only with "SyslogSuccess yes" and a
// passed verification likewise; it says why it did not sign or verify
// ("no signing table match", "no signature data") only with "LogWhy yes".
// Without them these counters stay at zero. OpenDKIM logs no timings: the
// probe (package probe, run when --collector.opendkim.probe.address is
// set) is the measure of its signing time.
//
// The collector keeps no per-message state: a failure to load a key is
// logged twice (the reason on a line of no queue id, then "QID: error
// loading key"), and only the second line counts.
package opendkim

import "context"
import "errors"
import "fmt"
import "log/slog"
import "strings"
import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/opendkim/probe"
import "github.com/cabalmail/mailtier/internal/logline"

// Registration puts the collector behind --collector.opendkim.
var Registration = collectors.Registration{
	Name:    "opendkim",
	Help:    "OpenDKIM's log lines, and with --collector.opendkim.probe.address a milter probe of its signing time.",
	Enabled: true,
	// What the rest of the suite derives from the registry.
	Programs:       []string{"opendkim"},
	MetricPrefixes: []string{"opendkim_"},
	Tiers:          []string{"smtp-in", "smtp-out"},
	Labels: map[string][]string{
		"reason": append(append([]string{}, SignFailureReasons...), NotSignedReasons...),
		"result": Results,
		"le":     collectors.Buckets(ProbeBuckets),
	},
	Flags: flags,
}

// Config is the collector's configuration.
type Config struct {
	Programs []string
	// ProbeAddress is OpenDKIM's milter socket; empty turns the probe off.
	ProbeAddress  string
	ProbeFrom     string
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	Logger        *slog.Logger
}

// flags declares the collector's flags, which fill its Config, and
// returns the Builder that makes the collector from them.
func flags(f collectors.CollectorFlags) collectors.Builder {
	programs := f.Programs("Syslog program names whose lines are OpenDKIM's.")
	address := f.Flag("probe.address", "OpenDKIM's milter socket to probe, as OpenDKIM's Socket setting writes it: inet:PORT@HOST, inet6:PORT@HOST or unix:PATH. Empty: no probe.", "").String()
	interval := f.Flag("probe.interval", "How often the probe asks OpenDKIM to sign a message.", "30s").Duration()
	from := f.Flag("probe.from", "The probe message's sender (From: and envelope): an address in a domain OpenDKIM signs for. Without it every probe fails.", "").String()
	timeout := f.Flag("probe.timeout", "How long one probe may take, connecting included, before it counts as failed.", "5s").Duration()
	return func(env collectors.Env) (prometheus.Collector, error) {
		return New(Config{
			Programs:      *programs,
			ProbeAddress:  *address,
			ProbeFrom:     *from,
			ProbeInterval: *interval,
			ProbeTimeout:  *timeout,
			Logger:        env.Logger,
		})
	}
}

// ProbeBuckets are the buckets of opendkim_probe_duration_seconds: fine
// around the 50 ms to 500 ms a signature takes, up to the default probe
// timeout.
var ProbeBuckets = []float64{.005, .01, .025, .05, .075, .1, .15, .2, .25, .3, .4, .5, .75, 1, 2.5, 5}

// Collector is the OpenDKIM log collector and signing probe.
type Collector struct {
	cfg Config

	signed        prometheus.Counter
	signFailures  *prometheus.CounterVec
	notSigned     *prometheus.CounterVec
	verifications *prometheus.CounterVec
	// The vectors' children, resolved once, by the label value's place
	// in its closed set.
	signFailuresBy  [len(signFailureReasons)]prometheus.Counter
	notSignedBy     [len(notSignedReasons)]prometheus.Counter
	verificationsBy [len(results)]prometheus.Counter

	probeDuration prometheus.Histogram // nil without a probe
	probeSuccess  prometheus.Gauge
	metrics       collectors.Metrics

	probeMu        sync.Mutex // one probe at a time
	probeErr       error      // the last probe's error
	probeConfigErr error      // set when the probe cannot work as configured
	started        bool
}

// New returns an OpenDKIM collector, or an error for a probe
// configuration that cannot work.
func New(cfg Config) (*Collector, error) {
	if len(cfg.Programs) == 0 {
		cfg.Programs = []string{"opendkim"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProbeAddress != "" {
		if _, _, err := probe.ParseAddress(cfg.ProbeAddress); err != nil {
			return nil, fmt.Errorf("--collector.opendkim.probe.address: %w", err)
		}
		at := strings.LastIndexByte(cfg.ProbeFrom, '@')
		if cfg.ProbeFrom != "" && (at <= 0 || at == len(cfg.ProbeFrom)-1 || strings.ContainsAny(cfg.ProbeFrom, " <>\t\r\n")) {
			return nil, fmt.Errorf("--collector.opendkim.probe.from must be an address in a domain OpenDKIM signs for, got %q", cfg.ProbeFrom)
		}
		if cfg.ProbeInterval <= 0 {
			return nil, fmt.Errorf("--collector.opendkim.probe.interval must be positive, got %s", cfg.ProbeInterval)
		}
		if cfg.ProbeTimeout <= 0 || cfg.ProbeTimeout > cfg.ProbeInterval {
			return nil, fmt.Errorf("--collector.opendkim.probe.timeout must be positive and at most the interval (%s), got %s", cfg.ProbeInterval, cfg.ProbeTimeout)
		}
	}
	c := &Collector{
		cfg:           cfg,
		signed:        collectors.Counter("opendkim_messages_signed_total", "Messages OpenDKIM signed (\"DKIM-Signature field added\"; logged only with SyslogSuccess yes)."),
		signFailures:  collectors.CounterVec("opendkim_sign_failures_total", "Messages OpenDKIM was to sign and could not, by reason: key_load (the key file is missing, unreadable or not secure), table (the signing table names a key the key table lacks, or cannot be read), other.", "reason"),
		notSigned:     collectors.CounterVec("opendkim_messages_not_signed_total", "Messages from a client OpenDKIM signs for that it did not sign, by reason (logged only with LogWhy yes).", "reason"),
		verifications: collectors.CounterVec("opendkim_verifications_total", "Messages OpenDKIM verified, by result: pass (needs SyslogSuccess yes), fail, no_signature (needs LogWhy yes), other (the key could not be retrieved).", "result"),
	}
	collectors.Resolve(c.signFailuresBy[:], c.signFailures, signFailureReasons[:])
	collectors.Resolve(c.notSignedBy[:], c.notSigned, notSignedReasons[:])
	collectors.Resolve(c.verificationsBy[:], c.verifications, results[:])
	c.metrics = collectors.Metrics{c.signed, c.signFailures, c.notSigned, c.verifications}
	if cfg.ProbeAddress != "" {
		if cfg.ProbeFrom == "" {
			// A probe with no sender cannot succeed. The exporter still
			// starts (its log metrics do not depend on the probe); every
			// probe fails with this error, and opendkim_probe_success
			// says so.
			c.probeConfigErr = ErrNoProbeFrom
		}
		c.probeDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "opendkim_probe_duration_seconds",
			Help:    "Time OpenDKIM took to sign the probe's message: from connecting to its milter socket to its end-of-message reply carrying the DKIM-Signature. Successful probes only.",
			Buckets: ProbeBuckets,
		})
		c.probeSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opendkim_probe_success",
			Help: "Whether the last probe got the probe message signed (1) or not (0: OpenDKIM unreachable, late, refusing, or not signing).",
		})
		c.metrics = append(c.metrics, c.probeDuration, c.probeSuccess)
	}
	return c, nil
}

// Programs implements collectors.LogCollector.
func (c *Collector) Programs() []string { return c.cfg.Programs }

// Handle implements collectors.LogCollector. Lines about the probe's
// message (queue id probe.QueueID) are recognised and counted nowhere:
// the probe is not mail.
func (c *Collector) Handle(rec *logline.Record) bool {
	ev := Parse(rec.Message)
	if ev.Kind == Unknown {
		return false
	}
	if ev.QID == probe.QueueID {
		return true
	}
	switch ev.Kind {
	case Signed:
		c.signed.Inc()
	case SignFailed:
		c.signFailuresBy[collectors.Index(signFailureReasons[:], ev.Reason)].Inc()
	case NotSigned:
		c.notSignedBy[collectors.Index(notSignedReasons[:], ev.Reason)].Inc()
	case Verified:
		c.verificationsBy[collectors.Index(results[:], ev.Result)].Inc()
	}
	return true
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.metrics.Describe(ch)
}

// Collect implements prometheus.Collector. It never runs a probe: the
// probe runs on its own interval (Start).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.metrics.Collect(ch)
}

// Start implements collectors.Starter: with a probe configured, it probes
// at once and then every --collector.opendkim.probe.interval until ctx
// ends. Without one it does nothing.
func (c *Collector) Start(ctx context.Context) {
	if c.probeSuccess == nil {
		return
	}
	c.probeMu.Lock()
	if c.started {
		c.probeMu.Unlock()
		return
	}
	c.started = true
	c.probeMu.Unlock()
	go func() {
		ticker := time.NewTicker(c.cfg.ProbeInterval)
		defer ticker.Stop()
		for {
			c.Probe(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// ErrNoProbe is returned by Probe when no probe is configured.
var ErrNoProbe = errors.New("no OpenDKIM probe configured")

// ErrNoProbeFrom is every probe's error when the probe has an address but
// no sender.
var ErrNoProbeFrom = errors.New("the OpenDKIM probe needs --collector.opendkim.probe.from, an address in a domain OpenDKIM signs for")

// Probe runs one probe now and records it: opendkim_probe_success, and on
// success the duration. It returns the probe's error.
func (c *Collector) Probe(ctx context.Context) error {
	if c.probeSuccess == nil {
		return ErrNoProbe
	}
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var res probe.Result
	err := c.probeConfigErr
	if err == nil {
		res, err = probe.Run(ctx, probe.Config{Address: c.cfg.ProbeAddress, From: c.cfg.ProbeFrom, Timeout: c.cfg.ProbeTimeout})
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down: not OpenDKIM's failure.
		return err
	}
	if err != nil {
		c.probeSuccess.Set(0)
		if c.probeErr == nil || c.probeErr.Error() != err.Error() {
			level := slog.LevelWarn
			if err == ErrNoProbeFrom {
				level = slog.LevelError
			}
			c.cfg.Logger.Log(ctx, level, "OpenDKIM signing probe failed", "address", c.cfg.ProbeAddress, "from", c.cfg.ProbeFrom, "err", err)
		}
		c.probeErr = err
		return err
	}
	c.probeDuration.Observe(res.Duration.Seconds())
	c.probeSuccess.Set(1)
	if c.probeErr != nil {
		c.cfg.Logger.Info("OpenDKIM signing probe succeeds again", "address", c.cfg.ProbeAddress)
	}
	c.probeErr = nil
	return nil
}
