// Package collectors holds what every collector of the suite shares: the
// interface a log collector implements and the Registration that puts a
// collector behind its --collector.<name> flag.
//
// A collector either turns log lines into metrics (a LogCollector, fed by
// the pipeline, never touching files itself) or reads its source at scrape
// time (any prometheus.Collector, such as the sendmail queue reader).
// Each lives in its own package below this one; collectors/registry lists
// them.
package collectors

import (
	"context"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cabalmail/mailtier/internal/logline"
)

// LogCollector turns the log lines of the programs it claims into metrics.
// Handle and Collect may be called from different goroutines.
type LogCollector interface {
	prometheus.Collector
	// Programs lists the syslog program names (tags) whose lines it wants.
	Programs() []string
	// Handle is given one line of a claimed program and reports whether
	// it recognised the line's shape.
	Handle(rec *logline.Record) bool
}

// Flusher is a LogCollector that holds lines back to decide on them once
// a later line arrives. Flush decides everything held: the pipeline calls
// it when the input ends (--once).
type Flusher interface {
	Flush()
}

// Reloader is a collector with configuration files of its own; the
// exporter calls Reload on SIGHUP. A failed reload keeps the previous
// configuration and is logged.
type Reloader interface {
	Reload() error
}

// Starter is a collector with work of its own to run in the background
// (a probe, for instance). The exporter calls Start once before serving;
// the work stops when ctx ends. --once does not call it.
type Starter interface {
	Start(ctx context.Context)
}

// Env is what the exporter hands every collector it builds.
type Env struct {
	Logger *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Builder makes a collector from the flags its Registration declared.
type Builder func(Env) (prometheus.Collector, error)

// Registration is one collector's entry in the registry.
type Registration struct {
	// Name is the collector's name in --collector.<name>.
	Name string
	// Help says what the collector reads, for --help.
	Help string
	// Enabled is whether the collector runs without a --collector flag.
	Enabled bool
	// Flags declares the collector's own --collector.<name>.* flags on app
	// and returns the Builder that reads them once the flags are parsed.
	Flags func(app *kingpin.Application) Builder
}
