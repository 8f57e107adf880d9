package dovecot

import "context"
import "errors"
import "fmt"
import "io"
import "math"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/prometheus/client_golang/prometheus"

// The Dovecot stats passthrough reads the OpenMetrics text that Dovecot
// 2.3's stats process serves (service stats { inet_listener http }) for the
// metric blocks of docker/mail/dovecot/95-stats.conf, and serves them under
// names of its own. It keeps nothing else: not dovecot_build_info (typed
// "info", which classic text parsers refuse), not the per-level duplicates a
// group_by makes, not metrics it does not know, so its series stay a
// closed set whatever Dovecot is configured to export.

// DurationBuckets are the le values of the passed-through histograms, in
// seconds: Dovecot's group_by = duration:exponential:10:24:2, i.e. powers
// of two from 2^10 to 2^24 microseconds. Dovecot 2.3.14 and later write
// them in seconds with six decimals ("0.001024" … "16.777216").
var DurationBuckets = func() []float64 {
	var b []float64
	for e := 10; e <= 24; e++ {
		b = append(b, float64(int64(1)<<e)/1e6)
	}
	return b
}()

// MaxStatsBytes bounds the body read from Dovecot's stats listener.
const MaxStatsBytes = 8 << 20

var (
	imapCommandDesc = prometheus.NewDesc("dovecot_imap_command_duration_seconds",
		"IMAP commands the imap processes finished (IDLE excluded), by duration, from Dovecot's stats (metric imap_command).", nil, nil)
	deliveryDurationDesc = prometheus.NewDesc("dovecot_stats_delivery_duration_seconds",
		"Deliveries by dovecot-lda and LMTP, saved or failed, by duration, from Dovecot's stats (metric mail_delivery).", nil, nil)
	authSuccessDesc = prometheus.NewDesc("dovecot_stats_auth_successes_total",
		"Authentications the auth process granted, every protocol, from Dovecot's stats (metric auth_success).", nil, nil)
	authFailureDesc = prometheus.NewDesc("dovecot_stats_auth_failures_total",
		"Authentications the auth process refused, every protocol, from Dovecot's stats (metric auth_failure).", nil, nil)
	statsStartDesc = prometheus.NewDesc("dovecot_stats_start_time_seconds",
		"Unix time Dovecot's stats process started; its counters start from zero then (dovecot reload included).", nil, nil)
	statsSuccessDesc = prometheus.NewDesc("mailtier_exporter_dovecot_stats_scrape_success",
		"Whether Dovecot's stats listener (--collector.dovecot.stats-url) answered at this scrape (1) or not (0).", nil, nil)
)

// statsDescs are the descriptors of the passthrough.
var statsDescs = []*prometheus.Desc{imapCommandDesc, deliveryDurationDesc, authSuccessDesc, authFailureDesc, statsStartDesc, statsSuccessDesc}

// statsSample is one sample of the exposition: its labels other than le,
// in the order written, le apart.
type statsSample struct {
	labels string // the label pairs other than le, as written
	depth  int    // how many labels other than le
	le     string
	value  float64
}

// statsWanted are the sample names the passthrough reads.
var statsWanted = map[string]bool{
	"dovecot_imap_command_bucket": true, "dovecot_imap_command_sum": true, "dovecot_imap_command_count": true,
	"dovecot_mail_delivery_bucket": true, "dovecot_mail_delivery_sum": true, "dovecot_mail_delivery_count": true,
	"dovecot_auth_success_total": true, "dovecot_auth_success_count": true,
	"dovecot_auth_failure_total": true, "dovecot_auth_failure_count": true,
	"process_start_time_seconds": true,
}

// maxSamplesPerName bounds what is kept of one sample name (a group_by on
// an unbounded field could export any number of series).
const maxSamplesPerName = 100000

// parseStats reads an OpenMetrics (or classic) text exposition and keeps
// the samples whose names are in statsWanted. Comment lines (# TYPE, # HELP,
// # EOF) are skipped, so types classic parsers refuse do not matter.
func parseStats(body string) (map[string][]statsSample, error) {
	out := map[string][]statsSample{}
	for lineNo := 1; body != ""; lineNo++ {
		line := body
		if i := strings.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = ""
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		name, s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if !statsWanted[name] || len(out[name]) >= maxSamplesPerName {
			continue
		}
		out[name] = append(out[name], s)
	}
	return out, nil
}

