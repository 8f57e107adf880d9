// Package process reads the mail daemons' processes from procfs at scrape
// time: per daemon group, how many processes run, the open file
// descriptors and descriptor limit of the process closest to its limit,
// resident memory and CPU time.
//
// It sees the daemons only where it shares their PID namespace: beside
// them on one host, or in an ECS task with pidMode "task" (every
// container of the task in one PID namespace). Counting another user's
// open descriptors needs root or CAP_SYS_PTRACE; the rest of /proc/PID is
// readable by anyone.
package process

import "errors"
import "fmt"
import "log/slog"
import "os"
import "slices"
import "strings"
import "sync"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/procfs"

import "github.com/cabalmail/mailtier/collectors"

// Groups are the names a process group may have: the suite's daemons. A
// group's name is the prefix of its metrics.
var Groups = []string{"dovecot", "sendmail", "opendkim", "opendmarc", "procmail", "fail2ban", "rsyslog"}

// DefaultNames is the default of --collector.process.names.
const DefaultNames = "dovecot,sendmail/sm-mta,opendkim"

// Group is one configured group of processes.
type Group struct {
	// Name is one of Groups.
	Name string
	// Comms are the program names (/proc/PID/comm) of its processes; the
	// group's name is always one of them.
	Comms []string
}

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// Linux whatever the kernel's own tick (procfs assumes the same).
const userHZ = 100

// maxComm is the longest program name the kernel keeps (TASK_COMM_LEN-1).
const maxComm = 15

