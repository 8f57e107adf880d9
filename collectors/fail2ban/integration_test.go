package fail2ban_test

import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/testenv"

// Debian 12's fail2ban 1.0.2.
const (
	serverBin = "/usr/bin/fail2ban-server"
	clientBin = "/usr/bin/fail2ban-client"
	filterDir = "/etc/fail2ban/filter.d"
)

// lab is a fail2ban configuration of its own: the stock dovecot filter on
// a log file of the test, an action that does nothing, a database file so
// bans survive a restart.
type lab struct {
	dir, conf, sock, pid, log, maillog string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.Integration(t)
	for _, f := range []string{serverBin, clientBin, filepath.Join(filterDir, "dovecot.conf"), filepath.Join(filterDir, "common.conf")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s not found: install Debian's fail2ban package (apt-get install fail2ban): %v", f, err)
		}
	}
	dir := testenv.ShortDir(t, "mtf2b")
	l := &lab{dir: dir, conf: filepath.Join(dir, "conf"), sock: filepath.Join(dir, "f2b.sock"), pid: filepath.Join(dir, "f2b.pid"),
		log: filepath.Join(dir, "fail2ban.log"), maillog: filepath.Join(dir, "maillog")}
	for _, d := range []string{"filter.d", "action.d"} {
		if err := os.MkdirAll(filepath.Join(l.conf, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"dovecot.conf", "common.conf"} {
		b, err := os.ReadFile(filepath.Join(filterDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l.conf, "filter.d", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"fail2ban.conf": fmt.Sprintf(`[Definition]
loglevel = INFO
logtarget = %s
syslogsocket = auto
allowipv6 = auto
socket = %s
pidfile = %s
dbfile = %s
dbpurgeage = 1d
`, l.log, l.sock, l.pid, filepath.Join(dir, "f2b.sqlite3")),
		"action.d/noop.conf": `[Definition]
actionstart =
actionstop =
actioncheck =
actionban =
actionunban =
`,
		"jail.conf": fmt.Sprintf(`[DEFAULT]
backend = polling
usedns = no
ignoreself = false
ignoreip =
bantime = 1h
findtime = 10m
maxretry = 3

[dovecot]
enabled = true
filter = dovecot
logpath = %s
action = noop
`, l.maillog),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(l.conf, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(l.maillog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// start runs fail2ban-server in the foreground and returns a function
// that stops it by its pid and waits for it.
func (l *lab) start(t *testing.T) (stop func()) {
	t.Helper()
	out, err := os.Create(filepath.Join(l.dir, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(serverBin, "-f", "-x", "-c", l.conf, "-s", l.sock, "-p", l.pid)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("fail2ban-server did not stop within 15 s of SIGTERM")
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			o, _ := os.ReadFile(filepath.Join(l.dir, "server.out"))
			log, _ := os.ReadFile(l.log)
			t.Logf("fail2ban-server output:\n%s\nfail2ban.log:\n%s", o, log)
		}
	})
	return stop
}

// logHas reports how many lines of fail2ban's log contain s.
func (l *lab) logHas(s string) int {
	b, _ := os.ReadFile(l.log)
	return strings.Count(string(b), s)
}

// status asks the running fail2ban for a jail's totals.
func (l *lab) status(t *testing.T, jail string) map[string]float64 {
	t.Helper()
	out, err := exec.Command(clientBin, "-c", l.conf, "-s", l.sock, "status", jail).CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-client status: %v\n%s", err, out)
	}
	field := regexp.MustCompile(`(Currently failed|Total failed|Currently banned|Total banned):\s*(\d+)`)
	st := map[string]float64{}
	for _, m := range field.FindAllStringSubmatch(string(out), -1) {
		st[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if len(st) != 4 {
		t.Fatalf("fail2ban-client status: %s", out)
	}
	return st
}

// collect replays fail2ban's log through the pipeline into a new collector.
func (l *lab) collect(t *testing.T) map[string]float64 {
	t.Helper()
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "fail2ban", Collector: c}}, nil)
	f, err := os.Open(l.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.Input(l.log).ReadAll(f); err != nil {
		t.Fatal(err)
	}
	if v := metrictest.Gather(t, r)["mailtier_exporter_collector_lines_total{collector=fail2ban,result=unmatched}"]; v != 0 {
		t.Errorf("%v lines of fail2ban's log not recognised", v)
	}
	return metrictest.Gather(t, c)
}

// TestRealFail2ban runs Debian's fail2ban with its stock dovecot filter on
// Dovecot's failed-login lines, and checks the collector against
// fail2ban-client's own status, then restarts fail2ban (the ban is
// restored from its database) and restarts the exporter (the banned set is
// rebuilt from the log).
func TestRealFail2ban(t *testing.T) {
	l := newLab(t)
	stop := l.start(t)
	testenv.WaitUntil(t, "the dovecot jail to start", 20*time.Second, func() bool { return l.logHas("Jail 'dovecot' started") > 0 })

	// Three failed logins from 127.0.0.2 (maxretry 3), as Dovecot logs them over syslog.
	f, err := os.OpenFile(l.maillog, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(f, "%s vm dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<carol>, method=PLAIN, rip=127.0.0.2, lip=127.0.0.1, session=<OzhFz/5gcYV/AAA%d>\n",
			time.Now().Format(time.Stamp), i)
	}
	f.Close()
	testenv.WaitUntil(t, "the ban", 20*time.Second, func() bool { return l.logHas("[dovecot] Ban 127.0.0.2") == 1 })

	st := l.status(t, "dovecot")
	got := l.collect(t)
	for k, v := range map[string]float64{
		"fail2ban_matches_total{jail=dovecot}":      st["Total failed"],
		"fail2ban_bans_total{jail=dovecot}":         st["Total banned"],
		"fail2ban_banned{jail=dovecot}":             st["Currently banned"],
		"fail2ban_unbans_total{jail=dovecot}":       0,
		"fail2ban_ban_restores_total{jail=dovecot}": 0,
	} {
		if got[k] != v {
			t.Errorf("before the restart: %s = %v, fail2ban says %v", k, got[k], v)
		}
	}
	if st["Currently banned"] != 1 || st["Total failed"] != 3 {
		t.Fatalf("fail2ban's status: %v", st)
	}

	// fail2ban restarts: on stop it unbans, on start it restores the ban
	// from its database.
	stop()
	l.start(t)
	testenv.WaitUntil(t, "the restored ban", 20*time.Second, func() bool { return l.logHas("[dovecot] Restore Ban 127.0.0.2") == 1 })
	st = l.status(t, "dovecot")
	if st["Currently banned"] != 1 {
		t.Fatalf("fail2ban's status after its restart: %v", st)
	}
	got = l.collect(t)
	for k, v := range map[string]float64{
		"fail2ban_bans_total{jail=dovecot}":         1, // the restore is not a new ban
		"fail2ban_ban_restores_total{jail=dovecot}": 1,
		"fail2ban_unbans_total{jail=dovecot}":       float64(l.logHas("[dovecot] Unban 127.0.0.2")),
		"fail2ban_banned{jail=dovecot}":             st["Currently banned"],
	} {
		if got[k] != v {
			t.Errorf("after fail2ban's restart: %s = %v, want %v", k, got[k], v)
		}
	}

	// The exporter restarts: counters start at zero, the banned gauge is
	// rebuilt from the log at once.
	restarted := metrictest.New(t, fail2ban.New, fail2ban.Config{LogPaths: []string{l.log}})
	check(t, restarted, map[string]float64{
		"fail2ban_banned{jail=dovecot}":             st["Currently banned"],
		"fail2ban_bans_total{jail=dovecot}":         0,
		"fail2ban_ban_restores_total{jail=dovecot}": 0,
	})
}
