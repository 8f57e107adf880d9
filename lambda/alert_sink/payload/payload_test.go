package payload

import "os"
import "regexp"
import "slices"
import "strings"
import "testing"
import "time"

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func decodeFile(t *testing.T, name string) []Notification {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s): %v", name, err)
	}
	return ns
}

func one(t *testing.T, ns []Notification) Notification {
	t.Helper()
	if len(ns) != 1 {
		t.Fatalf("got %d notifications, want 1: %+v", len(ns), ns)
	}
	return ns[0]
}

// The fixtures were recorded from Debian's Alertmanager 0.25.0 (see
// testdata/README.md).
func TestDecodeRecordedCriticalFiring(t *testing.T) {
	n := one(t, decodeFile(t, "alertmanager-critical-firing.json"))
	if n.Kind != KindAlertmanager || n.Severity != Critical || n.Status != Firing {
		t.Errorf("kind/severity/status = %s/%s/%s", n.Kind, n.Severity, n.Status)
	}
	if n.Source != "alertmanager/MailQueueStuck/smtp-out:9106" {
		t.Errorf("Source = %q", n.Source)
	}
	want := Alert{
		Status:      Firing,
		Name:        "MailQueueStuck",
		Instance:    "smtp-out:9106",
		Summary:     "Outbound queue has messages older than 1h",
		Fingerprint: "a55e418d5b274866",
		StartsAt:    time.Date(2026, 11, 24, 5, 47, 11, 0, time.UTC),
	}
	if len(n.Alerts) != 1 || n.Alerts[0] != want {
		t.Errorf("Alerts = %+v\nwant [%+v]", n.Alerts, want)
	}
	if n.RunbookURL != "https://example.test/runbooks/queue.md" || n.Truncated != 0 || n.PushoverPriority != 0 {
		t.Errorf("RunbookURL %q, Truncated %d, PushoverPriority %d", n.RunbookURL, n.Truncated, n.PushoverPriority)
	}
	if !hex32.MatchString(n.Thread) || !hex32.MatchString(n.Idempotency) || n.Thread == n.Idempotency {
		t.Errorf("Thread %q / Idempotency %q: want two different 32-digit hex keys", n.Thread, n.Idempotency)
	}
	if len(n.PageKeys) != 1 || !hex32.MatchString(n.PageKeys[0]) {
		t.Errorf("PageKeys = %q, want one key", n.PageKeys)
	}
}

func TestDecodeRecordedResolutionKeepsThread(t *testing.T) {
	firing := one(t, decodeFile(t, "alertmanager-critical-firing.json"))
	resolved := one(t, decodeFile(t, "alertmanager-critical-resolved.json"))
	if resolved.Status != Resolved || resolved.Alerts[0].Status != Resolved {
		t.Errorf("status = %s, alert status = %s; want resolved", resolved.Status, resolved.Alerts[0].Status)
	}
	if resolved.Thread != firing.Thread {
		t.Error("resolution has another Thread than the firing notification: ntfy could not replace it")
	}
	if resolved.Idempotency == firing.Idempotency {
		t.Error("resolution has the firing notification's Idempotency: it would be dropped as a duplicate")
	}
	if len(resolved.PageKeys) != 0 {
		t.Errorf("PageKeys = %q, want none when nothing fires", resolved.PageKeys)
	}
}

func TestDecodeRecordedTruncatedGroup(t *testing.T) {
	n := one(t, decodeFile(t, "alertmanager-warning-truncated.json"))
	if n.Severity != Warning || n.Truncated != 1 || len(n.Alerts) != 2 {
		t.Fatalf("severity %s, Truncated %d, %d alerts; want warning, 1, 2", n.Severity, n.Truncated, len(n.Alerts))
	}
	if n.Source != "alertmanager/DiskFilling" {
		t.Errorf("Source = %q, want no instance for a group of two", n.Source)
	}
	// No summary annotation: the description stands in.
	if n.Alerts[0].Summary != "disk 85% full" || n.Alerts[1].Summary != "disk 86% full" {
		t.Errorf("summaries = %q, %q", n.Alerts[0].Summary, n.Alerts[1].Summary)
	}
	if n.RunbookURL != "" {
		t.Errorf("RunbookURL = %q, want none", n.RunbookURL)
	}
	if len(n.PageKeys) != 2 {
		t.Errorf("PageKeys = %d, want 2", len(n.PageKeys))
	}
}

