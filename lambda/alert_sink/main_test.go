package main

import "bufio"
import "bytes"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "sync"
import "syscall"
import "testing"
import "time"

import "github.com/aws/aws-lambda-go/events"

import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

const (
	testSecret   = "integration-shared-secret"
	pushoverTok  = "integration-pushover-token"
	pushoverUser = "integration-pushover-user"
	ntfyToken    = "tk_integration_ntfy"
	waitLimit    = 20 * time.Second
)

var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	binErr    error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alert_sink-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds alert_sink the way it ships (static, lambda.norpc) for
// this machine's architecture, once per test run.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("go command not found in PATH: %w", err)
			return
		}
		binPath = filepath.Join(binDir, "alert_sink")
		cmd := exec.Command(goTool, "build", "-tags", "lambda.norpc", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// process is a running alert_sink whose JSON log lines are collected.
type process struct {
	cmd     *exec.Cmd
	started time.Time

	mu      sync.Mutex
	lines   []map[string]any
	raw     []string
	changed chan struct{}
	exited  chan struct{}
	exitErr error
}

// startProcess runs the binary with exactly env (nothing inherited, so the
// test machine's AWS or alert_sink variables cannot leak in) and JSON logs.
func startProcess(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	bin := buildBinary(t)
	cmd := exec.Command(bin, append([]string{"--log.format=json", "--log.level=debug"}, args...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, changed: make(chan struct{}), exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			p.mu.Lock()
			p.raw = append(p.raw, line)
			if m != nil {
				p.lines = append(p.lines, m)
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("alert_sink log:\n%s", p.log())
		}
	})
	return p
}

// stop kills the process and waits for it.
func (p *process) stop() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw, "\n")
}

// waitLog returns the first log line for which match is true, waiting up
// to timeout for it.
func (p *process) waitLog(t testing.TB, what string, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.lines); seen++ {
			if match(p.lines[seen]) {
				l := p.lines[seen]
				p.mu.Unlock()
				return l
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.exited:
			// Read what the scanner delivered before the exit.
			p.mu.Lock()
			rest := p.lines[seen:]
			p.mu.Unlock()
			for _, l := range rest {
				if match(l) {
					return l
				}
			}
			t.Fatalf("alert_sink exited (%v) before logging %s", p.exitErr, what)
		case <-deadline.C:
			t.Fatalf("alert_sink did not log %s within %v", what, timeout)
		}
	}
}

// listenAddress waits for the "listening" line and returns its address.
func (p *process) listenAddress(t testing.TB) string {
	t.Helper()
	l := p.waitLog(t, "listening", waitLimit, func(m map[string]any) bool { return m["msg"] == "listening" })
	return l["address"].(string)
}

func msgIs(msg string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["msg"] == msg }
}

// httpEnv is the environment of HTTP mode pointing at the fakes.
func httpEnv(pushover, ntfy *fakes.Server, extra ...string) []string {
	return append([]string{
		"ALERT_SINK_SECRET=" + testSecret,
		"PUSHOVER_USER_KEY=" + pushoverUser,
		"PUSHOVER_APP_TOKEN=" + pushoverTok,
		"PUSHOVER_API_URL=" + pushover.URL + "/1",
		"NTFY_BASE_URL=" + ntfy.URL,
		"NTFY_TOPIC=alerts",
		"NTFY_PUBLISHER_TOKEN=" + ntfyToken,
	}, extra...)
}

