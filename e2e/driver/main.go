// Command driver drives and judges mailtier's end-to-end suite. e2e/run.sh
// runs it in the suite's namespaces once the daemons and the exporter are
// up.
//
// It drives a known mix of traffic through real sendmail, Dovecot,
// OpenDKIM and fail2ban, in four phases: the first with the clients that
// fail2ban bans, the others each with a rotation of the mail log in their
// middle (a rename with a late HUP, the shipped logrotate configuration,
// a copytruncate). What the exporter must show is built from the driver's
// own actions and the servers' replies, never from a log. At the end it
// scrapes the exporter, prints one PASS or FAIL line per assertion and
// exits 1 on any failure.
package main

import "bufio"
import "flag"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "sync"
import "sync/atomic"
import "time"

type suite struct {
	dir      string // the run's directory (e2e/run.sh)
	metrics  string // the exporter's /metrics
	sendmail string // sendmail binary, for the queue run

	maillog, f2blog, mqueue string

	x    *expected
	sink *sink

	mu        sync.Mutex
	anomalies []string // an unexpected reply, a step that did not happen
	midRun    []check  // assertions made during the run

	lastScrape []byte // the text of the last scrape, kept in the log directory
}

func main() {
	s := &suite{x: newExpected()}
	flag.StringVar(&s.dir, "dir", "/var/lib/mailtier-e2e", "the run's directory: configuration, logs, queue")
	flag.StringVar(&s.metrics, "metrics", "http://127.0.0.1:9469/metrics", "the exporter's metrics URL")
	flag.StringVar(&s.sendmail, "sendmail", "", "the sendmail binary (for the queue run)")
	flag.Parse()
	s.maillog = filepath.Join(s.dir, "log/mail/maillog")
	s.f2blog = filepath.Join(s.dir, "log/fail2ban.log")
	s.mqueue = filepath.Join(s.dir, "mqueue")
	os.Exit(s.run())
}

func (s *suite) logf(format string, a ...any) {
	fmt.Printf("[driver %s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (s *suite) anomaly(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	s.mu.Lock()
	s.anomalies = append(s.anomalies, msg)
	s.mu.Unlock()
	s.logf("ANOMALY %s", msg)
}

func (s *suite) run() int {
	start := time.Now()
	var err error
	if s.sink, err = startSink(); err != nil {
		s.anomaly("SMTP sink: %v", err)
		return 1
	}
	if err := poll(30*time.Second, "the exporter's /metrics", func() (bool, error) {
		_, err := scrape(s.metrics)
		return err == nil, nil
	}); err != nil {
		s.anomaly("%v", err)
		return 1
	}

	// Phase 1: the ordinary mix, and the clients fail2ban matches and bans.
	// None of fail2ban's matches happen later: its polling backend may miss
	// lines across a rotation, which is fail2ban's business, not the
	// exporter's.
	phase1 := mix()
	phase1 = append(phase1, repeat(5, relayProbe)...)
	phase1 = append(phase1, repeat(2, func(i int) action { return imapBadLogin(i, "127.0.0.2", false) })...)
	phase1 = append(phase1, repeat(2, vrfy)...)
	phase1 = append(phase1, repeat(2, pregreet)...)
	s.phase("1 (fail2ban)", phase1, nil)
	s.fail2ban()

	s.phase("2 (rename, late HUP)", mix(), func() error { return renameRotation(s.maillog, s.nudge) })
	s.phase("3 (logrotate)", mix(), func() error {
		return logrotate(filepath.Join(s.dir, "root/etc/logrotate.d/mailtier-maillog"),
			filepath.Join(s.dir, "lib/logrotate.status"), s.maillog, s.nudge)
	})
	s.phase("4 (copytruncate)", mix(), func() error { return copyTruncate(s.maillog, s.bytesRead) })

	// One queue run: every deferred message is tried, and deferred, again.
	s.waitIdle()
	cf := filepath.Join(s.dir, "etc/mail/sendmail.cf")
	if out, err := exec.Command(s.sendmail, "-C", cf, "-L", "sm-mta", "-q").CombinedOutput(); err != nil {
		s.anomaly("queue run: %v: %s", err, out)
	} else {
		for range int(s.x.noted("queued")) {
			deferred(s.x)
		}
	}
	s.waitIdle()
	// With no other client connected: IMAP sessions held open, against
	// Dovecot's anvil count.
	s.sessions()
	s.logf("traffic done in %s", time.Since(start).Round(time.Second))

	checks := s.verdict()
	failed := 0
	for _, c := range checks {
		if !c.ok() {
			failed++
		}
	}
	s.logf("e2e: %d assertions, %d failed; %d anomalies; %s",
		len(checks), failed, len(s.anomalies), time.Since(start).Round(time.Second))
	if failed > 0 || len(s.anomalies) > 0 {
		for _, a := range s.anomalies {
			fmt.Println("ANOMALY", a)
		}
		fmt.Println("e2e: FAIL")
		return 1
	}
	fmt.Println("e2e: PASS")
	return 0
}

// phase runs actions, three at a time, and runs during (a rotation) in
// the middle of them: once a third are done, while the rest go on.
func (s *suite) phase(name string, actions []action, during func() error) {
	t := time.Now()
	s.logf("phase %s: %s", name, describe(actions))
	third := make(chan struct{})
	var finished atomic.Int64
	if len(actions)/3 == 0 {
		close(third)
	}
	work := make(chan action)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				s.do(a)
				if finished.Add(1) == int64(len(actions)/3) {
					close(third)
				}
			}
		}()
	}
	if during != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-third
			if err := during(); err != nil {
				s.anomaly("phase %s: %v", name, err)
			} else {
				s.logf("phase %s: rotation done", name)
			}
		}()
	}
	for _, a := range actions {
		work <- a
	}
	close(work)
	wg.Wait()
	s.logf("phase %s: %d actions in %s", name, len(actions), time.Since(t).Round(time.Millisecond))
}

