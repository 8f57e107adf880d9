// Package fail2ban turns fail2ban's log into metrics: bans, unbans,
// filter matches and bans restored at start, per jail, and the number of
// addresses each jail holds banned now.
//
// It reads fail2ban's own log file (logtarget = /var/log/fail2ban.log,
// "2026-11-24 05:15:50,173 fail2ban.actions [9143]: NOTICE [dovecot] Ban
// 127.0.0.2") and fail2ban's lines over syslog (tag fail2ban.actions …).
// The jail label is a closed set: the jails of --collector.fail2ban.jails,
// anything else is "other". Addresses are never labels.
//
// The banned gauge is state, not a counter: after an exporter restart it
// is rebuilt by replaying the --collector.fail2ban.log-path files (the
// rotated one first, then the current one) once at start, without
// counting anything.
package fail2ban

import "bufio"
import "errors"
import "fmt"
import "io"
import "io/fs"
import "log/slog"
import "os"
import "strings"
import "sync"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"

// DefaultJails are the jail names that are label values unless
// --collector.fail2ban.jails says otherwise: the mail and SSH jails of
// fail2ban's stock jail.conf, and the lab's dovecot-file.
var DefaultJails = []string{
	"dovecot", "dovecot-file", "sendmail-auth", "sendmail-reject", "postfix", "postfix-sasl",
	"postfix-rbl", "sieve", "sshd", "recidive",
}

// Other is the jail label of every jail not in the configured list.
const Other = "other"

// Programs are the program names routed to the collector: "fail2ban" for
// its own log file, the logger names for its syslog lines, and
// "fail2ban-server" for a journal or syslog that tags its lines with the
// process name ("fail2ban-server[11524]: fail2ban.actions [11524]: NOTICE …").
var Programs = []string{"fail2ban", "fail2ban.actions", "fail2ban.filter", "fail2ban.jail", "fail2ban-server"}

// Registration puts the collector behind --collector.fail2ban.
var Registration = collectors.Registration{
	Name:    "fail2ban",
	Help:    "fail2ban's log (its own logtarget file, or syslog).",
	Enabled: true,
	// What the rest of the suite derives from the registry. Terraform runs
	// it where var.fail2ban_collector is set.
	Programs:       Programs,
	MetricPrefixes: []string{"fail2ban_"},
	Tiers:          []string{"imap", "smtp-in"},
	Labels:         map[string][]string{"jail": append(append([]string{}, DefaultJails...), Other)},
	Flags:          flags,
}

// Config is the collector's configuration.
type Config struct {
	// Jails are the label values besides "other"; nil means DefaultJails.
	Jails []string
	// LogPaths are replayed at start, in order, to rebuild the banned set.
	LogPaths []string
	Logger   *slog.Logger
	// MaxBanned bounds the (jail, address) pairs held; 0 means 100000.
	// Bans past it are counted but not held, and the gauge stays short.
	MaxBanned int
}

// flags declares the collector's flags, which fill its Config, and
// returns the Builder that makes the collector from them.
func flags(f collectors.CollectorFlags) collectors.Builder {
	jails := f.Flag("jails", "Jail names that are values of the jail label (repeatable, or comma-separated); other jails count as \"other\".", DefaultJails...).Strings()
	logPaths := f.Flag("log-path", "fail2ban's log file(s), read once at start, oldest first (e.g. fail2ban.log.1 then fail2ban.log), to rebuild which addresses are banned now (repeatable). Nothing is counted from them.").Strings()
	return func(env collectors.Env) (prometheus.Collector, error) {
		var js []string
		for _, j := range *jails {
			for _, p := range strings.Split(j, ",") {
				if p = strings.TrimSpace(p); p != "" {
					js = append(js, p)
				}
			}
		}
		return New(Config{Jails: js, LogPaths: *logPaths, Logger: env.Logger})
	}
}

var bannedDesc = prometheus.NewDesc("fail2ban_banned",
	"Addresses the jail holds banned now: bans and restored bans less unbans, emptied when the jail is created, stopped or flushed.",
	[]string{"jail"}, nil)

