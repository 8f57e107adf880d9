// Package pipeline carries lines from the inputs to the collectors that
// claim them: each line's envelope is parsed once, and the line goes to
// every enabled collector that claims its program. It also keeps the
// exporter's own account of every input: lines and bytes read, lines
// skipped and why, how each collector fared, reopens and truncations.
package pipeline

import "errors"
import "io"
import "sync/atomic"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/tailer"

// MaxLineBytes is the longest line handed to collectors. Syslog daemons
// cut messages far shorter (rsyslog's default is 8 KiB); a longer line is
// counted as skipped, not parsed, and never held whole.
const MaxLineBytes = tailer.MaxLineBytes

// Reasons a line is skipped, the values of the reason label.
const (
	SkipUnparsed  = "unparsed"  // no known envelope
	SkipUnclaimed = "unclaimed" // no enabled collector claims its program
	SkipTooLong   = "too_long"  // longer than MaxLineBytes
)

// Named is a log collector with its registry name.
type Named struct {
	Name      string
	Collector collectors.LogCollector
}

// route is a collector a program's lines go to, and its index among the
// router's collectors, where an Input keeps its counts of them.
type route struct {
	c collectors.LogCollector
	i int
}

// programRoutes are the routes of the lines of one program.
type programRoutes struct {
	program string
	routes  []route
}

// Router routes lines by program and holds the self-metrics.
type Router struct {
	// byLength holds the programs' routes by the length of the program's
	// name: a line's program is compared with the few names as long as
	// it, where a map hashed it (a map of more than eight keys hashes
	// every lookup), a cost per line larger than the routing itself.
	byLength [][]programRoutes
	// matched and unmatched are the collector_lines_total series of each
	// collector, by its index.
	matched, unmatched []prometheus.Counter
	flushers           []collectors.Flusher
	now                func() time.Time

	linesRead   *prometheus.CounterVec
	bytesRead   *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	collLines   *prometheus.CounterVec
	reopens     *prometheus.CounterVec
	truncations *prometheus.CounterVec
	lastLine    *prometheus.GaugeVec
	bytesBehind *prometheus.GaugeVec
	inputUp     *prometheus.GaugeVec
	metrics     collectors.Metrics
}

// NewRouter returns a router over the log collectors cs. now is the clock
// for the time of the last line read; nil means time.Now.
func NewRouter(cs []Named, now func() time.Time) *Router {
	if now == nil {
		now = time.Now
	}
	r := &Router{
		now: now,
		linesRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_lines_read_total",
			Help: "Lines read, by input path.",
		}, []string{"path"}),
		bytesRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_bytes_read_total",
			Help: "Bytes read, newlines included, by input path.",
		}, []string{"path"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_lines_skipped_total",
			Help: "Lines no collector saw, by input path and reason: unparsed (no known envelope), unclaimed (no enabled collector claims the program), too_long.",
		}, []string{"path", "reason"}),
		collLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_collector_lines_total",
			Help: "Lines handed to a collector, by collector and whether it recognised their shape (matched) or not (unmatched).",
		}, []string{"collector", "result"}),
		reopens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_reopens_total",
			Help: "Times a new file was opened at the input path after the first (rotation).",
		}, []string{"path"}),
		truncations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailtier_exporter_truncations_total",
			Help: "Times the file at the input path shrank and was read again from its start (copytruncate).",
		}, []string{"path"}),
		lastLine: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailtier_exporter_last_line_timestamp_seconds",
			Help: "Unix time at which the last line of the input was read; 0 before the first.",
		}, []string{"path"}),
		bytesBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailtier_exporter_bytes_behind",
			Help: "Bytes of the followed file not read yet: its size minus the offset read.",
		}, []string{"path"}),
		inputUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailtier_exporter_input_up",
			Help: "1 while the input is open and being read, 0 while its file is missing or after it failed.",
		}, []string{"path"}),
	}
	for i, n := range cs {
		rt := route{c: n.Collector, i: i}
		r.matched = append(r.matched, r.collLines.WithLabelValues(n.Name, "matched"))
		r.unmatched = append(r.unmatched, r.collLines.WithLabelValues(n.Name, "unmatched"))
		for _, p := range n.Collector.Programs() {
			r.addRoute(p, rt)
		}
		if f, ok := n.Collector.(collectors.Flusher); ok {
			r.flushers = append(r.flushers, f)
		}
	}
	r.metrics = collectors.Metrics{r.linesRead, r.bytesRead, r.skipped, r.collLines, r.reopens,
		r.truncations, r.lastLine, r.bytesBehind, r.inputUp}
	return r
}

