package opendkim_test

// These tests run Debian's own OpenDKIM (package opendkim, with
// opendkim-tools for opendkim-genkey) and dnsmasq (dnsmasq-base), each in
// a mount namespace of the test's own whose /dev/log is a socket the test
// reads (see internal/milterlab). The verifying OpenDKIM and its DNS server
// also have a network namespace of their own with nothing but a loopback
// interface, so no query can reach any resolver but the test's.

import "context"
import "fmt"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "os"
import "path/filepath"
import "regexp"
import "strings"
import "testing"
import "time"

import "github.com/emersion/go-milter"

import "github.com/cabalmail/mailtier/collectors/opendkim"
import "github.com/cabalmail/mailtier/collectors/opendkim/probe"
import "github.com/cabalmail/mailtier/internal/milterlab"

// signer is a signing OpenDKIM in a lab of its own.
type signer struct {
	lab *milterlab.Lab
	od  *milterlab.OpenDKIM
	key milterlab.Key
}

// startSigner runs OpenDKIM in Mode s with a generated key for lab.test
// (selector mail) and for each of extra, a key table entry for
// broken.test whose key file does not exist, and a signing table entry
// for table.test naming a key the key table lacks. InternalHosts lists
// only 192.0.2.1 and MTA names a listener no message comes from: mail from
// 127.0.0.1 is signed only when its client authenticated ({auth_type}),
// as the probe's does.
func startSigner(t *testing.T, socket string, extra ...string) *signer {
	t.Helper()
	lab := milterlab.New(t, false)
	key := lab.GenKey(t, "lab.test", "mail", 2048)
	keyTable := fmt.Sprintf("mail._domainkey.lab.test lab.test:mail:%s\n", key.Private)
	signingTable := "*@lab.test mail._domainkey.lab.test\n"
	for _, d := range extra {
		k := lab.GenKey(t, d, "mail", 1024)
		keyTable += fmt.Sprintf("mail._domainkey.%s %s:mail:%s\n", d, d, k.Private)
		signingTable += fmt.Sprintf("*@%s mail._domainkey.%s\n", d, d)
	}
	keyTable += fmt.Sprintf("brk._domainkey.broken.test broken.test:brk:%s/keys/broken.test/brk.private\n", milterlab.Private)
	signingTable += "*@broken.test brk._domainkey.broken.test\n*@table.test nosuch._domainkey.table.test\n"
	files := map[string]string{"KeyTable": keyTable, "SigningTable": signingTable, "InternalHosts": "192.0.2.1\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(lab.Dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Mode                    s
Canonicalization        relaxed/simple
OversignHeaders         From
KeyTable                file:%[1]s/KeyTable
SigningTable            refile:%[1]s/SigningTable
InternalHosts           %[1]s/InternalHosts
MTA                     MSA
Nameservers             127.0.0.1
`, lab.Dir)
	return &signer{lab: lab, od: lab.StartOpenDKIM(t, "signer", conf, socket), key: key}
}

// message is a submission from an authenticated local user.
func message(qid, from string) probe.Message {
	m := probe.NewMessage(from, time.Date(2026, 11, 24, 5, 15, 41, 0, time.UTC))
	m.QueueID = qid
	m.AuthAuthen = "carol"
	m.Headers[2] = probe.Header{Name: "Subject", Value: "quarterly figures " + qid}
	m.Headers[4] = probe.Header{Name: "Message-ID", Value: "<" + qid + "@" + m.From[strings.IndexByte(m.From, '@')+1:] + ">"}
	m.Body = []byte("Hello,\r\n\r\nthe figures are attached.\r\n")
	return m
}

func transact(t *testing.T, socket string, m probe.Message) probe.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := probe.Transact(ctx, socket, m)
	if err != nil {
		t.Fatalf("%s from %s: %v", m.QueueID, m.From, err)
	}
	return r
}

// tags reads the tags of a DKIM-Signature value.
func tags(sig string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(sig, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
	}
	return out
}

// hasLine reports whether a line ends with suffix.
func hasLine(lines []string, suffix string) bool {
	for _, l := range lines {
		if strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

func countLines(lines []string, suffix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasSuffix(l, suffix) {
			n++
		}
	}
	return n
}

// TestRealOpenDKIMSigning runs the probe against a real OpenDKIM signing
// with a generated key, over an inet and a unix socket; counts the real
// OpenDKIM's lines about real submissions; and stops OpenDKIM to see the
// probe fail.
func TestRealOpenDKIMSigning(t *testing.T) {
	for _, socket := range []string{"inet", "unix"} {
		t.Run(socket, func(t *testing.T) {
			s := startSigner(t, socket)
			c := metrictest.New(t, opendkim.New, opendkim.Config{
				ProbeAddress: s.od.Socket, ProbeFrom: "probe@lab.test",
				ProbeInterval: time.Hour, ProbeTimeout: 10 * time.Second,
			})
			ctx := context.Background()

			// The probe: OpenDKIM signs its message, and each probe adds
			// exactly one observation.
			const probes = 3
			for i := 1; i <= probes; i++ {
				if err := c.Probe(ctx); err != nil {
					t.Fatalf("probe %d: %v", i, err)
				}
				if got := value(t, c, "opendkim_probe_success", ""); got != 1 {
					t.Fatalf("probe %d: opendkim_probe_success = %v", i, got)
				}
				if got := value(t, c, "opendkim_probe_duration_seconds", ""); got != float64(i) {
					t.Fatalf("probe %d: %v probes timed", i, got)
				}
			}
			res, err := probe.Run(ctx, probe.Config{Address: s.od.Socket, From: "probe@lab.test", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			tg := tags(res.Signature)
			if tg["d"] != "lab.test" || tg["s"] != "mail" || tg["v"] != "1" || tg["a"] != "rsa-sha256" {
				t.Errorf("the probe's signature is not ours: %q", res.Signature)
			}
			if !strings.Contains(strings.ToLower(tg["h"]), "from") {
				t.Errorf("the signature does not cover From: %q", res.Signature)
			}
			t.Logf("one probe: %s", res.Duration)

			// Real submissions: signed, not in the signing table, a
			// missing key file, a signing table naming an unknown key,
			// and a client neither internal nor authenticated.
			type sub struct {
				qid, from string
				auth      bool
				action    milter.ActionCode
				signed    bool
			}
			var subs []sub
			for i := 0; i < 4; i++ {
				subs = append(subs, sub{fmt.Sprintf("6AO5FfLr%06d", i), "carol@lab.test", true, milter.ActAccept, true})
			}
			subs = append(subs,
				sub{"6AO5FjOa009317", "bob@other.test", true, milter.ActAccept, false},
				sub{"6AO5FjOa009318", "bob@other.test", true, milter.ActAccept, false},
				sub{"6AO5FjdF009337", "carol@broken.test", true, milter.ActTempFail, false},
				sub{"6AO5FjdF009338", "carol@table.test", true, milter.ActTempFail, false},
				sub{"6AO5FjnA009340", "carol@lab.test", false, milter.ActAccept, false},
			)
			for _, sb := range subs {
				m := message(sb.qid, sb.from)
				if !sb.auth {
					m.AuthType = ""
				}
				r := transact(t, s.od.Socket, m)
				if r.Action != sb.action {
					t.Errorf("%s from %s: action %q, want %q", sb.qid, sb.from, rune(r.Action), rune(sb.action))
				}
				if got := r.Header("DKIM-Signature") != ""; got != sb.signed {
					t.Errorf("%s from %s: signed %v, want %v", sb.qid, sb.from, got, sb.signed)
				}
			}
			lines := s.lab.WaitLines(t, 30*time.Second, "OpenDKIM's line about the last submission", func(l []string) bool {
				return hasLine(l, "opendkim["+fmt.Sprint(s.od.PID())+"]: 6AO5FjnA009340: not authenticated")
			})
			if n := countLines(lines, ": "+probe.QueueID+": DKIM-Signature field added (s=mail, d=lab.test)"); n != probes+1 {
				t.Errorf("OpenDKIM logged %d probe signatures, want %d", n, probes+1)
			}
			metrictest.FeedAll(t, c, "opendkim", lines)
			// The mail's counts: 4 signed (the probe's own signatures
			// are not mail), a missing key and an unknown one, 2 not in
			// the signing table, nothing verified. The probe's series,
			// whose durations vary, are checked above.
			metrictest.Golden(t, c, "real-signing", "opendkim_messages_signed_total", "opendkim_sign_failures_total",
				"opendkim_messages_not_signed_total", "opendkim_verifications_total")

			// OpenDKIM stopped: the next probe fails.
			s.od.Stop(t)
			if err := c.Probe(ctx); err == nil {
				t.Fatal("the probe succeeded with OpenDKIM stopped")
			} else {
				t.Logf("probe with OpenDKIM stopped: %v", err)
			}
			if got := value(t, c, "opendkim_probe_success", ""); got != 0 {
				t.Errorf("opendkim_probe_success = %v with OpenDKIM stopped", got)
			}
			if got := value(t, c, "opendkim_probe_duration_seconds", ""); got != probes {
				t.Errorf("%v probes timed, want %d", got, probes)
			}
		})
	}
}

// TestRealOpenDKIMProbeFromUnsignedDomain checks that a probe whose sender
// OpenDKIM does not sign for fails, and that its log line is not counted.
func TestRealOpenDKIMProbeFromUnsignedDomain(t *testing.T) {
	s := startSigner(t, "unix")
	c := metrictest.New(t, opendkim.New, opendkim.Config{
		ProbeAddress: s.od.Socket, ProbeFrom: "probe@other.test",
		ProbeInterval: time.Hour, ProbeTimeout: 10 * time.Second,
	})
	if err := c.Probe(context.Background()); err != probe.ErrNotSigned {
		t.Fatalf("probe from other.test: %v, want %v", err, probe.ErrNotSigned)
	}
	if got := value(t, c, "opendkim_probe_success", ""); got != 0 {
		t.Errorf("opendkim_probe_success = %v", got)
	}
	want := ": " + probe.QueueID + ": no signing table match for 'probe@other.test'"
	lines := s.lab.WaitLines(t, 30*time.Second, "the probe's no-match line", func(l []string) bool { return hasLine(l, want) })
	feed(t, c, lines...)
	if got := value(t, c, "opendkim_messages_not_signed_total", "reason=no_signing_table_match"); got != 0 {
		t.Errorf("the probe's line was counted: %v", got)
	}
}

// TestRealOpenDKIMVerification has a real OpenDKIM verify mail that
// another real OpenDKIM signed with the lab key, the public key served by
// dnsmasq on the loopback of a network namespace of the test's own, and
// counts the verifier's log lines.
func TestRealOpenDKIMVerification(t *testing.T) {
	s := startSigner(t, "unix", "revoked.test", "nodns.test")

	v := milterlab.New(t, true)
	v.StartDNS(t, map[string]string{
		"mail._domainkey.lab.test": s.key.TXT,
		// An empty p= is a revoked key (RFC 6376 3.6.1).
		"mail._domainkey.revoked.test": "v=DKIM1; k=rsa; p=",
	})
	// Only the loopback exists where the verifier runs.
	if links := v.Run(t, "/usr/sbin/ip", "-o", "link"); strings.Count(links, "\n") != 1 || !strings.Contains(links, ": lo: ") {
		t.Fatalf("the verifier's namespace has more than a loopback:\n%s", links)
	}
	// OpenDKIM asks DNS through libunbound (Nameservers: its forwarder),
	// which answers names under test. from a local zone of its own
	// (RFC 6761) unless told not to.
	unbound := filepath.Join(v.Dir, "unbound.conf")
	if err := os.WriteFile(unbound, []byte("server:\n\tlocal-zone: \"test.\" nodefault\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	verifier := v.StartOpenDKIM(t, "verifier", fmt.Sprintf(`Mode                    v
AuthservID              mx.lab.test
Nameservers             127.0.0.1
ResolverConfiguration   %s
`, unbound), "unix")

	sign := func(qid, from string) probe.Message {
		m := message(qid, from)
		r := transact(t, s.od.Socket, m)
		sig := r.Header("DKIM-Signature")
		if sig == "" {
			t.Fatalf("%s from %s was not signed: %+v", qid, from, r)
		}
		m.Headers = append([]probe.Header{{Name: "DKIM-Signature", Value: sig}}, m.Headers...)
		return m
	}
	type in struct {
		m      probe.Message
		result string // the A-R header's dkim= result
	}
	var mail []in
	for i := 0; i < 3; i++ {
		mail = append(mail, in{sign(fmt.Sprintf("7BO5FfLr%06d", i), "carol@lab.test"), "pass"})
	}
	for i := 3; i < 5; i++ {
		m := sign(fmt.Sprintf("7BO5FfLr%06d", i), "carol@lab.test")
		m.Body = []byte("Hello,\r\n\r\nthe figures are attached. Send money.\r\n")
		mail = append(mail, in{m, "fail"})
	}
	m := sign("7BO5FfLr000005", "carol@lab.test")
	m.Headers[3] = probe.Header{Name: "Subject", Value: "changed in transit"}
	mail = append(mail, in{m, "fail"})
	mail = append(mail, in{sign("7BO5FfLr000006", "dave@revoked.test"), "fail"})
	for i := 7; i < 9; i++ {
		mail = append(mail, in{message(fmt.Sprintf("7BO5FfLr%06d", i), "erin@lab.test"), ""})
	}
	mail = append(mail, in{sign("7BO5FfLr000009", "frank@nodns.test"), "fail"})

	for _, x := range mail {
		// Inbound: from a remote client, not authenticated.
		x.m.ClientHost, x.m.ClientAddr, x.m.Helo = "mx20.remote.test", "127.0.0.20", "mx20.remote.test"
		x.m.AuthType, x.m.AuthAuthen = "", ""
		r := transact(t, verifier.Socket, x.m)
		if r.Action != milter.ActAccept && r.Action != milter.ActContinue {
			t.Errorf("%s: action %q", x.m.QueueID, rune(r.Action))
		}
		ar := r.Header("Authentication-Results")
		switch {
		case x.result == "" && ar != "":
			t.Errorf("%s: unsigned, yet %q", x.m.QueueID, ar)
		case x.result != "" && !regexp.MustCompile(`\bdkim=`+x.result+`\b`).MatchString(ar):
			t.Errorf("%s: Authentication-Results %q, want dkim=%s", x.m.QueueID, ar, x.result)
		}
	}
	last := fmt.Sprintf("opendkim[%d]: 7BO5FfLr000009: key retrieval failed (s=mail, d=nodns.test)", verifier.PID())
	lines := v.WaitLines(t, 30*time.Second, "the verifier's line about the last message", func(l []string) bool {
		for _, x := range l {
			if strings.Contains(x, last) {
				return true
			}
		}
		return false
	})

	c := metrictest.New(t, opendkim.New, opendkim.Config{})
	metrictest.FeedAll(t, c, "opendkim", lines)
	// 3 pass; 4 fail (two changed bodies, a changed Subject, a revoked
	// key); 2 without a signature; 1 other (the key is not in DNS).
	// Inbound mail is verified, not signed: LogWhy's "not internal" lines
	// are not failures to sign, so every signing series is 0.
	metrictest.Golden(t, c, "real-verification")
	if t.Failed() {
		t.Logf("verifier's syslog:\n%s", strings.Join(lines, "\n"))
		dns, _ := os.ReadFile(filepath.Join(v.Dir, "dnsmasq.log"))
		t.Logf("dnsmasq:\n%s", dns)
	}
}

// feedAll hands the captured syslog lines to c and checks that it
// recognises every OpenDKIM line among them.