// do runs an action and, when every reply was the expected one, adds what
// it causes to the expected metrics.
func (s *suite) do(a action) {
	if err := a.run(); err != nil {
		s.anomaly("%s: %v", a.name, err)
		return
	}
	a.then(s.x)
}

// nudge is traffic for a rotation that waits for lines to be written: one
// more message accepted and delivered.
func (s *suite) nudge() { s.do(repeat(1, inboundOK)[0]) }

// --- fail2ban ---------------------------------------------------------------

var jails = []string{"dovecot", "sendmail-reject"}

// jailStatus is what fail2ban-client says of a jail: its own counts.
type jailStatus struct{ totalFailed, banned, totalBanned int }

var (
	totalFailedRE = regexp.MustCompile(`Total failed:\s*(\d+)`)
	bannedRE      = regexp.MustCompile(`Currently banned:\s*(\d+)`)
	totalBannedRE = regexp.MustCompile(`Total banned:\s*(\d+)`)
)

func jailState(jail string) (jailStatus, error) {
	out, err := exec.Command("fail2ban-client", "status", jail).CombinedOutput()
	if err != nil {
		return jailStatus{}, fmt.Errorf("fail2ban-client status %s: %v: %s", jail, err, out)
	}
	num := func(re *regexp.Regexp) int {
		m := re.FindSubmatch(out)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return jailStatus{num(totalFailedRE), num(bannedRE), num(totalBannedRE)}, nil
}

// fail2ban waits, through fail2ban-client, for each jail's ban; checks
// that the exporter shows the client banned while it is; waits for the
// unban, and for fail2ban to have matched every line the driver expects.
func (s *suite) fail2ban() {
	for _, jail := range jails {
		err := poll(60*time.Second, "fail2ban banning in jail "+jail, func() (bool, error) {
			st, err := jailState(jail)
			return st.totalBanned >= 1, err
		})
		if err != nil {
			s.anomaly("%v", err)
			continue
		}
		c := check{series: series("fail2ban_banned", "jail", jail) + " while banned", want: 1}
		_ = poll(10*time.Second, "", func() (bool, error) {
			got, err := scrape(s.metrics)
			if err != nil {
				return false, nil
			}
			c.got, c.present = got[series("fail2ban_banned", "jail", jail)]
			st, _ := jailState(jail)
			return c.ok() || st.banned == 0, nil
		})
		s.midRun = append(s.midRun, c)
	}
	for _, jail := range jails {
		want := s.x.get(series("fail2ban_matches_total", "jail", jail))
		err := poll(60*time.Second, "fail2ban unbanning and its matches in jail "+jail, func() (bool, error) {
			st, err := jailState(jail)
			return st.banned == 0 && st.totalBanned == 1 && float64(st.totalFailed) == want, err
		})
		if err != nil {
			st, _ := jailState(jail)
			s.anomaly("%v (fail2ban-client: %+v, matches expected %v)", err, st, want)
			continue
		}
		s.x.add(1, "fail2ban_bans_total", "jail", jail)
		s.x.add(1, "fail2ban_unbans_total", "jail", jail)
		s.x.set(0, "fail2ban_banned", "jail", jail)
	}
}

// --- settling ---------------------------------------------------------------

// waitIdle waits until sendmail has no process but its daemon (no session,
// no delivery) and no dovecot-lda runs: the mail has gone where it goes.
func (s *suite) waitIdle() {
	exe, err := filepath.EvalSymlinks(s.sendmail)
	if err != nil {
		s.anomaly("sendmail binary: %v", err)
		return
	}
	daemon := firstLine("/run/sendmail/mta/sendmail.pid")
	err = poll(60*time.Second, "sendmail and dovecot-lda to be idle", func() (bool, error) {
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range procs {
			target, err := os.Readlink(p)
			if err != nil {
				continue
			}
			pid := strings.Split(p, "/")[2]
			if (target == exe && pid != daemon) || target == "/usr/lib/dovecot/dovecot-lda" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		s.anomaly("%v", err)
	}
}

func firstLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return strings.TrimSpace(sc.Text())
}

func (s *suite) bytesRead() (float64, error) {
	got, err := scrape(s.metrics)
	if err != nil {
		return 0, err
	}
	return got[series("mailtier_exporter_bytes_read_total", "path", s.maillog)], nil
}

// oldestBody is the modification time of the oldest df file in the queue.
func oldestBody(dir string) (time.Time, bool) {
	var oldest time.Time
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "df") {
			if oldest.IsZero() || fi.ModTime().Before(oldest) {
				oldest = fi.ModTime()
			}
		}
	}
	return oldest, !oldest.IsZero()
}