// Collector is the fail2ban collector.
type Collector struct {
	cfg    Config
	labels map[string]int // configured jail name -> its place in jailLabels

	bans     *prometheus.CounterVec
	unbans   *prometheus.CounterVec
	matches  *prometheus.CounterVec
	restores *prometheus.CounterVec
	metrics  collectors.Metrics

	// The vectors' children, resolved once, by the jail's place in
	// jailLabels ("other" last).
	bansBy, unbansBy, matchesBy, restoresBy []prometheus.Counter

	mu     sync.Mutex
	jails  map[string]map[string]struct{} // jail name -> banned addresses
	held   int                            // pairs held, over all jails
	warned bool                           // the bound was hit and logged
}

// maxName bounds the length of a jail name or address held.
const maxName = 64

// New returns a fail2ban collector, with the banned set rebuilt from
// cfg.LogPaths. A log path that does not exist is skipped (fail2ban has
// not logged yet); one that cannot be read is an error.
func New(cfg Config) (*Collector, error) {
	if cfg.Jails == nil {
		cfg.Jails = DefaultJails
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBanned <= 0 {
		cfg.MaxBanned = 100000
	}
	c := &Collector{
		cfg:      cfg,
		labels:   map[string]int{},
		bans:     collectors.CounterVec("fail2ban_bans_total", "Addresses banned (\"[jail] Ban <ip>\"), by jail; bans restored at fail2ban's start are not counted.", "jail"),
		unbans:   collectors.CounterVec("fail2ban_unbans_total", "Addresses unbanned (\"[jail] Unban <ip>\"), by jail.", "jail"),
		matches:  collectors.CounterVec("fail2ban_matches_total", "Log lines a jail's filter matched (\"[jail] Found <ip>\"), by jail: fail2ban's \"Total failed\".", "jail"),
		restores: collectors.CounterVec("fail2ban_ban_restores_total", "Bans re-applied from fail2ban's database when it started (\"[jail] Restore Ban <ip>\"), by jail.", "jail"),
		jails:    map[string]map[string]struct{}{},
	}
	for _, j := range cfg.Jails {
		if err := checkJail(j); err != nil {
			return nil, err
		}
		if _, dup := c.labels[j]; dup {
			return nil, fmt.Errorf("--collector.fail2ban.jails: %q given twice", j)
		}
		c.labels[j] = len(c.labels)
	}
	for _, l := range c.jailLabels() {
		c.bansBy = append(c.bansBy, c.bans.WithLabelValues(l))
		c.unbansBy = append(c.unbansBy, c.unbans.WithLabelValues(l))
		c.matchesBy = append(c.matchesBy, c.matches.WithLabelValues(l))
		c.restoresBy = append(c.restoresBy, c.restores.WithLabelValues(l))
	}
	c.metrics = collectors.Metrics{c.bans, c.unbans, c.matches, c.restores}
	for _, p := range cfg.LogPaths {
		if err := c.replay(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkJail refuses a jail name that cannot be a label value of its own.
func checkJail(j string) error {
	if j == Other {
		return fmt.Errorf("--collector.fail2ban.jails: %q is the label of unlisted jails, not a jail name", j)
	}
	if len(j) > maxName {
		return fmt.Errorf("--collector.fail2ban.jails: %q is longer than %d characters", j, maxName)
	}
	for i := 0; i < len(j); i++ {
		c := j[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@') {
			return fmt.Errorf("--collector.fail2ban.jails: %q: jail names hold letters, digits and - _ . @ only", j)
		}
	}
	return nil
}

// jailLabels is the closed set of jail label values.
func (c *Collector) jailLabels() []string {
	return append(append([]string{}, c.cfg.Jails...), Other)
}

// labelIndex is the place of a jail's label in jailLabels.
func (c *Collector) labelIndex(jail string) int {
	if i, ok := c.labels[jail]; ok {
		return i
	}
	return len(c.labels) // Other
}

// Programs implements collectors.LogCollector.
func (c *Collector) Programs() []string { return Programs }

// Handle implements collectors.LogCollector.
func (c *Collector) Handle(rec *logline.Record) bool {
	ev := Parse(rec.Message)
	switch ev.Kind {
	case Unknown:
		return false
	case Match:
		c.matchesBy[c.labelIndex(ev.Jail)].Inc()
	case Ban:
		c.bansBy[c.labelIndex(ev.Jail)].Inc()
	case Restore:
		c.restoresBy[c.labelIndex(ev.Jail)].Inc()
	case Unban:
		c.unbansBy[c.labelIndex(ev.Jail)].Inc()
	}
	c.apply(ev)
	return true
}

// apply changes the banned set for ev.
func (c *Collector) apply(ev Event) {
	switch ev.Kind {
	case Ban, Restore, Reban, Unban, Flush, JailReset:
	default:
		return
	}
	if len(ev.Jail) > maxName || len(ev.IP) > maxName {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ips := c.jails[ev.Jail]
	switch ev.Kind {
	case Ban, Restore, Reban:
		if _, ok := ips[ev.IP]; ok {
			return
		}
		if c.held >= c.cfg.MaxBanned {
			if !c.warned {
				c.warned = true
				c.cfg.Logger.Warn("too many banned addresses to hold; fail2ban_banned stays short", "max", c.cfg.MaxBanned)
			}
			return
		}
		if ips == nil {
			ips = map[string]struct{}{}
			c.jails[strings.Clone(ev.Jail)] = ips
		}
		// Copies: the line's text is the reader's buffer.
		ips[strings.Clone(ev.IP)] = struct{}{}
		c.held++
	case Unban:
		if _, ok := ips[ev.IP]; ok {
			delete(ips, ev.IP)
			c.held--
			if len(ips) == 0 {
				delete(c.jails, ev.Jail)
			}
		}
	case Flush, JailReset:
		c.held -= len(ips)
		delete(c.jails, ev.Jail)
	}
}

// replay reads one of fail2ban's log files and applies its lines to the
// banned set, counting nothing.
func (c *Collector) replay(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		c.cfg.Logger.Info("fail2ban log not found; nothing to replay", "path", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("--collector.fail2ban.log-path: %w", err)
	}
	defer f.Close()
	n, err := replayLines(f, func(line string) {
		rec, ok := logline.Parse(line)
		if !ok || (rec.Program != "fail2ban" && !strings.HasPrefix(rec.Program, "fail2ban.")) {
			return
		}
		c.apply(Parse(rec.Message))
	})
	if err != nil {
		return fmt.Errorf("--collector.fail2ban.log-path %s: %w", path, err)
	}
	c.cfg.Logger.Info("fail2ban log replayed", "path", path, "lines", n, "banned", c.heldCount())
	return nil
}

// maxReplayLine is the longest line replayed; longer lines are skipped.
const maxReplayLine = 64 << 10

// replayLines calls fn with each line of r shorter than maxReplayLine.
func replayLines(r io.Reader, fn func(string)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	var buf []byte
	long := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case long:
		case len(buf)+len(chunk) > maxReplayLine+1:
			long, buf = true, buf[:0]
		default:
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !long && len(buf) > 0 {
			n++
			fn(strings.TrimSuffix(string(buf), "\n"))
		}
		long, buf = false, buf[:0]
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (c *Collector) heldCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.metrics.Describe(ch)
	ch <- bannedDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.metrics.Collect(ch)
	labels := c.jailLabels()
	counts := make([]int, len(labels))
	c.mu.Lock()
	for jail, ips := range c.jails {
		counts[c.labelIndex(jail)] += len(ips)
	}
	c.mu.Unlock()
	for i, l := range labels {
		ch <- prometheus.MustNewConstMetric(bannedDesc, prometheus.GaugeValue, float64(counts[i]), l)
	}
}
