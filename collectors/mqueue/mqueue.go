// Package mqueue reads sendmail's queue directories at scrape time: how
// many messages wait, how many are quarantined or lost, how many bytes
// they hold and how long the oldest has waited.
//
// It only lists directories and stats files, so read access through the
// queue directory's group is enough, no root: smmsp on Debian
// (smmta:smmsp 2750), mail on Amazon Linux 2023.
// The file names are sendmail's (op.me, "Queue file formats"): qf control
// file of a queued message, hf control file of a quarantined one, Qf a
// control file sendmail gave up on after a severe error ("lost"), df the
// message body, tf/xf transient files.
package mqueue

import "bufio"
import "errors"
import "io/fs"
import "log/slog"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"

// Registration puts the collector behind --collector.mqueue.
var Registration = collectors.Registration{
	Name:    "mqueue",
	Help:    "sendmail's queue directories, read at scrape time.",
	Enabled: true,
	// What the rest of the suite derives from the registry. Its one label,
	// queue, is a directory of its flags, not a value from a log.
	MetricPrefixes: []string{"sendmail_queue_", "mailtier_exporter_queue_"},
	Tiers:          collectors.MailTiers,
	Flags: func(f collectors.CollectorFlags) collectors.Builder {
		paths := f.Flag("path", "A sendmail queue directory to read (repeatable).", "/var/spool/mqueue").Strings()
		return func(env collectors.Env) (prometheus.Collector, error) {
			return New(*paths, env.Logger, env.Now), nil
		}
	},
}

var (
	messagesDesc = prometheus.NewDesc("sendmail_queue_messages",
		"Messages in the queue (qf control files).", []string{"queue"}, nil)
	quarantinedDesc = prometheus.NewDesc("sendmail_queue_quarantined_messages",
		"Quarantined messages in the queue (hf control files).", []string{"queue"}, nil)
	lostDesc = prometheus.NewDesc("sendmail_queue_lost_messages",
		"Control files sendmail set aside after a severe error (Qf files); each needs a person.", []string{"queue"}, nil)
	bytesDesc = prometheus.NewDesc("sendmail_queue_size_bytes",
		"Bytes of message bodies in the queue (df files).", []string{"queue"}, nil)
	oldestDesc = prometheus.NewDesc("sendmail_queue_oldest_message_age_seconds",
		"Age of the oldest queued message, from its reception; 0 when the queue is empty.", []string{"queue"}, nil)
	successDesc = prometheus.NewDesc("mailtier_exporter_queue_scrape_success",
		"Whether the queue directory could be read at this scrape (1) or not (0).", []string{"queue"}, nil)
)

// Collector reads queue directories.
type Collector struct {
	paths  []string
	logger *slog.Logger
	now    func() time.Time
}

// New returns a collector of the queue directories paths.
func New(paths []string, logger *slog.Logger, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{paths: paths, logger: logger, now: now}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{messagesDesc, quarantinedDesc, lostDesc, bytesDesc, oldestDesc, successDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.paths {
		st, err := Scan(p, c.now())
		if err != nil {
			c.logger.Warn("cannot read the sendmail queue", "queue", p, "err", err)
			ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, 0, p)
			continue
		}
		ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, 1, p)
		ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(st.Messages), p)
		ch <- prometheus.MustNewConstMetric(quarantinedDesc, prometheus.GaugeValue, float64(st.Quarantined), p)
		ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.GaugeValue, float64(st.Lost), p)
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.Bytes), p)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, st.OldestAge.Seconds(), p)
	}
}

// Stats is what one scan of a queue directory found.
type Stats struct {
	Messages    int
	Quarantined int
	Lost        int
	Bytes       int64
	OldestAge   time.Duration
}

// Scan reads the queue directory dir. When dir has qf/, df/ or xf/
// subdirectories, sendmail keeps those files there, and Scan reads them.
func Scan(dir string, now time.Time) (Stats, error) {
	var st Stats
	fi, err := os.Stat(dir)
	if err != nil {
		return st, err
	}
	if !fi.IsDir() {
		return st, errors.New("not a directory")
	}
	qfDir, dfDir := dir, dir
	if isDir(filepath.Join(dir, "qf")) {
		qfDir = filepath.Join(dir, "qf")
	}
	if isDir(filepath.Join(dir, "df")) {
		dfDir = filepath.Join(dir, "df")
	}
	// Reception time of each message: its df file's modification time,
	// since sendmail writes the body once and rewrites only the qf file.
	received := map[string]time.Time{}
	scanDir := func(d string, want func(name string, e fs.DirEntry)) error {
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && len(e.Name()) > 2 {
				want(e.Name(), e)
			}
		}
		return nil
	}
	var queued []string
	err = scanDir(qfDir, func(name string, e fs.DirEntry) {
		switch name[:2] {
		case "qf":
			st.Messages++
			queued = append(queued, name[2:])
		case "hf":
			st.Quarantined++
		case "Qf":
			st.Lost++
		}
	})
	if err != nil {
		return st, err
	}
	err = scanDir(dfDir, func(name string, e fs.DirEntry) {
		if name[:2] != "df" {
			return
		}
		info, err := e.Info()
		if err != nil {
			// Delivered and removed between the listing and the stat.
			return
		}
		st.Bytes += info.Size()
		received[name[2:]] = info.ModTime()
	})
	if err != nil {
		return st, err
	}
	var oldest time.Time
	for _, id := range queued {
		t, ok := received[id]
		if !ok {
			// No body file (yet): the control file's T line says when the
			// message was created.
			if t, ok = creationTime(filepath.Join(qfDir, "qf"+id)); !ok {
				continue
			}
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if !oldest.IsZero() && now.After(oldest) {
		st.OldestAge = now.Sub(oldest).Truncate(time.Second)
	}
	return st, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// creationTime reads the T (creation time, seconds since the epoch) line
// of a qf file.
func creationTime(qf string) (time.Time, bool) {
	f, err := os.Open(qf)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan() && n < 64; n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "T") {
			if secs, err := strconv.ParseInt(line[1:], 10, 64); err == nil {
				return time.Unix(secs, 0), true
			}
		}
	}
	return time.Time{}, false
}
