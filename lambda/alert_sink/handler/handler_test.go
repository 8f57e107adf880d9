package handler

import "encoding/base64"
import "encoding/json"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "net/url"
import "os"
import "reflect"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/aws/aws-lambda-go/events"
import "github.com/prometheus/common/promslog"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"
import "github.com/cabalmail/mailtier/lambda/alert_sink/payload"

const (
	testSecret   = "shared-secret-4f1c"
	pushoverTok  = "pushover-app-token-77"
	pushoverUser = "pushover-user-key-88"
	ntfyToken    = "tk_ntfy_publisher_99"
	waitLimit    = 5 * time.Second
)

// fastPolicy retries at once so tests do not wait on backoff.
var fastPolicy = notify.Policy{Attempts: 3, Timeout: 2 * time.Second}

type env struct {
	h        *Handler
	pushover *fakes.Server
	ntfy     *fakes.Server
	clock    *testenv.Clock
	logs     *testenv.SyncBuffer
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	e := &env{
		pushover: fakes.NewPushover(t),
		ntfy:     fakes.NewNtfy(t),
		clock:    testenv.NewClock(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)),
		logs:     &testenv.SyncBuffer{},
	}
	cfg := Config{
		Secret: testSecret,
		Pushover: &notify.Pushover{
			BaseURL: e.pushover.URL + "/1", Token: pushoverTok, User: pushoverUser,
			Client: e.pushover.Client(), Policy: fastPolicy,
		},
		Ntfy: &notify.Ntfy{
			BaseURL: e.ntfy.URL, Topic: "alerts", Token: ntfyToken,
			Client: e.ntfy.Client(), Policy: fastPolicy,
		},
		EmergencyRetry:  time.Minute,
		EmergencyExpire: time.Hour,
		AlertmanagerTTL: time.Hour,
		SimpleTTL:       2 * time.Minute,
		Now:             e.clock.Now,
		Logger:          jsonLogger(t, e.logs),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

// jsonLogger is the production logger (promslog) in JSON, so the tests see
// the field names operators see.
func jsonLogger(t *testing.T, w io.Writer) *slog.Logger {
	lvl, format := promslog.NewLevel(), promslog.NewFormat()
	if err := lvl.Set("debug"); err != nil {
		t.Fatal(err)
	}
	if err := format.Set("json"); err != nil {
		t.Fatal(err)
	}
	return promslog.New(&promslog.Config{Level: lvl, Format: format, Writer: w})
}

func withEmergency(c *Config) { c.Emergency = true }

// adapter calls the handler through one of its two entry points.
type adapter struct {
	name string
	do   func(t *testing.T, h *Handler, method string, headers map[string]string, body string) (int, http.Header, []byte)
}

var adapters = []adapter{
	{"http", func(t *testing.T, h *Handler, method string, headers map[string]string, body string) (int, http.Header, []byte) {
		req := httptest.NewRequestWithContext(t.Context(), method, "/", strings.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header(), rec.Body.Bytes()
	}},
	{"lambda", func(t *testing.T, h *Handler, method string, headers map[string]string, body string) (int, http.Header, []byte) {
		ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: map[string]string{}, Body: body}
		ev.RequestContext.HTTP.Method = method
		ev.RequestContext.HTTP.SourceIP = "192.0.2.1"
		for k, v := range headers {
			ev.Headers[strings.ToLower(k)] = v // as Function URLs deliver them
		}
		resp, err := h.FunctionURL(t.Context(), ev)
		if err != nil {
			t.Fatalf("FunctionURL returned an error: %v", err)
		}
		hdr := http.Header{}
		for k, v := range resp.Headers {
			hdr.Set(k, v)
		}
		return resp.StatusCode, hdr, []byte(resp.Body)
	}},
}

func bearer() map[string]string { return map[string]string{"Authorization": "Bearer " + testSecret} }

// post sends body with the shared secret and decodes the answer.
func (e *env) post(t *testing.T, a adapter, body string) (int, Result) {
	t.Helper()
	status, _, raw := a.do(t, e.h, http.MethodPost, map[string]string{"X-Alert-Secret": testSecret, "Content-Type": "application/json"}, body)
	var res Result
	if status == http.StatusOK || status == http.StatusBadGateway {
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("answer %d is not a Result: %v: %s", status, err, raw)
		}
	}
	return status, res
}

// postOK is post for an answer that must be 200.
func (e *env) postOK(t *testing.T, a adapter, body string) Result {
	t.Helper()
	status, res := e.post(t, a, body)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200", status)
	}
	return res
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// thread returns the ntfy sequence id and Pushover tag alert_sink derives
// for the single notification of body.
func thread(t *testing.T, body string) string {
	t.Helper()
	ns, err := payload.Decode([]byte(body))
	if err != nil || len(ns) != 1 {
		t.Fatalf("Decode: %v, %d notifications", err, len(ns))
	}
	return ns[0].Thread
}