const mixedGroup = `{
  "version": "4", "groupKey": "{}:{alertname=\"Mixed\"}", "truncatedAlerts": 0, "status": "firing",
  "alerts": [
    {"status": "resolved", "labels": {"alertname": "A", "severity": "critical", "instance": "i1"},
     "annotations": {"summary": "a1 gone", "runbook_url": "https://rb/old"}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f1"},
    {"status": "firing", "labels": {"alertname": "B", "severity": "info"}, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f2"},
    {"status": "firing", "labels": {"alertname": "A", "severity": "CRITICAL", "instance": "i2", "pushover_priority": "2"},
     "annotations": {"summary": "a2 up", "runbook_url": "https://rb/a"}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f3"},
    {"status": "firing", "labels": {"alertname": "C"}, "annotations": {"description": "no severity label"}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f4"},
    {"status": "firing", "labels": {"alertname": "D", "severity": "critical"}, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z"}
  ]
}`

func TestDecodeSplitsGroupBySeverity(t *testing.T) {
	ns, err := Decode([]byte(mixedGroup))
	if err != nil {
		t.Fatal(err)
	}
	var sevs []Severity
	for _, n := range ns {
		sevs = append(sevs, n.Severity)
	}
	if !slices.Equal(sevs, []Severity{Critical, Warning, Info}) {
		t.Fatalf("severities = %v, want [critical warning info]", sevs)
	}
	crit := ns[0]
	var order []string
	for _, a := range crit.Alerts {
		order = append(order, a.Fingerprint+"/"+string(a.Status))
	}
	// Firing first, payload order otherwise; D has a fingerprint made from
	// its labels.
	if len(order) != 3 || order[0] != "f3/firing" || !strings.HasSuffix(order[1], "/firing") || order[2] != "f1/resolved" {
		t.Errorf("critical alerts = %v, want [f3/firing <labels>/firing f1/resolved]", order)
	}
	if !hex32.MatchString(crit.Alerts[1].Fingerprint) {
		t.Errorf("fallback fingerprint = %q", crit.Alerts[1].Fingerprint)
	}
	if crit.Status != Firing || crit.PushoverPriority != 2 || crit.RunbookURL != "https://rb/a" {
		t.Errorf("critical: status %s, PushoverPriority %d, runbook %q; want firing, 2, the firing alert's", crit.Status, crit.PushoverPriority, crit.RunbookURL)
	}
	if crit.Source != "alertmanager/A +1" {
		t.Errorf("critical Source = %q", crit.Source)
	}
	if w := ns[1]; w.Source != "alertmanager/C" || w.Alerts[0].Summary != "no severity label" {
		t.Errorf("warning = %+v, want alert C defaulted to warning", w)
	}
	if ns[0].Thread == ns[1].Thread || ns[1].Thread == ns[2].Thread {
		t.Error("severities of one group share a Thread")
	}
}

func TestAlertmanagerIdempotency(t *testing.T) {
	base := `{"version":"4","groupKey":"g","truncatedAlerts":%T,"alerts":[
	  {"status":"%S1","labels":{"alertname":"X","severity":"warning"},"startsAt":"%START","fingerprint":"f1"},
	  {"status":"firing","labels":{"alertname":"X","severity":"warning"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f2"}]}`
	build := func(s1, start, trunc string) Notification {
		body := strings.NewReplacer("%S1", s1, "%START", start, "%T", trunc).Replace(base)
		ns, err := Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return one(t, ns)
	}
	ref := build("firing", "2026-01-01T00:00:00Z", "0")
	if again := build("firing", "2026-01-01T00:00:00Z", "0"); again.Idempotency != ref.Idempotency {
		t.Error("same content, different Idempotency: a retry would notify twice")
	}
	for name, n := range map[string]Notification{
		"one alert resolved": build("resolved", "2026-01-01T00:00:00Z", "0"),
		"alert fired anew":   build("firing", "2026-01-01T01:00:00Z", "0"),
		"truncation changed": build("firing", "2026-01-01T00:00:00Z", "3"),
	} {
		if n.Idempotency == ref.Idempotency {
			t.Errorf("%s: Idempotency unchanged, the update would be dropped", name)
		}
		if n.Thread != ref.Thread {
			t.Errorf("%s: Thread changed, ntfy would not replace the message", name)
		}
	}

	// The order of alerts in the body does not matter.
	swapped := `{"version":"4","groupKey":"g","alerts":[
	  {"status":"firing","labels":{"alertname":"X","severity":"warning"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f2"},
	  {"status":"firing","labels":{"alertname":"X","severity":"warning"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f1"}]}`
	ns, err := Decode([]byte(swapped))
	if err != nil {
		t.Fatal(err)
	}
	if one(t, ns).Idempotency != ref.Idempotency {
		t.Error("reordered alerts changed Idempotency")
	}
}

