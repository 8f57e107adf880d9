package dovecot_test

import "bufio"
import "net"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

// fakeAnvil answers every connection on a unix socket with answer, after
// reading the handshake and the command, and records what it was sent.
func fakeAnvil(t *testing.T, answer string) (path string, got chan string) {
	t.Helper()
	got = make(chan string, 16)
	path = testenv.ServeUnix(t, "anvil", func(c net.Conn) {
		r := bufio.NewReader(c)
		hello, _ := r.ReadString('\n')
		cmd, _ := r.ReadString('\n')
		got <- hello + cmd
		c.Write([]byte(answer))
	})
	return path, got
}

// TestAnvilCounts reads a CONNECT-DUMP in Dovecot 2.3's format
// (connect-limit.c: tab-escaped "SERVICE/IP/USER", pid, reference count;
// lmtp idents have no IP): the reference counts are summed per service.
func TestAnvilCounts(t *testing.T) {
	dump := "imap/192.0.2.10/alice\t9310\t1\n" +
		"imap/192.0.2.10/alice\t9311\t1\n" +
		"imap/2001:db8::7/bob\001tevil\t9312\t3\n" + // a tab in the user name, escaped
		"pop3/192.0.2.11/carol\t9400\t1\n" +
		"lmtp/dave\t9500\t2\n" +
		"sieve/192.0.2.12/erin\t9600\t1\n" +
		"\n"
	path, sent := fakeAnvil(t, dump)
	a := dovecot.NewAnvil(path, 2*time.Second, nil)
	metrictest.Golden(t, a, "anvil-counts")
	if s := <-sent; s != "VERSION\tanvil\t1\t0\nCONNECT-DUMP\n" {
		t.Errorf("sent %q, want doveadm who's handshake and CONNECT-DUMP", s)
	}
}

// anvilFailed is the whole exposition of an anvil collector whose read
// failed: the success gauge at 0 and no dovecot_sessions.
const anvilFailed = `# HELP mailtier_exporter_dovecot_anvil_scrape_success Whether Dovecot's anvil socket (--collector.anvil.socket) answered at this scrape (1) or not (0).
# TYPE mailtier_exporter_dovecot_anvil_scrape_success gauge
mailtier_exporter_dovecot_anvil_scrape_success 0
`

// TestAnvilFailures: every way the read can fail leaves dovecot_sessions
// absent and the success gauge at 0, never a partial count.
func TestAnvilFailures(t *testing.T) {
	cases := map[string]string{
		"closed early (not 2.3)":   "imap/192.0.2.10/alice\t9310\t1\n",
		"empty":                    "",
		"two fields":               "imap/192.0.2.10/alice\t9310\n\n",
		"no service":               "alice\t9310\t1\n\n",
		"bad count":                "imap/192.0.2.10/alice\t9310\t-1\n\n",
		"bad pid":                  "imap/192.0.2.10/alice\tx\t1\n\n",
		"count over 32 bits":       "imap/192.0.2.10/alice\t9310\t4294967296\n\n",
		"a line of a megabyte":     "imap/" + strings.Repeat("a", 1<<20) + "\t1\t1\n\n",
		"2.4's version line first": "VERSION\tanvil-server\t2\t0\n\n",
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			path, _ := fakeAnvil(t, answer)
			a := dovecot.NewAnvil(path, 2*time.Second, nil)
			metrictest.Compare(t, a, anvilFailed)
		})
	}
	t.Run("no socket", func(t *testing.T) {
		a := dovecot.NewAnvil(filepath.Join(t.TempDir(), "anvil"), time.Second, nil)
		metrictest.Compare(t, a, anvilFailed)
	})
}

// TestAnvilSilent: an anvil that accepts and never answers costs one
// timeout, not a hung scrape.
func TestAnvilSilent(t *testing.T) {
	path := testenv.ServeUnix(t, "anvil", testenv.Mute)
	if _, err := dovecot.ReadAnvil(path, 100*time.Millisecond); err == nil {
		t.Fatal("a silent anvil was read")
	}
}

// TestAnvilRegistration builds the collector from its flags.
func TestAnvilRegistration(t *testing.T) {
	path, _ := fakeAnvil(t, "imap/192.0.2.10/alice\t9310\t2\n\n")
	c, err := metrictest.Build(t, dovecot.AnvilRegistration, "--collector.anvil.socket="+path)
	if err != nil {
		t.Fatal(err)
	}
	metrictest.Golden(t, c, "anvil-registration")
	if _, err := metrictest.Build(t, dovecot.AnvilRegistration, "--collector.anvil.timeout=0s"); err == nil {
		t.Error("a zero timeout was accepted")
	}
}