// addRoute sends the lines of program p to rt too.
func (r *Router) addRoute(p string, rt route) {
	for len(r.byLength) <= len(p) {
		r.byLength = append(r.byLength, nil)
	}
	progs := r.byLength[len(p)]
	for i := range progs {
		if progs[i].program == p {
			progs[i].routes = append(progs[i].routes, rt)
			return
		}
	}
	r.byLength[len(p)] = append(progs, programRoutes{program: p, routes: []route{rt}})
}

// routes returns the routes of program p's lines.
func (r *Router) routes(p string) []route {
	if len(p) >= len(r.byLength) {
		return nil
	}
	progs := r.byLength[len(p)]
	for i := range progs {
		if progs[i].program == p {
			return progs[i].routes
		}
	}
	return nil
}

// Describe implements prometheus.Collector for the self-metrics.
func (r *Router) Describe(ch chan<- *prometheus.Desc) {
	r.metrics.Describe(ch)
}

// Collect implements prometheus.Collector for the self-metrics.
func (r *Router) Collect(ch chan<- prometheus.Metric) {
	r.metrics.Collect(ch)
}

// Flush asks every collector that holds lines back to decide on them.
func (r *Router) Flush() {
	for _, f := range r.flushers {
		f.Flush()
	}
}

// Input is one input path's handle on the router. It implements
// tailer.Handler. Its methods may be called from one goroutine at a time.
//
// Lines and bytes read, the collectors' matched and unmatched lines, the
// time of the last line and the offset read to are counted in plain
// fields and published at each checkpoint (after every read of the file),
// not per line: a read of 64 KiB costs one clock read and a few metric
// updates instead of hundreds, and no lock. So whoever looks in between
// (a scrape, Offset) sees the input as of its last checkpoint, its counts
// and its offset alike: the offset is never ahead of the lines counted.
// That one clock reading, taken at the first line after a checkpoint, is
// also the Arrived time of every Record of the batch, so no collector
// reads the clock per line.
type Input struct {
	r                            *Router
	lines, bytes                 prometheus.Counter
	unparsed, unclaimed, tooLong prometheus.Counter
	reopens, truncations         prometheus.Counter
	lastLine, behind, up         prometheus.Gauge
	opens                        int
	offset                       atomic.Int64 // published at each flush
	nlines                       atomic.Int64
	pendingLines, pendingBytes   int64 // read, not yet in lines and bytes
	pendingOffset                int64 // the offset after the last line read
	// pendingMatched and pendingUnmatched are the lines each collector
	// (by its index in the router) recognised or not since the last flush.
	pendingMatched, pendingUnmatched []int64
	rec                              logline.Record // the line being handled
	batchAt                          time.Time
	batchStamped                     bool // batchAt was read since the last flush
	onCheckpoint                     func(tailer.Position)
}

// Input returns the handle for the input named path, creating its series.
func (r *Router) Input(path string) *Input {
	in := &Input{
		r:           r,
		lines:       r.linesRead.WithLabelValues(path),
		bytes:       r.bytesRead.WithLabelValues(path),
		unparsed:    r.skipped.WithLabelValues(path, SkipUnparsed),
		unclaimed:   r.skipped.WithLabelValues(path, SkipUnclaimed),
		tooLong:     r.skipped.WithLabelValues(path, SkipTooLong),
		reopens:     r.reopens.WithLabelValues(path),
		truncations: r.truncations.WithLabelValues(path),
		lastLine:    r.lastLine.WithLabelValues(path),
		behind:      r.bytesBehind.WithLabelValues(path),
		up:          r.inputUp.WithLabelValues(path),

		pendingMatched:   make([]int64, len(r.matched)),
		pendingUnmatched: make([]int64, len(r.matched)),
	}
	return in
}

// OnCheckpoint sets a function given every checkpoint of the followed
// file, for saving positions.
func (in *Input) OnCheckpoint(f func(tailer.Position)) { in.onCheckpoint = f }

// Handle routes one line (without its newline) and counts it at once.
func (in *Input) Handle(line string) {
	in.handle(line, len(line)+1)
	in.flush()
}

// flush adds the lines and bytes read since the last flush, and the
// collectors' counts of them, to their series, and publishes the offset
// read to.
func (in *Input) flush() {
	if in.pendingLines == 0 && in.pendingBytes == 0 {
		return
	}
	for i, n := range in.pendingMatched {
		if n != 0 {
			in.r.matched[i].Add(float64(n))
			in.pendingMatched[i] = 0
		}
	}
	for i, n := range in.pendingUnmatched {
		if n != 0 {
			in.r.unmatched[i].Add(float64(n))
			in.pendingUnmatched[i] = 0
		}
	}
	in.offset.Store(in.pendingOffset)
	in.lines.Add(float64(in.pendingLines))
	in.nlines.Add(in.pendingLines)
	in.bytes.Add(float64(in.pendingBytes))
	in.lastLine.Set(float64(in.batchTime().UnixNano()) / 1e9)
	in.pendingLines, in.pendingBytes = 0, 0
	in.batchStamped = false
	// The record views the last line's bytes; let go of them.
	in.rec = logline.Record{}
}