// parseSample reads `name{a="b",le="0.1"} value [timestamp]`.
func parseSample(line string) (string, statsSample, error) {
	var s statsSample
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' {
		i++
	}
	name := line[:i]
	if name == "" {
		return "", s, errors.New("no metric name")
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		var labels []string
		j := 1
		for {
			for j < len(rest) && (rest[j] == ',' || rest[j] == ' ') {
				j++
			}
			if j >= len(rest) {
				return "", s, errors.New("unterminated label set")
			}
			if rest[j] == '}' {
				j++
				break
			}
			eq := strings.IndexByte(rest[j:], '=')
			if eq <= 0 || j+eq+1 >= len(rest) || rest[j+eq+1] != '"' {
				return "", s, errors.New("malformed label")
			}
			lname := rest[j : j+eq]
			k := j + eq + 2
			start := k
			for k < len(rest) && rest[k] != '"' {
				if rest[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(rest) {
				return "", s, errors.New("unterminated label value")
			}
			if lname == "le" {
				s.le = rest[start:k]
			} else {
				labels = append(labels, rest[j:k+1])
			}
			j = k + 1
		}
		s.labels = strings.Join(labels, ",")
		s.depth = len(labels)
		rest = rest[j:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", s, errors.New("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", s, fmt.Errorf("value %q: %w", fields[0], err)
	}
	s.value = v
	return name, s, nil
}

// counterValue is a Dovecot counter's total: the sample without labels
// (<name>_total, or <name>_count when a group_by made labelled levels),
// else the sum of the most-labelled level. ok is false when the metric is
// absent.
func counterValue(samples map[string][]statsSample, name string) (float64, bool) {
	for _, suffix := range []string{"_total", "_count"} {
		for _, s := range samples[name+suffix] {
			if s.depth == 0 {
				return s.value, true
			}
		}
	}
	ss := samples[name+"_total"]
	if len(ss) == 0 {
		return 0, false
	}
	return sumDeepest(ss), true
}

// deepest returns the greatest number of labels among ss.
func deepest(ss []statsSample) int {
	d := 0
	for _, s := range ss {
		d = max(d, s.depth)
	}
	return d
}

func sumDeepest(ss []statsSample) float64 {
	d := deepest(ss)
	var sum float64
	for _, s := range ss {
		if s.depth == d {
			sum += s.value
		}
	}
	return sum
}

// histogram folds Dovecot's histogram <name>_bucket/_sum/_count into one
// histogram without labels. Dovecot exports only the last group_by level
// of a histogram, so the most-labelled series are summed (any grouping
// by command, reply, …); a series without labels, when there is one, is
// the total on its own. Buckets whose le is not in DurationBuckets are left
// out: the cumulative counts of the others stay right. The count is the
// +Inf bucket (Dovecot omits _sum and _count while a histogram is empty).
func histogram(samples map[string][]statsSample, name string) (count uint64, sum float64, buckets map[float64]uint64, ok bool) {
	bs := samples[name+"_bucket"]
	if len(bs) == 0 {
		return 0, 0, nil, false
	}
	depth := deepest(bs)
	for _, s := range bs {
		if s.depth == 0 {
			depth = 0
			break
		}
	}
	buckets = map[float64]uint64{}
	var inf float64
	hasInf := false
	for _, s := range bs {
		if s.depth != depth {
			continue
		}
		if s.le == "+Inf" {
			inf += s.value
			hasInf = true
			continue
		}
		le, err := strconv.ParseFloat(s.le, 64)
		if err != nil {
			continue
		}
		if b, ok := knownBucket(le); ok {
			buckets[b] += uint64(s.value)
		}
	}
	var counted float64
	for _, s := range samples[name+"_sum"] {
		if s.depth == depth {
			sum += s.value
		}
	}
	for _, s := range samples[name+"_count"] {
		if s.depth == depth {
			counted += s.value
		}
	}
	if !hasInf {
		inf = counted
	}
	return uint64(inf), sum, buckets, true
}

// knownBucket returns the DurationBuckets bound equal to le (written with
// six decimals by Dovecot).
func knownBucket(le float64) (float64, bool) {
	for _, b := range DurationBuckets {
		if math.Abs(le-b) < 5e-7 {
			return b, true
		}
	}
	return 0, false
}

// statsScraper reads Dovecot's stats listener.
type statsScraper struct {
	url     string
	timeout time.Duration
	client  *http.Client
}

// fetch gets the exposition.
func (s *statsScraper) fetch(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxStatsBytes+1))
	if err != nil {
		return "", err
	}
	if len(body) > MaxStatsBytes {
		return "", fmt.Errorf("response larger than %d bytes", MaxStatsBytes)
	}
	return string(body), nil
}

// collectStats sends the passthrough's metrics and returns the error of
// the scrape, if any; the success gauge is sent either way.
func collectStats(ch chan<- prometheus.Metric, body string, fetchErr error) error {
	if fetchErr != nil {
		ch <- prometheus.MustNewConstMetric(statsSuccessDesc, prometheus.GaugeValue, 0)
		return fetchErr
	}
	samples, err := parseStats(body)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(statsSuccessDesc, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(statsSuccessDesc, prometheus.GaugeValue, 1)
	for _, h := range []struct {
		name string
		desc *prometheus.Desc
	}{{"dovecot_imap_command", imapCommandDesc}, {"dovecot_mail_delivery", deliveryDurationDesc}} {
		if count, sum, buckets, ok := histogram(samples, h.name); ok {
			ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, buckets)
		}
	}
	for _, c := range []struct {
		name string
		desc *prometheus.Desc
	}{{"dovecot_auth_success", authSuccessDesc}, {"dovecot_auth_failure", authFailureDesc}} {
		if v, ok := counterValue(samples, c.name); ok {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, v)
		}
	}
	for _, s := range samples["process_start_time_seconds"] {
		if s.depth == 0 {
			ch <- prometheus.MustNewConstMetric(statsStartDesc, prometheus.GaugeValue, s.value)
			break
		}
	}
	return nil
}