func checkForm(t *testing.T, got fakes.Request, path string, want url.Values) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != path {
		t.Errorf("pushover request = %s %s, want POST %s", got.Method, got.Path, path)
	}
	if !reflect.DeepEqual(got.Form, want) {
		t.Errorf("pushover form = %v\nwant            %v", got.Form, want)
	}
}

func checkNtfy(t *testing.T, got fakes.Request, body string, headers map[string]string) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != "/alerts" {
		t.Errorf("ntfy request = %s %s, want POST /alerts", got.Method, got.Path)
	}
	if got.Body != body {
		t.Errorf("ntfy body = %q, want %q", got.Body, body)
	}
	for _, k := range []string{"Title", "Priority", "Tags", "Click", "X-Sequence-Id", "Authorization"} {
		if g, w := got.Header.Get(k), headers[k]; g != w {
			t.Errorf("ntfy header %s = %q, want %q", k, g, w)
		}
	}
}

func checkResult(t *testing.T, res Result, wantStatus string, want ...NotificationResult) {
	t.Helper()
	if res.Status != wantStatus || len(res.Notifications) != len(want) {
		t.Fatalf("result = %+v, want status %s with %d notifications", res, wantStatus, len(want))
	}
	for i, w := range want {
		g := res.Notifications[i]
		g.Errors = nil // checked separately where it matters
		if !reflect.DeepEqual(g, w) {
			t.Errorf("notification %d = %+v\nwant             %+v", i, g, w)
		}
	}
}

const kumaDown = `{"severity":"critical","source":"kuma/IMAP reachable (internal)","summary":"IMAP down: connection refused","runbook_url":"https://runbooks.example/probe-failure.md"}`

