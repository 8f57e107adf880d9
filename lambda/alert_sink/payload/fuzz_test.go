package payload

import "os"
import "path/filepath"
import "reflect"
import "testing"
import "unicode/utf8"

// FuzzDecode feeds Decode arbitrary bodies. Whatever the body, Decode must
// not panic, must either reject it with a payload Error (answered 400) or
// return well-formed notifications, and must give the same answer twice.
// The seeds are the recorded Alertmanager bodies in ../testdata, the
// payloads of Kuma and Healthchecks, and the shapes that once went wrong;
// plain `go test` runs them, `go test -fuzz FuzzDecode` explores from them.
func FuzzDecode(f *testing.F) {
	recorded, err := filepath.Glob("../testdata/*.json")
	if err != nil || len(recorded) == 0 {
		f.Fatalf("no recorded bodies in ../testdata (%v)", err)
	}
	for _, name := range recorded {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"severity":"critical","source":"kuma/IMAP reachable (internal)","summary":"IMAP down: connection refused"}`,
		`{"severity":"warning","source":"healthchecks/aws-backup","summary":"Missed heartbeat","status":"resolved"}`,
		`{"severity":"info","source":"x","summary":"y","runbook_url":"javascript:alert(1)"}`,
		`{"version":"4","groupKey":"k","alerts":[{"status":"firing","labels":{"alertname":"A","severity":"critical","pushover_priority":"2"}}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{}}],"truncatedAlerts":3}`,
		`{"version":"4","alerts":null}`,
		`{"version":"4","alerts":[null,{"status":"firing","labels":{"alertname":"A"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"\u202e\u0000"}}],"version":"4"}`,
		`{"ALERTS":[],"severity":"critical","source":"s","summary":"m"}`,
		`null`, `[]`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		notes, err := Decode(body)
		again, errAgain := Decode(body)
		if !reflect.DeepEqual(notes, again) || (err == nil) != (errAgain == nil) {
			t.Fatalf("two decodes differ: %v / %v", err, errAgain)
		}
		if err != nil {
			if !IsBadInput(err) {
				t.Fatalf("error %v is not a payload Error", err)
			}
			if notes != nil {
				t.Fatalf("error %v with %d notifications", err, len(notes))
			}
			return
		}
		if len(notes) == 0 {
			t.Fatal("accepted body without notifications")
		}
		for _, n := range notes {
			if _, err := ParseSeverity(string(n.Severity)); err != nil {
				t.Errorf("severity %q", n.Severity)
			}
			if n.Status != Firing && n.Status != Resolved {
				t.Errorf("status %q", n.Status)
			}
			if n.Source == "" || !utf8.ValidString(n.Source) && utf8.Valid(body) {
				t.Errorf("source %q", n.Source)
			}
			if !hex32.MatchString(n.Thread) || !hex32.MatchString(n.Idempotency) {
				t.Errorf("thread %q, idempotency %q", n.Thread, n.Idempotency)
			}
			switch n.Kind {
			case KindAlertmanager:
				if len(n.Alerts) == 0 || n.Truncated < 0 {
					t.Errorf("Alertmanager notification with %d alerts, %d truncated", len(n.Alerts), n.Truncated)
				}
			case KindSimple:
				if n.Summary == "" || len(n.Alerts) != 0 {
					t.Errorf("simple notification with summary %q and %d alerts", n.Summary, len(n.Alerts))
				}
			default:
				t.Errorf("kind %q", n.Kind)
			}
		}
	})
}
