package handler

import "net/http"
import "os"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"

// The status codes cabal-infra's Python alert_sink answers
// (lambda/api/alert_sink/function.py, handler and _reply), for the cases
// where alert_sink differs or keeps them. docs/alert_sink.md lists every
// difference; this test holds the two to each other.
const (
	upstreamDelivered     = http.StatusNoContent    // sent and no errors: _reply(204)
	upstreamInfoDropped   = http.StatusNoContent    // severity info: _reply(204)
	upstreamPartial       = http.StatusMultiStatus  // sent and errors: 207 {"sent", "errors"}
	upstreamAllFailed     = http.StatusBadGateway   // nothing sent: _reply(502)
	upstreamUnauthorized  = http.StatusUnauthorized // _reply(401)
	upstreamBadJSON       = http.StatusBadRequest   // json.loads failed: _reply(400)
	upstreamBadSeverity   = http.StatusBadRequest   // _reply(400, 'unknown severity')
	upstreamNoSeverity    = http.StatusNoContent    // payload.get('severity', 'info'): dropped
	upstreamNotPost       = http.StatusNoContent    // the method is never looked at
	upstreamRetryDelivers = http.StatusNoContent    // no idempotency: sent again, 204
	upstreamNotAnObject   = http.StatusBadGateway   // AttributeError on a list: the Function URL's 502
	upstreamNoSource      = http.StatusNoContent    // source defaults to 'unknown'
)

// TestStatusCodesAgainstUpstream answers each case and checks alert_sink's
// code, and that the documentation's table of differences gives both codes
// for each case where they differ.
func TestStatusCodesAgainstUpstream(t *testing.T) {
	critical := `{"severity":"critical","source":"kuma/Admin app","summary":"down"}`
	cases := []struct {
		name     string
		upstream int
		ours     int
		docRow   string // the start of the row in docs/alert_sink.md
		run      func(t *testing.T, e *env) int
	}{
		{"delivered", upstreamDelivered, http.StatusOK, "| every transport delivered |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], critical)
			return s
		}},
		{"info dropped", upstreamInfoDropped, http.StatusOK, "| `info`, dropped |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `{"severity":"info","source":"x","summary":"y"}`)
			return s
		}},
		{"partial failure", upstreamPartial, http.StatusBadGateway, "| some transports failed |", func(t *testing.T, e *env) int {
			e.ntfy.SetResponder(fakes.FailFirst(1, http.StatusServiceUnavailable, fakes.NtfyOK))
			s, _ := e.post(t, adapters[1], critical)
			return s
		}},
		{"all failed", upstreamAllFailed, http.StatusBadGateway, "| every transport failed |", func(t *testing.T, e *env) int {
			e.ntfy.SetResponder(fakes.FailFirst(1, http.StatusServiceUnavailable, fakes.NtfyOK))
			e.pushover.SetResponder(fakes.FailFirst(1, http.StatusServiceUnavailable, fakes.PushoverOK))
			s, _ := e.post(t, adapters[1], critical)
			return s
		}},
		{"retried after delivery", upstreamRetryDelivers, http.StatusOK, "| retried after delivery |", func(t *testing.T, e *env) int {
			e.post(t, adapters[1], critical)
			s, res := e.post(t, adapters[1], critical)
			if res.Notifications[0].Outcome != "duplicate" || len(e.pushover.Requests()) != 1 {
				t.Errorf("retry: outcome %s, %d pushover requests", res.Notifications[0].Outcome, len(e.pushover.Requests()))
			}
			return s
		}},
		{"unauthorized", upstreamUnauthorized, http.StatusUnauthorized, "| no or wrong secret |", func(t *testing.T, e *env) int {
			s, _, _ := adapters[1].do(t, e.h, http.MethodPost, map[string]string{"X-Alert-Secret": "wrong"}, critical)
			return s
		}},
		{"not JSON", upstreamBadJSON, http.StatusBadRequest, "| not JSON |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `{"severity":`)
			return s
		}},
		{"not an object", upstreamNotAnObject, http.StatusBadRequest, "| JSON but not an object |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `["critical"]`)
			return s
		}},
		{"unknown severity", upstreamBadSeverity, http.StatusBadRequest, "| unknown severity |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `{"severity":"urgent","source":"x","summary":"y"}`)
			return s
		}},
		{"no severity", upstreamNoSeverity, http.StatusBadRequest, "| missing `severity` |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `{"source":"x","summary":"y"}`)
			return s
		}},
		{"no source", upstreamNoSource, http.StatusBadRequest, "| missing `source` or `summary` |", func(t *testing.T, e *env) int {
			s, _ := e.post(t, adapters[1], `{"severity":"warning","summary":"y"}`)
			return s
		}},
		{"not POST", upstreamNotPost, http.StatusMethodNotAllowed, "| method other than POST |", func(t *testing.T, e *env) int {
			s, _, _ := adapters[1].do(t, e.h, http.MethodGet, map[string]string{"X-Alert-Secret": testSecret}, "")
			return s
		}},
	}
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "alert_sink.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) {
				one := notify.Policy{Attempts: 1, Timeout: fastPolicy.Timeout}
				cfg.Pushover.Policy, cfg.Ntfy.Policy = one, one
			})
			if got := c.run(t, e); got != c.ours {
				t.Errorf("answer %d, want %d", got, c.ours)
			}
			var row string
			for _, line := range strings.Split(string(doc), "\n") {
				if strings.HasPrefix(line, c.docRow) {
					row = line
				}
			}
			if row == "" {
				t.Fatalf("docs/alert_sink.md has no row %q", c.docRow)
			}
			cells := strings.Split(row, "|")
			code := regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)
			if up := code.FindString(cells[2]); up != itoa(c.upstream) {
				t.Errorf("docs give cabal-infra's answer as %q, want %d: %s", up, c.upstream, row)
			}
			if ours := code.FindString(cells[3]); ours != itoa(c.ours) {
				t.Errorf("docs give alert_sink's answer as %q, want %d: %s", ours, c.ours, row)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