// ParseNames reads a --collector.process.names value: groups separated by
// commas, each "group[/comm[/comm…]]". The group is one of Groups; a
// process belongs to it when its program name (/proc/PID/comm) is the
// group's name or one of the comms listed, or when its command line's
// first word, up to its first "/" or ":", is the group's name (Dovecot
// titles its processes "dovecot/imap-login", sendmail "sendmail: MTA: …").
func ParseNames(s string) ([]Group, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no process group given")
	}
	var out []Group
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(item), "/")
		name := parts[0]
		if !slices.Contains(Groups, name) {
			return nil, fmt.Errorf("unknown process group %q; groups are %s", name, strings.Join(Groups, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("process group %q given twice", name)
		}
		seen[name] = true
		g := Group{Name: name, Comms: []string{name}}
		for _, comm := range parts[1:] {
			if comm == "" || len(comm) > maxComm || strings.ContainsAny(comm, " \t,") {
				return nil, fmt.Errorf("process group %s: program name %q must be 1 to %d characters, no space or comma (the kernel keeps %d)", name, comm, maxComm, maxComm)
			}
			if !slices.Contains(g.Comms, comm) {
				g.Comms = append(g.Comms, comm)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// namesValue is --collector.process.names: checked when the flag is parsed.
type namesValue struct {
	groups []Group
	text   string
}

func (v *namesValue) Set(s string) error {
	g, err := ParseNames(s)
	if err != nil {
		return err
	}
	v.groups, v.text = g, s
	return nil
}

func (v *namesValue) String() string { return v.text }

// Registration puts the collector behind --collector.process. It is off
// by default: outside the daemons' PID namespace it would report every
// daemon as not running.
var Registration = collectors.Registration{
	Name:    "process",
	Help:    "The mail daemons' processes from procfs (needs the daemons' PID namespace).",
	Enabled: false,
	// What the rest of the suite derives from the registry: no labels (a
	// group's name is its metrics' prefix). Terraform runs it where the
	// task shares its PID namespace.
	MetricPrefixes: []string{"mailtier_exporter_process_"},
	Tiers:          collectors.MailTiers,
	Flags: func(f collectors.CollectorFlags) collectors.Builder {
		names := &namesValue{}
		f.Flag("names", "Process groups, comma-separated: group[/comm…], group one of "+strings.Join(Groups, ", ")+"; a process joins a group when its comm is the group or a listed comm, or its command line starts with group/ or group:.", DefaultNames).SetValue(names)
		procPath := f.Flag("procfs", "Where procfs is mounted.", "/proc").String()
		return func(env collectors.Env) (prometheus.Collector, error) {
			return New(*procPath, names.groups, env.Logger)
		}
	},
}

// Collector reads the groups' processes at each scrape.
type Collector struct {
	procPath string
	groups   []groupState
	logger   *slog.Logger
	success  *prometheus.Desc

	mu        sync.Mutex // scrapes may overlap
	warnedFDs bool
}

type groupState struct {
	Group
	count, openFDs, maxFDs, rss *prometheus.Desc
	cpu                         *prometheus.Desc
	// cpuTicks is the CPU time of the group's processes seen so far, in
	// clock ticks: the sum of each live process's growth since it was
	// first seen, plus the CPU time it had then. It only grows.
	cpuTicks uint64
	// last is each live process's CPU ticks at the previous scrape, keyed
	// by PID and start time (a reused PID is another process). Processes
	// gone are dropped, so it holds at most the live processes.
	last map[procKey]uint64
}

type procKey struct {
	pid   int
	start uint64
}

// New returns a collector of groups, reading procfs at procPath.
func New(procPath string, groups []Group, logger *slog.Logger) (*Collector, error) {
	if len(groups) == 0 {
		return nil, errors.New("no process group given")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{
		procPath: procPath,
		logger:   logger,
		success: prometheus.NewDesc("mailtier_exporter_process_scrape_success",
			"Whether procfs could be read at this scrape (1) or not (0; the process metrics are then absent).", nil, nil),
	}
	for _, g := range groups {
		p := g.Name
		c.groups = append(c.groups, groupState{
			Group: g,
			count: prometheus.NewDesc(p+"_processes",
				"Processes of "+p+" running.", nil, nil),
			openFDs: prometheus.NewDesc(p+"_process_open_fds",
				"Open file descriptors of the "+p+" process closest to its limit (open/limit the highest); absent with no process.", nil, nil),
			maxFDs: prometheus.NewDesc(p+"_process_max_fds",
				"File descriptor limit (RLIMIT_NOFILE) of the "+p+" process closest to its limit; absent with no process.", nil, nil),
			rss: prometheus.NewDesc(p+"_process_resident_memory_bytes",
				"Resident memory of all "+p+" processes, summed.", nil, nil),
			cpu: prometheus.NewDesc(p+"_process_cpu_seconds_total",
				"User and system CPU time of the "+p+" processes seen; time used by a process that started and ended between two scrapes is missed.", nil, nil),
			last: map[procKey]uint64{},
		})
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.success
	for _, g := range c.groups {
		ch <- g.count
		ch <- g.openFDs
		ch <- g.maxFDs
		ch <- g.rss
		ch <- g.cpu
	}
}

// sample is what one scan found for a group.
type sample struct {
	count          int
	rss            float64
	openFDs        int
	maxFDs         uint64
	worst          float64 // openFDs/maxFDs of the process reported
	hasFDs         bool
	cpu            map[procKey]uint64
	fdsUnreadable  int
	firstFDsErrPID int
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	samples, err := c.scan()
	if err != nil {
		c.logger.Warn("cannot read procfs", "path", c.procPath, "err", err)
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, 1)
	for i := range c.groups {
		g := &c.groups[i]
		s := samples[i]
		if s.fdsUnreadable > 0 && !c.warnedFDs {
			c.warnedFDs = true
			c.logger.Warn("cannot count the open file descriptors of a process; the exporter needs root or CAP_SYS_PTRACE", "group", g.Name, "pid", s.firstFDsErrPID)
		}
		for k, cpu := range s.cpu {
			if prev, ok := g.last[k]; ok {
				if cpu > prev {
					g.cpuTicks += cpu - prev
				}
			} else {
				g.cpuTicks += cpu
			}
		}
		g.last = s.cpu
		ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(s.count))
		ch <- prometheus.MustNewConstMetric(g.rss, prometheus.GaugeValue, s.rss)
		ch <- prometheus.MustNewConstMetric(g.cpu, prometheus.CounterValue, float64(g.cpuTicks)/userHZ)
		if s.hasFDs {
			ch <- prometheus.MustNewConstMetric(g.openFDs, prometheus.GaugeValue, float64(s.openFDs))
			ch <- prometheus.MustNewConstMetric(g.maxFDs, prometheus.GaugeValue, float64(s.maxFDs))
		}
	}
}

// scan reads every process once and sorts it into the groups.
func (c *Collector) scan() ([]sample, error) {
	fs, err := procfs.NewFS(c.procPath)
	if err != nil {
		return nil, err
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return nil, err
	}
	samples := make([]sample, len(c.groups))
	for i := range samples {
		samples[i].cpu = map[procKey]uint64{}
	}
	for _, p := range procs {
		stat, err := p.Stat()
		if err != nil {
			continue // gone since the listing
		}
		i := c.groupOf(p, stat.Comm)
		if i < 0 {
			continue
		}
		s := &samples[i]
		s.count++
		s.rss += float64(stat.ResidentMemory())
		s.cpu[procKey{p.PID, stat.Starttime}] = uint64(stat.UTime) + uint64(stat.STime)
		limits, err := p.Limits()
		if err != nil {
			continue
		}
		open, err := p.FileDescriptorsLen()
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				if s.fdsUnreadable == 0 {
					s.firstFDsErrPID = p.PID
				}
				s.fdsUnreadable++
			}
			continue
		}
		ratio := 0.0
		if limits.OpenFiles > 0 {
			ratio = float64(open) / float64(limits.OpenFiles)
		}
		if !s.hasFDs || ratio > s.worst || (ratio == s.worst && open > s.openFDs) {
			s.hasFDs, s.worst, s.openFDs, s.maxFDs = true, ratio, open, limits.OpenFiles
		}
	}
	return samples, nil
}

// groupOf returns the index of the group p belongs to, or -1.
func (c *Collector) groupOf(p procfs.Proc, comm string) int {
	for i, g := range c.groups {
		if slices.Contains(g.Comms, comm) {
			return i
		}
	}
	cmdline, err := p.CmdLine()
	if err != nil || len(cmdline) == 0 {
		return -1
	}
	word, _, _ := strings.Cut(cmdline[0], " ")
	sep := strings.IndexAny(word, "/:")
	if sep <= 0 {
		return -1 // no title: a plain or absolute program path
	}
	for i, g := range c.groups {
		if word[:sep] == g.Name {
			return i
		}
	}
	return -1
}
