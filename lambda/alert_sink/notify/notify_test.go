package notify

import "context"
import "errors"
import "mime"
import "net/http"
import "net/url"
import "reflect"
import "strings"
import "testing"
import "time"
import "unicode/utf8"

import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

const (
	testToken = "app-token-0123456789"
	testUser  = "user-key-9876543210"
	waitLimit = 5 * time.Second
)

// fastPolicy retries at once so tests do not wait on backoff.
var fastPolicy = Policy{Attempts: 3, Timeout: 2 * time.Second}

// onlyPost returns the one request srv received, which must be a POST to
// path.
func onlyPost(t *testing.T, srv *fakes.Server, path string) fakes.Request {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != path {
		t.Errorf("request = %s %s, want POST %s", r.Method, r.Path, path)
	}
	return r
}

func newPushover(srv *fakes.Server) *Pushover {
	return &Pushover{BaseURL: srv.URL + "/1", Token: testToken, User: testUser, Client: srv.Client(), Policy: fastPolicy}
}

func newNtfy(srv *fakes.Server, token string) *Ntfy {
	return &Ntfy{BaseURL: srv.URL + "/", Topic: "alerts", Token: token, Client: srv.Client(), Policy: fastPolicy}
}

func TestPushoverSendHighPriority(t *testing.T) {
	srv := fakes.NewPushover(t)
	receipt, err := newPushover(srv).Send(t.Context(), PushoverMessage{
		Title:    "[CRITICAL] kuma/IMAP",
		Message:  "IMAP down",
		URL:      "https://runbooks.example/imap.md",
		URLTitle: "Runbook",
		Priority: 1,
		Retry:    time.Minute, // ignored below priority 2
		Tag:      "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if receipt != "" {
		t.Errorf("receipt = %q, want none for priority 1", receipt)
	}
	r := onlyPost(t, srv, "/1/messages.json")
	want := url.Values{
		"token":     {testToken},
		"user":      {testUser},
		"title":     {"[CRITICAL] kuma/IMAP"},
		"message":   {"IMAP down"},
		"priority":  {"1"},
		"url":       {"https://runbooks.example/imap.md"},
		"url_title": {"Runbook"},
	}
	if !reflect.DeepEqual(r.Form, want) {
		t.Errorf("form = %v\nwant   %v", r.Form, want)
	}
}

func TestPushoverSendEmergency(t *testing.T) {
	srv := fakes.NewPushover(t)
	receipt, err := newPushover(srv).Send(t.Context(), PushoverMessage{
		Title: "t", Message: "m", Priority: 2,
		Retry: 90 * time.Second, Expire: 2 * time.Hour, Tag: "thread1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if receipt != "rcpt1" {
		t.Errorf("receipt = %q, want rcpt1", receipt)
	}
	f := srv.Requests()[0].Form
	for k, v := range map[string]string{"priority": "2", "retry": "90", "expire": "7200", "tags": "thread1"} {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	if f.Has("url") || f.Has("url_title") {
		t.Errorf("url fields sent without a URL: %v", f)
	}
}

func TestPushoverLimits(t *testing.T) {
	srv := fakes.NewPushover(t)
	long := strings.Repeat("é", 1500)
	_, err := newPushover(srv).Send(t.Context(), PushoverMessage{
		Title:    strings.Repeat("T", 300) + "\nsecond line",
		Message:  long,
		URL:      "https://example.test/" + strings.Repeat("a", 600),
		URLTitle: "Runbook",
		Priority: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := srv.Requests()[0].Form
	msg := f.Get("message")
	if n := utf8.RuneCountInString(msg); n != pushoverMaxMessage {
		t.Errorf("message has %d characters, want %d", n, pushoverMaxMessage)
	}
	if !strings.HasSuffix(msg, "é…") {
		t.Errorf("message does not end in an ellipsis after whole characters: %q", msg[len(msg)-8:])
	}
	title := f.Get("title")
	if n := utf8.RuneCountInString(title); n != pushoverMaxTitle || strings.Contains(title, "\n") {
		t.Errorf("title has %d characters (want %d) or a newline: %q", n, pushoverMaxTitle, title)
	}
	if f.Has("url") || f.Has("url_title") {
		t.Errorf("a URL over 512 characters was sent: %v", f.Get("url"))
	}

	// Not a web link: left out rather than sent as a broken button.
	srv2 := fakes.NewPushover(t)
	if _, err := newPushover(srv2).Send(t.Context(), PushoverMessage{Title: "t", Message: "m", URL: "docs/runbook.md", Priority: 1}); err != nil {
		t.Fatal(err)
	}
	if f := srv2.Requests()[0].Form; f.Has("url") {
		t.Errorf("relative URL sent: %q", f.Get("url"))
	}
}

func TestPushoverRetriesTransientFailures(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusRequestTimeout} {
		srv := fakes.NewPushover(t)
		srv.SetResponder(fakes.FailFirst(2, status, fakes.PushoverOK))
		if _, err := newPushover(srv).Send(t.Context(), PushoverMessage{Title: "t", Message: "m", Priority: 1}); err != nil {
			t.Errorf("status %d twice, then OK: %v", status, err)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("status %d: %d requests, want 3", status, n)
		}
	}
}

func TestPushoverGivesUpAfterAttempts(t *testing.T) {
	srv := fakes.NewPushover(t)
	srv.SetResponder(fakes.FailFirst(100, http.StatusBadGateway, fakes.PushoverOK))
	_, err := newPushover(srv).Send(t.Context(), PushoverMessage{Title: "t", Message: "m", Priority: 1})
	if err == nil || !strings.Contains(err.Error(), "attempt 3 of 3") || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("err = %v, want attempt 3 of 3 with HTTP 502", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestPushoverDoesNotRetryRejection(t *testing.T) {
	srv := fakes.NewPushover(t)
	// Pushover names the bad field; a careless server might echo secrets.
	srv.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		return http.StatusBadRequest, `{"status":0,"errors":["application token is invalid: ` + testToken + `","user ` + testUser + ` unknown"]}`
	})
	_, err := newPushover(srv).Send(t.Context(), PushoverMessage{Title: "t", Message: "m", Priority: 1})
	if err == nil {
		t.Fatal("Send succeeded on a 400")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a 400 must not be retried", n)
	}
	for _, s := range []string{"not retried", "HTTP 400", "application token is invalid", "<redacted>"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %q, want it to contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testUser) {
		t.Errorf("err leaks a credential: %q", err)
	}
}

func TestPushoverStatusZeroIsFailure(t *testing.T) {
	srv := fakes.NewPushover(t)
	srv.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		return http.StatusOK, `{"status":0,"errors":["something odd"]}`
	})
	if _, err := newPushover(srv).Send(t.Context(), PushoverMessage{Title: "t", Message: "m", Priority: 1}); err == nil || !strings.Contains(err.Error(), "something odd") {
		t.Fatalf("err = %v, want the status 0 reported", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestPushoverAttemptTimeout(t *testing.T) {
	srv := fakes.NewPushover(t)
	srv.SetResponder(fakes.Hang)
	p := newPushover(srv)
	p.Policy = Policy{Attempts: 2, Timeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := p.Send(t.Context(), PushoverMessage{Title: "t", Message: "m", Priority: 1})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if d := time.Since(start); d > waitLimit {
		t.Errorf("took %v with a 2×50ms budget", d)
	}
}

func TestPushoverCancel(t *testing.T) {
	srv := fakes.NewPushover(t)
	p := newPushover(srv)
	if err := p.Cancel(t.Context(), "rcpt7"); err != nil {
		t.Fatal(err)
	}
	if err := p.CancelByTag(t.Context(), "thread1"); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	want := []struct{ path string }{{"/1/receipts/rcpt7/cancel.json"}, {"/1/receipts/cancel_by_tag/thread1.json"}}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		if reqs[i].Method != http.MethodPost || reqs[i].Path != w.path {
			t.Errorf("request %d = %s %s, want POST %s", i, reqs[i].Method, reqs[i].Path, w.path)
		}
		if !reflect.DeepEqual(reqs[i].Form, url.Values{"token": {testToken}}) {
			t.Errorf("request %d form = %v, want the token only", i, reqs[i].Form)
		}
	}
}

func TestPushoverCancelOfVanishedReceiptSucceeds(t *testing.T) {
	srv := fakes.NewPushover(t)
	srv.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		return http.StatusNotFound, `{"status":0,"errors":["receipt not found"]}`
	})
	if err := newPushover(srv).Cancel(t.Context(), "gone"); err != nil {
		t.Fatalf("Cancel of an expired receipt: %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	srv.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		return http.StatusBadRequest, `{"status":0,"errors":["application token is invalid"]}`
	})
	if err := newPushover(srv).Cancel(t.Context(), "r"); err == nil {
		t.Fatal("Cancel with a rejected token succeeded")
	}
}

func TestNtfyPublish(t *testing.T) {
	srv := fakes.NewNtfy(t)
	err := newNtfy(srv, "tk_publisher").Publish(t.Context(), NtfyMessage{
		Title:      "[CRITICAL] alertmanager/MailQueueStuck",
		Message:    "Outbound queue stuck\nsecond line",
		Priority:   5,
		Tags:       []string{"rotating_light", "critical", "alertmanager"},
		Click:      "https://runbooks.example/queue.md",
		SequenceID: "0123456789abcdef0123456789abcdef",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := onlyPost(t, srv, "/alerts")
	if r.Body != "Outbound queue stuck\nsecond line" {
		t.Errorf("body = %q", r.Body)
	}
	wantHeaders := map[string]string{
		"Title":         "[CRITICAL] alertmanager/MailQueueStuck",
		"Priority":      "5",
		"Tags":          "rotating_light,critical,alertmanager",
		"Click":         "https://runbooks.example/queue.md",
		"X-Sequence-Id": "0123456789abcdef0123456789abcdef",
		"Authorization": "Bearer tk_publisher",
		"Content-Type":  "text/plain; charset=utf-8",
	}
	for k, v := range wantHeaders {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestNtfyPublishOpenTopicAndOddValues(t *testing.T) {
	srv := fakes.NewNtfy(t)
	err := newNtfy(srv, "").Publish(t.Context(), NtfyMessage{
		Title:    "[WARNING] kuma/Überwachung\r\nX-Injected: 1",
		Message:  strings.Repeat("€", 2000), // 6000 bytes
		Priority: 3,
		Tags:     []string{"warning", "a,b", " "},
		Click:    "javascript:alert(1)",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Header.Get("Authorization") != "" {
		t.Errorf("Authorization sent for an open topic: %q", r.Header.Get("Authorization"))
	}
	if r.Header.Get("Click") != "" {
		t.Errorf("non-web Click sent: %q", r.Header.Get("Click"))
	}
	if r.Header.Get("X-Sequence-Id") != "" {
		t.Errorf("X-Sequence-ID sent without a sequence")
	}
	if r.Header.Get("X-Injected") != "" {
		t.Error("a newline in the title injected a header")
	}
	raw := r.Header.Get("Title")
	if !strings.HasPrefix(raw, "=?utf-8?b?") {
		t.Errorf("non-ASCII title not RFC 2047 encoded: %q", raw)
	}
	dec, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil || dec != "[WARNING] kuma/Überwachung  X-Injected: 1" {
		t.Errorf("decoded title = %q, %v", dec, err)
	}
	if got := r.Header.Get("Tags"); got != "warning,a b" {
		t.Errorf("Tags = %q, want %q", got, "warning,a b")
	}
	if len(r.Body) > ntfyMaxMessage || !utf8.ValidString(r.Body) || !strings.HasSuffix(r.Body, "€…") {
		t.Errorf("body: %d bytes (limit %d), valid UTF-8 %v, ends %q", len(r.Body), ntfyMaxMessage, utf8.ValidString(r.Body), r.Body[len(r.Body)-6:])
	}
}

func TestNtfyRetryAndRejection(t *testing.T) {
	srv := fakes.NewNtfy(t)
	srv.SetResponder(fakes.FailFirst(1, http.StatusServiceUnavailable, fakes.NtfyOK))
	n := newNtfy(srv, "tk_secret_token")
	if err := n.Publish(t.Context(), NtfyMessage{Title: "t", Message: "m", Priority: 3}); err != nil {
		t.Fatalf("503 then OK: %v", err)
	}
	if got := len(srv.Requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}

	srv2 := fakes.NewNtfy(t)
	srv2.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		return http.StatusForbidden, `{"code":40301,"http":403,"error":"forbidden for tk_secret_token"}`
	})
	err := newNtfy(srv2, "tk_secret_token").Publish(t.Context(), NtfyMessage{Title: "t", Message: "m", Priority: 3})
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "not retried") {
		t.Fatalf("err = %v, want an unretried 403", err)
	}
	if strings.Contains(err.Error(), "tk_secret_token") {
		t.Errorf("err leaks the token: %q", err)
	}
	if got := len(srv2.Requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestPolicyStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := Policy{Attempts: 5, Timeout: time.Second, Backoff: time.Hour}.Do(ctx, func(context.Context) error {
		calls++
		cancel() // the caller gives up during the first attempt
		return errors.New("boom")
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "attempt 1 of 5") {
		t.Fatalf("calls = %d, err = %v; want 1 call and attempt 1 of 5", calls, err)
	}
}

func TestDefaultPolicyFitsTheLambdaTimeout(t *testing.T) {
	// The upstream function has a 10 s timeout; both transports run in
	// parallel, so one call's worst case is the request's.
	if d := DefaultPolicy.MaxDuration(); d >= 10*time.Second {
		t.Fatalf("DefaultPolicy.MaxDuration() = %v, want under 10s", d)
	}
	if d := (Policy{Attempts: 3, Timeout: time.Second, Backoff: 100 * time.Millisecond}).MaxDuration(); d != 3300*time.Millisecond {
		t.Fatalf("MaxDuration = %v, want 3.3s", d)
	}
}

func TestTruncation(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ch…"},
		{"ééééé", 3, "éé…"},
	}
	for _, c := range cases {
		if got := truncateRunes(c.in, c.n); got != c.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	// "€" is 3 bytes, "…" too: 10 bytes hold two euros and the ellipsis.
	if got := truncateBytes("€€€€€", 10); got != "€€…" {
		t.Errorf("truncateBytes = %q, want %q", got, "€€…")
	}
	if got := truncateBytes("abc", 3); got != "abc" {
		t.Errorf("truncateBytes at the limit = %q", got)
	}
}

func TestRedactorSkipsTooShortValues(t *testing.T) {
	r := redactor{"", "ab", "pushover-app-token"}
	if got := r.clean("ab: pushover-app-token rejected"); got != "ab: <redacted> rejected" {
		t.Errorf("clean = %q", got)
	}
}