// batchTime returns the time the lines since the last flush were read:
// the router's clock, read at the first call after a flush.
func (in *Input) batchTime() time.Time {
	if !in.batchStamped {
		in.batchAt, in.batchStamped = in.r.now(), true
	}
	return in.batchAt
}

// skipTooLong counts a line longer than MaxLineBytes that took n bytes.
func (in *Input) skipTooLong(n int64) {
	in.pendingLines++
	in.pendingBytes += n
	in.tooLong.Inc()
}

// handle routes one line that took n bytes of the input; it is counted
// at the next flush.
func (in *Input) handle(line string, n int) {
	in.pendingLines++
	in.pendingBytes += int64(n)
	if len(line) > MaxLineBytes {
		in.tooLong.Inc()
		return
	}
	// The record lives in the Input, not on the stack: handed to the
	// collectors through an interface, it would escape to the heap, one
	// allocation per line. It is parsed in place, not copied.
	if !in.rec.Parse(line) {
		in.unparsed.Inc()
		return
	}
	rec := &in.rec
	routes := in.r.routes(rec.Program)
	if len(routes) == 0 {
		in.unclaimed.Inc()
		return
	}
	rec.Arrived = in.batchTime()
	// rsyslog's "message repeated N times: [ … ]" stands for N lines
	// (logline bounds N): each collector is handed it N times.
	for n := 0; n < max(rec.Repeats, 1); n++ {
		for _, rt := range routes {
			if rt.c.Handle(rec) {
				in.pendingMatched[rt.i]++
			} else {
				in.pendingUnmatched[rt.i]++
			}
		}
	}
}

// Line implements tailer.Handler. text, and the Record the collectors
// are handed, alias the tailer's buffer: see collectors.LogCollector.
func (in *Input) Line(text string, end int64) {
	in.handle(text, len(text)+1)
	in.pendingOffset = end
}

// TooLong implements tailer.Handler.
func (in *Input) TooLong(n, end int64) {
	in.skipTooLong(n)
	in.pendingOffset = end
}

// Missing implements tailer.Handler.
func (in *Input) Missing() { in.up.Set(0) }

// Opened implements tailer.Handler.
func (in *Input) Opened(offset int64) {
	in.opens++
	reopened := in.opens > 1
	in.pendingOffset = offset
	in.offset.Store(offset)
	if reopened {
		in.reopens.Inc()
	}
	in.up.Set(1)
}

// Truncated implements tailer.Handler.
func (in *Input) Truncated() { in.truncations.Inc() }

// Checkpoint implements tailer.Handler.
func (in *Input) Checkpoint(c tailer.Checkpoint) {
	in.flush()
	behind := c.Size - c.Offset
	if behind < 0 {
		behind = 0
	}
	in.behind.Set(float64(behind))
	if in.onCheckpoint != nil {
		in.onCheckpoint(c.Position)
	}
}

// Lines returns how many lines this input has read.
func (in *Input) Lines() int64 { return in.nlines.Load() }

// Offset returns the offset after the last line read from a followed
// file, as of the last checkpoint.
func (in *Input) Offset() int64 { return in.offset.Load() }

// Failed marks the input as no longer read.
func (in *Input) Failed() { in.up.Set(0) }

// ReadAll reads r to its end, line by line, and routes every line
// without copying it: the Record the collectors are handed aliases the
// read buffer (see collectors.LogCollector). A
// final line without a newline is routed too. Lines longer than
// MaxLineBytes are counted as skipped without being held in memory whole.
// It reports the input up while reading, and down when reading failed;
// an input read to its end stays up: it was read successfully.
func (in *Input) ReadAll(r io.Reader) error {
	in.up.Set(1)
	sp := tailer.NewSplitter(MaxLineBytes, 0)
	for {
		_, err := sp.Fill(r)
		for {
			line, end, tooLong, ok := sp.Next()
			if !ok {
				break
			}
			if tooLong > 0 {
				in.skipTooLong(tooLong)
			} else {
				// No copy: collectors are done with the line
				// before the next Fill writes to the buffer.
				in.handle(tailer.LineString(line), len(line)+1)
			}
			in.pendingOffset = end
		}
		in.flush()
		if err == nil {
			continue
		}
		if line, tooLong := sp.Rest(); tooLong > 0 {
			in.skipTooLong(tooLong)
		} else if line != nil {
			in.handle(tailer.LineString(line), len(line))
		}
		in.flush()
		if errors.Is(err, io.EOF) {
			return nil
		}
		in.up.Set(0)
		return err
	}
}