// queueFiles counts the queue's qf files and the bytes of its df files.
func queueFiles(dir string) (qf int, dfBytes int64) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "qf"):
			qf++
		case strings.HasPrefix(e.Name(), "df"):
			if fi, err := e.Info(); err == nil {
				dfBytes += fi.Size()
			}
		}
	}
	return qf, dfBytes
}

// --- the verdict ------------------------------------------------------------

// exact are the families compared series by series: any series the
// exporter shows that the driver did not cause must be 0.
var exact = []string{
	"sendmail_messages_received_total", "sendmail_deliveries_total",
	"sendmail_delivery_delay_seconds_count", "sendmail_delivery_xdelay_seconds_count",
	"sendmail_deferrals_total", "sendmail_rejects_total", "sendmail_connections_lost_total",
	"sendmail_sessions_without_mail_total", "sendmail_starttls_total", "sendmail_dsns_total",
	"sendmail_auth_total",
	"sendmail_queue_messages", "sendmail_queue_quarantined_messages", "sendmail_queue_lost_messages",
	"sendmail_queue_size_bytes", "mailtier_exporter_queue_scrape_success",
	"dovecot_logins_total", "dovecot_login_failures_total", "dovecot_deliveries_total",
	"dovecot_submission_relays_total", "dovecot_auth_failures_total",
	"opendkim_messages_signed_total", "opendkim_sign_failures_total", "opendkim_messages_not_signed_total",
	"fail2ban_bans_total", "fail2ban_unbans_total", "fail2ban_matches_total", "fail2ban_banned",
	"mailtier_exporter_lines_read_total", "mailtier_exporter_bytes_read_total",
	"mailtier_exporter_lines_skipped_total", "mailtier_exporter_reopens_total",
	"mailtier_exporter_truncations_total", "mailtier_exporter_input_up",
	"mailtier_exporter_sendmail_messages_undecided", "mailtier_exporter_bytes_behind",
	"dovecot_stats_auth_successes_total", "dovecot_stats_auth_failures_total",
	"dovecot_stats_delivery_duration_seconds_count", "mailtier_exporter_dovecot_stats_scrape_success",
	"dovecot_imap_command_duration_seconds_count",
	"opendkim_verifications_total", "opendkim_probe_success", "fail2ban_ban_restores_total",
	"sendmail_processes", "opendkim_processes", "fail2ban_processes", "rsyslog_processes",
	"mailtier_exporter_process_scrape_success",
	"dovecot_sessions", "mailtier_exporter_dovecot_anvil_scrape_success",
}

// collectorPrograms are the syslog programs each log collector reads.
var collectorPrograms = map[string][]string{
	"sendmail": {"sm-mta", "sendmail", "sm-msp-queue"},
	"dovecot":  {"dovecot"},
	"opendkim": {"opendkim"},
}

// verdict waits for the exporter to show what the driver expects (the
// daemons log some lines after their reply to the client), for at most a
// minute, and for the logs to be quiet for a second; then it prints every
// assertion from one last scrape.
func (s *suite) verdict() []check {
	var checks []check
	var quietSince time.Time
	var lastSizes string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		checks, err = s.assertions()
		allOK := err == nil
		for _, c := range checks {
			allOK = allOK && c.ok()
		}
		sizes := fmt.Sprint(size(s.maillog), size(s.f2blog))
		if sizes != lastSizes {
			lastSizes, quietSince = sizes, time.Now()
		}
		if (allOK && time.Since(quietSince) >= time.Second) || time.Now().After(deadline) {
			if err != nil {
				s.anomaly("final scrape: %v", err)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "log/metrics.txt"), s.lastScrape, 0o644); err != nil {
		s.anomaly("%v", err)
	}
	checks = append(s.midRun, checks...)
	for _, c := range checks {
		switch {
		case c.ok():
			fmt.Printf("PASS %s = %s\n", c.series, fmtValue(c.got))
		case !c.present:
			fmt.Printf("FAIL %s absent, want %s\n", c.series, c.wanted())
		default:
			fmt.Printf("FAIL %s = %s, want %s\n", c.series, fmtValue(c.got), c.wanted())
		}
	}
	return checks
}