func TestRoutingTable(t *testing.T) {
	warn := `{"severity":"warning","source":"healthchecks/dmarc-ingest","summary":"Recovered: dmarc-ingest"}`
	info := `{"severity":"info","source":"kuma/Admin app","summary":"Admin app is up"}`
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			t.Run("critical firing: Pushover priority 1 and ntfy priority 5", func(t *testing.T) {
				e := newEnv(t)
				res := e.postOK(t, a, kumaDown)
				checkResult(t, res, "ok", NotificationResult{
					Source: "kuma/IMAP reachable (internal)", Severity: "critical", Status: "firing",
					Outcome: "delivered", Transports: map[string]string{"pushover": "sent", "ntfy": "sent"},
				})
				po := e.pushover.Requests()
				nt := e.ntfy.Requests()
				if len(po) != 1 || len(nt) != 1 {
					t.Fatalf("requests: pushover %d, ntfy %d; want 1 and 1", len(po), len(nt))
				}
				checkForm(t, po[0], "/1/messages.json", url.Values{
					"token": {pushoverTok}, "user": {pushoverUser},
					"title":    {"[CRITICAL] kuma/IMAP reachable (internal)"},
					"message":  {"IMAP down: connection refused"},
					"priority": {"1"},
					"url":      {"https://runbooks.example/probe-failure.md"}, "url_title": {"Runbook"},
				})
				checkNtfy(t, nt[0], "IMAP down: connection refused", map[string]string{
					"Title":         "[CRITICAL] kuma/IMAP reachable (internal)",
					"Priority":      "5",
					"Tags":          "rotating_light,critical,kuma",
					"Click":         "https://runbooks.example/probe-failure.md",
					"X-Sequence-Id": thread(t, kumaDown),
					"Authorization": "Bearer " + ntfyToken,
				})
			})

			t.Run("critical firing with emergency: Pushover priority 2 with retry, expire and tag", func(t *testing.T) {
				e := newEnv(t, withEmergency)
				e.postOK(t, a, kumaDown)
				po := e.pushover.Requests()
				if len(po) != 1 {
					t.Fatalf("pushover requests = %d, want 1", len(po))
				}
				checkForm(t, po[0], "/1/messages.json", url.Values{
					"token": {pushoverTok}, "user": {pushoverUser},
					"title":    {"[CRITICAL] kuma/IMAP reachable (internal)"},
					"message":  {"IMAP down: connection refused"},
					"priority": {"2"}, "retry": {"60"}, "expire": {"3600"}, "tags": {thread(t, kumaDown)},
					"url": {"https://runbooks.example/probe-failure.md"}, "url_title": {"Runbook"},
				})
				if n := len(e.ntfy.Requests()); n != 1 {
					t.Errorf("ntfy requests = %d, want 1", n)
				}
			})

			t.Run("warning firing: ntfy priority 3 only", func(t *testing.T) {
				e := newEnv(t)
				res := e.postOK(t, a, warn)
				checkResult(t, res, "ok", NotificationResult{
					Source: "healthchecks/dmarc-ingest", Severity: "warning", Status: "firing",
					Outcome: "delivered", Transports: map[string]string{"ntfy": "sent"},
				})
				if n := len(e.pushover.Requests()); n != 0 {
					t.Errorf("pushover requests = %d, want 0", n)
				}
				nt := e.ntfy.Requests()
				if len(nt) != 1 {
					t.Fatalf("ntfy requests = %d, want 1", len(nt))
				}
				checkNtfy(t, nt[0], "Recovered: dmarc-ingest", map[string]string{
					"Title":         "[WARNING] healthchecks/dmarc-ingest",
					"Priority":      "3",
					"Tags":          "warning,healthchecks",
					"X-Sequence-Id": thread(t, warn),
					"Authorization": "Bearer " + ntfyToken,
					// No runbook_url: cabal-infra's map gives it.
					"Click": "https://github.com/cabalmail/cabal-infra/blob/main/docs/operations/runbooks/heartbeat-dmarc-ingest.md",
				})
			})

			t.Run("info: dropped with 200", func(t *testing.T) {
				e := newEnv(t)
				res := e.postOK(t, a, info)
				checkResult(t, res, "ok", NotificationResult{
					Source: "kuma/Admin app", Severity: "info", Status: "firing", Outcome: "dropped",
				})
				if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 0 || n != 0 {
					t.Errorf("requests: pushover %d, ntfy %d; want none", p, n)
				}
			})

			t.Run("critical resolved: ntfy priority 3 replacing the firing message, no Pushover", func(t *testing.T) {
				e := newEnv(t)
				firing := fixture(t, "alertmanager-critical-firing.json")
				resolved := fixture(t, "alertmanager-critical-resolved.json")
				e.postOK(t, a, firing)
				res := e.postOK(t, a, resolved)
				checkResult(t, res, "ok", NotificationResult{
					Source: "alertmanager/MailQueueStuck/smtp-out:9106", Severity: "critical", Status: "resolved", Alerts: 1,
					Outcome: "delivered", Transports: map[string]string{"ntfy": "sent"},
				})
				if n := len(e.pushover.Requests()); n != 1 {
					t.Errorf("pushover requests = %d, want only the firing page", n)
				}
				nt := e.ntfy.Requests()
				if len(nt) != 2 {
					t.Fatalf("ntfy requests = %d, want 2", len(nt))
				}
				seq := thread(t, firing)
				checkNtfy(t, nt[0], "Outbound queue has messages older than 1h", map[string]string{
					"Title": "[CRITICAL] alertmanager/MailQueueStuck/smtp-out:9106", "Priority": "5",
					"Tags": "rotating_light,critical,alertmanager", "Click": "https://example.test/runbooks/queue.md",
					"X-Sequence-Id": seq, "Authorization": "Bearer " + ntfyToken,
				})
				checkNtfy(t, nt[1], "Outbound queue has messages older than 1h", map[string]string{
					"Title": "[RESOLVED] alertmanager/MailQueueStuck/smtp-out:9106", "Priority": "3",
					"Tags": "white_check_mark,critical,alertmanager", "Click": "https://example.test/runbooks/queue.md",
					"X-Sequence-Id": seq, "Authorization": "Bearer " + ntfyToken,
				})
			})

			t.Run("warning and info resolved", func(t *testing.T) {
				e := newEnv(t)
				body := `{"version":"4","groupKey":"{}:{alertname=\"DiskFilling\"}","alerts":[
				  {"status":"resolved","labels":{"alertname":"DiskFilling","severity":"warning","instance":"imap:9100"},"annotations":{"summary":"disk 85% full"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"w1"},
				  {"status":"resolved","labels":{"alertname":"DiskFilling","severity":"info","instance":"imap:9100"},"annotations":{"summary":"disk 60% full"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"i1"}]}`
				res := e.postOK(t, a, body)
				checkResult(t, res, "ok",
					NotificationResult{Source: "alertmanager/DiskFilling/imap:9100", Severity: "warning", Status: "resolved", Alerts: 1,
						Outcome: "delivered", Transports: map[string]string{"ntfy": "sent"}},
					NotificationResult{Source: "alertmanager/DiskFilling/imap:9100", Severity: "info", Status: "resolved", Alerts: 1,
						Outcome: "dropped"},
				)
				nt := e.ntfy.Requests()
				if len(nt) != 1 || len(e.pushover.Requests()) != 0 {
					t.Fatalf("requests: ntfy %d, pushover %d; want 1 and 0", len(nt), len(e.pushover.Requests()))
				}
				if nt[0].Header.Get("Title") != "[RESOLVED] alertmanager/DiskFilling/imap:9100" || nt[0].Header.Get("Priority") != "3" ||
					nt[0].Header.Get("Tags") != "white_check_mark,warning,alertmanager" {
					t.Errorf("ntfy headers = %v", nt[0].Header)
				}
			})
		})
	}
}