func TestDecodeSimple(t *testing.T) {
	ns, err := Decode([]byte(`{"severity":" Critical ","source":"healthchecks/certbot-renewal","summary":"Missed heartbeat: certbot-renewal","runbook_url":"https://rb/hb.md","extra":"ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	n := one(t, ns)
	if n.Kind != KindSimple || n.Severity != Critical || n.Status != Firing || n.Source != "healthchecks/certbot-renewal" ||
		n.Summary != "Missed heartbeat: certbot-renewal" || n.RunbookURL != "https://rb/hb.md" || len(n.Alerts) != 0 || len(n.PageKeys) != 0 {
		t.Errorf("notification = %+v", n)
	}

	recovered := one(t, must(Decode([]byte(`{"severity":"warning","source":"healthchecks/certbot-renewal","summary":"Recovered: certbot-renewal"}`))))
	if recovered.Thread != n.Thread {
		t.Error("same source, different Thread: the recovery would not replace the alert in ntfy")
	}
	if recovered.Idempotency == n.Idempotency {
		t.Error("different content, same Idempotency")
	}
	resolved := one(t, must(Decode([]byte(`{"severity":"critical","source":"healthchecks/certbot-renewal","summary":"Missed heartbeat: certbot-renewal","runbook_url":"https://rb/hb.md","status":"RESOLVED"}`))))
	if resolved.Status != Resolved || resolved.Idempotency == n.Idempotency {
		t.Errorf("status %s, same Idempotency %v", resolved.Status, resolved.Idempotency == n.Idempotency)
	}
	again := one(t, must(Decode([]byte(`{"summary":"Missed heartbeat: certbot-renewal","source":"healthchecks/certbot-renewal","severity":"critical","runbook_url":"https://rb/hb.md"}`))))
	if again.Idempotency != n.Idempotency {
		t.Error("the same simple payload got another Idempotency")
	}
}

func must(ns []Notification, err error) []Notification {
	if err != nil {
		panic(err)
	}
	return ns
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"not JSON":              {`{"severity":`, "invalid JSON body"},
		"array":                 {`[{"severity":"critical"}]`, "want an object, got array"},
		"null":                  {`null`, "want an object, got null"},
		"string":                {`"critical"`, "want an object, got string"},
		"trailing garbage":      {`{"severity":"info","source":"s","summary":"x"} {}`, "invalid JSON body"},
		"old webhook version":   {`{"version":"3","alerts":[{"status":"firing","labels":{}}]}`, `unsupported Alertmanager webhook version "3"`},
		"no alerts":             {`{"version":"4","groupKey":"g","alerts":[]}`, "without alerts"},
		"unknown AM severity":   {`{"version":"4","alerts":[{"status":"firing","labels":{"severity":"page"}}]}`, `alert 0: unknown severity "page"`},
		"unknown AM status":     {`{"version":"4","alerts":[{"status":"pending","labels":{}}]}`, `alert 0: unknown status "pending"`},
		"bad pushover_priority": {`{"version":"4","alerts":[{"status":"firing","labels":{"pushover_priority":"3"}}]}`, `pushover_priority="3"`},
		"negative truncation":   {`{"version":"4","truncatedAlerts":-1,"alerts":[{"status":"firing","labels":{}}]}`, "negative truncatedAlerts"},
		"missing severity":      {`{"source":"kuma/x","summary":"down"}`, "without severity"},
		"unknown severity":      {`{"severity":"urgent","source":"kuma/x","summary":"down"}`, `unknown severity "urgent"`},
		"empty severity":        {`{"severity":"","source":"kuma/x","summary":"down"}`, `unknown severity ""`},
		"severity not a string": {`{"severity":5,"source":"kuma/x","summary":"down"}`, "invalid simple payload"},
		"missing source":        {`{"severity":"critical","summary":"down"}`, "without source"},
		"missing summary":       {`{"severity":"critical","source":"kuma/x","summary":"  "}`, "without summary"},
		"unknown simple status": {`{"severity":"critical","source":"kuma/x","summary":"down","status":"open"}`, `unknown status "open"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ns, err := Decode([]byte(c.body))
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", ns)
			}
			if !IsBadInput(err) {
				t.Errorf("err %v is not a payload.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestLabelsFingerprintIsStable(t *testing.T) {
	a := labelsFingerprint(map[string]string{"alertname": "X", "instance": "i"})
	b := labelsFingerprint(map[string]string{"instance": "i", "alertname": "X"})
	c := labelsFingerprint(map[string]string{"alertname": "X", "instance": "j"})
	// Shifting text between a name and a value must not collide.
	d := labelsFingerprint(map[string]string{"alertnam": "eX", "instance": "i"})
	if a != b || a == c || a == d {
		t.Errorf("fingerprints: a %s b %s c %s d %s; want a == b, c and d different", a, b, c, d)
	}
}
