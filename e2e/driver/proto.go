package main

import "bufio"
import "crypto/tls"
import "encoding/base64"
import "fmt"
import "net"
import "strconv"
import "strings"
import "time"

// Every server the suite talks to is on 127.0.0.1; clients pick their
// source address in 127.0.0.0/8 to play different hosts.
const host = "127.0.0.1"

// Ports of the daemons, as e2e/conf configures them.
const (
	portMTA        = 2525 // sendmail, inbound
	portSubmission = 1587 // Dovecot submission, relaying to sendmail's MSA
	portIMAP       = 1143
	portIMAPS      = 1993
	portLMTP       = 2424
	portSink       = 2600 // the driver's own SMTP server: "the internet"
)

// conn is a line-oriented client connection (SMTP, LMTP, IMAP).
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	err error // the first failure; every later step is skipped
}

func dial(src string, port int) *conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 20 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return &conn{err: err}
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &conn{c: c, r: bufio.NewReader(c)}
}

func (c *conn) fail(format string, a ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, a...)
	}
}

func (c *conn) write(s string) {
	if c.err != nil {
		return
	}
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.fail("write: %v", err)
	}
}

func (c *conn) line() string {
	if c.err != nil {
		return ""
	}
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.fail("read: %v", err)
		return ""
	}
	return strings.TrimRight(l, "\r\n")
}

// reply reads one SMTP reply, multi-line or not, and returns its code and
// last line.
func (c *conn) reply() (int, string) {
	for c.err == nil {
		l := c.line()
		if len(l) < 3 {
			c.fail("short reply %q", l)
			break
		}
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil {
			c.fail("bad reply %q", l)
			break
		}
		return code, l
	}
	return 0, ""
}

// expect reads a reply and records a failure unless its code is want.
func (c *conn) expect(want int, what string) {
	code, l := c.reply()
	if c.err == nil && code != want {
		c.fail("%s: got %q, want %d", what, l, want)
	}
}

// cmd sends an SMTP command and expects the reply code want.
func (c *conn) cmd(command string, want int) {
	c.write(command + "\r\n")
	c.expect(want, command)
}

// data sends DATA, the message and the final dot; want is the code of the
// reply to the dot.
func (c *conn) data(msg string, want int) {
	c.cmd("DATA", 354)
	c.write(dotStuff(msg) + ".\r\n")
	c.expect(want, "end of DATA")
}

// startTLS wraps the connection in TLS: after STARTTLS's 220, or at once
// for IMAPS.
func (c *conn) startTLS() {
	if c.err != nil {
		return
	}
	t := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.e2e.test"}) //nolint:gosec // self-signed test certificate
	if err := t.Handshake(); err != nil {
		c.fail("TLS handshake: %v", err)
		return
	}
	c.c, c.r = t, bufio.NewReader(t)
}

// close ends the connection and returns the first failure.
func (c *conn) close() error {
	if c.c != nil {
		_ = c.c.Close()
	}
	return c.err
}

// authPlain is the argument of AUTH PLAIN.
func authPlain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// message is a small RFC 5322 message; pad adds that many bytes of body.
func message(id, from, to string, pad int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@e2e.test>\r\n\r\n",
		from, to, id, time.Now().UTC().Format(time.RFC1123Z), id)
	b.WriteString("mailtier end-to-end test message " + id + "\r\n")
	line := strings.Repeat("x", 78) + "\r\n"
	for n := 0; n < pad; n += len(line) {
		b.WriteString(line)
	}
	return b.String()
}

func dotStuff(msg string) string {
	lines := strings.SplitAfter(msg, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "")
}

// imap is an IMAP client session on a conn.
type imap struct {
	*conn
	tag int
}

func dialIMAP(src string, port int, useTLS bool) *imap {
	m := &imap{conn: dial(src, port)}
	if useTLS {
		m.startTLS()
	}
	if g := m.line(); m.err == nil && !strings.HasPrefix(g, "* OK") {
		m.fail("IMAP greeting %q", g)
	}
	return m
}

// cmd sends a tagged command and returns the tagged reply's status (OK,
// NO, BAD).
func (m *imap) cmd(command string) string {
	m.tag++
	tag := "a" + strconv.Itoa(m.tag)
	m.write(tag + " " + command + "\r\n")
	for m.err == nil {
		l := m.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			status, _, _ := strings.Cut(rest, " ")
			return status
		}
	}
	return ""
}

// expect sends a command and records a failure unless its status is want.
func (m *imap) expect(command, want string) {
	if got := m.cmd(command); m.err == nil && got != want {
		m.fail("IMAP %s: got %s, want %s", strings.Fields(command)[0], got, want)
	}
}
