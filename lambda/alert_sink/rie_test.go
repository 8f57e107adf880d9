package main

import "bytes"
import "encoding/base64"
import "encoding/json"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"

import "github.com/aws/aws-lambda-go/events"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

// The AWS Lambda Runtime Interface Emulator: the Runtime API of the real
// Lambda service, as AWS ships it in its base images. Its module has no
// release tags the module proxy serves, so it is pinned by pseudo-version
// (the Makefile's RIE_VERSION is the same).
const (
	riePackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	// rieEnv names a prebuilt emulator (make test sets it).
	rieEnv = "MAILTIER_RIE"
	// rieInvoke is the emulator's invoke endpoint, as AWS documents it.
	rieInvoke = "/2015-03-31/functions/function/invocations"
)

// rieBinary returns the emulator: MAILTIER_RIE, else one built from the Go
// module proxy into the user's cache (once per version). Failing to get it
// fails the test.
func rieBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(rieEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", rieEnv, p, err)
		}
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "mailtier", "aws-lambda-rie-"+rieVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", riePackage+"@"+rieVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Lambda Runtime Interface Emulator (go install %s@%s): %v\n%s", riePackage, rieVersion, err, out)
	}
	return bin
}

// rieFunction is alert_sink running under the emulator.
type rieFunction struct {
	url string
	cmd *exec.Cmd
	out *testenv.SyncBuffer
}

// startRIE runs the shipped binary as the function's bootstrap under the
// emulator with env (nothing inherited but PATH and HOME).
func startRIE(t *testing.T, env []string) *rieFunction {
	t.Helper()
	rie, bin := rieBinary(t), buildBinary(t)
	addr, apiAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr,
		bin, "--log.format=json")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_LAMBDA_FUNCTION_TIMEOUT=10",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_NAME=cabal-mailtier-alert-sink"}, env...)
	f := &rieFunction{url: "http://" + addr + rieInvoke, cmd: cmd, out: &testenv.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.out, f.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", f.out.String())
		}
	})
	testenv.WaitUntil(t, "the emulator to listen on "+addr, waitLimit, func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return f
}

// invoke sends a Function URL (payload 2.0) event and returns the
// function's answer.
func (f *rieFunction) invoke(t *testing.T, method string, headers map[string]string, body string, base64Body bool) events.LambdaFunctionURLResponse {
	t.Helper()
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: headers, Body: body, IsBase64Encoded: base64Body}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = "/"
	ev.RequestContext.HTTP.SourceIP = "198.51.100.7"
	ev.RequestContext.HTTP.Protocol = "HTTP/1.1"
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emulator answered %d: %s", resp.StatusCode, out)
	}
	var fr events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &fr); err != nil {
		t.Fatalf("not a Function URL response: %v: %s", err, out)
	}
	return fr
}

