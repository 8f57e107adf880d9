// Package sendmail turns sendmail's log lines into the golden signals of
// a mail transfer agent: messages received, delivery attempts by mailer
// and outcome, time in queue, deferrals, refused commands, lost clients,
// TLS handshakes and DSNs.
//
// It reads what sendmail logs at LogLevel 9 (Debian's default). Parse
// knows the line shapes; Collector keeps the little per-message state that
// deciding "received" needs, bounded whatever the log says.
package sendmail

import "slices"
import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"

// Registration puts the collector behind --collector.sendmail.
var Registration = collectors.Registration{
	Name:    "sendmail",
	Help:    "sendmail's log lines (sm-mta, sendmail, sm-msp-queue).",
	Enabled: true,
	// What the rest of the suite derives from the registry.
	Programs:       []string{"sm-mta", "sendmail", "sm-msp-queue"},
	MetricPrefixes: []string{"sendmail_"},
	Tiers:          collectors.MailTiers,
	Labels: map[string][]string{
		"daemon":      Daemons,
		"mailer":      Mailers,
		"status":      Statuses,
		"stage":       Stages,
		"reason":      append(append([]string{}, Reasons...), DeferReasons...),
		"role":        {RoleServer, RoleClient},
		"disposition": Dispositions,
		"result":      {ResultOK, ResultErr, ResultFail},
		"le":          collectors.Buckets(DelayBuckets),
	},
	Flags: flags,
}

// Config is the collector's configuration.
type Config struct {
	Programs       []string
	DecisionDelay  time.Duration
	MaxMessageSize int64
	// Now is the clock, read at each scrape and for a line without an
	// Arrived time; nil means time.Now.
	Now func() time.Time
	// RateLimits decides which deferrals are rate_limited; nil means
	// DefaultRateLimits.
	RateLimits *RateLimits
	// MaxHeld bounds the messages awaiting a decision; past it the oldest
	// is decided at once. 0 means 10000.
	MaxHeld int
}

// flags declares the collector's flags, which fill its Config, and
// returns the Builder that makes the collector from them.
func flags(f collectors.CollectorFlags) collectors.Builder {
	programs := f.Programs("Syslog program names whose lines are sendmail's.")
	delay := f.Flag("decision-delay", "How long a message's from= line waits for a refusal (size, milter) before the message counts as received.", "2s").Duration()
	rlDSNs := f.Flag("rate-limit-dsn", "Enhanced status code (prefix) of a deferral that means a remote is rate limiting this server; repeatable. Other 4.7.x deferrals count as policy.", DefaultRateLimits.DSNs...).Strings()
	rlTexts := f.Flag("rate-limit-text", "Text in a deferral's reply (ASCII case ignored) that means a remote is rate limiting this server; repeatable.", DefaultRateLimits.Texts...).Strings()
	maxSize := f.Flag("max-message-size", "sendmail's MaxMessageSize in bytes; a sender line with no recipients and a larger declared SIZE counts as refused for size. 0: any such line with no other refusal counts.", "0").Int64()
	return func(env collectors.Env) (prometheus.Collector, error) {
		return New(Config{Programs: *programs, DecisionDelay: *delay, MaxMessageSize: *maxSize, Now: env.Now,
			RateLimits: &RateLimits{DSNs: *rlDSNs, Texts: *rlTexts}}), nil
	}
}

// DelayBuckets are the buckets of the delay histograms, in seconds.
// sendmail logs delays with one-second resolution, so nothing finer than
// a second is useful; the top is five days, sendmail's default
// Timeout.queuereturn.
var DelayBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 432000}

