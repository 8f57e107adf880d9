// Command mailtier_exporter turns the logs and queues of a mail tier
// (sendmail, Dovecot, OpenDKIM, fail2ban) into Prometheus metrics.
//
// It follows every --tail.path, parses each line's envelope once, and
// hands the line to the enabled collectors that claim its program; the
// queue and other scrape-time collectors read their sources when
// /metrics is asked for. With --once it replays the inputs from their
// start, prints the metrics and exits.
package main

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net/http"
import "os"
import "os/signal"
import "sort"
import "strconv"
import "sync"
import "syscall"
import "time"

import "github.com/alecthomas/kingpin/v2"
import "github.com/prometheus/client_golang/prometheus"
import promcollectors "github.com/prometheus/client_golang/prometheus/collectors"
import versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
import "github.com/prometheus/client_golang/prometheus/promhttp"
import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/promslog"
import promslogflag "github.com/prometheus/common/promslog/flag"
import "github.com/prometheus/common/version"
import "github.com/prometheus/exporter-toolkit/web"
import "github.com/prometheus/exporter-toolkit/web/kingpinflag"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/positions"
import "github.com/cabalmail/mailtier/internal/tailer"

const name = "mailtier_exporter"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	paths          []string
	positions      string
	posInterval    time.Duration
	once           bool
	fromStart      bool
	pollInterval   time.Duration
	rotateWait     time.Duration
	metricsPath    string
	maxRequests    int
	disableRuntime bool
	web            *web.FlagConfig
	log            *promslog.Config
}

// enabledCollector is a collector chosen by the flags, not yet built.
type enabledCollector struct {
	name  string
	build collectors.Builder
}