func TestHTTPMode(t *testing.T) {
	pushover, ntfy := fakes.NewPushover(t), fakes.NewNtfy(t)
	p := startProcess(t, httpEnv(pushover, ntfy), "--web.listen-address=127.0.0.1:0")
	addr := "http://" + p.listenAddress(t)
	start := p.waitLog(t, "start line", waitLimit, msgIs("alert_sink starting"))
	if start["mode"] != "http" || start["transports"] != "pushover,ntfy" {
		t.Errorf("start line = %v", start)
	}

	resp, err := http.Get(addr + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/-/healthy: %d", resp.StatusCode)
	}

	post := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/elsewhere", `{}`); s != http.StatusNotFound {
		t.Errorf("POST /elsewhere: %d, want 404", s)
	}
	if s := post("/", `{"severity":"critical","source":"kuma/SMTP relay (STARTTLS)","summary":"SMTP relay down"}`); s != http.StatusOK {
		t.Fatalf("POST /: %d", s)
	}
	po, nt := pushover.Requests(), ntfy.Requests()
	if len(po) != 1 || len(nt) != 1 {
		t.Fatalf("requests: pushover %d, ntfy %d; want 1 each", len(po), len(nt))
	}
	if po[0].Form.Get("token") != pushoverTok || po[0].Form.Get("user") != pushoverUser || nt[0].Header.Get("Authorization") != "Bearer "+ntfyToken {
		t.Error("credentials from the environment did not reach the transports")
	}

	// SIGTERM: a clean exit.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog(t, "shutting down", waitLimit, msgIs("shutting down"))
	<-p.exited
	if p.exitErr != nil {
		t.Errorf("exit after SIGTERM: %v", p.exitErr)
	}
	for _, secret := range []string{testSecret, pushoverTok, pushoverUser, ntfyToken} {
		if strings.Contains(p.log(), secret) {
			t.Errorf("the log contains a secret (%s…)", secret[:8])
		}
	}
}

func TestSettingErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no shared secret", map[string]string{"NTFY_BASE_URL": "http://127.0.0.1:1", "NTFY_TOPIC": "a"}, nil, 1, "ALERT_SINK_SECRET is not set"},
		{"no transport", map[string]string{"ALERT_SINK_SECRET": "s"}, nil, 1, "no transport configured"},
		{"half of Pushover", map[string]string{"ALERT_SINK_SECRET": "s", "PUSHOVER_USER_KEY": "u", "NTFY_BASE_URL": "http://127.0.0.1:1", "NTFY_TOPIC": "a"}, nil, 1,
			"set both PUSHOVER_USER_KEY and PUSHOVER_APP_TOKEN"},
		{"half of ntfy", map[string]string{"ALERT_SINK_SECRET": "s", "NTFY_TOPIC": "a"}, nil, 1, "set both NTFY_BASE_URL and NTFY_TOPIC"},
		{"emergency retry too short", map[string]string{"ALERT_SINK_SECRET": "s"}, []string{"--pushover.emergency-retry=10s"}, 2, "at least 30s"},
		{"emergency expire from the environment", map[string]string{"ALERT_SINK_SECRET": "s", "PUSHOVER_EMERGENCY_EXPIRE": "4h"}, nil, 2, "at most 3h"},
		{"no attempts", map[string]string{"ALERT_SINK_SECRET": "s"}, []string{"--notify.attempts=0"}, 2, "at least 1"},
		{"unknown flag", map[string]string{}, []string{"--nope"}, 2, "unknown long flag"},
		{"lambda without ntfy", map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"}, nil, 1, "NTFY_BASE_URL and NTFY_TOPIC must be set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "ALERT_SINK_SECRET", "PUSHOVER_USER_KEY", "PUSHOVER_APP_TOKEN",
				"NTFY_BASE_URL", "NTFY_TOPIC", "NTFY_PUBLISHER_TOKEN", "PUSHOVER_EMERGENCY_EXPIRE"} {
				t.Setenv(k, c.env[k])
			}
			var out bytes.Buffer
			code := run(append(c.args, "--web.listen-address=127.0.0.1:0"), &out)
			if code != c.code || !strings.Contains(out.String(), c.want) {
				t.Errorf("run = %d, output:\n%s\nwant %d and %q", code, out.String(), c.code, c.want)
			}
		})
	}
}

