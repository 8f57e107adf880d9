package main

import "fmt"
import "io"
import "net/http"
import "strings"
import "sync"
import "testing"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

// TestBurstOnBinaries is the multi-monitor outage on the shipped binary:
// 4 processes sharing one idempotency table (--dedupe.table on a DynamoDB
// fake, through the real SDK), 10 Kuma monitors and 10 Alertmanager groups
// firing at once, each group also sent twice more to two other processes,
// and ntfy failing the first delivery of every group so that Alertmanager's
// retries on 502 come into play. Every alert must reach Pushover once and
// ntfy once.
func TestBurstOnBinaries(t *testing.T) {
	const (
		instances = 4
		kuma      = 10
		groups    = 10
		copies    = 3
		table     = "cabal-mailtier-alert-sink-dedupe"
	)
	po := fakes.NewPushover(t)
	nt := fakes.NewNtfy(t)
	nt.SetResponder(fakes.NtfyFailFirstAlertmanager())
	db := fakes.NewDynamoDB(t, table, dedupe.AttrKey)
	var addrs []string
	for range instances {
		p := startProcess(t, httpEnv(po, nt,
			"ALERT_SINK_DEDUPE_TABLE="+table,
			"ALERT_SINK_NOTIFY_ATTEMPTS=1",
			"AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=AKIDALERTSINKTEST",
			"AWS_SECRET_ACCESS_KEY=alert-sink-test-secret-key",
			"AWS_ENDPOINT_URL_DYNAMODB="+db.URL,
			"AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=/nonexistent/alert_sink/config",
			"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/alert_sink/credentials",
		), "--web.listen-address=127.0.0.1:0")
		addrs = append(addrs, "http://"+p.listenAddress(t)+"/")
	}
	post := func(addr, body string) int {
		req, _ := http.NewRequest(http.MethodPost, addr, strings.NewReader(body))
		req.Header.Set("X-Alert-Secret", testSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	var wg sync.WaitGroup
	for i := range kuma {
		wg.Go(func() {
			body := fmt.Sprintf(`{"severity":"critical","source":"kuma/monitor-%02d","summary":"monitor %02d down"}`, i, i)
			if s := post(addrs[i%instances], body); s != http.StatusOK {
				t.Errorf("kuma %d: %d", i, s)
			}
		})
	}
	for i := range groups {
		body := fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"Burst%02d\"}","status":"firing","alerts":[{"status":"firing",
"labels":{"alertname":"Burst%02d","severity":"critical","instance":"host%02d"},"annotations":{"summary":"burst %02d"},
"startsAt":"2026-11-24T06:00:00Z","fingerprint":"%016x"}]}`, i, i, i, i, i+1)
		for c := range copies {
			wg.Go(func() {
				for attempt := range 6 {
					switch s := post(addrs[(i+c+attempt)%instances], body); s {
					case http.StatusOK:
						return
					case http.StatusBadGateway: // Alertmanager retries
					default:
						t.Errorf("group %d copy %d: %d", i, c, s)
						return
					}
				}
				t.Errorf("group %d copy %d: still 502 after 6 attempts", i, c)
			})
		}
	}
	wg.Wait()

	count := func(reqs []fakes.Request, title func(fakes.Request) string) map[string]int {
		n := map[string]int{}
		for _, r := range reqs {
			n[title(r)]++
		}
		return n
	}
	wantPo, wantNt := map[string]int{}, map[string]int{}
	for i := range kuma {
		title := fmt.Sprintf("[CRITICAL] kuma/monitor-%02d", i)
		wantPo[title], wantNt[title] = 1, 1
	}
	for i := range groups {
		title := fmt.Sprintf("[CRITICAL] alertmanager/Burst%02d/host%02d", i, i)
		wantPo[title], wantNt[title] = 1, 2 // ntfy: the injected failure, then the delivery
	}
	if got := count(po.Requests(), func(r fakes.Request) string { return r.Form.Get("title") }); fmt.Sprint(got) != fmt.Sprint(wantPo) {
		t.Errorf("pushover messages per alert:\n got %v\nwant %v", got, wantPo)
	}
	if got := count(nt.Requests(), func(r fakes.Request) string { return r.Header.Get("Title") }); fmt.Sprint(got) != fmt.Sprint(wantNt) {
		t.Errorf("ntfy requests per alert:\n got %v\nwant %v", got, wantNt)
	}
}
