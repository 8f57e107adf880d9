package dovecot_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabalmail/mailtier/collectors/dovecot"
	"github.com/cabalmail/mailtier/internal/metrictest"
	"github.com/cabalmail/mailtier/internal/testenv"
)

// TestRealDovecotAnvilSessions runs Debian's Dovecot 2.3, opens N IMAP
// sessions at once and reads dovecot_sessions from its anvil socket: it is
// N exactly, it leaves out connections that have not logged in and a
// failed login, and it falls as sessions end.
func TestRealDovecotAnvilSessions(t *testing.T) {
	testenv.Integration(t)
	testenv.Root(t)
	d := startDovecot(t)
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
	metrictest.Expect(t, a,
		metrictest.Want{Name: "dovecot_sessions", Labels: "service=pop3"},
		metrictest.Want{Name: "dovecot_sessions", Labels: "service=lmtp"},
		metrictest.Want{Name: "dovecot_sessions", Labels: "service=other"},
	)

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