// assertions compares one scrape with everything expected.
func (s *suite) assertions() ([]check, error) {
	before := time.Now()
	got, text, err := scrapeText(s.metrics)
	if err != nil {
		return nil, err
	}
	after := time.Now()
	s.lastScrape = text
	x := s.x
	// the exporter's reading of its inputs, against the files themselves
	ml, err := generationsOf(s.maillog)
	if err != nil {
		return nil, err
	}
	mlLines, err := countLines(ml)
	if err != nil {
		return nil, err
	}
	f2bLines, err := countLines([]string{s.f2blog})
	if err != nil {
		return nil, err
	}
	for _, in := range []struct {
		path                 string
		n                    logLines
		reopens, truncations float64
	}{{s.maillog, mlLines, 2, 1}, {s.f2blog, f2bLines, 0, 0}} {
		x.set(float64(in.n.lines), "mailtier_exporter_lines_read_total", "path", in.path)
		x.set(float64(in.n.bytes), "mailtier_exporter_bytes_read_total", "path", in.path)
		x.set(in.reopens, "mailtier_exporter_reopens_total", "path", in.path)
		x.set(in.truncations, "mailtier_exporter_truncations_total", "path", in.path)
		x.set(1, "mailtier_exporter_input_up", "path", in.path)
		x.set(0, "mailtier_exporter_bytes_behind", "path", in.path)
	}
	x.set(0, "mailtier_exporter_sendmail_messages_undecided")
	x.set(1, "mailtier_exporter_dovecot_stats_scrape_success")
	// anvil: every client has gone, so every service's dovecot_sessions is
	// 0 (the exact family's default)
	x.set(1, "mailtier_exporter_dovecot_anvil_scrape_success")
	x.set(1, "opendkim_probe_success")
	// the daemons, idle: each one process (Dovecot's count depends on
	// which of its services happen to linger, so it is not asserted)
	for _, d := range []string{"sendmail", "opendkim", "fail2ban", "rsyslog"} {
		x.set(1, d+"_processes")
	}
	x.set(1, "mailtier_exporter_process_scrape_success")
	// the queue, against the files in it
	qf, dfBytes := queueFiles(s.mqueue)
	x.set(x.noted("queued"), "sendmail_queue_messages", "queue", s.mqueue)
	x.set(float64(dfBytes), "sendmail_queue_size_bytes", "queue", s.mqueue)
	x.set(1, "mailtier_exporter_queue_scrape_success", "queue", s.mqueue)
	checks := x.compare(got, exact)
	// the age of the oldest queued message: the clock at the scrape, read
	// from its body file's time, in whole seconds
	if oldest, ok := oldestBody(s.mqueue); ok {
		age := series("sendmail_queue_oldest_message_age_seconds", "queue", s.mqueue)
		v, present := got[age]
		checks = append(checks, check{series: age, got: v, present: present, ranged: true,
			want: before.Sub(oldest).Truncate(time.Second).Seconds(),
			upTo: after.Sub(oldest).Truncate(time.Second).Seconds()})
	}

	// every line of a collector's programs reached it once
	byCollector := map[string]int{"fail2ban": f2bLines.lines}
	for c, progs := range collectorPrograms {
		for _, p := range progs {
			byCollector[c] += mlLines.byProgram[p]
		}
	}
	// and each one knew every line's shape
	for _, c := range []string{"sendmail", "dovecot", "opendkim", "fail2ban"} {
		matched := series("mailtier_exporter_collector_lines_total", "collector", c, "result", "matched")
		unmatched := series("mailtier_exporter_collector_lines_total", "collector", c, "result", "unmatched")
		m, ok1 := got[matched]
		u, ok2 := got[unmatched]
		checks = append(checks,
			check{series: matched, want: float64(byCollector[c]), got: m, present: ok1},
			check{series: unmatched, want: 0, got: u, present: ok2})
	}

	// what the driver observes without a log
	msgs, bounces, signed := s.sink.counts()
	for _, o := range []struct {
		name, note string
		got        int
	}{
		{"sink: messages received", "sink messages", msgs},
		{"sink: DSNs received", "sink bounces", bounces},
		{"sink: messages with a DKIM-Signature", "sink signed", signed},
		{"queue: qf files", "queued", qf},
	} {
		checks = append(checks, check{series: o.name, want: x.noted(o.note), got: float64(o.got), present: true})
	}
	return checks, nil
}
