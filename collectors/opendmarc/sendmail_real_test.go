package opendmarc_test

// TestRealSendmailWithOpenDMARC runs Debian's sendmail 8.17 with Debian's
// OpenDMARC as its milter and counts, from sendmail's own log, the SMTP
// sessions and the dispositions sendmail enacted for OpenDMARC (the
// sendmail collector's sessions.go and dmarc.go). sendmail runs in a mount
// namespace whose /dev/log the test reads, with the host name of a UTS
// namespace of its own; OpenDMARC and its DNS server in the lab of
// startOpenDMARC.
//
// Debian's sendmail-bin is not installed on the test machines (its package
// starts a daemon on port 25); the test runs Debian's binary unpacked from
// the package, as the end-to-end suite does: MAILTIER_SENDMAIL_ROOT names
// the directory sendmail-bin was unpacked into (`make sendmail-bin`, which
// `make test` runs and passes on; the end-to-end suite keeps one in
// $MAILTIER_E2E_CACHE/sendmail-bin). The lines it captured are replayed by
// collectors/sendmail's fast tests.

import "bufio"
import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/milterlab"
import "github.com/cabalmail/mailtier/internal/testenv"

// sendmailMC is the test's sendmail.mc: one MTA listener on loopback,
// OpenDMARC as its milter, every accepted message queued and never
// delivered. %[1]s is the test's directory, %[2]s sendmail-bin's root,
// %[3]d the port, %[4]s OpenDMARC's socket.
const sendmailMC = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n" +
	"VERSIONID(`mailtier-opendmarc')dnl\n" +
	"OSTYPE(`debian')dnl\n" +
	"DOMAIN(`debian-mta')dnl\n" +
	"undefine(`confHOST_STATUS_DIRECTORY')dnl\n" +
	"define(`confDOMAIN_NAME', `mx.lab.test')dnl\n" +
	"define(`confSERVICE_SWITCH_FILE', `%[1]s/service.switch')dnl\n" +
	"define(`confDONT_PROBE_INTERFACES', `True')dnl\n" +
	"define(`confTO_IDENT', `0s')dnl\n" +
	"define(`confDELIVERY_MODE', `queueonly')dnl\n" +
	"define(`confLOG_LEVEL', `9')dnl\n" +
	"define(`QUEUE_DIR', `%[1]s/mqueue')dnl\n" +
	"define(`STATUS_FILE', `%[1]s/statistics')dnl\n" +
	"define(`ALIAS_FILE', `%[1]s/aliases')dnl\n" +
	"define(`confCW_FILE', `%[1]s/local-host-names')dnl\n" +
	"define(`confCR_FILE', `%[1]s/relay-domains')dnl\n" +
	"define(`confCT_FILE', `-o %[1]s/trusted-users')dnl\n" +
	"define(`confEBINDIR', `%[2]s/usr/libexec/sendmail')dnl\n" +
	"define(`confPID_FILE', `%[1]s/sendmail.pid')dnl\n" +
	"FEATURE(`no_default_msa')dnl\n" +
	"FEATURE(`nocanonify')dnl\n" +
	"FEATURE(`accept_unresolvable_domains')dnl\n" +
	"DAEMON_OPTIONS(`Family=inet, Name=MTA, Port=%[3]d, Addr=127.0.0.1')dnl\n" +
	"INPUT_MAIL_FILTER(`opendmarc', `S=unix:%[4]s, F=T, T=S:30s;R:30s;E:2m')dnl\n" +
	"MAILER(`local')dnl\n" +
	"MAILER(`smtp')dnl\n"