func TestEmergencyIsCancelledWhenResolved(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t, withEmergency)
			firing := fixture(t, "alertmanager-critical-firing.json")
			e.postOK(t, a, firing)
			res := e.postOK(t, a, fixture(t, "alertmanager-critical-resolved.json"))
			checkResult(t, res, "ok", NotificationResult{
				Source: "alertmanager/MailQueueStuck/smtp-out:9106", Severity: "critical", Status: "resolved", Alerts: 1,
				Outcome: "delivered", Transports: map[string]string{"pushover": "cancelled", "ntfy": "sent"},
			})
			po := e.pushover.Requests()
			if len(po) != 2 {
				t.Fatalf("pushover requests = %d, want page and cancel", len(po))
			}
			if po[0].Form.Get("priority") != "2" || po[0].Form.Get("tags") != thread(t, firing) {
				t.Errorf("page form = %v", po[0].Form)
			}
			// The fake issued receipt rcpt1 for the page.
			checkForm(t, po[1], "/1/receipts/rcpt1/cancel.json", url.Values{"token": {pushoverTok}})
		})
	}
}

func TestEmergencyCancelByTagAfterColdStart(t *testing.T) {
	// A fresh handler has no receipts: the emergency was sent by an
	// instance that is gone. The tag still reaches it.
	e := newEnv(t, withEmergency)
	resolved := fixture(t, "alertmanager-critical-resolved.json")
	res := e.postOK(t, adapters[1], resolved)
	if got := res.Notifications[0].Transports["pushover"]; got != "cancelled" {
		t.Errorf("pushover outcome = %q, want cancelled", got)
	}
	po := e.pushover.Requests()
	if len(po) != 1 {
		t.Fatalf("pushover requests = %d, want 1", len(po))
	}
	checkForm(t, po[0], "/1/receipts/cancel_by_tag/"+thread(t, resolved)+".json", url.Values{"token": {pushoverTok}})
}

func TestPushoverPriorityLabel(t *testing.T) {
	// Emergency off globally; the alert asks for it.
	e := newEnv(t)
	body := func(status string) string {
		return `{"version":"4","groupKey":"g","alerts":[{"status":"` + status + `","labels":{"alertname":"SmtpDown","severity":"critical","pushover_priority":"2"},
		  "annotations":{"summary":"SMTP down"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"p1"}]}`
	}
	e.postOK(t, adapters[0], body("firing"))
	e.postOK(t, adapters[0], body("resolved"))
	po := e.pushover.Requests()
	if len(po) != 2 || po[0].Form.Get("priority") != "2" || po[1].Path != "/1/receipts/rcpt1/cancel.json" {
		t.Fatalf("pushover requests = %+v, want an emergency page then its cancel", po)
	}

	// Emergency on globally; the alert opts out with priority 1.
	e = newEnv(t, withEmergency)
	optOut := strings.ReplaceAll(body("firing"), `"pushover_priority":"2"`, `"pushover_priority":"1"`)
	e.postOK(t, adapters[0], optOut)
	if f := e.pushover.Requests()[0].Form; f.Get("priority") != "1" || f.Has("retry") || f.Has("tags") {
		t.Errorf("form = %v, want priority 1 without emergency fields", f)
	}
}

func TestTruncatedGroupMessage(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.postOK(t, a, fixture(t, "alertmanager-warning-truncated.json"))
			checkResult(t, res, "ok", NotificationResult{
				Source: "alertmanager/DiskFilling", Severity: "warning", Status: "firing", Alerts: 2,
				Outcome: "delivered", Transports: map[string]string{"ntfy": "sent"},
			})
			nt := e.ntfy.Requests()
			if len(nt) != 1 {
				t.Fatalf("ntfy requests = %d", len(nt))
			}
			want := "2 firing, 0 resolved, 1 more not sent by Alertmanager (max_alerts)\n" +
				"firing: disk 85% full (imap:9100)\n" +
				"firing: disk 86% full (smtp-in:9100)"
			if nt[0].Body != want {
				t.Errorf("ntfy body =\n%s\nwant\n%s", nt[0].Body, want)
			}
			if nt[0].Header.Get("Title") != "[WARNING] alertmanager/DiskFilling" {
				t.Errorf("Title = %q", nt[0].Header.Get("Title"))
			}
		})
	}
}