// Collector is the sendmail log collector.
type Collector struct {
	cfg Config

	received   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	delay      *prometheus.HistogramVec
	xdelay     *prometheus.HistogramVec
	deferrals  *prometheus.CounterVec
	rejects    *prometheus.CounterVec
	lost       *prometheus.CounterVec
	noMail     prometheus.Counter
	starttls   *prometheus.CounterVec
	dsns       prometheus.Counter
	auth       *prometheus.CounterVec
	badDelays  prometheus.Counter
	held       prometheus.GaugeFunc
	sessions   *sessionCounter        // sessions.go
	dmarc      *prometheus.CounterVec // dmarc.go
	metrics    collectors.Metrics

	// defaultRateLimits is whether cfg.RateLimits are DefaultRateLimits.
	defaultRateLimits bool

	// The series of the vectors above, resolved once: a line indexes
	// them by the positions of its label values in the closed sets
	// (Daemons, Mailers, …) instead of looking them up by their values.
	receivedBy   []prometheus.Counter   // by daemon
	deliveriesBy [][]prometheus.Counter // by mailer, status
	delayBy      [][]prometheus.Observer
	xdelayBy     [][]prometheus.Observer
	deferralsBy  [][]prometheus.Counter // by mailer, defer reason
	rejectsBy    [][]prometheus.Counter // by stage, reason
	lostBy       []prometheus.Counter   // by stage
	starttlsBy   [2][2]prometheus.Counter
	authOK       prometheus.Counter
	authFail     prometheus.Counter
	dmarcReject  prometheus.Counter
	dmarcQuar    prometheus.Counter

	mu           sync.Mutex
	pending      *heldQueue
	aborted      *qidSet // clients gone before their from= line
	refusedEarly *qidSet // queue ids with a refused command before their from= line
}

// New returns a sendmail collector.
func New(cfg Config) *Collector {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 10000
	}
	if cfg.RateLimits == nil {
		cfg.RateLimits = &DefaultRateLimits
	}
	if len(cfg.Programs) == 0 {
		cfg.Programs = []string{"sm-mta", "sendmail", "sm-msp-queue"}
	}
	c := &Collector{
		cfg:          cfg,
		received:     collectors.CounterVec("sendmail_messages_received_total", "Messages accepted into the queue, by the daemon (DaemonPortOptions Name) that received them; local for command-line submissions.", "daemon"),
		deliveries:   collectors.CounterVec("sendmail_deliveries_total", "Delivery attempts (to= lines naming a mailer), by mailer and outcome from the DSN class: sent (2), deferred (4), bounced (5).", "mailer", "status"),
		delay:        collectors.HistogramVec("sendmail_delivery_delay_seconds", "Time from a message's reception to the end of a delivery attempt (delay=), by mailer and outcome.", DelayBuckets, "mailer", "status"),
		xdelay:       collectors.HistogramVec("sendmail_delivery_xdelay_seconds", "Duration of a delivery attempt itself (xdelay=), by mailer and outcome.", DelayBuckets, "mailer", "status"),
		deferrals:    collectors.CounterVec("sendmail_deferrals_total", "Deferred delivery attempts, by mailer and cause; rate_limited is a remote throttling this server (DSN 4.7.x or its wording).", "mailer", "reason"),
		rejects:      collectors.CounterVec("sendmail_rejects_total", "SMTP commands sendmail refused, by SMTP stage and reason.", "stage", "reason"),
		lost:         collectors.CounterVec("sendmail_connections_lost_total", "SMTP clients that vanished mid-session, by the stage they were in.", "stage"),
		noMail:       collectors.Counter("sendmail_sessions_without_mail_total", "SMTP sessions that ended without MAIL, EXPN, VRFY or ETRN."),
		starttls:     collectors.CounterVec("sendmail_starttls_total", "STARTTLS handshakes, by sendmail's role (server for inbound, client for outbound) and result.", "role", "result"),
		dsns:         collectors.Counter("sendmail_dsns_total", "Delivery status notifications (bounces and delay warnings) sendmail generated."),
		auth:         collectors.CounterVec("sendmail_auth_total", "SMTP AUTH outcomes logged by sendmail, by result.", "result"),
		badDelays:    collectors.Counter("mailtier_exporter_sendmail_delays_rejected_total", "delay= and xdelay= values left out of the delay histograms: malformed, or longer than a year (a forged or corrupt line). Their delivery still counts."),
		pending:      newHeldQueue(),
		aborted:      newQIDSet(4096),
		refusedEarly: newQIDSet(4096),
	}
	c.defaultRateLimits = slices.Equal(cfg.RateLimits.DSNs, DefaultRateLimits.DSNs) &&
		slices.Equal(cfg.RateLimits.Texts, DefaultRateLimits.Texts)
	c.held = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mailtier_exporter_sendmail_messages_undecided",
		Help: "Messages whose from= line was read and whose acceptance waits for the next line of their queue id.",
	}, func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return float64(c.pending.len())
	})
	for _, d := range Daemons {
		c.receivedBy = append(c.receivedBy, c.received.WithLabelValues(d))
	}
	for _, m := range Mailers {
		var deliveries, deferrals []prometheus.Counter
		var delay, xdelay []prometheus.Observer
		for _, s := range Statuses {
			deliveries = append(deliveries, c.deliveries.WithLabelValues(m, s))
			// The histograms' series appear with their first sample, as
			// before: resolving them here would expose empty ones.
			delay = append(delay, nil)
			xdelay = append(xdelay, nil)
		}
		for _, r := range DeferReasons {
			deferrals = append(deferrals, c.deferrals.WithLabelValues(m, r))
		}
		c.deliveriesBy = append(c.deliveriesBy, deliveries)
		c.delayBy = append(c.delayBy, delay)
		c.xdelayBy = append(c.xdelayBy, xdelay)
		c.deferralsBy = append(c.deferralsBy, deferrals)
	}
	for _, st := range Stages {
		var rejects []prometheus.Counter
		for _, r := range Reasons {
			rejects = append(rejects, c.rejects.WithLabelValues(st, r))
		}
		c.rejectsBy = append(c.rejectsBy, rejects)
		c.lostBy = append(c.lostBy, c.lost.WithLabelValues(st))
	}
	for i, role := range []string{RoleServer, RoleClient} {
		for j, r := range []string{ResultOK, ResultErr} {
			c.starttlsBy[i][j] = c.starttls.WithLabelValues(role, r)
		}
	}
	c.authOK = c.auth.WithLabelValues(ResultOK)
	c.authFail = c.auth.WithLabelValues(ResultFail)
	c.sessions = newSessionCounter()
	c.dmarc = newDMARCDispositions()
	c.dmarcReject = c.dmarc.WithLabelValues(DispositionReject)
	c.dmarcQuar = c.dmarc.WithLabelValues(DispositionQuarantine)
	c.metrics = collectors.Metrics{c.received, c.deliveries, c.delay, c.xdelay, c.deferrals, c.rejects,
		c.lost, c.noMail, c.starttls, c.dsns, c.auth, c.badDelays, c.held, c.sessions.total, c.dmarc}
	return c
}