// fakeSSM answers AmazonSSM.GetParameters (JSON 1.1 protocol) from a map.
func fakeSSM(t testing.TB, params map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameters" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		var in struct {
			Names          []string
			WithDecryption bool
		}
		json.NewDecoder(r.Body).Decode(&in)
		type param struct{ Name, Type, Value string }
		out := struct {
			Parameters        []param
			InvalidParameters []string
		}{InvalidParameters: []string{}}
		for _, n := range in.Names {
			v, ok := params[n]
			if !ok || !in.WithDecryption {
				out.InvalidParameters = append(out.InvalidParameters, n)
				continue
			}
			out.Parameters = append(out.Parameters, param{n, "SecureString", v})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fakeRuntime is the Lambda Runtime API: it hands out queued events and
// records the answers.
type fakeRuntime struct {
	*httptest.Server

	mu        sync.Mutex
	events    [][]byte
	next      int
	firstNext time.Time
	responses map[string][]byte
	answered  map[string]time.Time
	errors    []string
	changed   chan struct{}
}

func newFakeRuntime(t testing.TB, events ...[]byte) *fakeRuntime {
	f := &fakeRuntime{events: events, responses: map[string][]byte{}, answered: map[string]time.Time{}, changed: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRuntime) serve(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(r.URL.Path, prefix)
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer func() {
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}()
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		if f.firstNext.IsZero() {
			f.firstNext = time.Now()
		}
		if f.next >= len(f.events) {
			// No more work: hold the call, as Lambda does, until the
			// process is stopped.
			f.mu.Unlock()
			<-r.Context().Done()
			f.mu.Lock()
			return
		}
		id := fmt.Sprintf("req-%d", f.next+1)
		ev := f.events[f.next]
		f.next++
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(10*time.Second).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:alert_sink")
		w.Write(ev)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/response"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "invocation/"), "/response")
		f.responses[id] = body
		f.answered[id] = time.Now()
		w.WriteHeader(http.StatusAccepted)
	default:
		f.errors = append(f.errors, r.Method+" "+path+": "+string(body))
		w.WriteHeader(http.StatusAccepted)
	}
}

// waitResponse returns the function's answer to request id.
func (f *fakeRuntime) waitResponse(t testing.TB, id string, p *process) events.LambdaFunctionURLResponse {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		body, ok := f.responses[id]
		errs := append([]string(nil), f.errors...)
		changed := f.changed
		f.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the function reported errors: %q", errs)
		}
		if ok {
			var resp events.LambdaFunctionURLResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("response %s: %v: %s", id, err, body)
			}
			return resp
		}
		select {
		case <-changed:
		case <-p.exited:
			t.Fatalf("alert_sink exited (%v) before answering %s", p.exitErr, id)
		case <-deadline.C:
			t.Fatalf("no response to %s within %v", id, waitLimit)
		}
	}
}

func functionURLEvent(t testing.TB, headers map[string]string, body string) []byte {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: headers, Body: body}
	ev.RequestContext.HTTP.Method = http.MethodPost
	ev.RequestContext.HTTP.Path = "/"
	ev.RequestContext.HTTP.SourceIP = "198.51.100.7"
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lambdaEnv is the environment of Lambda mode against the fakes. The SDK is
// kept off the machine's own AWS configuration and instance metadata.
func lambdaEnv(runtime, ssmSrv *httptest.Server, pushover, ntfy *fakes.Server) []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(runtime.URL, "http://"),
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDALERTSINKTEST",
		"AWS_SECRET_ACCESS_KEY=alert-sink-test-secret-key",
		"AWS_ENDPOINT_URL_SSM=" + ssmSrv.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent/alert_sink/config",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/alert_sink/credentials",
		"SHARED_SECRET_PARAM=/cabal/alert_sink_secret",
		"PUSHOVER_USER_KEY_PARAM=/cabal/pushover_user_key",
		"PUSHOVER_APP_TOKEN_PARAM=/cabal/pushover_app_token",
		"NTFY_PUBLISHER_TOKEN_PARAM=/cabal/ntfy_publisher_token",
		"NTFY_BASE_URL=" + ntfy.URL,
		"NTFY_TOPIC=alerts",
		"PUSHOVER_API_URL=" + pushover.URL + "/1",
	}
}