func TestMixedSeverityGroup(t *testing.T) {
	e := newEnv(t)
	body := `{"version":"4","groupKey":"{}:{alertname=\"TierDown\"}","alerts":[
	  {"status":"firing","labels":{"alertname":"TierDown","severity":"info","instance":"a"},"annotations":{"summary":"a"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"1"},
	  {"status":"firing","labels":{"alertname":"TierDown","severity":"warning","instance":"b"},"annotations":{"summary":"b"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"2"},
	  {"status":"firing","labels":{"alertname":"TierDown","severity":"critical","instance":"c"},"annotations":{"summary":"c"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"3"}]}`
	res := e.postOK(t, adapters[0], body)
	checkResult(t, res, "ok",
		NotificationResult{Source: "alertmanager/TierDown/c", Severity: "critical", Status: "firing", Alerts: 1,
			Outcome: "delivered", Transports: map[string]string{"pushover": "sent", "ntfy": "sent"}},
		NotificationResult{Source: "alertmanager/TierDown/b", Severity: "warning", Status: "firing", Alerts: 1,
			Outcome: "delivered", Transports: map[string]string{"ntfy": "sent"}},
		NotificationResult{Source: "alertmanager/TierDown/a", Severity: "info", Status: "firing", Alerts: 1, Outcome: "dropped"},
	)
	nt := e.ntfy.Requests()
	if len(e.pushover.Requests()) != 1 || len(nt) != 2 {
		t.Fatalf("requests: pushover %d, ntfy %d; want 1 and 2", len(e.pushover.Requests()), len(nt))
	}
	prios := map[string]string{}
	for _, r := range nt {
		prios[r.Header.Get("Title")] = r.Header.Get("Priority")
	}
	if !reflect.DeepEqual(prios, map[string]string{"[CRITICAL] alertmanager/TierDown/c": "5", "[WARNING] alertmanager/TierDown/b": "3"}) {
		t.Errorf("ntfy title → priority = %v", prios)
	}
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no credentials", map[string]string{}, http.StatusUnauthorized},
		{"wrong X-Alert-Secret", map[string]string{"X-Alert-Secret": "nope"}, http.StatusUnauthorized},
		{"secret prefix", map[string]string{"X-Alert-Secret": testSecret[:5]}, http.StatusUnauthorized},
		{"wrong bearer", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"basic scheme", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testSecret))}, http.StatusUnauthorized},
		{"bare secret", map[string]string{"Authorization": testSecret}, http.StatusUnauthorized},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized},
		// X-Alert-Secret wins when present, as in the Python version.
		{"wrong header beats right bearer", map[string]string{"X-Alert-Secret": "nope", "Authorization": "Bearer " + testSecret}, http.StatusUnauthorized},
		{"X-Alert-Secret", map[string]string{"X-Alert-Secret": testSecret}, http.StatusOK},
		{"Bearer", map[string]string{"Authorization": "Bearer " + testSecret}, http.StatusOK},
		{"bearer in lower case", map[string]string{"Authorization": "bearer " + testSecret}, http.StatusOK},
	}
	info := `{"severity":"info","source":"kuma/x","summary":"up"}`
	for _, a := range adapters {
		for _, c := range cases {
			t.Run(a.name+"/"+c.name, func(t *testing.T) {
				e := newEnv(t)
				status, hdr, body := a.do(t, e.h, http.MethodPost, c.headers, info)
				if status != c.want {
					t.Fatalf("status = %d, want %d (%s)", status, c.want, body)
				}
				if c.want == http.StatusUnauthorized {
					if string(body) != `{"message":"invalid or missing X-Alert-Secret / Authorization header"}` {
						t.Errorf("body = %s", body)
					}
					if hdr.Get("WWW-Authenticate") == "" || hdr.Get("Content-Type") != "application/json" {
						t.Errorf("headers = %v", hdr)
					}
					if strings.Contains(e.logs.String(), "notification") {
						t.Error("an unauthorized request was processed")
					}
				}
			})
		}
	}
}

// readTrap records whether the body was read.
type readTrap struct{ read bool }

func (r *readTrap) Read([]byte) (int, error) {
	r.read = true
	return 0, io.EOF
}

func TestUnauthorizedBodyIsNeverRead(t *testing.T) {
	e := newEnv(t)
	trap := &readTrap{}
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", trap)
	req.Header.Set("X-Alert-Secret", "wrong")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || trap.read {
		t.Errorf("status %d, body read %v; want 401 without reading", rec.Code, trap.read)
	}

	// The core gives the same guarantee to the Lambda adapter.
	called := false
	resp := e.h.Handle(t.Context(), Request{
		Method:   http.MethodPost,
		Header:   func(string) string { return "" },
		ReadBody: func() ([]byte, error) { called = true; return nil, nil },
	})
	if resp.Status != http.StatusUnauthorized || called {
		t.Errorf("Handle: status %d, ReadBody called %v", resp.Status, called)
	}
}

func TestLambdaHeaderNamesInAnyCase(t *testing.T) {
	e := newEnv(t)
	ev := events.LambdaFunctionURLRequest{
		Headers: map[string]string{"X-Alert-Secret": testSecret},
		Body:    `{"severity":"info","source":"kuma/x","summary":"up"}`,
	}
	ev.RequestContext.HTTP.Method = http.MethodPost
	resp, err := e.h.FunctionURL(t.Context(), ev)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, err %v", resp.StatusCode, err)
	}
}

