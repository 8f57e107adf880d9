package main

import "fmt"
import "time"

// heldSessions is how many IMAP sessions the driver holds open at once to
// check Dovecot's anvil count (--collector.anvil).
const heldSessions = 3

var imapSessions = series("dovecot_sessions", "service", "imap")

// sessions checks dovecot_sessions{service="imap"}, read by the exporter
// from Dovecot's anvil socket, against IMAP sessions the driver holds: it
// runs when no other client is connected, so the count first settles at
// what it is without them (0: every earlier client has logged out), is
// then that plus heldSessions exactly while they are logged in, and falls
// back to it exactly once they have logged out. Each session logs in,
// selects INBOX and runs NOOP, stays open, and logs out at the end: what
// imapOK does, so it is counted like one.
func (s *suite) sessions() {
	base := s.settledSessions("dovecot_sessions{service=\"imap\"} before the held sessions", 0)
	if !base.ok() {
		return
	}
	held := make([]*imap, 0, heldSessions)
	defer func() {
		for _, m := range held {
			_ = m.close()
		}
	}()
	for i := range heldSessions {
		u := mailbox(i)
		m := dialIMAP("127.0.0.1", portIMAP, false)
		m.expect(fmt.Sprintf("LOGIN %s %s", u, passwords[u]), "OK")
		m.expect("SELECT INBOX", "OK")
		m.expect("NOOP", "OK")
		if m.err != nil {
			s.anomaly("held IMAP session %d: %v", i, m.err)
			return
		}
		held = append(held, m)
	}
	s.settledSessions(fmt.Sprintf("dovecot_sessions{service=\"imap\"} while %d sessions are logged in", heldSessions),
		base.got+heldSessions)
	for i, m := range held {
		m.expect("LOGOUT", "OK")
		if err := m.close(); err != nil {
			s.anomaly("held IMAP session %d: %v", i, err)
			continue
		}
		login(s.x, "imap")
		s.x.add(3, "dovecot_imap_command_duration_seconds_count")
	}
	held = nil
	s.settledSessions("dovecot_sessions{service=\"imap\"} after they logged out", base.got)
}

// settledSessions waits, for at most 10 s, for the exporter to show want
// sessions (anvil hears of a session from the imap process right after
// the login's OK, and of its end right after the LOGOUT's), then records
// as a check what a scrape 1.5 s later shows, with the anvil collector's
// success: the value must hold, not pass by. Prometheus, scraping every
// second, sees it too (the dashboard's panel).
func (s *suite) settledSessions(name string, want float64) check {
	_ = poll(10*time.Second, "", func() (bool, error) {
		got, err := scrape(s.metrics)
		return err == nil && got[imapSessions] == want, nil
	})
	time.Sleep(1500 * time.Millisecond)
	c := check{series: name, want: want}
	ok := check{series: "mailtier_exporter_dovecot_anvil_scrape_success (" + name + ")", want: 1}
	got, err := scrape(s.metrics)
	if err != nil {
		s.anomaly("scrape: %v", err)
	} else {
		c.got, c.present = got[imapSessions]
		ok.got, ok.present = got["mailtier_exporter_dovecot_anvil_scrape_success"]
	}
	s.midRun = append(s.midRun, c, ok)
	return c
}