// Programs implements collectors.LogCollector.
func (c *Collector) Programs() []string { return c.cfg.Programs }

// Handle implements collectors.LogCollector.
//
// The time of a line is its Arrived time, read by the pipeline once per
// batch of lines; only a line handed over by other means (a test's Feed)
// has the clock read for it.
func (c *Collector) Handle(rec *logline.Record) bool {
	now := rec.Arrived
	if now.IsZero() {
		now = c.cfg.Now()
	}
	// One lock per line, for the sessions and the messages alike.
	c.mu.Lock()
	defer c.mu.Unlock()
	// The queue id is split off once for every check of the line.
	qid, rest := splitQID(rec.Message)
	afterID := afterQID(rec.Message, qid, rest)
	var ev Event
	daemonField := parseAfterQID(&ev, qid, rest)
	// A from= line with a daemon= field is a session line: the session
	// check need not look for the field again, when it reads the same
	// text the parser did (not "NOQUEUE: from=…").
	c.sessions.observe(rec.PID, afterID, daemonField && len(afterID) == len(rest), now)
	switch dmarcDisposition(afterID) {
	case DispositionReject:
		c.dmarcReject.Inc()
	case DispositionQuarantine:
		c.dmarcQuar.Inc()
	}
	if ev.Kind == Unknown {
		return isMilterQuarantine(afterID)
	}
	// The queue id's key is made once for every table the line looks in.
	var ref qidRef
	if ev.QID != "" {
		ref = refOf(ev.QID)
		// sendmail logs a refusal of a message right after its from= line,
		// so the next line of that queue id decides the message.
		if h := c.pending.takeRef(ref); h != nil && !ev.Refusal {
			c.receivedBy[labelIndex(Daemons, h.daemon)].Inc()
		}
	}
	switch ev.Kind {
	case From:
		// No line without a queue id is remembered in these sets.
		aborted := ev.QID != "" && c.aborted.takeRef(ref)
		refused := ev.QID != "" && c.refusedEarly.takeRef(ref)
		switch {
		case ev.Nrcpts > 0 && !aborted && ev.QID != "":
			c.pending.pushRef(ref, ev.QID, ev.Daemon, now)
		case ev.Nrcpts > 0 && !aborted:
			c.receivedBy[labelIndex(Daemons, ev.Daemon)].Inc()
		case ev.Nrcpts == 0 && ev.Size > 0 && !aborted && !refused &&
			(c.cfg.MaxMessageSize <= 0 || ev.Size > c.cfg.MaxMessageSize):
			// A SIZE= over MaxMessageSize is refused at MAIL with no line of
			// its own: only this sender line, with the declared size and no
			// recipients, is left of it.
			c.rejectsBy[labelIndex(Stages, StageMail)][labelIndex(Reasons, ReasonTooLarge)].Inc()
		}
	case To:
		if ev.Mailer != "" {
			m, st := labelIndex(Mailers, ev.Mailer), labelIndex(Statuses, ev.Status)
			c.deliveriesBy[m][st].Inc()
			if ev.HasDelay {
				c.observer(c.delay, c.delayBy, m, st).Observe(ev.Delay)
			}
			if ev.HasXDelay {
				c.observer(c.xdelay, c.xdelayBy, m, st).Observe(ev.XDelay)
			}
			if ev.Status == StatusDeferred {
				// Parse classified the deferral by DefaultRateLimits;
				// other rate limits classify it again.
				reason := ev.DeferReason
				if !c.defaultRateLimits {
					reason = c.cfg.RateLimits.DeferReason(ev.DSN, ev.Stat)
				}
				c.deferralsBy[m][labelIndex(DeferReasons, reason)].Inc()
			}
		}
		if ev.BadDelays > 0 {
			c.badDelays.Add(float64(ev.BadDelays))
		}
	case Reject:
		c.rejectsBy[labelIndex(Stages, ev.Stage)][labelIndex(Reasons, ev.Reason)].Inc()
		if ev.QID != "" && !ev.Refusal {
			c.refusedEarly.addRef(ref)
		}
	case Lost:
		c.lostBy[labelIndex(Stages, ev.Stage)].Inc()
		if ev.Abort && ev.QID != "" {
			c.aborted.addRef(ref)
		}
	case NoMail:
		c.noMail.Inc()
	case StartTLS:
		role, result := 0, 0
		if ev.Role == RoleClient {
			role = 1
		}
		if ev.Result == ResultErr {
			result = 1
		}
		c.starttlsBy[role][result].Inc()
	case DSN:
		c.dsns.Inc()
	case Auth:
		if ev.Result == ResultOK {
			c.authOK.Inc()
		} else {
			c.authFail.Inc()
		}
	}
	c.decideOld(now)
	return true
}

