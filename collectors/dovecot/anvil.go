package dovecot

// The anvil collector reads how many sessions are logged in now from
// Dovecot's anvil process, the way `doveadm who` does: it connects to the
// anvil socket (base_dir/anvil), sends Dovecot 2.3's handshake and
// CONNECT-DUMP, and sums the reference counts of the sessions it lists,
// per service. Every imap process (and imap-hibernate) registers each
// logged-in client with anvil and unregisters it when the client goes;
// the master unregisters all of a process's clients when the process dies.
// So the count is exact at the moment of the scrape, whatever
// client_limit or hibernation does to processes, and starts right after
// a restart of the exporter or of Dovecot: no log is replayed.

import "bufio"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net"
import "strconv"
import "strings"
import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"

// AnvilRegistration puts the anvil reader behind --collector.anvil.
var AnvilRegistration = collectors.Registration{
	Name:    "anvil",
	Help:    "Dovecot's anvil socket, read at scrape time: sessions logged in now, per service (what doveadm who lists).",
	Enabled: false,
	// Scrape-time: no programs. On imap, behind the sidecar module's
	// anvil_collector (off until Dovecot's anvil socket is shared with the
	// sidecar: docs/operations.md).
	Tiers:          []string{"imap"},
	MetricPrefixes: []string{"dovecot_sessions", "mailtier_exporter_dovecot_anvil_"},
	Labels:         map[string][]string{"service": Services},
	Flags: func(f collectors.CollectorFlags) collectors.Builder {
		socket := f.Flag("socket", "Dovecot's anvil socket (base_dir/anvil). The exporter needs read and write access to it: see docs/collectors.md.", "/run/dovecot/anvil").String()
		timeout := f.Flag("timeout", "How long one read of the anvil socket may take.", "2s").Duration()
		return func(env collectors.Env) (prometheus.Collector, error) {
			if *timeout <= 0 {
				return nil, fmt.Errorf("--collector.anvil.timeout must be positive, got %s", *timeout)
			}
			return NewAnvil(*socket, *timeout, env.Logger), nil
		}
	},
}

// anvilHandshake and anvilDump are what Dovecot 2.3's doveadm who sends
// (src/doveadm/doveadm-who.c): anvil answers with one line per session
// ident, "SERVICE/IP/USER\tPID\tREFCOUNT" (tab-escaped), and an empty
// line (src/anvil/connect-limit.c, connect_limit_dump).
const (
	anvilHandshake = "VERSION\tanvil\t1\t0\n"
	anvilDump      = "CONNECT-DUMP\n"
)

// MaxAnvilLineBytes bounds one line of anvil's answer: an ident holds a
// user name and an address.
const MaxAnvilLineBytes = 64 << 10

var (
	sessionsDesc = prometheus.NewDesc("dovecot_sessions",
		"Sessions logged in now, by service, as Dovecot's anvil counts them (what doveadm who lists).", []string{"service"}, nil)
	anvilSuccessDesc = prometheus.NewDesc("mailtier_exporter_dovecot_anvil_scrape_success",
		"Whether Dovecot's anvil socket (--collector.anvil.socket) answered at this scrape (1) or not (0).", nil, nil)
)

// Anvil is the collector of dovecot_sessions.
type Anvil struct {
	socket  string
	timeout time.Duration
	logger  *slog.Logger

	mu      sync.Mutex
	lastErr string // the last failure logged, to log a new one only
}

// NewAnvil returns a collector reading the anvil socket at path.
func NewAnvil(path string, timeout time.Duration, logger *slog.Logger) *Anvil {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Anvil{socket: path, timeout: timeout, logger: logger}
}

// Describe implements prometheus.Collector.
func (a *Anvil) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- anvilSuccessDesc
}

// Collect implements prometheus.Collector: one CONNECT-DUMP per scrape.
// When anvil cannot be read, dovecot_sessions is absent (not zero) and the
// failure is logged once until it changes.
func (a *Anvil) Collect(ch chan<- prometheus.Metric) {
	counts, err := ReadAnvil(a.socket, a.timeout)
	a.mu.Lock()
	if err != nil && err.Error() != a.lastErr {
		a.logger.Warn("reading Dovecot's anvil socket failed", "socket", a.socket, "err", err)
	} else if err == nil && a.lastErr != "" {
		a.logger.Info("Dovecot's anvil socket answers again", "socket", a.socket)
	}
	a.lastErr = ""
	if err != nil {
		a.lastErr = err.Error()
	}
	a.mu.Unlock()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(anvilSuccessDesc, prometheus.GaugeValue, 0)
		return
	}
	for _, s := range Services {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(anvilSuccessDesc, prometheus.GaugeValue, 1)
}

// ReadAnvil asks the anvil socket at path for its sessions and returns
// their count per service (a value of Services).
func ReadAnvil(path string, timeout time.Duration) (map[string]uint64, error) {
	conn, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte(anvilHandshake + anvilDump)); err != nil {
		return nil, err
	}
	return ParseAnvilDump(bufio.NewReaderSize(conn, 4096))
}

// ErrAnvilTruncated is returned when anvil's list ends without its empty
// last line: the connection closed early (a Dovecot that does not speak
// the 2.3 protocol closes it at the handshake).
var ErrAnvilTruncated = errors.New("anvil's session list ended without its last, empty line (is this Dovecot 2.3?)")

// ParseAnvilDump reads a CONNECT-DUMP answer up to its empty line.
func ParseAnvilDump(r *bufio.Reader) (map[string]uint64, error) {
	counts := map[string]uint64{}
	for n := 1; ; n++ {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, ErrAnvilTruncated
			}
			return nil, err
		}
		if line == "" {
			return counts, nil
		}
		// ident, pid, refcount; tabs inside the ident are escaped.
		fields := strings.Split(line, "\t")
		slash := strings.IndexByte(fields[0], '/')
		if len(fields) != 3 || slash <= 0 {
			return nil, fmt.Errorf("anvil's line %d is not IDENT<tab>PID<tab>REFCOUNT", n)
		}
		if _, err := strconv.ParseUint(fields[1], 10, 32); err != nil {
			return nil, fmt.Errorf("anvil's line %d: bad pid", n)
		}
		refs, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("anvil's line %d: bad reference count", n)
		}
		counts[anvilService(fields[0][:slash])] += refs
	}
}

// readLine reads one line of at most MaxAnvilLineBytes, without its
// newline.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > MaxAnvilLineBytes {
			return "", fmt.Errorf("a line of anvil's answer is over %d bytes", MaxAnvilLineBytes)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// anvilService maps the service of an anvil ident to a label value.
func anvilService(s string) string {
	switch s {
	case ServiceIMAP, ServicePOP3, ServiceSubmission, ServiceManageSieve, ServiceLMTP:
		return s
	}
	return Other
}
