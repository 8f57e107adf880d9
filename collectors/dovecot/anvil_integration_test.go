package dovecot_test

import "fmt"
import "os"
import "os/exec"
import "os/user"
import "path/filepath"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

// anvilConf opens the anvil socket to the group nogroup, as a deployment
// opens it to the exporter's group (docs/collectors.md).
const anvilConf = `
service anvil {
  unix_listener anvil {
    group = nogroup
    mode = 0660
  }
}
`

// TestRealDovecotAnvilSessions runs Debian's Dovecot 2.3, opens N IMAP
// sessions at once and reads dovecot_sessions from its anvil socket: it is
// N exactly, it leaves out connections that have not logged in and a
// failed login, and it falls as sessions end. The count is also read by an
// unprivileged process (nobody:nogroup), as the sidecar reads it.
func TestRealDovecotAnvilSessions(t *testing.T) {
	testenv.Integration(t)
	testenv.Root(t)
	d := startDovecot(t, anvilConf)
	a := dovecot.NewAnvil(filepath.Join(d.dir, "run", "anvil"), 5*time.Second, nil)
	sessions := func() float64 {
		t.Helper()
		if _, err := dovecot.ReadAnvil(filepath.Join(d.dir, "run", "anvil"), 5*time.Second); err != nil {
			t.Fatalf("reading anvil: %v", err)
		}
		return metrictest.Value(t, a, "dovecot_sessions", "service=imap")
	}
	// waitFor waits until the count is want, then checks it stays there:
	// anvil hears of a session from the imap process right after the
	// login's OK, and of its end right after the LOGOUT's.
	waitFor := func(want float64) {
		t.Helper()
		testenv.WaitUntil(t, fmt.Sprintf("dovecot_sessions{service=imap} = %v", want), 10*time.Second, func() bool {
			return sessions() == want
		})
		time.Sleep(200 * time.Millisecond)
		if got := sessions(); got != want {
			t.Fatalf("dovecot_sessions{service=imap} = %v after being %v", got, want)
		}
	}
	// The master creates its sockets one by one, anvil's not necessarily
	// before the stats listener startDovecot waits for.
	socket := filepath.Join(d.dir, "run", "anvil")
	testenv.WaitUntil(t, "Dovecot's anvil socket", 10*time.Second, func() bool {
		_, err := dovecot.ReadAnvil(socket, 5*time.Second)
		return err == nil
	})
	if got := sessions(); got != 0 {
		t.Fatalf("%v sessions before any client", got)
	}

	const n = 7
	var clients []*imapClient
	for i := 0; i < n; i++ {
		c := dialIMAP(t, d.imapPort)
		if s := c.cmd("LOGIN alice alice-secret"); s != "OK" {
			t.Fatalf("LOGIN %d: %s", i, s)
		}
		c.cmd("SELECT INBOX")
		clients = append(clients, c)
	}
	// Connected and not logged in, and a failed login: no session.
	idle := []*imapClient{dialIMAP(t, d.imapPort), dialIMAP(t, d.imapPort)}
	if s := idle[1].cmd("LOGIN alice wrong"); s != "NO" {
		t.Fatalf("LOGIN with a wrong password: %s", s)
	}
	waitFor(n)
	if got := readAsNobody(t, socket); got != fmt.Sprintf("imap=%d", n) {
		t.Errorf("read as nobody:nogroup: %q, want imap=%d", got, n)
	}
	metrictest.Golden(t, a, "anvil-real")

	// Three log out; one vanishes without LOGOUT.
	for _, c := range clients[:3] {
		if s := c.cmd("LOGOUT"); s != "OK" {
			t.Fatalf("LOGOUT: %s", s)
		}
		c.conn.Close()
	}
	clients[3].conn.Close()
	waitFor(n - 4)
	for _, c := range append(clients[4:], idle...) {
		c.conn.Close()
	}
	waitFor(0)
}

// readAsNobody reads the anvil socket from a copy of the test binary run
// as nobody:nogroup (TestAnvilReadHelper), and returns what it printed.
func readAsNobody(t *testing.T, socket string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Neither the test binary's directory nor t.TempDir's parent is open
	// to others.
	dir := testenv.ShortDir(t, "mtanvil")
	bin := filepath.Join(dir, "dovecot.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	nogroup, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nogroup.Gid)
	cmd := exec.Command(bin, "-test.run=^TestAnvilReadHelper$")
	cmd.Env = []string{anvilHelperEnv + "=" + socket}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reading anvil as nobody:nogroup: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "anvil: "); ok {
			return v
		}
	}
	t.Fatalf("no count from the unprivileged reader:\n%s", out)
	return ""
}

const anvilHelperEnv = "MAILTIER_ANVIL_HELPER_SOCKET"

// TestAnvilReadHelper is the unprivileged reader of readAsNobody; it does
// nothing in any other run.
func TestAnvilReadHelper(t *testing.T) {
	socket := os.Getenv(anvilHelperEnv)
	if socket == "" {
		return
	}
	counts, err := dovecot.ReadAnvil(socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("anvil: imap=%d\n", counts[dovecot.ServiceIMAP])
}
