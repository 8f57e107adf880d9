package opendmarc_test

// TestRealOpenDMARC runs Debian's own OpenDMARC (package opendmarc) as a
// milter with DNS from dnsmasq, both in a mount and network namespace of
// the test's own with nothing but a loopback interface (internal/
// milterlab): no query reaches any resolver but the test's. Its syslog
// lines come to the test, which counts them.

import "context"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/emersion/go-milter"

import "github.com/cabalmail/mailtier/collectors/opendkim/probe"
import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/milterlab"
import "github.com/cabalmail/mailtier/internal/testenv"

// The lab's sending host: the one address every SPF record allows.
const (
	allowed = "192.0.2.20"
	other   = "198.51.100.7"
	ignored = "192.0.2.1" // in IgnoreHosts
)

// mail is one message through OpenDMARC and what it must make of it.
type mail struct {
	qid, client, helo, envFrom, from string
	// ar is the dmarc= part of OpenDMARC's Authentication-Results ("" when
	// it adds none); reject is whether it rejects the message.
	ar     string
	reject bool
}

func startOpenDMARC(t *testing.T) (*milterlab.Lab, *milterlab.OpenDMARC) {
	t.Helper()
	testenv.Integration(t)
	testenv.Root(t)
	lab := milterlab.New(t, true)
	spf := "v=spf1 ip4:" + allowed + " -all"
	lab.StartDNS(t, map[string]string{
		"pass.test": spf, "_dmarc.pass.test": "v=DMARC1; p=reject",
		"reject.test": spf, "_dmarc.reject.test": "v=DMARC1; p=reject",
		"quarantine.test": spf, "_dmarc.quarantine.test": "v=DMARC1; p=quarantine",
		"monitor.test": spf, "_dmarc.monitor.test": "v=DMARC1; p=none",
		"nodmarc.test": spf,
		"broken.test":  spf, "_dmarc.broken.test": "v=DMARC1; p=sometimes",
		"helo.pass.test": spf,
		"ignored.test":   spf, "_dmarc.ignored.test": "v=DMARC1; p=reject",
	})
	hosts := filepath.Join(lab.Dir, "ignore.hosts")
	if err := os.WriteFile(hosts, []byte(ignored+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	od := lab.StartOpenDMARC(t, "opendmarc", fmt.Sprintf(`AuthservID              mx.lab.test
SPFSelfValidate         true
SPFIgnoreResults        true
RejectFailures          true
HoldQuarantinedMessages true
FailureReports          false
IgnoreHosts             %s
IgnoreMailFrom          ignored.test
`, hosts), "unix")
	return lab, od
}

// TestRealOpenDMARC passes mail of every DMARC outcome through a real
// OpenDMARC and counts its log lines: exact counts per result.
func TestRealOpenDMARC(t *testing.T) {
	lab, od := startOpenDMARC(t)
	var msgs []mail
	add := func(n int, m mail) {
		for i := 0; i < n; i++ {
			m.qid = fmt.Sprintf("%s%02d", m.qid[:12], len(msgs))
			msgs = append(msgs, m)
		}
	}
	// SPF passes and aligns: DMARC pass.
	add(3, mail{qid: "6AO5FfLr0000", client: allowed, envFrom: "carol@pass.test", from: "carol@pass.test", ar: "dmarc=pass (p=reject dis=none)"})
	// A forged sender: SPF fails, no aligned identifier.
	add(2, mail{qid: "6AO5FgRj0000", client: other, envFrom: "ceo@reject.test", from: "ceo@reject.test", reject: true})
	add(2, mail{qid: "6AO5FhQu0000", client: other, envFrom: "ceo@quarantine.test", from: "ceo@quarantine.test", ar: "dmarc=fail (p=quarantine dis=quarantine)"})
	add(1, mail{qid: "6AO5FiMo0000", client: other, envFrom: "ceo@monitor.test", from: "ceo@monitor.test", ar: "dmarc=fail (p=none dis=none)"})
	// No DMARC record.
	add(2, mail{qid: "6AO5FjNo0000", client: allowed, envFrom: "dave@nodmarc.test", from: "dave@nodmarc.test", ar: "dmarc=none (p=none dis=none)"})
	// A DMARC record OpenDMARC cannot read.
	add(1, mail{qid: "6AO5FkBr0000", client: allowed, envFrom: "erin@broken.test", from: "erin@broken.test", ar: "dmarc=permerror"})
	// A bounce: null sender, SPF of the HELO name; the From: domain is
	// pass.test's own subdomain, relaxed alignment passes.
	add(1, mail{qid: "6AO5FlHe0000", client: allowed, helo: "helo.pass.test", envFrom: "", from: "mailer-daemon@pass.test", ar: "dmarc=pass (p=reject dis=none)"})
	// DNS fails: the lab's server knows no zone example and has no
	// upstream to ask. OpenDMARC reads no record and fails open: DMARC
	// none, not temperror (its SPF check says fail).
	add(2, mail{qid: "6AO5FpDn0000", client: allowed, envFrom: "gail@unreachable.example", from: "gail@unreachable.example", ar: "dmarc=none (p=none dis=none)"})
	// IgnoreMailFrom, a message with no From:, IgnoreHosts.
	add(1, mail{qid: "6AO5FmIg0000", client: allowed, envFrom: "frank@ignored.test", from: "frank@ignored.test"})
	add(1, mail{qid: "6AO5FnNf0000", client: allowed, envFrom: "gina@pass.test"})
	add(2, mail{qid: "6AO5FoIh0000", client: ignored, envFrom: "carol@reject.test", from: "carol@reject.test"})

	for _, m := range msgs {
		r := transact(t, od.Socket, m)
		if m.reject {
			if r.Action != milter.ActReplyCode || r.SMTPCode != 550 || !strings.Contains(r.SMTPText, "rejected by DMARC policy for reject.test") {
				t.Errorf("%s from %s: %+v, want a 550 reject", m.qid, m.from, r)
			}
			continue
		}
		if r.Action != milter.ActAccept && r.Action != milter.ActContinue {
			t.Errorf("%s from %s: action %q", m.qid, m.from, rune(r.Action))
		}
		// OpenDMARC adds one Authentication-Results for its SPF check
		// and one for DMARC.
		var ars []string
		for _, h := range r.Added {
			if strings.EqualFold(h.Name, "Authentication-Results") {
				ars = append(ars, h.Value)
			}
		}
		ar := strings.Join(ars, "\n")
		if m.ar == "" && strings.Contains(ar, "dmarc=") {
			t.Errorf("%s from %s: Authentication-Results %q, want no dmarc=", m.qid, m.from, ar)
		}
		if m.ar != "" && !strings.Contains(ar, m.ar) {
			t.Errorf("%s from %s: Authentication-Results %q, want %q", m.qid, m.from, ar, m.ar)
		}
	}
	last := msgs[len(msgs)-3].qid + ": RFC5322 requirement error: missing From field; accepting"
	lines := lab.WaitLines(t, 30*time.Second, "OpenDMARC's line about the last message", func(l []string) bool {
		n := 0
		for _, x := range l {
			if strings.Contains(x, "ignoring connection from") {
				n++
			}
			if strings.HasSuffix(x, last) {
				n += 100
			}
		}
		return n == 102
	})
	if dir := os.Getenv("MAILTIER_OPENDMARC_CAPTURE"); dir != "" {
		// Refreshes testdata/opendmarc.log from a real run.
		var ours []string
		for _, l := range lines {
			if strings.Contains(l, " opendmarc[") {
				ours = append(ours, l)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "opendmarc.log"), []byte(strings.Join(ours, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	c := opendmarc.New(opendmarc.Config{})
	metrictest.FeedAll(t, c, "opendmarc", lines)
	metrictest.Golden(t, c, labRun)
	if t.Failed() {
		t.Logf("OpenDMARC's syslog:\n%s", strings.Join(lines, "\n"))
		dns, _ := os.ReadFile(filepath.Join(lab.Dir, "dnsmasq.log"))
		t.Logf("dnsmasq:\n%s", dns)
	}
}

func transact(t *testing.T, socket string, m mail) probe.Reply {
	t.Helper()
	helo := m.helo
	if helo == "" {
		helo = "mx.sender.test"
	}
	msg := probe.Message{
		QueueID: m.qid, ClientHost: helo, ClientAddr: m.client, Helo: helo,
		From: m.envFrom, Rcpt: []string{"alice@mx.lab.test"},
		Body: []byte("Hello,\r\n\r\nthe figures are attached.\r\n"),
	}
	if m.from != "" {
		msg.Headers = append(msg.Headers, probe.Header{Name: "From", Value: "<" + m.from + ">"})
	}
	msg.Headers = append(msg.Headers,
		probe.Header{Name: "To", Value: "<alice@mx.lab.test>"},
		probe.Header{Name: "Subject", Value: "figures " + m.qid},
		probe.Header{Name: "Date", Value: "Tue, 24 Nov 2026 05:15:41 +0000"},
		probe.Header{Name: "Message-ID", Value: "<" + m.qid + "@sender.test>"},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := probe.Transact(ctx, socket, msg)
	if err != nil {
		t.Fatalf("%s from %s: %v", m.qid, m.from, err)
	}
	return r
}

// feedAll hands the captured syslog lines to c and checks that it
// recognises every OpenDMARC line among them.
