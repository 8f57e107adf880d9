// Package probe speaks the milter protocol to OpenDKIM the way sendmail
// does, to measure how long OpenDKIM takes to sign a message.
//
// OpenDKIM logs no timings, so the only honest measure of its signing
// time is to ask it to sign: Run opens a milter connection, hands OpenDKIM
// one small message from a signing domain, and times the conversation up
// to the end-of-message reply that carries the DKIM-Signature. Nothing is
// delivered: the probe is the MTA, and it discards the message.
//
// Transact is the general form: one message through a milter, with the
// header fields and replies the milter added. Tests use it to sign and
// verify arbitrary mail.
package probe

import "context"
import "errors"
import "fmt"
import "net"
import "strconv"
import "strings"
import "sync"
import "time"

import "github.com/emersion/go-milter"

// QueueID is the queue id (sendmail's macro "i") of every probe message.
// OpenDKIM starts each of its log lines about a message with it
// ("mailtierprobe: DKIM-Signature field added (s=…, d=…)"), so the log
// collector can tell the probe's lines from mail. Letters only, so any
// parser of sendmail-style queue ids finds it.
const QueueID = "mailtierprobe"

// ParseAddress turns a milter socket specification, as sendmail's
// InputMailFilters and OpenDKIM's Socket setting write it, into a Go
// network and address: "inet:8891@127.0.0.1", "inet6:8891@[::1]",
// "unix:/run/opendkim/opendkim.sock", "local:/path" or a bare "/path".
func ParseAddress(spec string) (network, address string, err error) {
	proto, rest, found := strings.Cut(spec, ":")
	if !found && strings.HasPrefix(spec, "/") {
		return "unix", spec, nil
	}
	switch proto {
	case "unix", "local":
		if rest == "" {
			return "", "", fmt.Errorf("milter socket %q: no path", spec)
		}
		return "unix", rest, nil
	case "inet", "inet6":
		port, host, ok := strings.Cut(rest, "@")
		if !ok || host == "" {
			return "", "", fmt.Errorf("milter socket %q: want %s:PORT@HOST", spec, proto)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", "", fmt.Errorf("milter socket %q: bad port %q", spec, port)
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		network = "tcp4"
		if proto == "inet6" {
			network = "tcp6"
		}
		return network, net.JoinHostPort(host, port), nil
	}
	return "", "", fmt.Errorf("milter socket %q: want inet:PORT@HOST, inet6:PORT@HOST or unix:PATH", spec)
}

// Header is one header field, its value as it would follow "Name:" with
// the leading space removed (as sendmail passes it).
type Header struct {
	Name, Value string
}

// Message is one SMTP transaction, as the MTA describes it to a milter.
type Message struct {
	// QueueID is the macro "i", the id the milter logs the message by.
	QueueID string
	// ClientHost and ClientAddr describe the SMTP client (the milter's
	// connect step); ClientAddr is an IPv4 or IPv6 address.
	ClientHost, ClientAddr string
	// Helo is the client's HELO name.
	Helo string
	// AuthType, when set, is the macro {auth_type}: the client
	// authenticated with that SASL mechanism. OpenDKIM signs the mail
	// of authenticated clients from a domain of its SigningTable.
	AuthType string
	// AuthAuthen is the macro {auth_authen}, the authenticated user.
	AuthAuthen string
	// DaemonName is the macro {daemon_name}, the name of the MTA's
	// listener (OpenDKIM's MTA setting matches it).
	DaemonName string
	From       string   // envelope sender, without angle brackets
	Rcpt       []string // envelope recipients
	Headers    []Header
	Body       []byte // CRLF line ends
}

// Reply is what the milter answered at the end of the message.
type Reply struct {
	// Action is the final verdict: milter.ActAccept, ActContinue,
	// ActReject, ActTempFail, ActDiscard or ActReplyCode.
	Action milter.ActionCode
	// SMTPCode and SMTPText are set for ActReplyCode.
	SMTPCode int
	SMTPText string
	// Added are the header fields the milter added or inserted, in order.
	Added []Header
}

// Header returns the value of the first added header field called name
// (case-insensitive), or "".
func (r Reply) Header(name string) string {
	for _, h := range r.Added {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Transact passes msg through the milter at spec (see ParseAddress) as
// sendmail would and returns its reply to the end of the message. The
// whole conversation, connecting included, is bounded by ctx.
func Transact(ctx context.Context, spec string, msg Message) (Reply, error) {
	network, address, err := ParseAddress(spec)
	if err != nil {
		return Reply{}, err
	}
	deadline, hasDeadline := ctx.Deadline()
	client := milter.NewClientWithOptions(network, address, milter.ClientOptions{
		Dialer: dialer{ctx: ctx, deadline: deadline, hasDeadline: hasDeadline},
		// The actions OpenDKIM may ask for (it refuses an MTA that does not
		// offer them), all of milter protocol version 2, so that older
		// milters negotiate too.
		ActionMask: milter.OptAddHeader | milter.OptChangeHeader | milter.OptChangeBody |
			milter.OptAddRcpt | milter.OptRemoveRcpt | milter.OptQuarantine,
	})
	s, err := client.Session()
	if err != nil {
		return Reply{}, err
	}
	defer s.Close()
	return transact(s, msg)
}

func transact(s *milter.ClientSession, msg Message) (Reply, error) {
	family, addr := milter.FamilyUnknown, ""
	if ip := net.ParseIP(msg.ClientAddr); ip != nil {
		family, addr = milter.FamilyInet, ip.String()
		if ip.To4() == nil {
			family = milter.FamilyInet6
		}
	}
	conn := []string{"j", "localhost"}
	if msg.DaemonName != "" {
		conn = append(conn, "{daemon_name}", msg.DaemonName)
	}
	steps := []func() (*milter.Action, error){
		func() (*milter.Action, error) {
			if err := s.Macros(milter.CodeConn, conn...); err != nil {
				return nil, err
			}
			return s.Conn(msg.ClientHost, family, 25, addr)
		},
		func() (*milter.Action, error) { return s.Helo(msg.Helo) },
		func() (*milter.Action, error) {
			// sendmail's default Milter.macros.envfrom.
			kv := []string{"i", msg.QueueID}
			if msg.AuthType != "" {
				kv = append(kv, "{auth_type}", msg.AuthType, "{auth_authen}", msg.AuthAuthen)
			}
			if err := s.Macros(milter.CodeMail, kv...); err != nil {
				return nil, err
			}
			return s.Mail(msg.From, nil)
		},
	}
	for _, r := range msg.Rcpt {
		steps = append(steps, func() (*milter.Action, error) { return s.Rcpt(r, nil) })
	}
	for _, h := range msg.Headers {
		steps = append(steps, func() (*milter.Action, error) { return s.HeaderField(h.Name, h.Value) })
	}
	steps = append(steps, s.HeaderEnd)
	for body := msg.Body; len(body) > 0; {
		n := min(len(body), milter.MaxBodyChunk)
		chunk := body[:n]
		body = body[n:]
		steps = append(steps, func() (*milter.Action, error) { return s.BodyChunk(chunk) })
	}
	for _, step := range steps {
		act, err := step()
		if err != nil {
			return Reply{}, err
		}
		if act.Code != milter.ActContinue {
			// The milter decided before the end of the message.
			return Reply{Action: act.Code, SMTPCode: act.SMTPCode, SMTPText: act.SMTPText}, nil
		}
	}
	if err := s.Macros(milter.CodeEOB, "i", msg.QueueID); err != nil {
		return Reply{}, err
	}
	mods, act, err := s.End()
	if err != nil {
		return Reply{}, err
	}
	r := Reply{Action: act.Code, SMTPCode: act.SMTPCode, SMTPText: act.SMTPText}
	for _, m := range mods {
		if m.Code == milter.ActAddHeader || m.Code == milter.ActInsertHeader {
			r.Added = append(r.Added, Header{m.HeaderName, m.HeaderValue})
		}
	}
	return r, nil
}

// dialer connects within ctx and gives every connection the deadline of
// ctx, whatever per-packet timeouts the milter library asks for.
type dialer struct {
	ctx         context.Context
	deadline    time.Time
	hasDeadline bool
}

func (d dialer) Dial(network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(d.ctx, network, address)
	if err != nil {
		return nil, err
	}
	dc := &deadlineConn{Conn: c, deadline: d.deadline, has: d.hasDeadline}
	if d.hasDeadline {
		if err := c.SetDeadline(d.deadline); err != nil {
			c.Close()
			return nil, err
		}
	}
	// Cancelling ctx ends the conversation at once.
	stop := context.AfterFunc(d.ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	dc.stop = stop
	return dc, nil
}

// deadlineConn never lets a deadline run past the probe's own.
type deadlineConn struct {
	net.Conn
	deadline time.Time
	has      bool
	once     sync.Once
	stop     func() bool
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	if c.has && (t.IsZero() || t.After(c.deadline)) {
		return c.deadline
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

func (c *deadlineConn) Close() error {
	c.once.Do(func() { c.stop() })
	return c.Conn.Close()
}

// Config is what a signing probe needs.
type Config struct {
	// Address is OpenDKIM's milter socket (see ParseAddress).
	Address string
	// From is the probe's sender: an address in a domain OpenDKIM's
	// SigningTable (or Domain setting) signs for.
	From string
	// Timeout bounds one probe, connecting included.
	Timeout time.Duration
}

// Result is one successful probe.
type Result struct {
	// Duration runs from connecting to OpenDKIM to its reply to the end
	// of the message.
	Duration time.Duration
	// Signature is the DKIM-Signature field OpenDKIM added.
	Signature string
}

// ErrNotSigned is returned when OpenDKIM accepted the probe message but
// added no DKIM-Signature.
var ErrNotSigned = errors.New("OpenDKIM added no DKIM-Signature to the probe message")

// NewMessage is the probe's message from the address from: a few lines,
// sent by an authenticated client ({auth_type} PLAIN) from 127.0.0.1, the
// two ways OpenDKIM recognises mail to sign. The recipient is the sender.
func NewMessage(from string, now time.Time) Message {
	domain := from[strings.LastIndexByte(from, '@')+1:]
	return Message{
		QueueID:    QueueID,
		ClientHost: "localhost",
		ClientAddr: "127.0.0.1",
		Helo:       "localhost",
		AuthType:   "PLAIN",
		AuthAuthen: QueueID,
		From:       from,
		Rcpt:       []string{from},
		Headers: []Header{
			{"From", "<" + from + ">"},
			{"To", "<" + from + ">"},
			{"Subject", "mailtier OpenDKIM signing probe"},
			{"Date", now.UTC().Format(time.RFC1123Z)},
			{"Message-ID", "<" + strconv.FormatInt(now.UnixNano(), 36) + "." + QueueID + "@" + domain + ">"},
		},
		Body: []byte("This message measures how long OpenDKIM takes to sign. It is never delivered.\r\n"),
	}
}

// Run makes one probe: it asks OpenDKIM to sign the probe message and
// times the answer. It fails when OpenDKIM cannot be reached, answers
// late, refuses the message or adds no DKIM-Signature.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if _, _, err := ParseAddress(cfg.Address); err != nil {
		return Result{}, err
	}
	if !strings.Contains(cfg.From, "@") {
		return Result{}, fmt.Errorf("probe sender %q is not an address", cfg.From)
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	start := time.Now()
	reply, err := Transact(ctx, cfg.Address, NewMessage(cfg.From, start))
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	switch reply.Action {
	case milter.ActAccept, milter.ActContinue:
	case milter.ActReplyCode:
		return Result{}, fmt.Errorf("OpenDKIM refused the probe message: %d %s", reply.SMTPCode, reply.SMTPText)
	default:
		return Result{}, fmt.Errorf("OpenDKIM refused the probe message (milter action %q)", rune(reply.Action))
	}
	sig := reply.Header("DKIM-Signature")
	if sig == "" {
		return Result{}, ErrNotSigned
	}
	return Result{Duration: elapsed, Signature: sig}, nil
}