// observer returns the series of histogram h for mailer m and status st,
// resolving it at its first sample: a histogram's series appear only once
// they have one.
func (c *Collector) observer(h *prometheus.HistogramVec, by [][]prometheus.Observer, m, st int) prometheus.Observer {
	if by[m][st] == nil {
		by[m][st] = h.WithLabelValues(Mailers[m], Statuses[st])
	}
	return by[m][st]
}

// labelIndex returns the position of v in the closed set set, whose last
// value is Other: the position of Other for a value outside it. The values
// Parse gives are the set's own strings, so each comparison that matches
// is one of pointers.
func labelIndex(set []string, v string) int {
	for i, s := range set {
		if s == v {
			return i
		}
	}
	return len(set) - 1
}

// decideOld counts as received the held messages older than the decision
// delay, and the oldest ones past the bound on held messages.
func (c *Collector) decideOld(now time.Time) {
	for {
		h := c.pending.oldest()
		if h == nil {
			return
		}
		if now.Sub(h.at) < c.cfg.DecisionDelay && c.pending.len() <= c.cfg.MaxHeld {
			return
		}
		c.pending.take(h.qid)
		c.receivedBy[labelIndex(Daemons, h.daemon)].Inc()
	}
}

// Flush implements collectors.Flusher: every held message counts as
// received, as it would once its decision delay passed.
func (c *Collector) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h := c.pending.oldest(); h != nil; h = c.pending.oldest() {
		c.pending.take(h.qid)
		c.receivedBy[labelIndex(Daemons, h.daemon)].Inc()
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.metrics.Describe(ch)
}

// Collect implements prometheus.Collector. Held messages whose decision
// delay has passed are decided first, so a scrape never waits on the next
// log line.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	c.decideOld(c.cfg.Now())
	c.mu.Unlock()
	c.metrics.Collect(ch)
}