// run is the whole program, with its environment passed in.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Signals first: building the collectors can take seconds (fail2ban's
	// log is replayed), and a SIGHUP meanwhile must not kill the process
	// (its default action) nor a SIGTERM skip the orderly stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	app := kingpin.New(name, "Exports the golden signals of sendmail, Dovecot, OpenDKIM and fail2ban from their logs and queues.")
	// Help and version are asked for: stdout, exit 0, and nothing else
	// happens (kingpin would go on parsing after printing them).
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	terminated := false
	app.Terminate(func(int) { terminated = true })
	var o options
	app.Flag("tail.path", "A log file to follow (repeatable); - reads standard input.").StringsVar(&o.paths)
	app.Flag("tail.positions", "A file in which to save how far each followed file was read, to resume there after a restart. Without it, reading starts at the end of each file.").StringVar(&o.positions)
	app.Flag("tail.positions-interval", "How often the positions are saved (and at shutdown): the most a crash replays.").Default("5s").DurationVar(&o.posInterval)
	app.Flag("once", "Read every --tail.path from its start to its end, print all metrics in the text format and exit.").BoolVar(&o.once)
	app.Flag("tail.from-start", "Read the files found at start-up from their beginning instead of their end.").BoolVar(&o.fromStart)
	app.Flag("tail.poll-interval", "Safety poll: how often followed files are checked when inotify reported nothing (inotify wakes the reader as soon as a file changes; the poll finds what it cannot see, such as writes over NFS).").Default("1s").DurationVar(&o.pollInterval)
	app.Flag("tail.rotate-wait", "How long a rotated file that stopped growing is still read before moving to the new file.").Default("5s").DurationVar(&o.rotateWait)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	app.Flag("web.max-requests", "Most scrapes of the metrics path served at once; more are answered 503 at once instead of piling up. 0 means no limit.").Default("40").IntVar(&o.maxRequests)
	app.Flag("web.disable-exporter-metrics", "Exclude the Go runtime and process metrics of the exporter itself (go_*, process_*).").BoolVar(&o.disableRuntime)
	disableDefaults := app.Flag("collector.disable-defaults", "Disable every collector not enabled by its own flag.").Bool()
	o.web = kingpinflag.AddFlags(app, ":9469")
	o.log = &promslog.Config{}
	promslogflag.AddFlags(app, o.log)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')

	type choice struct {
		reg   collectors.Registration
		on    *bool
		set   bool
		build collectors.Builder
	}
	choices := make([]*choice, 0, len(registry.All))
	for _, reg := range registry.All {
		ch := &choice{reg: reg}
		ch.on = app.Flag("collector."+reg.Name, fmt.Sprintf("Enable the %s collector (default: %s): %s", reg.Name, onOff(reg.Enabled), reg.Help)).
			Default(strconv.FormatBool(reg.Enabled)).IsSetByUser(&ch.set).Bool()
		ch.build = reg.DeclareFlags(app)
		choices = append(choices, ch)
	}

	_, err := app.Parse(args)
	if terminated {
		return 0 // --help, --help-long, --help-man or --version: printed
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	o.log.Writer = stderr
	logger := promslog.New(o.log)

	var enabled []enabledCollector
	for _, ch := range choices {
		on := *ch.on
		if *disableDefaults && !ch.set {
			on = false
		}
		if on {
			enabled = append(enabled, enabledCollector{ch.reg.Name, ch.build})
		}
	}
	if o.once && len(o.paths) == 0 {
		fmt.Fprintf(stderr, "%s: --once needs at least one --tail.path to read\n", name)
		return 2
	}
	if err := checkPaths(o.paths); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if o.posInterval <= 0 {
		fmt.Fprintf(stderr, "%s: --tail.positions-interval must be positive, got %s\n", name, o.posInterval)
		return 2
	}
	if o.pollInterval <= 0 {
		fmt.Fprintf(stderr, "%s: --tail.poll-interval must be positive, got %s\n", name, o.pollInterval)
		return 2
	}

	if o.maxRequests < 0 {
		fmt.Fprintf(stderr, "%s: --web.max-requests must not be negative, got %d\n", name, o.maxRequests)
		return 2
	}

	reg := prometheus.NewPedanticRegistry()
	positionsCorrupt := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mailtier_exporter_positions_corrupt_total",
		Help: "Times the --tail.positions file could not be used at start (unreadable or corrupt): it was moved aside and every input started as if it had never been read.",
	})
	reg.MustRegister(positionsCorrupt)
	var store *positions.Store
	if o.positions != "" && !o.once {
		var err error
		if store, err = positions.Load(o.positions); err != nil {
			// The exporter's own state must never stop it: a restart would
			// fail the same way, and a sidecar that exits within 60 s is
			// not restarted. Start as if there were no file.
			positionsCorrupt.Inc()
			aside, aerr := positions.MoveAside(o.positions)
			if aerr != nil {
				logger.Error("positions file unusable, and it could not be moved aside; starting without it", "file", o.positions, "err", err, "move_err", aerr)
			} else {
				logger.Error("positions file unusable; moved aside, starting without it", "file", o.positions, "moved_to", aside, "err", err)
			}
			store = positions.New(o.positions)
		}
	}
	router, built, err := build(reg, enabled, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if o.once {
		// A replay has nothing to stop cleanly or reload: the signals'
		// default actions (end the process) apply again.
		stop()
		signal.Stop(hup)
		return runOnce(o, reg, router, stdin, stdout, stderr)
	}
	return serve(ctx, stop, hup, o, reg, router, built, store, stdin, logger)
}

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// checkPaths refuses an input given twice, which would count its lines twice.
func checkPaths(paths []string) error {
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			return errors.New("--tail.path must not be empty")
		}
		if seen[p] {
			return fmt.Errorf("--tail.path %q given twice", p)
		}
		seen[p] = true
	}
	return nil
}

// build makes the enabled collectors and registers them and the router.
func build(reg *prometheus.Registry, enabled []enabledCollector, logger *slog.Logger) (*pipeline.Router, []prometheus.Collector, error) {
	var logCollectors []pipeline.Named
	var built []prometheus.Collector
	reg.MustRegister(versioncollector.NewCollector(name))
	for _, e := range enabled {
		c, err := e.build(collectors.Env{Logger: logger.With("collector", e.name), Now: time.Now})
		if err != nil {
			return nil, nil, fmt.Errorf("collector %s: %w", e.name, err)
		}
		if err := reg.Register(c); err != nil {
			return nil, nil, fmt.Errorf("collector %s: %w", e.name, err)
		}
		built = append(built, c)
		if lc, ok := c.(collectors.LogCollector); ok {
			logCollectors = append(logCollectors, pipeline.Named{Name: e.name, Collector: lc})
		}
	}
	router := pipeline.NewRouter(logCollectors, nil)
	reg.MustRegister(router)
	names := make([]string, 0, len(enabled))
	for _, e := range enabled {
		names = append(names, e.name)
	}
	sort.Strings(names)
	logger.Info("collectors enabled", "collectors", names)
	return router, built, nil
}

