package handler

import "encoding/json"
import "fmt"
import "net/http"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/aws/aws-lambda-go/events"
import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/credentials"
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"

// The burst: 10 Kuma monitors and 10 Alertmanager groups fire at once, each
// Alertmanager group sent burstCopies times (its first send and the
// retries Alertmanager makes when a send times out or fails), every copy to
// another of burstInstances function instances, all concurrently.
const (
	burstKuma      = 10
	burstGroups    = 10
	burstCopies    = 3
	burstInstances = 4
	burstTable     = "alert-sink-dedupe-burst"
)

func kumaBody(i int) string {
	return fmt.Sprintf(`{"severity":"critical","source":"kuma/monitor-%02d","summary":"monitor %02d down"}`, i, i)
}

func groupBody(i int) string {
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"Burst%02d\"}","status":"firing","truncatedAlerts":0,
"alerts":[{"status":"firing","labels":{"alertname":"Burst%02d","severity":"critical","instance":"host%02d"},
"annotations":{"summary":"burst %02d"},"startsAt":"2026-11-24T06:00:00Z","fingerprint":"%016x"}]}`, i, i, i, i, i+1)
}

// burstTitles are the 20 alerts as their titles read on the phone.
func burstTitles() []string {
	var titles []string
	for i := range burstKuma {
		titles = append(titles, fmt.Sprintf("[CRITICAL] kuma/monitor-%02d", i))
	}
	for i := range burstGroups {
		titles = append(titles, fmt.Sprintf("[CRITICAL] alertmanager/Burst%02d/host%02d", i, i))
	}
	return titles
}

// burstInstancesWith starts instances of the function that differ only in
// their records, on one Pushover and one ntfy.
func burstInstancesWith(t *testing.T, po, nt *fakes.Server, records func() dedupe.Store) []*Handler {
	policy := notify.Policy{Attempts: 1, Timeout: 2 * time.Second}
	var hs []*Handler
	for range burstInstances {
		h, err := New(Config{
			Secret:          testSecret,
			Pushover:        &notify.Pushover{BaseURL: po.URL + "/1", Token: pushoverTok, User: pushoverUser, Client: po.Client(), Policy: policy},
			Ntfy:            &notify.Ntfy{BaseURL: nt.URL, Topic: "alerts", Token: ntfyToken, Client: nt.Client(), Policy: policy},
			EmergencyRetry:  time.Minute,
			EmergencyExpire: time.Hour,
			AlertmanagerTTL: time.Hour,
			SimpleTTL:       2 * time.Minute,
			Records:         records(),
			ClaimPoll:       5 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// invoke sends body to h as a Function URL invocation and returns the
// status and the outcome of its one notification.
func invoke(t *testing.T, h *Handler, body string) (int, string) {
	ev := urlEvent(map[string]string{"x-alert-secret": testSecret}, body)
	resp, err := h.FunctionURL(t.Context(), ev)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	var res Result
	if err := json.Unmarshal([]byte(resp.Body), &res); err != nil || len(res.Notifications) != 1 {
		t.Errorf("answer %d: %s", resp.StatusCode, resp.Body)
		return resp.StatusCode, ""
	}
	return resp.StatusCode, res.Notifications[0].Outcome
}

// sendBurst sends every alert at once; an Alertmanager group's copies go to
// different instances. Alertmanager retries a copy answered 5xx (at most 5
// times here, each time on the next instance); Kuma does not retry.
func sendBurst(t *testing.T, hs []*Handler) (statuses map[int]int) {
	var mu sync.Mutex
	statuses = map[int]int{}
	var wg sync.WaitGroup
	for i := range burstKuma {
		wg.Go(func() {
			status, _ := invoke(t, hs[i%len(hs)], kumaBody(i))
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	for i := range burstGroups {
		for c := range burstCopies {
			wg.Go(func() {
				for attempt := range 6 {
					status, _ := invoke(t, hs[(i+c+attempt)%len(hs)], groupBody(i))
					mu.Lock()
					statuses[status]++
					mu.Unlock()
					if status != http.StatusBadGateway {
						return
					}
				}
				t.Errorf("group %d copy %d: still 502 after 6 attempts", i, c)
			})
		}
	}
	wg.Wait()
	return statuses
}

// titles counts the requests a fake received per notification title.
func titles(reqs []fakes.Request) map[string]int {
	n := map[string]int{}
	for _, r := range reqs {
		title := r.Header.Get("Title")
		if r.Form != nil {
			title = r.Form.Get("title")
		}
		n[title]++
	}
	return n
}

// burstStore returns a new store for each instance, on the fake DynamoDB
// db's table burstTable, with opts applied to the client's options.
func burstStore(db *fakes.DynamoDB, opts ...func(*dynamodb.Options)) func() dedupe.Store {
	return func() dedupe.Store {
		o := dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(db.URL),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDBURSTTEST", "burst-test-secret", ""),
		}
		for _, opt := range opts {
			opt(&o)
		}
		return &dedupe.DynamoDB{Table: burstTable, Client: dynamodb.New(o)}
	}
}

// TestBurstAcrossInstances is a multi-monitor outage: 20 distinct critical
// alerts at once over 4 instances sharing the DynamoDB records, plus 2
// concurrent copies of each Alertmanager group, and ntfy failing the first
// delivery of every group so that Alertmanager has to retry. Each alert
// must reach each transport exactly once.
func TestBurstAcrossInstances(t *testing.T) {
	po := fakes.NewPushover(t)
	nt := fakes.NewNtfy(t)
	nt.SetResponder(fakes.NtfyFailFirstAlertmanager())
	db := fakes.NewDynamoDB(t, burstTable, dedupe.AttrKey)
	hs := burstInstancesWith(t, po, nt, burstStore(db))

	statuses := sendBurst(t, hs)
	if statuses[http.StatusOK] != burstKuma+burstGroups*burstCopies || len(statuses) > 2 {
		t.Errorf("answers %v: want %d × 200, the rest 502 and retried", statuses, burstKuma+burstGroups*burstCopies)
	}
	if statuses[http.StatusBadGateway] < burstGroups {
		t.Errorf("%d answers 502, want at least one per group (its failed first delivery)", statuses[http.StatusBadGateway])
	}

	wantPushover, wantNtfy := map[string]int{}, map[string]int{}
	for _, title := range burstTitles() {
		wantPushover[title] = 1
		wantNtfy[title] = 1
		if strings.Contains(title, "alertmanager/") {
			wantNtfy[title] = 2 // the injected failure, then the one delivery
		}
	}
	if got := titles(po.Requests()); !equalCounts(got, wantPushover) {
		t.Errorf("pushover messages per alert:\n got %v\nwant %v", got, wantPushover)
	}
	if got := titles(nt.Requests()); !equalCounts(got, wantNtfy) {
		t.Errorf("ntfy requests per alert:\n got %v\nwant %v", got, wantNtfy)
	}
}

// TestBurstWithPrivateRecords is the same burst on instances that each keep
// their records to themselves (the in-memory records, which were all there
// was before the shared table): every copy of a group that reaches another
// instance pages again. It shows what the test above guards against.
func TestBurstWithPrivateRecords(t *testing.T) {
	po, nt := fakes.NewPushover(t), fakes.NewNtfy(t)
	hs := burstInstancesWith(t, po, nt, func() dedupe.Store { return dedupe.NewMemory(nil) })
	sendBurst(t, hs)
	want := map[string]int{}
	for _, title := range burstTitles() {
		want[title] = 1
		if strings.Contains(title, "alertmanager/") {
			want[title] = burstCopies
		}
	}
	if got := titles(po.Requests()); !equalCounts(got, want) {
		t.Errorf("pushover messages per alert:\n got %v\nwant %v", got, want)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func urlEvent(headers map[string]string, body string) events.LambdaFunctionURLRequest {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: headers, Body: body}
	ev.RequestContext.HTTP.Method = http.MethodPost
	ev.RequestContext.HTTP.Path = "/"
	ev.RequestContext.HTTP.SourceIP = "198.51.100.7"
	return ev
}

// TestRecordsUnavailable: with DynamoDB down, alerts still go out (once
// per request: nothing can be deduplicated), and the answer says delivered.
// A lost alert is worse than a duplicate.
func TestRecordsUnavailable(t *testing.T) {
	po, nt := fakes.NewPushover(t), fakes.NewNtfy(t)
	db := fakes.NewDynamoDB(t, burstTable, dedupe.AttrKey)
	db.SetDown(true)
	hs := burstInstancesWith(t, po, nt, burstStore(db, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }))
	for range 2 {
		if status, outcome := invoke(t, hs[0], kumaBody(1)); status != http.StatusOK || outcome != "delivered" {
			t.Errorf("answer %d %s, want 200 delivered", status, outcome)
		}
	}
	if po, nt := len(po.Requests()), len(nt.Requests()); po != 2 || nt != 2 {
		t.Errorf("pushover %d, ntfy %d requests; want 2 each (one per request)", po, nt)
	}
	if db.Calls("PutItem") != 4 {
		t.Errorf("%d claims tried, want 4 (2 requests × 2 transports)", db.Calls("PutItem"))
	}
}

// TestPageRecordsBounded: a critical group of 60 firing alerts writes 50
// page records, not 60 (each is a request to DynamoDB inside the 10 s
// budget), and an update of it pages again rather than reading 60 records.
func TestPageRecordsBounded(t *testing.T) {
	po, nt := fakes.NewPushover(t), fakes.NewNtfy(t)
	db := fakes.NewDynamoDB(t, burstTable, dedupe.AttrKey)
	h := burstInstancesWith(t, po, nt, burstStore(db))[0]
	group := func(firing, resolved int, name string) string {
		var alerts []string
		for i := range firing + resolved {
			status := "firing"
			if i >= firing {
				status = "resolved"
			}
			alerts = append(alerts, fmt.Sprintf(`{"status":%q,"labels":{"alertname":%q,"severity":"critical","instance":"h%02d"},"startsAt":"2026-11-24T06:00:00Z","fingerprint":"%s%014x"}`, status, name, i, name[:2], i))
		}
		return `{"version":"4","groupKey":"{}:{alertname=\"` + name + `\"}","status":"firing","alerts":[` + strings.Join(alerts, ",") + `]}`
	}
	if status, outcome := invoke(t, h, group(60, 0, "Big")); status != http.StatusOK || outcome != "delivered" {
		t.Fatalf("first: %d %s", status, outcome)
	}
	if got := db.Calls("PutItem"); got != 2+2+maxPageRecords {
		t.Errorf("%d writes, want 54: 2 claims, 2 done, %d page records", got, maxPageRecords)
	}
	// One alert resolves: with at most 50 page records this cannot be
	// known to be a partial resolution, so it pages.
	if status, outcome := invoke(t, h, group(59, 1, "Big")); status != http.StatusOK || outcome != "delivered" {
		t.Fatalf("update: %d %s", status, outcome)
	}
	if n := len(po.Requests()); n != 2 {
		t.Errorf("%d pages, want 2", n)
	}
	// A small group keeps the partial-resolution rule.
	invoke(t, h, group(3, 0, "Small"))
	invoke(t, h, group(2, 1, "Small"))
	if n := len(po.Requests()); n != 3 {
		t.Errorf("%d pages after the small group's partial resolution, want 3", n)
	}
}
