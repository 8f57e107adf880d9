package dovecot_test

import "bufio"
import "fmt"
import "net"
import "os"
import "os/exec"
import "os/user"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/testenv"

// The Dovecot of Debian 12 (2.3.19) that the integration test runs.
const (
	dovecotBin = "/usr/sbin/dovecot"
	imapBin    = "/usr/lib/dovecot/imap"
	ldaBin     = "/usr/lib/dovecot/dovecot-lda"
)

// statsConf is the project's stats configuration, the very file the mail
// image installs as conf.d/95-stats.conf.
const statsConf = "../../docker/mail/dovecot/95-stats.conf"

// runningDovecot is a Dovecot master started by the test.
type runningDovecot struct {
	dir, conf, log   string
	imapPort, statsP int
	cmd              *exec.Cmd
}

// startDovecot runs Debian's Dovecot in the foreground on free loopback
// ports, in a directory of its own, with 95-stats.conf included and only
// its listener's port changed, and the configuration lines of extra.
func startDovecot(t *testing.T, extra ...string) *runningDovecot {
	t.Helper()
	// Dovecot's master process needs root.
	testenv.Root(t)
	for _, bin := range []struct{ path, pkg string }{
		{dovecotBin, "dovecot-core"}, {ldaBin, "dovecot-core"}, {imapBin, "dovecot-imapd"},
	} {
		if _, err := os.Stat(bin.path); err != nil {
			t.Fatalf("%s not found: install Debian's %s package (apt-get install dovecot-core dovecot-imapd): %v", bin.path, bin.pkg, err)
		}
	}
	for _, u := range []string{"dovecot", "dovenull"} {
		if _, err := user.Lookup(u); err != nil {
			t.Fatalf("user %s missing: it is created by Debian's dovecot-core package: %v", u, err)
		}
	}
	stats, err := filepath.Abs(statsConf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stats); err != nil {
		t.Fatal(err)
	}
	// A short directory of its own: Dovecot's sockets live under base_dir
	// and a unix socket path holds at most 107 bytes; Dovecot's
	// unprivileged processes must reach base_dir, the mail user (65534)
	// its home.
	dir := testenv.ShortDir(t, "mtdovecot")
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}alice-secret:65534:65534::"+home+"::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &runningDovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf"), log: filepath.Join(dir, "dovecot.log"),
		imapPort: testenv.FreePort(t), statsP: testenv.FreePort(t)}
	conf := fmt.Sprintf(`instance_name = mailtier-test
base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_verbose = yes
auth_failure_delay = 0
log_path = %[2]s
log_timestamp = "%%Y-%%m-%%d %%H:%%M:%%S "
mail_location = maildir:~/Maildir
first_valid_uid = 1000
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%n %[3]s
}
userdb {
  driver = passwd-file
  args = username_format=%%n %[3]s
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    port = 0
  }
}
!include %[5]s
# The test's own port for the stats listener of 95-stats.conf.
service stats {
  inet_listener http {
    port = %[6]d
  }
}
`, dir, d.log, users, d.imapPort, stats, d.statsP) + strings.Join(extra, "\n")
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/doveconf", "-c", d.conf, "-n").CombinedOutput(); err != nil {
		t.Fatalf("doveconf -n: %v\n%s", err, out)
	}
	d.cmd = exec.Command(dovecotBin, "-F", "-c", d.conf)
	// A file, not a pipe: Wait returns when the master exits, whatever its
	// children do.
	outPath := filepath.Join(dir, "dovecot.out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := d.cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		// Stop the master by its pid; it stops its children, and none may
		// outlive it (an idle connection to the stats process would keep
		// that process and the log process alive).
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("dovecot's master did not stop within 10 s of SIGTERM")
		}
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(-pgid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("Dovecot's processes outlived its master by 10 s")
				syscall.Kill(-pgid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if t.Failed() {
			o, _ := os.ReadFile(outPath)
			log, _ := os.ReadFile(d.log)
			t.Logf("dovecot output:\n%s\ndovecot.log:\n%s", o, log)
		}
	})
	testenv.WaitUntil(t, "Dovecot's stats listener", 15*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			o, _ := os.ReadFile(outPath)
			t.Fatalf("dovecot exited: %v\n%s", err, o)
		default:
		}
		// The master binds every listener before it starts a service, so
		// the stats listener answering means the IMAP one is bound too
		// (a connection to it would log a session of its own).
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.statsP), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return d
}

// imapClient speaks just enough IMAP4rev1 for the test.
type imapClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialIMAP(t *testing.T, port int) *imapClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &imapClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	if l := c.line(); !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting: %q", l)
	}
	return c
}

func (c *imapClient) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading from Dovecot: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *imapClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends one tagged command and returns its tagged status ("OK", "NO", "BAD").
func (c *imapClient) cmd(command string) string {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	c.send(tag + " " + command)
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			status, _, _ := strings.Cut(l[len(tag)+1:], " ")
			return status
		}
	}
}

// idle runs IDLE and ends it at once.
func (c *imapClient) idle() {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	c.send(tag + " IDLE")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		c.t.Fatalf("IDLE: %q", l)
	}
	c.send("DONE")
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				c.t.Fatalf("IDLE: %q", l)
			}
			return
		}
	}
}

