package main

import "bufio"
import "bytes"
import "encoding/json"
import "fmt"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

// alertmanagerBinary is where Debian's prometheus-alertmanager package
// installs the daemon.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

var seqID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// startAlertmanager runs the real Alertmanager on loopback with clustering
// off, sending every group to sinkURL with send_resolved.
func startAlertmanager(t *testing.T, sinkURL string) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBinary); err != nil {
		t.Fatalf("%s not found: install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager): %v", alertmanagerBinary, err)
	}
	dir := t.TempDir()
	// Tiny intervals keep the test short: groups flush 200 ms after their
	// first alert and re-evaluate every second, which is when resolutions
	// go out.
	config := fmt.Sprintf(`route:
  receiver: alert-sink
  group_by: ['alertname', 'severity']
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alert-sink
    webhook_configs:
      - url: %s
        send_resolved: true
        max_alerts: 10
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, sinkURL, testSecret)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(alertmanagerBinary,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	})

	// Readiness has no event to wait on: poll the endpoint until a
	// deadline.
	base := "http://" + addr
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("alertmanager exited before it was ready")
		case <-deadline.C:
			t.Fatalf("alertmanager not ready within %v: %v", waitLimit, err)
		case <-tick.C:
		}
	}
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

func postAlerts(t *testing.T, base string, alerts []amAlert) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %d", resp.StatusCode)
	}
}

// failedWebhooks reads Alertmanager's own count of failed webhook
// notifications, summed over any further labels (newer versions add a
// reason): alert_sink must have answered every one with 2xx.
func failedWebhooks(t *testing.T, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	found, sum := false, 0.0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `alertmanager_notifications_failed_total{`) && strings.Contains(sc.Text(), `integration="webhook"`) {
			f := strings.Fields(sc.Text())
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", sc.Text(), err)
			}
			found, sum = true, sum+v
		}
	}
	if !found {
		t.Fatal("alertmanager_notifications_failed_total{integration=\"webhook\"} not exported")
	}
	return sum
}

// titled returns the last of the ntfy requests reqs with the Title title;
// there must be one.
func titled(t *testing.T, reqs []fakes.Request, title string) fakes.Request {
	t.Helper()
	var got *fakes.Request
	var titles []string
	for i, r := range reqs {
		titles = append(titles, r.Header.Get("Title"))
		if titles[i] == title {
			got = &reqs[i]
		}
	}
	if got == nil {
		t.Fatalf("no ntfy message titled %q; titles: %q", title, titles)
	}
	return *got
}

// TestAlertmanagerIntegration sends a critical, a warning and an info alert
// through Debian's real Alertmanager to alert_sink in HTTP mode, then
// resolves them, and checks what reaches the fake Pushover and ntfy.
func TestAlertmanagerIntegration(t *testing.T) {
	testenv.Integration(t)
	pushover, ntfy := fakes.NewPushover(t), fakes.NewNtfy(t)
	sink := startProcess(t, httpEnv(pushover, ntfy, "PUSHOVER_EMERGENCY=true"), "--web.listen-address=127.0.0.1:0")
	sinkURL := "http://" + sink.listenAddress(t) + "/"
	am := startAlertmanager(t, sinkURL)

	// Started a minute ago, so that the resolution's endsAt (a second ago)
	// is after the start however fast the test runs.
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	alerts := []amAlert{
		{
			Labels:      map[string]string{"alertname": "SinkTestQueueStuck", "severity": "critical", "instance": "smtp-out:9106"},
			Annotations: map[string]string{"summary": "Outbound queue stuck for 1h", "runbook_url": "https://runbooks.example/queue.md"},
		},
		{
			Labels:      map[string]string{"alertname": "SinkTestDiskFilling", "severity": "warning", "instance": "imap:9100"},
			Annotations: map[string]string{"description": "disk 85% full"},
		},
		{
			Labels:      map[string]string{"alertname": "SinkTestInfo", "severity": "info", "instance": "imap:9100"},
			Annotations: map[string]string{"summary": "just so you know"},
		},
	}
	for i := range alerts {
		alerts[i].StartsAt, alerts[i].EndsAt = start, start.Add(time.Hour)
	}
	postAlerts(t, am, alerts)

	// Firing: the critical pages (emergency) and goes to ntfy at 5, the
	// warning goes to ntfy at 3, the info is dropped.
	po := pushover.WaitFor(t, 1, waitLimit)
	nt := ntfy.WaitFor(t, 2, waitLimit)
	sink.waitLog(t, "the info alert dropped", waitLimit, func(m map[string]any) bool {
		return m["msg"] == "notification" && m["alert_source"] == "alertmanager/SinkTestInfo/imap:9100" &&
			m["severity"] == "info" && m["status"] == "firing" && m["outcome"] == "dropped"
	})
	page := po[0]
	if page.Path != "/1/messages.json" {
		t.Fatalf("first Pushover request to %s", page.Path)
	}
	wantPage := map[string]string{
		"token": pushoverTok, "user": pushoverUser,
		"title":   "[CRITICAL] alertmanager/SinkTestQueueStuck/smtp-out:9106",
		"message": "Outbound queue stuck for 1h", "priority": "2", "retry": "60", "expire": "3600",
		"url": "https://runbooks.example/queue.md", "url_title": "Runbook",
	}
	for k, v := range wantPage {
		if got := page.Form.Get(k); got != v {
			t.Errorf("pushover %s = %q, want %q", k, got, v)
		}
	}
	if len(page.Form) != len(wantPage)+1 {
		t.Errorf("pushover form has extra fields: %v", page.Form)
	}
	crit := titled(t, nt, "[CRITICAL] alertmanager/SinkTestQueueStuck/smtp-out:9106")
	warn := titled(t, nt, "[WARNING] alertmanager/SinkTestDiskFilling/imap:9100")
	checkNtfyMsg(t, crit, "Outbound queue stuck for 1h", "5", "rotating_light,critical,alertmanager", "https://runbooks.example/queue.md")
	checkNtfyMsg(t, warn, "disk 85% full", "3", "warning,alertmanager", "")
	critSeq, warnSeq := crit.Header.Get("X-Sequence-Id"), warn.Header.Get("X-Sequence-Id")
	if !seqID.MatchString(critSeq) || !seqID.MatchString(warnSeq) || critSeq == warnSeq {
		t.Errorf("sequence ids %q, %q: want two distinct 32-digit hex ids", critSeq, warnSeq)
	}
	if page.Form.Get("tags") != critSeq {
		t.Errorf("pushover tag %q differs from the critical thread %q", page.Form.Get("tags"), critSeq)
	}

	// Resolve all three.
	for i := range alerts {
		alerts[i].EndsAt = time.Now().UTC().Add(-time.Second)
	}
	postAlerts(t, am, alerts)

	po = pushover.WaitFor(t, 2, waitLimit)
	nt = ntfy.WaitFor(t, 4, waitLimit)
	sink.waitLog(t, "the info resolution dropped", waitLimit, func(m map[string]any) bool {
		return m["msg"] == "notification" && m["alert_source"] == "alertmanager/SinkTestInfo/imap:9100" &&
			m["severity"] == "info" && m["status"] == "resolved" && m["outcome"] == "dropped"
	})
	if cancel := po[1]; cancel.Path != "/1/receipts/rcpt1/cancel.json" || cancel.Form.Encode() != "token="+pushoverTok {
		t.Errorf("second Pushover request = %s %v, want the emergency's cancel", cancel.Path, cancel.Form)
	}
	rc := titled(t, nt[2:], "[RESOLVED] alertmanager/SinkTestQueueStuck/smtp-out:9106")
	rw := titled(t, nt[2:], "[RESOLVED] alertmanager/SinkTestDiskFilling/imap:9100")
	checkNtfyMsg(t, rc, "Outbound queue stuck for 1h", "3", "white_check_mark,critical,alertmanager", "https://runbooks.example/queue.md")
	checkNtfyMsg(t, rw, "disk 85% full", "3", "white_check_mark,warning,alertmanager", "")
	if rc.Header.Get("X-Sequence-Id") != critSeq || rw.Header.Get("X-Sequence-Id") != warnSeq {
		t.Error("a resolution does not carry its firing message's sequence id, so ntfy would not replace it")
	}

	if p, n := len(pushover.Requests()), len(ntfy.Requests()); p != 2 || n != 4 {
		t.Errorf("requests: pushover %d, ntfy %d; want exactly 2 and 4", p, n)
	}
	if f := failedWebhooks(t, am); f != 0 {
		t.Errorf("alertmanager_notifications_failed_total{integration=\"webhook\"} = %v, want 0", f)
	}
}

func checkNtfyMsg(t *testing.T, r fakes.Request, body, priority, tags, click string) {
	t.Helper()
	if r.Body != body || r.Header.Get("Priority") != priority || r.Header.Get("Tags") != tags ||
		r.Header.Get("Click") != click || r.Header.Get("Authorization") != "Bearer "+ntfyToken {
		t.Errorf("ntfy %q: body %q, Priority %q, Tags %q, Click %q, Authorization %q; want %q, %q, %q, %q, the token",
			r.Header.Get("Title"), r.Body, r.Header.Get("Priority"), r.Header.Get("Tags"), r.Header.Get("Click"),
			r.Header.Get("Authorization"), body, priority, tags, click)
	}
}