// TestUnderLambdaRuntimeEmulator runs the real handler binary under AWS's
// Runtime Interface Emulator, driven with Function URL events: secrets from
// SSM, records in DynamoDB (both fakes on loopback: neither service runs
// here), Pushover and ntfy fakes.
func TestUnderLambdaRuntimeEmulator(t *testing.T) {
	testenv.Integration(t)
	pushover, ntfy := fakes.NewPushover(t), fakes.NewNtfy(t)
	db := fakes.NewDynamoDB(t, "cabal-mailtier-alert-sink-dedupe", dedupe.AttrKey)
	// The parameter names are left to their defaults: cabal-infra's.
	env := []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDALERTSINKTEST",
		"AWS_SECRET_ACCESS_KEY=alert-sink-test-secret-key",
		"AWS_ENDPOINT_URL_SSM=" + fakeSSM(t, ssmParams).URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + db.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent/alert_sink/config",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/alert_sink/credentials",
		"ALERT_SINK_DEDUPE_TABLE=cabal-mailtier-alert-sink-dedupe",
		"ALERT_SINK_NOTIFY_ATTEMPTS=1",
		"NTFY_BASE_URL=" + ntfy.URL,
		"NTFY_TOPIC=alerts",
		"PUSHOVER_API_URL=" + pushover.URL + "/1",
	}
	f := startRIE(t, env)
	auth := map[string]string{"x-alert-secret": testSecret, "content-type": "application/json"}

	t.Run("auth", func(t *testing.T) {
		for name, headers := range map[string]map[string]string{
			"none":         {"content-type": "application/json"},
			"wrong secret": {"x-alert-secret": "not-" + testSecret},
			"wrong scheme": {"authorization": "Basic " + testSecret},
		} {
			resp := f.invoke(t, http.MethodPost, headers, `{"severity":"critical","source":"kuma/Admin app","summary":"down"}`, false)
			if resp.StatusCode != http.StatusUnauthorized || resp.Body != `{"message":"invalid or missing X-Alert-Secret / Authorization header"}` {
				t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Body)
			}
		}
		bearer := f.invoke(t, http.MethodPost, map[string]string{"authorization": "Bearer " + testSecret}, `{"severity":"info","source":"kuma/Admin app","summary":"up"}`, false)
		if bearer.StatusCode != http.StatusOK {
			t.Errorf("bearer: %d %s", bearer.StatusCode, bearer.Body)
		}
		if n := len(pushover.Requests()) + len(ntfy.Requests()); n != 0 {
			t.Errorf("%d transport requests, want none", n)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		if resp := f.invoke(t, http.MethodGet, auth, "", false); resp.StatusCode != http.StatusMethodNotAllowed || resp.Headers["Allow"] != "POST" {
			t.Errorf("GET: %d %v", resp.StatusCode, resp.Headers)
		}
		cases := map[string]string{
			`{"severity":"critical","source":"kuma/Admin app"`: `{"message":"invalid JSON body: unexpected end of JSON input"}`,
			`["not","an","object"]`:                            `{"message":"invalid JSON body: want an object, got array"}`,
			`{"severity":"urgent","source":"s","summary":"m"}`: `{"message":"unknown severity \"urgent\" (want critical, warning or info)"}`,
		}
		for body, want := range cases {
			if resp := f.invoke(t, http.MethodPost, auth, body, false); resp.StatusCode != http.StatusBadRequest || resp.Body != want {
				t.Errorf("%s: %d %s, want 400 %s", body, resp.StatusCode, resp.Body, want)
			}
		}
		if n := len(pushover.Requests()) + len(ntfy.Requests()); n != 0 {
			t.Errorf("%d transport requests, want none", n)
		}
	})

	t.Run("routing", func(t *testing.T) {
		critical := `{"severity":"critical","source":"kuma/SMTP relay (STARTTLS)","summary":"SMTP relay down"}`
		resp := f.invoke(t, http.MethodPost, auth, base64.StdEncoding.EncodeToString([]byte(critical)), true)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"transports":{"ntfy":"sent","pushover":"sent"}`) {
			t.Fatalf("critical: %d %s", resp.StatusCode, resp.Body)
		}
		po, nt := pushover.Requests(), ntfy.Requests()
		if len(po) != 1 || len(nt) != 1 {
			t.Fatalf("requests: pushover %d, ntfy %d; want 1 each", len(po), len(nt))
		}
		const runbook = "https://github.com/cabalmail/cabal-infra/blob/main/docs/operations/runbooks/probe-failure.md"
		if got := po[0].Form; got.Get("priority") != "1" || got.Get("title") != "[CRITICAL] kuma/SMTP relay (STARTTLS)" ||
			got.Get("url") != runbook || got.Get("token") != pushoverTok || got.Get("user") != pushoverUser {
			t.Errorf("pushover form = %v", got)
		}
		if h := nt[0].Header; h.Get("Priority") != "5" || h.Get("Click") != runbook || h.Get("Authorization") != "Bearer "+ntfyToken {
			t.Errorf("ntfy headers = %v", h)
		}

		warning := `{"severity":"warning","source":"healthchecks/aws-backup","summary":"late"}`
		if resp := f.invoke(t, http.MethodPost, auth, warning, false); resp.StatusCode != http.StatusOK {
			t.Fatalf("warning: %d %s", resp.StatusCode, resp.Body)
		}
		if po, nt := pushover.Requests(), ntfy.Requests(); len(po) != 1 || len(nt) != 2 || nt[1].Header.Get("Priority") != "3" {
			t.Errorf("after the warning: pushover %d, ntfy %d requests", len(po), len(nt))
		}
	})

	t.Run("transport failure and retry", func(t *testing.T) {
		po0, nt0 := len(pushover.Requests()), len(ntfy.Requests())
		ntfy.SetResponder(fakes.FailFirst(nt0+1, http.StatusServiceUnavailable, fakes.NtfyOK))
		body := `{"severity":"critical","source":"kuma/Admin app","summary":"admin app down"}`
		first := f.invoke(t, http.MethodPost, auth, body, false)
		if first.StatusCode != http.StatusBadGateway || !strings.Contains(first.Body, `"transports":{"ntfy":"failed","pushover":"sent"}`) {
			t.Fatalf("first: %d %s", first.StatusCode, first.Body)
		}
		retry := f.invoke(t, http.MethodPost, auth, body, false)
		if retry.StatusCode != http.StatusOK || !strings.Contains(retry.Body, `"outcome":"delivered","transports":{"ntfy":"sent","pushover":"duplicate"}`) {
			t.Fatalf("retry: %d %s", retry.StatusCode, retry.Body)
		}
		again := f.invoke(t, http.MethodPost, auth, body, false)
		if again.StatusCode != http.StatusOK || !strings.Contains(again.Body, `"outcome":"duplicate"`) {
			t.Fatalf("third copy: %d %s", again.StatusCode, again.Body)
		}
		if po, nt := len(pushover.Requests())-po0, len(ntfy.Requests())-nt0; po != 1 || nt != 2 {
			t.Errorf("pushover %d, ntfy %d requests; want 1 and 2 (the failure, then the retry)", po, nt)
		}
		if db.Calls("PutItem") == 0 {
			t.Error("no idempotency record written to DynamoDB")
		}
	})
	if out := f.out.String(); !strings.Contains(out, `"mode":"lambda"`) || !strings.Contains(out, `"dedupe_table":"cabal-mailtier-alert-sink-dedupe"`) {
		t.Errorf("no start line in Lambda mode with the table:\n%s", out)
	}
	for _, secret := range []string{testSecret, pushoverTok, pushoverUser, ntfyToken} {
		if strings.Contains(f.out.String(), secret) {
			t.Errorf("the output contains a secret (%s…)", secret[:8])
		}
	}
}
