package main

import "bufio"
import "net"
import "strconv"
import "strings"
import "sync"

// sink is "the internet": the SMTP server sendmail's esmtp mailer delivers
// every remote domain to. It accepts everything and counts what it got, an
// observation of sendmail's deliveries that does not come from a log.
type sink struct {
	mu       sync.Mutex
	messages int // messages received
	bounces  int // of which with the null sender (DSNs)
	signed   int // of which with a DKIM-Signature header
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(portSink)))
	if err != nil {
		return nil, err
	}
	s := &sink{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s, nil
}

func (s *sink) counts() (messages, bounces, signed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages, s.bounces, s.signed
}

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	say("220 sink.remote.test ESMTP")
	bounce := false
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimRight(l, "\r\n"))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-sink.remote.test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"):
			say("250 sink.remote.test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			bounce = strings.HasPrefix(cmd, "MAIL FROM:<>")
			say("250 2.1.0 Ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			say("250 2.1.5 Ok")
		case cmd == "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			signed, inHeader := false, true
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				l = strings.TrimRight(l, "\r\n")
				if l == "." {
					break
				}
				if l == "" {
					inHeader = false
				}
				if inHeader && strings.HasPrefix(strings.ToLower(l), "dkim-signature:") {
					signed = true
				}
			}
			s.mu.Lock()
			s.messages++
			if bounce {
				s.bounces++
			}
			if signed {
				s.signed++
			}
			s.mu.Unlock()
			say("250 2.0.0 Ok: queued")
		case cmd == "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("250 2.0.0 Ok")
		}
	}
}