// runOnce replays every input from its start and prints the metrics.
func runOnce(o options, reg *prometheus.Registry, router *pipeline.Router, stdin io.Reader, stdout, stderr io.Writer) int {
	for _, p := range o.paths {
		in := router.Input(p)
		var err error
		if p == "-" {
			err = in.ReadAll(stdin)
		} else {
			var f *os.File
			if f, err = os.Open(p); err == nil {
				err = in.ReadAll(f)
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	router.Flush()
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	enc := expfmt.NewEncoder(stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	return 0
}

// serve follows the inputs and serves the metrics until ctx ends (SIGTERM
// or SIGINT); hup delivers SIGHUP.
func serve(ctx context.Context, stop func(), hup <-chan os.Signal, o options, reg *prometheus.Registry, router *pipeline.Router, built []prometheus.Collector, store *positions.Store, stdin io.Reader, logger *slog.Logger) int {
	for _, c := range built {
		if s, ok := c.(collectors.Starter); ok {
			s.Start(ctx)
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				for _, c := range built {
					if r, ok := c.(collectors.Reloader); ok {
						if err := r.Reload(); err != nil {
							logger.Error("reload failed; the previous configuration stays", "err", err)
						}
					}
				}
				logger.Info("reloaded on SIGHUP")
			}
		}
	}()

	var wg sync.WaitGroup
	inputs := make([]*pipeline.Input, len(o.paths))
	if store != nil {
		store.Keep(o.paths)
	}
	for i, p := range o.paths {
		in := router.Input(p)
		inputs[i] = in
		cfg := tailer.Config{Path: p, FromStart: o.fromStart, RotateWait: o.rotateWait, Poll: o.pollInterval, Logger: logger}
		if store != nil && p != "-" {
			if pos, ok := store.Get(p); ok {
				cfg.Resume = &pos
			}
			saved := false
			in.OnCheckpoint(func(pos tailer.Position) {
				store.Set(p, pos)
				if !saved {
					// The first position of an input is saved at once, not
					// at the end of the first interval: a crash before that
					// would restart at the end of the file, losing every
					// line written meanwhile.
					saved = true
					store.SaveSoon()
				}
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == "-" {
				if err := in.ReadAll(stdin); err != nil {
					logger.Error("reading standard input", "err", err)
				}
				in.Failed() // ended: nothing more will come
				return
			}
			if err := tailer.Follow(ctx, cfg, in); err != nil {
				in.Failed()
				logger.Error("cannot follow the file", "path", p, "err", err)
			}
		}()
	}
	saverDone := make(chan struct{})
	if store != nil {
		go func() {
			defer close(saverDone)
			store.Run(ctx, o.posInterval, logger)
		}()
	} else {
		close(saverDone)
	}

	gatherers := prometheus.Gatherers{reg}
	if !o.disableRuntime {
		rt := prometheus.NewRegistry()
		rt.MustRegister(promcollectors.NewGoCollector(), promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}))
		gatherers = append(gatherers, rt)
	}
	mux := http.NewServeMux()
	mux.Handle(o.metricsPath, promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes beyond this are answered 503 at once: piled-up scrapes
		// each gather everything and hold its memory.
		MaxRequestsInFlight: o.maxRequests,
	}))
	if o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        name,
			Description: "Golden signals of sendmail, Dovecot, OpenDKIM and fail2ban",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: o.metricsPath, Text: "Metrics"}},
			Profiling:   "false", // no pprof handlers are served
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, o.web, logger) }()
	logger.Info("starting", "version", version.Info(), "inputs", o.paths)

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving", "err", err)
			code = 1
		}
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	wg.Wait()
	// Every input has stopped: the last line counted is the last position.
	// The periodic saver is waited for too, so that it leaves no
	// temporary file behind (Save keeps the newest snapshot either way).
	<-saverDone
	if store != nil {
		if err := store.Save(); err != nil {
			logger.Error("saving positions", "file", o.positions, "err", err)
			code = 1
		}
	}
	for i, p := range o.paths {
		logger.Info("input stopped", "path", p, "lines", inputs[i].Lines(), "offset", inputs[i].Offset())
	}
	return code
}
