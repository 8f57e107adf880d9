// Package dovecot turns Dovecot 2.3's log lines into metrics (logins and
// failed login sessions by cause, deliveries by LDA and LMTP, submission
// relays, authentication failures) and passes through the statistics of
// Dovecot's own stats process (IMAP command latency, authentications,
// delivery durations) read from its OpenMetrics listener at scrape time.
//
// It reads both of Dovecot's log shapes: syslog ("dovecot: imap-login:
// Login: …", no pid, no level on Info lines) and Dovecot's own log_path
// file ("imap-login: Info: Login: …"). Login failures from the networks of
// a known-bot file carry known_bot="true".
package dovecot

import "context"
import "fmt"
import "log/slog"
import "net/http"
import "net/url"
import "sync"
import "sync/atomic"
import "time"
import "unsafe"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"

// Registration puts the collector behind --collector.dovecot.
var Registration = collectors.Registration{
	Name:    "dovecot",
	Help:    "Dovecot's log lines (syslog or its own log_path file) and, with --collector.dovecot.stats-url, its stats listener.",
	Enabled: true,
	// What the rest of the suite derives from the registry.
	Programs:       []string{"dovecot"},
	MetricPrefixes: []string{"dovecot_", "mailtier_exporter_dovecot_"},
	Tiers:          []string{"imap", "smtp-out"},
	Labels: map[string][]string{
		"service":   Services,
		"reason":    append(append([]string{}, LoginFailReasons...), AuthFailReasons...),
		"known_bot": KnownBotValues,
		"agent":     Agents,
		"result":    append(append([]string{}, DeliveryResults...), RelayResults...),
		"le":        collectors.Buckets(DurationBuckets),
	},
	Flags: flags,
}

// Config is the collector's configuration.
type Config struct {
	Programs []string
	// KnownBotNetworks is the path of the known-bot networks file; "" for none.
	KnownBotNetworks string
	// StatsURL is Dovecot's stats listener; "" turns the passthrough off.
	StatsURL     string
	StatsTimeout time.Duration
	// HTTPClient reads StatsURL; nil means a client of its own.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MaxPending bounds the LDA sessions remembered between a "save
	// failed" line and its "rejected:" line. 0 means 4096.
	MaxPending int
}

// flags declares the collector's flags, which fill its Config, and
// returns the Builder that makes the collector from them.
func flags(f collectors.CollectorFlags) collectors.Builder {
	programs := f.Programs("Syslog program names whose lines are Dovecot's (its instance_name; Dovecot's own log file is always read as dovecot).")
	bots := f.Flag("known-bot-networks", "A file of IP networks in CIDR notation, one per line; login failures from them carry known_bot=\"true\". Reread on SIGHUP.", "").String()
	statsURL := f.Flag("stats-url", "URL of Dovecot's stats listener (OpenMetrics), e.g. http://127.0.0.1:9900/metrics; its IMAP latency, authentication and delivery stats are served on /metrics. Empty: off.", "").String()
	statsTimeout := f.Flag("stats-timeout", "How long a scrape waits for Dovecot's stats listener.", "2s").Duration()
	return func(env collectors.Env) (prometheus.Collector, error) {
		return New(Config{Programs: *programs, KnownBotNetworks: *bots, StatsURL: *statsURL,
			StatsTimeout: *statsTimeout, Logger: env.Logger})
	}
}

// Collector is the Dovecot collector.
type Collector struct {
	cfg Config

	logins        *prometheus.CounterVec
	loginFailures *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	relays        *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	metrics       collectors.Metrics

	// The vectors' children, resolved once: Handle indexes them by the
	// position of each label value in its closed set.
	loginsBy        [len(services)]prometheus.Counter
	loginFailuresBy [len(services)][len(loginFailReasons)][len(knownBotValues)]prometheus.Counter
	deliveriesBy    [len(agents)][len(deliveryResults)]prometheus.Counter
	relaysBy        [len(relayResults)]prometheus.Counter
	authFailuresBy  [len(authFailReasons)]prometheus.Counter

	bots  atomic.Pointer[Networks]
	stats *statsScraper

	mu sync.Mutex
	// failedSaves are the LDA sessions whose "save failed" line was
	// counted; their "rejected:" line is the same failure.
	failedSaves *fifoSet
}