var ssmParams = map[string]string{
	"/cabal/alert_sink_secret":    testSecret,
	"/cabal/pushover_user_key":    pushoverUser,
	"/cabal/pushover_app_token":   pushoverTok,
	"/cabal/ntfy_publisher_token": ntfyToken,
}

// TestLambdaMode runs the binary against a fake Runtime API and a fake SSM:
// secrets come from SSM at cold start, invocations are Function URL events.
func TestLambdaMode(t *testing.T) {
	pushover, ntfy := fakes.NewPushover(t), fakes.NewNtfy(t)
	critical := `{"severity":"critical","source":"healthchecks/aws-backup","summary":"Missed heartbeat: aws-backup"}`
	rt := newFakeRuntime(t,
		functionURLEvent(t, map[string]string{"content-type": "application/json"}, critical),
		functionURLEvent(t, map[string]string{"authorization": "Bearer " + testSecret}, critical),
	)
	p := startProcess(t, lambdaEnv(rt.Server, fakeSSM(t, ssmParams), pushover, ntfy))

	unauth := rt.waitResponse(t, "req-1", p)
	if unauth.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated invocation: %d %s", unauth.StatusCode, unauth.Body)
	}
	ok := rt.waitResponse(t, "req-2", p)
	if ok.StatusCode != http.StatusOK || ok.Headers["Content-Type"] != "application/json" {
		t.Fatalf("invocation: %d %v %s", ok.StatusCode, ok.Headers, ok.Body)
	}
	if !strings.Contains(ok.Body, `"outcome":"delivered"`) {
		t.Errorf("body = %s", ok.Body)
	}
	po, nt := pushover.Requests(), ntfy.Requests()
	if len(po) != 1 || len(nt) != 1 {
		t.Fatalf("requests: pushover %d, ntfy %d; want 1 each", len(po), len(nt))
	}
	if po[0].Form.Get("token") != pushoverTok || po[0].Form.Get("user") != pushoverUser || po[0].Form.Get("priority") != "1" {
		t.Errorf("pushover form = %v", po[0].Form)
	}
	if nt[0].Header.Get("Authorization") != "Bearer "+ntfyToken || nt[0].Header.Get("Priority") != "5" {
		t.Errorf("ntfy headers = %v", nt[0].Header)
	}
	start := p.waitLog(t, "start line", waitLimit, msgIs("alert_sink starting"))
	if start["mode"] != "lambda" {
		t.Errorf("start line = %v", start)
	}
	for _, secret := range []string{testSecret, pushoverTok, pushoverUser, ntfyToken} {
		if strings.Contains(p.log(), secret) {
			t.Errorf("the log contains a secret (%s…)", secret[:8])
		}
	}
}

func TestLambdaModeMissingParameter(t *testing.T) {
	pushover, ntfy := fakes.NewPushover(t), fakes.NewNtfy(t)
	rt := newFakeRuntime(t)
	partial := map[string]string{"/cabal/alert_sink_secret": testSecret}
	p := startProcess(t, lambdaEnv(rt.Server, fakeSSM(t, partial), pushover, ntfy))
	l := p.waitLog(t, "the init failure", waitLimit, msgIs("alert_sink stopped"))
	if e, _ := l["err"].(string); e != "ssm parameters not found: /cabal/ntfy_publisher_token, /cabal/pushover_app_token, /cabal/pushover_user_key" {
		t.Errorf("err = %q", e)
	}
	<-p.exited
	if ee, ok := p.exitErr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit = %v, want status 1", p.exitErr)
	}
}
