// Package fakes provides recording stand-ins for Pushover and ntfy on
// 127.0.0.1, so alert_sink's tests check the exact requests it makes without
// ever reaching the real services. Tests wait for requests on a channel
// rather than by sleeping.
package fakes

import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "net/url"
import "strings"
import "sync"
import "testing"
import "time"

// Request is one request a fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Form is the decoded body of a form post (Pushover).
	Form url.Values
	// Body is the raw body (ntfy's message).
	Body string
}

// Responder answers the n-th request (from 1). It may block on
// r.Context() to simulate a server that does not answer in time.
type Responder func(n int, req Request, r *http.Request) (status int, body string)

// Server is a recording HTTP server.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	reqs    []Request
	arrived chan struct{} // closed and replaced on every request
	respond Responder
}

func newServer(t testing.TB, respond Responder) *Server {
	s := &Server{arrived: make(chan struct{}), respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		req.Form, _ = url.ParseQuery(string(body))
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	n := len(s.reqs)
	respond := s.respond
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()

	status, reply := respond(n, req, r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, reply)
}

// SetResponder replaces how the server answers from now on.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	s.respond = r
	s.mu.Unlock()
}

// Requests returns a copy of what arrived so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// WaitFor blocks until at least n requests arrived and returns them all; it
// fails the test when timeout passes first.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.reqs) >= n {
			out := append([]Request(nil), s.reqs...)
			s.mu.Unlock()
			return out
		}
		arrived := s.arrived
		got := len(s.reqs)
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("%s: waited %v for %d requests, got %d", s.URL, timeout, n, got)
		}
	}
}

// NewPushover starts a fake Pushover API. Its base URL (for
// notify.Pushover.BaseURL) is URL + "/1". By default it accepts every
// message, issuing receipt "rcpt<n>" for priority 2, and every cancel.
func NewPushover(t testing.TB) *Server {
	return newServer(t, PushoverOK)
}

// PushoverOK answers like Pushover on success.
func PushoverOK(n int, req Request, _ *http.Request) (int, string) {
	if req.Path == "/1/messages.json" && req.Form.Get("priority") == "2" {
		return http.StatusOK, fmt.Sprintf(`{"status":1,"request":"req%d","receipt":"rcpt%d"}`, n, n)
	}
	return http.StatusOK, fmt.Sprintf(`{"status":1,"request":"req%d"}`, n)
}

// NewNtfy starts a fake ntfy server that accepts every publication.
func NewNtfy(t testing.TB) *Server {
	return newServer(t, NtfyOK)
}

// NtfyOK answers like ntfy on success.
func NtfyOK(n int, _ Request, _ *http.Request) (int, string) {
	return http.StatusOK, fmt.Sprintf(`{"id":"msg%d","event":"message"}`, n)
}

// FailFirst answers the first n requests with status and the rest with ok.
func FailFirst(n, status int, ok Responder) Responder {
	return func(i int, req Request, r *http.Request) (int, string) {
		if i <= n {
			return status, `{"status":0,"errors":["injected failure"]}`
		}
		return ok(i, req, r)
	}
}

// NtfyFailFirstAlertmanager answers like ntfy, but with 503 to the first
// publication of each Alertmanager notification (by its Title), so that
// Alertmanager has to retry every group once. It is safe for concurrent
// requests.
func NtfyFailFirstAlertmanager() Responder {
	var mu sync.Mutex
	failed := map[string]bool{}
	return func(n int, req Request, r *http.Request) (int, string) {
		title := req.Header.Get("Title")
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(title, "alertmanager/") && !failed[title] {
			failed[title] = true
			return http.StatusServiceUnavailable, `{"code":50301,"error":"injected failure"}`
		}
		return NtfyOK(n, req, r)
	}
}

// Hang never answers in time: it waits until the client gives up.
func Hang(_ int, _ Request, r *http.Request) (int, string) {
	<-r.Context().Done()
	return http.StatusGatewayTimeout, ""
}