// New returns a Dovecot collector. It fails when the known-bot networks
// file cannot be read or the stats URL is not an http(s) URL.
func New(cfg Config) (*Collector, error) {
	if len(cfg.Programs) == 0 {
		cfg.Programs = []string{"dovecot"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.StatsTimeout <= 0 {
		cfg.StatsTimeout = 2 * time.Second
	}
	c := &Collector{
		cfg:           cfg,
		logins:        collectors.CounterVec("dovecot_logins_total", "Successful logins (\"<service>-login: Login:\"), by service.", "service"),
		loginFailures: collectors.CounterVec("dovecot_login_failures_total", "Login sessions that ended without a login (\"<service>-login: Disconnected…\"), by service, cause, and whether the client is in a known-bot network.", "service", "reason", "known_bot"),
		deliveries:    collectors.CounterVec("dovecot_deliveries_total", "Messages delivered to a mailbox by dovecot-lda or LMTP, by agent and result; a failed save and its rejection count once.", "agent", "result"),
		relays:        collectors.CounterVec("dovecot_submission_relays_total", "Messages Dovecot's submission service relayed to the MTA, by result.", "result"),
		authFailures:  collectors.CounterVec("dovecot_auth_failures_total", "Failed passdb and userdb lookups logged by the auth process (auth_verbose=yes), by reason.", "reason"),
		failedSaves:   newFIFOSet(cfg.MaxPending),
	}
	collectors.Resolve(c.loginsBy[:], c.logins, services[:])
	for i, s := range services {
		for j, r := range loginFailReasons {
			for k, b := range knownBotValues {
				c.loginFailuresBy[i][j][k] = c.loginFailures.WithLabelValues(s, r, b)
			}
		}
	}
	for i, a := range agents {
		for j, r := range deliveryResults {
			c.deliveriesBy[i][j] = c.deliveries.WithLabelValues(a, r)
		}
	}
	collectors.Resolve(c.relaysBy[:], c.relays, relayResults[:])
	collectors.Resolve(c.authFailuresBy[:], c.authFailures, authFailReasons[:])
	c.metrics = collectors.Metrics{c.logins, c.loginFailures, c.deliveries, c.relays, c.authFailures}
	if cfg.KnownBotNetworks != "" {
		n, err := LoadNetworks(cfg.KnownBotNetworks)
		if err != nil {
			return nil, err
		}
		c.bots.Store(n)
	}
	if cfg.StatsURL != "" {
		u, err := url.Parse(cfg.StatsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--collector.dovecot.stats-url %q is not an http:// or https:// URL", cfg.StatsURL)
		}
		client := cfg.HTTPClient
		if client == nil {
			// No keep-alive: Dovecot's stats process waits for its
			// clients to go before it exits, so an idle connection held
			// by the exporter would keep it (and its log process) alive
			// after Dovecot stops or reloads.
			client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		}
		c.stats = &statsScraper{url: cfg.StatsURL, timeout: cfg.StatsTimeout, client: client}
	}
	return c, nil
}

// Programs implements collectors.LogCollector. Dovecot's own log file is
// routed as "dovecot" whatever the syslog tag.
func (c *Collector) Programs() []string {
	for _, p := range c.cfg.Programs {
		if p == "dovecot" {
			return c.cfg.Programs
		}
	}
	return append(append([]string{}, c.cfg.Programs...), "dovecot")
}

// Handle implements collectors.LogCollector.
func (c *Collector) Handle(rec *logline.Record) bool {
	ev := Parse(rec.Message)
	switch ev.Kind {
	case Unknown:
		return false
	case Login:
		c.loginsBy[collectors.Index(services[:], ev.Service)].Inc()
	case LoginFailure:
		bot := 1 // KnownBotFalse
		if c.bots.Load().Contains(ev.RIP) {
			bot = 0 // KnownBotTrue
		}
		c.loginFailuresBy[collectors.Index(services[:], ev.Service)][collectors.Index(loginFailReasons[:], ev.Reason)][bot].Inc()
	case Delivery:
		if ev.Result == ResultFailed {
			c.mu.Lock()
			// LDA logs "save failed to <mailbox>: …" and then "rejected: …"
			// for the same message: one failure.
			dup := false
			if ev.Rejected {
				dup = c.failedSaves.take(ev.Session)
			} else {
				c.failedSaves.add(ev.Session)
			}
			c.mu.Unlock()
			if dup {
				return true
			}
		}
		c.deliveriesBy[collectors.Index(agents[:], ev.Agent)][collectors.Index(deliveryResults[:], ev.Result)].Inc()
	case Relay:
		c.relaysBy[collectors.Index(relayResults[:], ev.Result)].Inc()
	case AuthFailure:
		c.authFailuresBy[collectors.Index(authFailReasons[:], ev.Reason)].Inc()
	}
	return true
}

// Reload implements collectors.Reloader: it rereads the known-bot
// networks file. On error the previous networks stay.
func (c *Collector) Reload() error {
	if c.cfg.KnownBotNetworks == "" {
		return nil
	}
	n, err := LoadNetworks(c.cfg.KnownBotNetworks)
	if err != nil {
		return err
	}
	c.bots.Store(n)
	c.cfg.Logger.Info("known-bot networks reloaded", "path", c.cfg.KnownBotNetworks, "networks", n.Len())
	return nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.metrics.Describe(ch)
	if c.stats != nil {
		for _, d := range statsDescs {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector. With a stats URL it reads
// Dovecot's stats listener; a failure there sets
// mailtier_exporter_dovecot_stats_scrape_success to 0 and is logged, and
// the rest of the scrape goes on.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.metrics.Collect(ch)
	if c.stats == nil {
		return
	}
	body, err := c.stats.fetch(context.Background())
	if err := collectStats(ch, body, err); err != nil {
		c.cfg.Logger.Warn("cannot read Dovecot's stats", "url", c.cfg.StatsURL, "err", err)
	}
}

// fifoSet is a set of strings that forgets its oldest member past a
// bound: a ring of slots holding the members in the order added. A slot
// keeps its buffer when its member goes, so once the ring has gone round
// adding a member allocates nothing.
type fifoSet struct {
	slots [][]byte // each member's own copy of its bytes
	live  []bool   // slots[i] holds a member of set
	next  int
	// set maps each member to its slot. Its keys are the bytes of
	// slots[slot] (keyString): a slot is rewritten only after its key has
	// left set.
	set map[string]int
}

func newFIFOSet(max int) *fifoSet {
	return &fifoSet{slots: make([][]byte, max), live: make([]bool, max), set: map[string]int{}}
}

// maxKey bounds the length of a remembered key.
const maxKey = 256

// keyString is the string whose bytes are b, without a copy.
func keyString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (f *fifoSet) add(k string) {
	if len(k) > maxKey {
		k = k[:maxKey]
	}
	if _, ok := f.set[k]; ok {
		return
	}
	s := f.next
	f.next = (f.next + 1) % len(f.slots)
	if f.live[s] {
		delete(f.set, keyString(f.slots[s]))
	}
	// A copy: k is the reader's buffer, which the next line overwrites.
	// A slot's first buffer fits the usual "lmtp(user)<pid><session>",
	// so that it seldom grows when it takes a longer one.
	if cap(f.slots[s]) < len(k) {
		f.slots[s] = make([]byte, 0, max(len(k), 64))
	}
	f.slots[s] = append(f.slots[s][:0], k...)
	f.set[keyString(f.slots[s])] = s
	f.live[s] = true
}

func (f *fifoSet) take(k string) bool {
	if len(k) > maxKey {
		k = k[:maxKey]
	}
	s, ok := f.set[k]
	if !ok {
		return false
	}
	delete(f.set, k)
	f.live[s] = false
	return true
}