func TestLambdaBase64Body(t *testing.T) {
	e := newEnv(t)
	ev := events.LambdaFunctionURLRequest{
		Headers:         map[string]string{"authorization": "Bearer " + testSecret},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"severity":"warning","source":"kuma/x","summary":"slow"}`)),
		IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = http.MethodPost
	resp, err := e.h.FunctionURL(t.Context(), ev)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, err %v: %s", resp.StatusCode, err, resp.Body)
	}
	if nt := e.ntfy.Requests(); len(nt) != 1 || nt[0].Body != "slow" {
		t.Fatalf("ntfy requests = %+v", nt)
	}

	ev.Body = "%%% not base64"
	resp, err = e.h.FunctionURL(t.Context(), ev)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad base64: status %d, err %v", resp.StatusCode, err)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name, body string
		want       int
		message    string
	}{
		{"invalid JSON", `{"severity":"critical",`, http.StatusBadRequest, "invalid JSON body"},
		{"unknown severity", `{"severity":"page","source":"kuma/x","summary":"down"}`, http.StatusBadRequest, `unknown severity "page"`},
		{"unknown Alertmanager severity", `{"version":"4","groupKey":"g","alerts":[{"status":"firing","labels":{"severity":"urgent"}}]}`, http.StatusBadRequest, `unknown severity "urgent"`},
		{"too large", `{"severity":"info","source":"kuma/x","summary":"` + strings.Repeat("x", DefaultMaxBody) + `"}`, http.StatusRequestEntityTooLarge, "too large"},
	}
	for _, a := range adapters {
		for _, c := range cases {
			t.Run(a.name+"/"+c.name, func(t *testing.T) {
				e := newEnv(t)
				status, _, body := a.do(t, e.h, http.MethodPost, bearer(), c.body)
				if status != c.want {
					t.Fatalf("status = %d, want %d: %s", status, c.want, body)
				}
				var m map[string]string
				if err := json.Unmarshal(body, &m); err != nil || !strings.Contains(m["message"], c.message) {
					t.Errorf("body = %s, want a message containing %q", body, c.message)
				}
				if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 0 || n != 0 {
					t.Errorf("requests: pushover %d, ntfy %d; want none", p, n)
				}
			})
		}
		t.Run(a.name+"/GET", func(t *testing.T) {
			e := newEnv(t)
			status, hdr, _ := a.do(t, e.h, http.MethodGet, bearer(), "")
			if status != http.StatusMethodNotAllowed || hdr.Get("Allow") != http.MethodPost {
				t.Errorf("status %d, Allow %q; want 405 and POST", status, hdr.Get("Allow"))
			}
		})
	}
}

func TestPartialFailureThenRetryWithoutDuplicates(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name+"/ntfy fails", func(t *testing.T) {
			e := newEnv(t)
			e.ntfy.SetResponder(fakes.FailFirst(3, http.StatusServiceUnavailable, fakes.NtfyOK))
			status, res := e.post(t, a, kumaDown)
			if status != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502 so the caller retries", status)
			}
			checkResult(t, res, "failed", NotificationResult{
				Source: "kuma/IMAP reachable (internal)", Severity: "critical", Status: "firing",
				Outcome: "failed", Transports: map[string]string{"pushover": "sent", "ntfy": "failed"},
			})
			if msg := res.Notifications[0].Errors["ntfy"]; !strings.Contains(msg, "attempt 3 of 3") || !strings.Contains(msg, "HTTP 503") {
				t.Errorf("ntfy error = %q", msg)
			}
			if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 1 || n != 3 {
				t.Fatalf("requests: pushover %d, ntfy %d; want 1 and 3", p, n)
			}

			// The caller retries the same body; ntfy has recovered.
			status, res = e.post(t, a, kumaDown)
			if status != http.StatusOK {
				t.Fatalf("retry: status = %d, want 200", status)
			}
			checkResult(t, res, "ok", NotificationResult{
				Source: "kuma/IMAP reachable (internal)", Severity: "critical", Status: "firing",
				Outcome: "delivered", Transports: map[string]string{"pushover": "duplicate", "ntfy": "sent"},
			})
			if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 1 || n != 4 {
				t.Fatalf("after retry: pushover %d, ntfy %d; want 1 (no second page) and 4", p, n)
			}

			// A further retry changes nothing.
			status, res = e.post(t, a, kumaDown)
			if status != http.StatusOK || res.Notifications[0].Outcome != "duplicate" {
				t.Fatalf("second retry: status %d, outcome %q; want 200 duplicate", status, res.Notifications[0].Outcome)
			}
			if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 1 || n != 4 {
				t.Fatalf("after second retry: pushover %d, ntfy %d; want 1 and 4", p, n)
			}
		})

		t.Run(a.name+"/pushover rejects", func(t *testing.T) {
			e := newEnv(t)
			e.pushover.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
				return http.StatusBadRequest, `{"status":0,"errors":["user identifier is invalid"]}`
			})
			status, res := e.post(t, a, kumaDown)
			if status != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502", status)
			}
			if got := res.Notifications[0].Transports; !reflect.DeepEqual(got, PerTransport{"pushover": "failed", "ntfy": "sent"}) {
				t.Errorf("transports = %v", got)
			}
			if p := len(e.pushover.Requests()); p != 1 {
				t.Errorf("pushover requests = %d, want 1: a 400 is not retried", p)
			}
			e.pushover.SetResponder(fakes.PushoverOK)
			if status, res = e.post(t, a, kumaDown); status != http.StatusOK {
				t.Fatalf("retry: status %d", status)
			}
			if got := res.Notifications[0].Transports; !reflect.DeepEqual(got, PerTransport{"pushover": "sent", "ntfy": "duplicate"}) {
				t.Errorf("retry transports = %v", got)
			}
			if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 2 || n != 1 {
				t.Errorf("requests: pushover %d, ntfy %d; want 2 and 1", p, n)
			}
		})
	}
}

func TestTransportTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Ntfy.Policy = notify.Policy{Attempts: 2, Timeout: 50 * time.Millisecond} })
	e.ntfy.SetResponder(fakes.Hang)
	status, res := e.post(t, adapters[0], `{"severity":"warning","source":"kuma/x","summary":"slow"}`)
	if status != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", status)
	}
	if msg := res.Notifications[0].Errors["ntfy"]; !strings.Contains(msg, "attempt 2 of 2") || !strings.Contains(msg, "deadline exceeded") {
		t.Errorf("ntfy error = %q", msg)
	}
	if n := len(e.ntfy.Requests()); n != 2 {
		t.Errorf("ntfy requests = %d, want 2", n)
	}
}

func TestIdempotencyExpires(t *testing.T) {
	e := newEnv(t)
	warn := `{"severity":"warning","source":"kuma/SMTP relay (STARTTLS)","summary":"down"}`
	e.post(t, adapters[0], warn)
	e.clock.Advance(2*time.Minute - time.Second)
	if _, res := e.post(t, adapters[0], warn); res.Notifications[0].Outcome != "duplicate" {
		t.Fatalf("within SimpleTTL: outcome %q, want duplicate", res.Notifications[0].Outcome)
	}
	e.clock.Advance(time.Second)
	// The same text again after the TTL is a new event (a monitor that
	// went down twice), and must notify.
	if _, res := e.post(t, adapters[0], warn); res.Notifications[0].Outcome != "delivered" {
		t.Fatalf("after SimpleTTL: outcome %q, want delivered", res.Notifications[0].Outcome)
	}
	if n := len(e.ntfy.Requests()); n != 2 {
		t.Errorf("ntfy requests = %d, want 2", n)
	}

	// Alertmanager notifications are remembered for AlertmanagerTTL.
	firing := fixture(t, "alertmanager-critical-firing.json")
	e.post(t, adapters[0], firing)
	e.clock.Advance(59 * time.Minute)
	if _, res := e.post(t, adapters[0], firing); res.Notifications[0].Outcome != "duplicate" {
		t.Fatalf("within AlertmanagerTTL: outcome %q", res.Notifications[0].Outcome)
	}
	e.clock.Advance(time.Minute)
	// A repeat_interval reminder after the TTL pages again.
	if _, res := e.post(t, adapters[0], firing); res.Notifications[0].Outcome != "delivered" || res.Notifications[0].Transports["pushover"] != "sent" {
		t.Fatalf("after AlertmanagerTTL: %+v", res.Notifications[0])
	}
	if n := len(e.pushover.Requests()); n != 2 {
		t.Errorf("pushover requests = %d, want 2", n)
	}
}

func TestPartialResolutionDoesNotPageAgain(t *testing.T) {
	e := newEnv(t)
	group := func(alerts ...string) string {
		return `{"version":"4","groupKey":"{}:{alertname=\"SmtpDown\"}","alerts":[` + strings.Join(alerts, ",") + `]}`
	}
	alert := func(fp, status string) string {
		return `{"status":"` + status + `","labels":{"alertname":"SmtpDown","severity":"critical","instance":"` + fp + `"},"annotations":{"summary":"SMTP down"},"startsAt":"2026-11-24T05:00:00Z","fingerprint":"` + fp + `"}`
	}
	steps := []struct {
		body         string
		wantPushover string
		wantPages    int
	}{
		{group(alert("a", "firing"), alert("b", "firing")), "sent", 1},
		{group(alert("a", "firing"), alert("b", "resolved")), "already-paged", 1},
		{group(alert("a", "firing"), alert("c", "firing")), "sent", 2},
	}
	for i, s := range steps {
		status, res := e.post(t, adapters[0], s.body)
		if status != http.StatusOK {
			t.Fatalf("step %d: status %d", i, status)
		}
		if got := res.Notifications[0].Transports["pushover"]; got != s.wantPushover {
			t.Errorf("step %d: pushover %q, want %q", i, got, s.wantPushover)
		}
		if n := len(e.pushover.Requests()); n != s.wantPages {
			t.Errorf("step %d: %d pages, want %d", i, n, s.wantPages)
		}
	}
	nt := e.ntfy.Requests()
	if len(nt) != 3 {
		t.Fatalf("ntfy requests = %d, want one per update", len(nt))
	}
	if nt[1].Body != "1 firing, 1 resolved\nfiring: SMTP down (a)\nresolved: SMTP down (b)" {
		t.Errorf("partial resolution body = %q", nt[1].Body)
	}
	for _, r := range nt[1:] {
		if r.Header.Get("X-Sequence-Id") != nt[0].Header.Get("X-Sequence-Id") {
			t.Error("an update of the group has another sequence id")
		}
	}
}

func TestConcurrentCopiesDeliverOnce(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { statuses[i], _ = e.post(t, adapters[i%2], kumaDown) })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("copy %d: status %d", i, s)
		}
	}
	if p, n := len(e.pushover.Requests()), len(e.ntfy.Requests()); p != 1 || n != 1 {
		t.Fatalf("requests: pushover %d, ntfy %d; want exactly 1 each", p, n)
	}
}

func TestDisabledTransports(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Pushover = nil })
	res := e.postOK(t, adapters[0], kumaDown)
	checkResult(t, res, "ok", NotificationResult{
		Source: "kuma/IMAP reachable (internal)", Severity: "critical", Status: "firing",
		Outcome: "delivered", Transports: map[string]string{"pushover": "disabled", "ntfy": "sent"},
	})

	e = newEnv(t, func(c *Config) { c.Ntfy = nil })
	status, res := e.post(t, adapters[0], `{"severity":"warning","source":"kuma/x","summary":"slow"}`)
	if status != http.StatusOK || res.Notifications[0].Outcome != "no-transport" {
		t.Fatalf("warning without ntfy: status %d, %+v", status, res.Notifications[0])
	}
	if lines := notificationLines(t, e.logs); len(lines) != 1 || lines[0]["level"] != "WARN" {
		t.Errorf("an undeliverable notification was not logged as one warning:\n%s", e.logs)
	}
}

func TestOneLogLinePerNotification(t *testing.T) {
	e := newEnv(t)
	e.ntfy.SetResponder(func(int, fakes.Request, *http.Request) (int, string) {
		// A server that echoes what it got must not put secrets in the log.
		return http.StatusForbidden, `{"error":"token ` + ntfyToken + ` may not publish"}`
	})
	e.post(t, adapters[0], kumaDown)
	e.post(t, adapters[0], `{"severity":"info","source":"kuma/Admin app","summary":"up"}`)

	lines := notificationLines(t, e.logs)
	if len(lines) != 2 {
		t.Fatalf("%d notification lines, want 2:\n%s", len(lines), e.logs)
	}
	want := []map[string]any{
		{"level": "ERROR", "kind": "simple", "alert_source": "kuma/IMAP reachable (internal)", "severity": "critical", "status": "firing",
			"transports": "ntfy=failed,pushover=sent", "outcome": "failed"},
		{"level": "INFO", "kind": "simple", "alert_source": "kuma/Admin app", "severity": "info", "status": "firing",
			"transports": "", "outcome": "dropped"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
	if e, _ := lines[0]["err_ntfy"].(string); !strings.Contains(e, "HTTP 403") {
		t.Errorf("err_ntfy = %q", e)
	}
	for _, secret := range []string{testSecret, pushoverTok, pushoverUser, ntfyToken} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log contains a secret (%s…)", secret[:6])
		}
	}
}

// notificationLines returns the parsed "notification" log lines.
func notificationLines(t *testing.T, logs *testenv.SyncBuffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if m["msg"] == "notification" {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestNewRejectsBadConfig(t *testing.T) {
	base := func() Config {
		return Config{Secret: "s", Ntfy: &notify.Ntfy{}, AlertmanagerTTL: time.Hour, SimpleTTL: time.Minute}
	}
	cases := map[string]func(*Config){
		"empty secret":    func(c *Config) { c.Secret = "" },
		"no transport":    func(c *Config) { c.Ntfy = nil },
		"retry below 30s": func(c *Config) { c.Emergency, c.EmergencyRetry, c.EmergencyExpire = true, 29*time.Second, time.Hour },
		"expire above 3h": func(c *Config) {
			c.Emergency, c.EmergencyRetry, c.EmergencyExpire = true, time.Minute, 3*time.Hour+time.Second
		},
		"expire below retry": func(c *Config) {
			c.Emergency, c.EmergencyRetry, c.EmergencyExpire = true, 10*time.Minute, 5*time.Minute
		},
		"zero TTL": func(c *Config) { c.SimpleTTL = 0 },
	}
	for name, mutate := range cases {
		c := base()
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(base()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
