// Package opendmarc turns OpenDMARC's log lines into counts of DMARC
// results, of its own SPF checks, of messages it did not evaluate, and of
// its errors.
//
// OpenDMARC 1.4 logs one line per evaluated message, "JOBID: DOMAIN
// RESULT" (RESULT the dmarc= word of its Authentication-Results: pass,
// fail, none, temperror), and a line per failure to read the DMARC record
// (permerror or temperror). It does not log the disposition it applied
// (reject, quarantine or none, written only into its Authentication-
// Results field and HistoryFile): see docs/collectors.md.
//
// The From: domain of each line is text from the mail and never becomes a
// label. The collector keeps no per-message state.
package opendmarc

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"

// Registration puts the collector behind --collector.opendmarc.
var Registration = collectors.Registration{
	Name:    "opendmarc",
	Help:    "OpenDMARC's log lines: DMARC results, its own SPF checks, messages not evaluated, errors.",
	Enabled: true,
	// What the rest of the suite derives from the registry.
	Programs:       []string{"opendmarc"},
	MetricPrefixes: []string{"opendmarc_"},
	Tiers:          []string{"smtp-in"},
	Labels: map[string][]string{
		"result": append(append([]string{}, Results...), SPFResults...),
		"origin": Origins,
		"reason": append(append([]string{}, NotEvaluatedReason...), ErrorReasons...),
	},
	Flags: flags,
}

// Config is the collector's configuration.
type Config struct {
	Programs []string
}

// flags declares the collector's flags, which fill its Config, and
// returns the Builder that makes the collector from them.
func flags(f collectors.CollectorFlags) collectors.Builder {
	programs := f.Programs("Syslog program names whose lines are OpenDMARC's.")
	return func(env collectors.Env) (prometheus.Collector, error) {
		return New(Config{Programs: *programs}), nil
	}
}

// Collector is the OpenDMARC log collector.
type Collector struct {
	cfg Config

	results      *prometheus.CounterVec
	spf          *prometheus.CounterVec
	notEvaluated *prometheus.CounterVec
	errors       *prometheus.CounterVec
	ignoredConns prometheus.Counter
	metrics      collectors.Metrics

	// The vectors' children, resolved once, by the label value's place
	// in its closed set.
	resultsBy      [len(results)]prometheus.Counter
	spfBy          [len(origins)][len(spfResults)]prometheus.Counter
	notEvaluatedBy [len(notEvaluatedReasons)]prometheus.Counter
	errorsBy       [len(errorReasons)]prometheus.Counter
}

// New returns an OpenDMARC collector.
func New(cfg Config) *Collector {
	if len(cfg.Programs) == 0 {
		cfg.Programs = []string{"opendmarc"}
	}
	c := &Collector{
		cfg:          cfg,
		results:      collectors.CounterVec("opendmarc_results_total", "Messages OpenDMARC evaluated, by DMARC result: pass, fail, none (no DMARC record), temperror, permerror (a DMARC record it could not read), other.", "result"),
		spf:          collectors.CounterVec("opendmarc_spf_results_total", "SPF checks OpenDMARC made itself (SPFSelfValidate, or no trusted SPF result), by the identity checked (mailfrom, helo) and result.", "origin", "result"),
		notEvaluated: collectors.CounterVec("opendmarc_messages_not_evaluated_total", "Messages OpenDMARC passed without a DMARC evaluation, by reason: ignored_domain, no_from, header_requirements (rejected), multi_from, unparsable_from.", "reason"),
		errors:       collectors.CounterVec("opendmarc_errors_total", "Errors OpenDMARC logged while handling a message, by reason: policy_store, header_add, history, report, milter, other.", "reason"),
		ignoredConns: collectors.Counter("opendmarc_connections_ignored_total", "SMTP connections OpenDMARC let through unexamined: the client is in IgnoreHosts (\"ignoring connection from\")."),
	}
	collectors.Resolve(c.resultsBy[:], c.results, results[:])
	for i, o := range origins {
		for j, r := range spfResults {
			c.spfBy[i][j] = c.spf.WithLabelValues(o, r)
		}
	}
	collectors.Resolve(c.notEvaluatedBy[:], c.notEvaluated, notEvaluatedReasons[:])
	collectors.Resolve(c.errorsBy[:], c.errors, errorReasons[:])
	c.metrics = collectors.Metrics{c.results, c.spf, c.notEvaluated, c.errors, c.ignoredConns}
	return c
}

// Programs implements collectors.LogCollector.
func (c *Collector) Programs() []string { return c.cfg.Programs }

// Handle implements collectors.LogCollector.
func (c *Collector) Handle(rec *logline.Record) bool {
	ev := Parse(rec.Message)
	switch ev.Kind {
	case Unknown:
		return false
	case Evaluated:
		c.resultsBy[collectors.Index(results[:], ev.Result)].Inc()
	case SPF:
		c.spfBy[collectors.Index(origins[:], ev.Origin)][collectors.Index(spfResults[:], ev.Result)].Inc()
	case NotEvaluated:
		c.notEvaluatedBy[collectors.Index(notEvaluatedReasons[:], ev.Reason)].Inc()
	case Failed:
		c.errorsBy[collectors.Index(errorReasons[:], ev.Reason)].Inc()
	case ConnectionIgnored:
		c.ignoredConns.Inc()
	}
	return true
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.metrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) { c.metrics.Collect(ch) }
