package process_test

import "bytes"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "log/slog"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/alecthomas/kingpin/v2"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/process"

// gather returns every sample of c as "name" -> value (the process metrics
// have no labels); absent series are absent from the map.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for k, v := range metrictest.Gather(t, c) {
		out[strings.TrimSuffix(k, "{}")] = v
	}
	return out
}

func newCollector(t *testing.T, procPath, names string) *process.Collector {
	t.Helper()
	groups, err := process.ParseNames(names)
	if err != nil {
		t.Fatal(err)
	}
	c, err := process.New(procPath, groups, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseNames(t *testing.T) {
	g, err := process.ParseNames(process.DefaultNames)
	if err != nil {
		t.Fatal(err)
	}
	want := []process.Group{
		{Name: "dovecot", Comms: []string{"dovecot"}},
		{Name: "sendmail", Comms: []string{"sendmail", "sm-mta"}},
		{Name: "opendkim", Comms: []string{"opendkim"}},
	}
	if len(g) != len(want) {
		t.Fatalf("%+v", g)
	}
	for i := range want {
		if g[i].Name != want[i].Name || !slices.Equal(g[i].Comms, want[i].Comms) {
			t.Errorf("group %d: %+v, want %+v", i, g[i], want[i])
		}
	}
	for _, tc := range []struct{ in, err string }{
		{"", "no process group given"},
		{"postfix", `unknown process group "postfix"; groups are dovecot, sendmail, opendkim, opendmarc, procmail, fail2ban, rsyslog`},
		{"dovecot,Dovecot", `unknown process group "Dovecot"; groups are dovecot, sendmail, opendkim, opendmarc, procmail, fail2ban, rsyslog`},
		{"dovecot,dovecot/imap", `process group "dovecot" given twice`},
		{"sendmail/", `process group sendmail: program name "" must be 1 to 15 characters, no space or comma (the kernel keeps 15)`},
		{"fail2ban/fail2ban-server-long", `process group fail2ban: program name "fail2ban-server-long" must be 1 to 15 characters, no space or comma (the kernel keeps 15)`},
	} {
		if _, err := process.ParseNames(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("ParseNames(%q): %v, want %s", tc.in, err, tc.err)
		}
	}
}

// TestFlag checks that a bad --collector.process.names stops the flag
// parsing with the exact error.
func TestFlag(t *testing.T) {
	parse := func(args ...string) (collectors.Builder, error) {
		app := kingpin.New("x", "")
		app.Terminate(nil)
		b := process.Registration.DeclareFlags(app)
		_, err := app.Parse(args)
		return b, err
	}
	if _, err := parse("--collector.process.names=dovecot,postfix"); err == nil ||
		err.Error() != `unknown process group "postfix"; groups are dovecot, sendmail, opendkim, opendmarc, procmail, fail2ban, rsyslog` {
		t.Errorf("error %v", err)
	}
	b, err := parse("--collector.process.procfs=testdata/proc")
	if err != nil {
		t.Fatal(err)
	}
	c, err := b(collectors.Env{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The default groups.
	s := gather(t, c)
	for _, name := range []string{"dovecot_processes", "sendmail_processes", "opendkim_processes"} {
		if _, ok := s[name]; !ok {
			t.Errorf("no %s with the default names", name)
		}
	}
	if process.Registration.Enabled {
		t.Error("the process collector is on by default")
	}
}

// AllGroups configures every group, with the program names Debian's
// fail2ban and rsyslog run as.
const AllGroups = "dovecot,sendmail/sm-mta,opendkim,opendmarc,procmail,fail2ban/fail2ban-server,rsyslog/rsyslogd"

// TestFakeProcfs reads testdata/proc: a Dovecot master, an imap-login
// near its descriptor limit and an imap process (both titled
// "dovecot/…"), a sendmail daemon titled "sendmail: MTA: …" and an
// sm-mta, an OpenDKIM, an OpenDMARC, a procmail, fail2ban's server (a
// Python script), rsyslogd, and processes of no group (a shell, a
// "dovecotx/imap", a kernel thread).
func TestFakeProcfs(t *testing.T) {
	c := newCollector(t, "testdata/proc", AllGroups)
	// testdata/fake-procfs.prom: Dovecot's 3 processes, imap-login's 20
	// of 24 descriptors, 2.6 s of CPU; sendmail's 2, 6 of 1024 (which
	// beats 4 of 4096), 2.1 s; one process of each other group. Resident
	// memory is in pages, whose size is the machine's: the file names it
	// by its count of pages (dovecot 1000+500+300, sendmail 800+100).
	vars := map[string]string{}
	for _, pages := range []int{1800, 900, 2000, 700, 200, 6000} {
		vars[strconv.Itoa(pages)+"_PAGES"] = strconv.FormatFloat(float64(pages*os.Getpagesize()), 'g', -1, 64)
	}
	metrictest.GoldenVars(t, c, "fake-procfs", vars)
	metrictest.Lint(t, c)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setStat rewrites utime, stime and starttime in a fake stat file.
func setStat(t *testing.T, path string, utime, stime, start string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	// After ") ": state is field 3 of stat(5); utime 14, stime 15, starttime 22.
	f[14-3], f[15-3], f[22-3] = utime, stime, start
	if err := os.WriteFile(path, []byte(s[:i+2]+strings.Join(f, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCPUMonotonic checks the CPU counter across processes that grow,
// end, start, and a PID reused by another process.
func TestCPUMonotonic(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "testdata/proc", dir)
	c := newCollector(t, dir, "dovecot")
	if got := gather(t, c)["dovecot_process_cpu_seconds_total"]; got != 2.6 {
		t.Fatalf("cpu = %v, want 2.6", got)
	}
	// imap-login used one more second.
	setStat(t, filepath.Join(dir, "101", "stat"), "130", "20", "1100")
	// imap ended.
	if err := os.RemoveAll(filepath.Join(dir, "102")); err != nil {
		t.Fatal(err)
	}
	// PID 100 is now another Dovecot, started later, with 0.2 s.
	setStat(t, filepath.Join(dir, "100", "stat"), "15", "5", "5000")
	// A new imap-login with 0.3 s.
	copyTree(t, filepath.Join(dir, "101"), filepath.Join(dir, "104"))
	setStat(t, filepath.Join(dir, "104", "stat"), "20", "10", "5100")
	s := gather(t, c)
	if got, want := s["dovecot_process_cpu_seconds_total"], 2.6+1.0+0.2+0.3; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	if got := s["dovecot_processes"]; got != 3 {
		t.Errorf("processes = %v, want 3", got)
	}
	// Every process gone: the counter keeps its value.
	for _, pid := range []string{"100", "101", "104"} {
		os.RemoveAll(filepath.Join(dir, pid))
	}
	s = gather(t, c)
	if got, want := s["dovecot_process_cpu_seconds_total"], 4.1; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("cpu = %v after every process ended, want %v", got, want)
	}
	if _, ok := s["dovecot_process_open_fds"]; ok {
		t.Error("open fds reported with no process")
	}
}

func TestMissingProcfs(t *testing.T) {
	c := newCollector(t, filepath.Join(t.TempDir(), "none"), "dovecot")
	metrictest.Compare(t, c, `# HELP mailtier_exporter_process_scrape_success Whether procfs could be read at this scrape (1) or not (0; the process metrics are then absent).
# TYPE mailtier_exporter_process_scrape_success gauge
mailtier_exporter_process_scrape_success 0
`)
}

// TestRealProc starts a child process of a program name of its own and
// finds it in the real /proc: one process, its descriptors (stdin,
// stdout, stderr and two more the test hands it) and the limit prlimit
// set.
func TestRealProc(t *testing.T) {
	for path, pkg := range map[string]string{"/usr/bin/sleep": "coreutils", "/usr/bin/prlimit": "util-linux"} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s is missing: apt-get install -y --no-install-recommends %s", path, pkg)
		}
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "mtprobe-sleep")
	data, err := os.ReadFile("/usr/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// Descriptors the test process inherited without close-on-exec
	// would pass on to the child: mark them.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fds {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	c := newCollector(t, "/proc", "procmail/mtprobe-sleep")
	if got := gather(t, c)["procmail_processes"]; got != 0 {
		t.Fatalf("%v processes before the child started", got)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("/usr/bin/prlimit", "--nofile=77:77", prog, "1000")
	cmd.ExtraFiles = []*os.File{r, w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// prlimit execs the program: wait until the process bears its name
	// and the exec has finished (a process caught in the middle of exec
	// has its new name but no memory yet).
	deadline := time.Now().Add(10 * time.Second)
	var s map[string]float64
	for {
		s = gather(t, c)
		if s["procmail_processes"] == 1 && s["procmail_process_resident_memory_bytes"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never showed up: %v\n%s", s, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := map[string]float64{
		"procmail_processes":        1,
		"procmail_process_open_fds": 5,
		"procmail_process_max_fds":  77,
	}
	for name, w := range want {
		if s[name] != w {
			t.Errorf("%s = %v, want %v", name, s[name], w)
		}
	}
	if s["procmail_process_resident_memory_bytes"] <= 0 {
		t.Errorf("resident memory %v", s["procmail_process_resident_memory_bytes"])
	}
	if _, ok := s["procmail_process_cpu_seconds_total"]; !ok {
		t.Error("no CPU counter")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := gather(t, c)["procmail_processes"]; got != 0 {
		t.Errorf("%v processes after the child ended", got)
	}
}