// TestRealDovecot runs Debian's Dovecot 2.3 with the project's
// 95-stats.conf, drives IMAP commands, a failed login and an LDA delivery,
// and checks the passthrough on the collector's own scrape and the log
// parser on the lines this Dovecot wrote.
func TestRealDovecot(t *testing.T) {
	d := startDovecot(t)
	c := metrictest.New(t, dovecot.New, dovecot.Config{StatsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", d.statsP)})
	const (
		commands = "dovecot_imap_command_duration_seconds{}"
		success  = "mailtier_exporter_dovecot_stats_scrape_success{}"
		authOK   = "dovecot_stats_auth_successes_total{}"
		authFail = "dovecot_stats_auth_failures_total{}"
		delivery = "dovecot_stats_delivery_duration_seconds{}"
	)
	before := gather(t, c)
	if before[success] != 1 {
		t.Fatalf("stats scrape failed: %v", before)
	}
	for _, k := range []string{commands, authOK, authFail, delivery, "dovecot_stats_start_time_seconds{}"} {
		if _, ok := before[k]; !ok {
			t.Fatalf("Dovecot's stats lack %s: %v", k, before)
		}
	}

	// One session: LOGIN (answered by imap-login, not counted), then N
	// commands the imap process finishes, LOGOUT included; IDLE is
	// excluded by the metric's filter.
	im := dialIMAP(t, d.imapPort)
	if s := im.cmd("LOGIN alice alice-secret"); s != "OK" {
		t.Fatalf("LOGIN: %s", s)
	}
	n := 0
	for i := 0; i < 5; i++ {
		if s := im.cmd("NOOP"); s != "OK" {
			t.Fatalf("NOOP: %s", s)
		}
		n++
	}
	for _, cmd := range []string{"SELECT INBOX", "CAPABILITY", "FETCH 1:* FLAGS"} {
		im.cmd(cmd) // FETCH in an empty mailbox is BAD: still a command
		n++
	}
	im.idle()
	if s := im.cmd("LOGOUT"); s != "OK" {
		t.Fatalf("LOGOUT: %s", s)
	}
	n++
	im.conn.Close()

	var after map[string]float64
	testenv.WaitUntil(t, fmt.Sprintf("the histogram's count to rise by %d", n), 10*time.Second, func() bool {
		after = gather(t, c)
		return after[commands] >= before[commands]+float64(n)
	})

	// A wrong password, and one delivery by dovecot-lda.
	bad := dialIMAP(t, d.imapPort)
	if s := bad.cmd("LOGIN alice wrong"); s != "NO" {
		t.Fatalf("LOGIN with a wrong password: %s", s)
	}
	bad.cmd("LOGOUT")
	bad.conn.Close()
	lda := exec.Command(ldaBin, "-c", d.conf, "-d", "alice")
	lda.Stdin = strings.NewReader("From: bob@example.test\nTo: alice@example.test\nSubject: test\nMessage-ID: <integration-1@example.test>\n\nhello\n")
	if out, err := lda.CombinedOutput(); err != nil {
		t.Fatalf("dovecot-lda: %v\n%s", err, out)
	}
	testenv.WaitUntil(t, "the auth failure and the delivery in Dovecot's stats", 10*time.Second, func() bool {
		after = gather(t, c)
		return after[authFail] >= before[authFail]+1 && after[delivery] >= before[delivery]+1
	})
	for k, rise := range map[string]float64{
		commands: float64(n),
		authOK:   1,
		authFail: 1,
		delivery: 1,
		success:  0,
	} {
		if got := after[k] - before[k]; got != rise {
			t.Errorf("%s rose by %v, want %v", k, got, rise)
		}
	}
	if sum := "dovecot_imap_command_duration_seconds_sum{}"; after[sum] <= before[sum] {
		t.Errorf("the histogram's sum did not rise: %v -> %v", before[sum], after[sum])
	}
	if top := after["dovecot_imap_command_duration_seconds_bucket{le=16.777216}"]; top != after[commands] {
		t.Errorf("the 16.8 s bucket holds %v of %v commands", top, after[commands])
	}

	// The lines this Dovecot wrote to its log_path file, parsed by the
	// collector as the exporter would.
	want := map[string]float64{
		"dovecot_logins_total{service=imap}":                                            1,
		"dovecot_login_failures_total{known_bot=false,reason=auth_failed,service=imap}": 1,
		"dovecot_auth_failures_total{reason=password_mismatch}":                         1,
		"dovecot_deliveries_total{agent=lda,result=saved}":                              1,
	}
	var logged map[string]float64
	var r *pipeline.Router
	testenv.WaitUntil(t, "Dovecot's log lines", 10*time.Second, func() bool {
		lc := metrictest.New(t, dovecot.New, dovecot.Config{})
		r = pipeline.NewRouter([]pipeline.Named{{Name: "dovecot", Collector: lc}}, nil)
		f, err := os.Open(d.log)
		if err != nil {
			return false
		}
		defer f.Close()
		if err := r.Input(d.log).ReadAll(f); err != nil {
			t.Fatal(err)
		}
		logged = gather(t, lc)
		for k, v := range want {
			if logged[k] != v {
				return false
			}
		}
		return true
	})
	for k, v := range logged {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%s = %v from Dovecot's log, want 0", k, v)
		}
	}
	rl := gather(t, r)
	if v := rl["mailtier_exporter_collector_lines_total{collector=dovecot,result=unmatched}"]; v != 0 {
		log, _ := os.ReadFile(d.log)
		t.Errorf("%v lines of Dovecot's log were not recognised:\n%s", v, log)
	}
	if v := rl["mailtier_exporter_lines_skipped_total{path="+d.log+",reason=unparsed}"]; v != 0 {
		t.Errorf("%v lines of Dovecot's log had no known envelope", v)
	}
}