func TestRealSendmailWithOpenDMARC(t *testing.T) {
	testenv.Integration(t)
	testenv.Root(t)
	root := os.Getenv("MAILTIER_SENDMAIL_ROOT")
	if root == "" {
		t.Fatal("MAILTIER_SENDMAIL_ROOT is not set: it names a directory Debian's sendmail-bin is unpacked into (make sendmail-bin does it)")
	}
	bin := filepath.Join(root, "usr/libexec/sendmail/sendmail")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("MAILTIER_SENDMAIL_ROOT=%s holds no sendmail: %v", root, err)
	}
	m4 := testenv.Binary(t, "m4", "m4")
	if _, err := os.Stat("/usr/share/sendmail/cf/m4/cf.m4"); err != nil {
		t.Fatalf("sendmail's m4 files are missing: apt-get install sendmail-cf: %v", err)
	}
	dmarcLab, od := startOpenDMARC(t)

	lab := milterlab.New(t, false)
	dir := lab.Dir
	port := testenv.FreePort(t)
	files := map[string]string{
		"sendmail.mc":      fmt.Sprintf(sendmailMC, dir, root, port, strings.TrimPrefix(od.Socket, "unix:")),
		"service.switch":   "passwd files\nhosts files\naliases files\n",
		"relay-domains":    "lab.test\n",
		"local-host-names": "localhost\n",
		"aliases":          "postmaster: root\n",
		"trusted-users":    "",
		"statistics":       "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := exec.Command(m4, filepath.Join(dir, "sendmail.mc")).Output()
	if err != nil {
		t.Fatalf("m4 sendmail.mc: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sendmail.cf"), cf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "mqueue"), 0o700); err != nil {
		t.Fatal(err)
	}
	// sendmail wants a qualified host name; a UTS namespace of its own
	// gives it one.
	sm := lab.Start(t, "/usr/bin/unshare", "--uts", "/bin/sh", "-c",
		"hostname mx.lab.test && exec "+bin+" -bD -C "+filepath.Join(dir, "sendmail.cf")+" -L sm-mta")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Waiting for the listener is itself one session, without MAIL.
	milterlab.WaitDial(t, sm, "tcp", addr, 30*time.Second)
	sessions := 1

	// Every client comes from 127.0.0.5. OpenDMARC's SPF check passes the
	// envelope sender's domain, nodmarc.test, for loopback clients; it
	// aligns with no From: domain but nodmarc.test's own, which has no
	// DMARC record.
	smtp := func(cmds ...string) []string {
		t.Helper()
		sessions++
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		r := bufio.NewReader(c)
		reply := func() string {
			var all string
			for {
				l, err := r.ReadString('\n')
				all += l
				if err != nil || len(l) < 4 || l[3] == ' ' {
					return strings.TrimSpace(all)
				}
			}
		}
		replies := []string{reply()}
		for _, cmd := range cmds {
			fmt.Fprintf(c, "%s\r\n", cmd)
			replies = append(replies, reply())
		}
		return replies
	}
	message := func(qid, from, rcpt string) []string {
		body := "From: <" + from + ">\r\nTo: <" + rcpt + ">\r\nSubject: figures\r\nDate: Tue, 24 Nov 2026 05:15:41 +0000\r\n" +
			"Message-ID: <" + qid + "@sender.test>\r\n\r\nthe figures are attached.\r\n."
		return smtp("EHLO mx.sender.test", "MAIL FROM:<bounce@nodmarc.test>", "RCPT TO:<"+rcpt+">", "DATA", body, "QUIT")
	}
	// Replies: greeting, EHLO, MAIL, RCPT, DATA, the end of DATA, QUIT.
	for _, m := range []struct {
		from, want string
	}{
		{"ceo@reject.test", "550 5.7.1 rejected by DMARC policy for reject.test"},
		{"ceo@reject.test", "550 5.7.1 rejected by DMARC policy for reject.test"},
		{"ceo@quarantine.test", "250 2.0.0 "},
		{"ceo@monitor.test", "250 2.0.0 "},
		{"dave@nodmarc.test", "250 2.0.0 "},
	} {
		r := message("m", m.from, "alice@lab.test")
		if len(r) < 6 || !strings.HasPrefix(r[5], m.want) {
			t.Errorf("mail from %s: replies %q, want the end of DATA answered %q", m.from, r, m.want)
		}
	}
	// A relay refused at RCPT, a session without mail, a client that
	// connects and leaves.
	if r := smtp("EHLO mx.sender.test", "MAIL FROM:<bounce@nodmarc.test>", "RCPT TO:<x@elsewhere.example>", "QUIT"); !strings.HasPrefix(r[3], "550 5.7.1") {
		t.Errorf("relay to elsewhere.example: %q", r)
	}
	smtp("EHLO mx.sender.test", "QUIT")
	smtp()

	lines := lab.WaitLines(t, 30*time.Second, "sendmail's line about each session", func(l []string) bool {
		n := 0
		for _, x := range l {
			if strings.Contains(x, " did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA") {
				n++
			}
		}
		return n == 3
	})
	var ours []string
	for _, l := range lines {
		if strings.Contains(l, " sm-mta[") {
			ours = append(ours, l)
		}
	}
	if dir := os.Getenv("MAILTIER_OPENDMARC_CAPTURE"); dir != "" {
		// Refreshes collectors/sendmail/testdata/opendmarc-sendmail.log.
		if err := os.WriteFile(filepath.Join(dir, "opendmarc-sendmail.log"), []byte(strings.Join(ours, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	metrictest.Feed(t, c, ours...)
	metrictest.Compare(t, c, `# HELP sendmail_smtp_sessions_total SMTP connections sendmail served, counted once per serving process: the first line of a pid that only a serving process writes (from= with daemon=, did not issue MAIL, lost input channel, check_relay refusals, STARTTLS=server, …).
# TYPE sendmail_smtp_sessions_total counter
`+fmt.Sprintf("sendmail_smtp_sessions_total %d\n", sessions), "sendmail_smtp_sessions_total")
	// Two rejected (the milter's reject at DATA) and one quarantined.
	metrictest.Golden(t, c, "sendmail-dispositions", "sendmail_dmarc_dispositions_total", "sendmail_rejects_total")
	d := opendmarc.New(opendmarc.Config{})
	metrictest.FeedAll(t, d, "opendmarc", dmarcLab.Lines())
	// Rejected, quarantined, monitored: fail 4. nodmarc.test has no DMARC
	// record: none 1.
	metrictest.Golden(t, d, "sendmail-results", "opendmarc_results_total")
	if t.Failed() {
		t.Logf("sendmail's syslog:\n%s", strings.Join(lines, "\n"))
		t.Logf("OpenDMARC's syslog:\n%s", strings.Join(dmarcLab.Lines(), "\n"))
	}
}
