package main

import "bytes"
import "flag"
import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/testenv"

var update = flag.Bool("update", false, "rewrite the golden files")

// binary is the exporter built once for the whole package's tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "mailtier-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mailtier_exporter")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the exporter: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runOnceBinary runs the exporter with --once and returns its output.
func runOnceBinary(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--once", "--log.level=error"}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	return stdout.String()
}

// samples parses a text exposition into "name{labels}" -> value, with
// histogram buckets, sums and counts as their own samples.
func samples(t testing.TB, text string) map[string]float64 {
	dec := expfmt.SampleDecoder{
		Dec:  expfmt.NewDecoder(strings.NewReader(text), expfmt.NewFormat(expfmt.TypeTextPlain)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.Now()},
	}
	out := map[string]float64{}
	for {
		var v model.Vector
		if err := dec.Decode(&v); err != nil {
			if err == io.EOF {
				break
			}
			if t == nil {
				return out
			}
			t.Fatal(err)
		}
		for _, s := range v {
			out[s.Metric.String()] = float64(s.Value)
		}
	}
	return out
}

func TestOnceCorpusMatchesGroundTruth(t *testing.T) {
	g := metrictest.GroundTruth(t)
	want := map[string]float64{
		`sendmail_messages_received_total{daemon="MTA"}`:                   g["smtp_in_accepted"],
		`sendmail_messages_received_total{daemon="MSA"}`:                   g["submission_relayed"],
		`sendmail_deliveries_total{mailer="local", status="sent"}`:         g["delivered_local"],
		`sendmail_deliveries_total{mailer="local", status="bounced"}`:      g["lda_quota_exceeded"] + g["lda_user_unknown"],
		`sendmail_deliveries_total{mailer="esmtp", status="sent"}`:         g["sink_expected"],
		`sendmail_deliveries_total{mailer="relay", status="deferred"}`:     g["deferred"] + g["deferred_retries"],
		`sendmail_rejects_total{reason="relaying_denied", stage="rcpt"}`:   g["relay_denied"],
		`sendmail_rejects_total{reason="user_unknown", stage="rcpt"}`:      g["user_unknown"],
		`sendmail_rejects_total{reason="access_denied", stage="connect"}`:  g["access_denied_connect"],
		`sendmail_rejects_total{reason="access_denied", stage="mail"}`:     g["access_denied_from"],
		`sendmail_rejects_total{reason="message_too_large", stage="data"}`: g["too_large_data"],
		`sendmail_rejects_total{reason="message_too_large", stage="mail"}`: g["too_large_mail"],
		`sendmail_rejects_total{reason="pregreet", stage="connect"}`:       g["pregreet_rejected"],
		`sendmail_rejects_total{reason="vrfy", stage="other"}`:             g["vrfy_rejected"],
		`sendmail_rejects_total{reason="milter", stage="data"}`:            g["dkim_sign_failed"],
		`sendmail_connections_lost_total{stage="rcpt"}`:                    g["lost_input_after_rcpt"],
		`sendmail_connections_lost_total{stage="data"}`:                    g["lost_input_in_data"],
		`sendmail_sessions_without_mail_total`:                             g["no_mail"],
		`sendmail_starttls_total{result="ok", role="server"}`:              g["smtp_in_starttls"],
		`sendmail_starttls_total{result="error", role="server"}`:           g["smtp_in_starttls_aborted"],
		`sendmail_dsns_total`: g["dsn_bounces"],
		`sendmail_delivery_delay_seconds_count{mailer="local", status="sent"}`:  g["delivered_local"],
		`sendmail_delivery_xdelay_seconds_count{mailer="esmtp", status="sent"}`: g["sink_expected"],
		`sendmail_deferrals_total{mailer="relay", reason="connection_refused"}`: g["deferred"] + g["deferred_retries"],
	}
	results := map[string]map[string]float64{}
	for _, file := range []string{"maillog", "maillog.rfc3339"} {
		s := samples(t, runOnceBinary(t, nil, "--no-collector.mqueue", "--tail.path=../../testdata/corpus/"+file))
		for k, v := range want {
			if v == 0 {
				t.Fatalf("ground truth lacks %s", k)
			}
			if got, ok := s[k]; !ok || got != v {
				t.Errorf("%s: %s = %v (present %v), want %v", file, k, got, ok, v)
			}
		}
		results[file] = s
	}
	// Both syslog formats carry the same messages: every sendmail series
	// must agree.
	a, b := results["maillog"], results["maillog.rfc3339"]
	n := 0
	for k, v := range a {
		if strings.HasPrefix(k, "sendmail_") {
			n++
			if b[k] != v {
				t.Errorf("%s: maillog %v, maillog.rfc3339 %v", k, v, b[k])
			}
		}
	}
	if n < 300 {
		t.Errorf("only %d sendmail series compared", n)
	}
}

// exporter is a running exporter process.
type exporter struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testenv.SyncBuffer
	done   chan error
}

// startExporter starts the test's exporter binary with args, polling its
// inputs every 10 ms unless args set --tail.poll-interval.
func startExporter(t testing.TB, args ...string) *exporter {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--tail.poll-interval=") }) {
		args = append([]string{"--tail.poll-interval=10ms"}, args...)
	}
	return launch(t, binary, nil, args...)
}

// launch starts exe on a free loopback address with args, and env added to
// the test's environment. The process is killed when the test ends; its
// stderr is logged if the test failed.
func launch(t testing.TB, exe string, env []string, args ...string) *exporter {
	t.Helper()
	e := &exporter{addr: testenv.FreeAddr(t), stderr: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	e.cmd = exec.Command(exe, append([]string{"--web.listen-address=" + e.addr}, args...)...)
	e.cmd.Env = append(os.Environ(), env...)
	e.cmd.Stderr = e.stderr
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- e.cmd.Wait() }()
	t.Cleanup(func() {
		if e.cmd.ProcessState == nil {
			e.cmd.Process.Kill()
			<-e.done
		}
		if t.Failed() {
			t.Logf("exporter stderr:\n%s", e.stderr.String())
		}
	})
	return e
}

func (e *exporter) scrape(testing.TB) string {
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return ""
	}
	return string(body)
}

// waitFor scrapes until cond holds on the samples, and returns the last scrape.
func (e *exporter) waitFor(t *testing.T, what string, cond func(map[string]float64) bool) string {
	t.Helper()
	return e.waitForWithin(t, what, 20*time.Second, cond)
}

// waitForWithin is waitFor with another time limit.
func (e *exporter) waitForWithin(t *testing.T, what string, limit time.Duration, cond func(map[string]float64) bool) string {
	t.Helper()
	var text string
	testenv.WaitFor(t, what, limit, func() (bool, string) {
		text = e.scrape(t)
		return text != "" && cond(samples(t, text)), "last scrape:\n" + text
	})
	return text
}

// normalise drops what depends on the run (time of the last line, build
// details) and replaces the temporary paths, so a scrape can be compared
// with a golden file.
func normalise(text, dir string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "mailtier_exporter_last_line_timestamp_seconds{") || strings.Contains(l, "mailtier_exporter_build_info{") {
			continue
		}
		out = append(out, strings.ReplaceAll(l, dir, "DIR"))
	}
	return strings.Join(out, "\n")
}

// TestLiveTailGolden starts the exporter on a file, appends real lines,
// scrapes /metrics and diffs the whole exposition against a golden file.
func TestLiveTailGolden(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "maillog")
	queue := filepath.Join(dir, "mqueue")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(queue, 0o750); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--tail.path="+log, "--collector.mqueue.path="+queue,
		"--web.disable-exporter-metrics", "--collector.sendmail.decision-delay=100ms")
	inputUp := fmt.Sprintf(`mailtier_exporter_input_up{path=%q}`, log)
	e.waitFor(t, "the input to be open", func(s map[string]float64) bool { return s[inputUp] == 1 })

	fixture, err := os.ReadFile("testdata/live.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(fixture, []byte("\n"))
	// Append in blocks that split lines, as a busy syslog daemon does.
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(fixture); off += 4096 {
		end := min(off+4096, len(fixture))
		if _, err := f.Write(fixture[off:end]); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	readKey := fmt.Sprintf(`mailtier_exporter_lines_read_total{path=%q}`, log)
	behindKey := fmt.Sprintf(`mailtier_exporter_bytes_behind{path=%q}`, log)
	// bytes_behind is set at the checkpoint that ends a read, after its
	// lines are counted: a scrape in between shows the last lines counted
	// and the bytes behind of the read before. Nothing more is written, so
	// the final state has none behind.
	got := e.waitFor(t, "every line to be read and every message decided", func(s map[string]float64) bool {
		return s[readKey] == float64(lines) && s[behindKey] == 0 && s["mailtier_exporter_sendmail_messages_undecided"] == 0
	})
	// A scrape gathers the collectors concurrently: one taken while the
	// last line is being handled may show it read but not yet counted.
	// Nothing more is written, so two equal scrapes in a row are final.
	for deadline := time.Now().Add(10 * time.Second); ; {
		next := e.scrape(t)
		if next == got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/metrics does not settle")
		}
		got = next
	}

	// What the live exporter counted equals a replay of the same lines.
	once := samples(t, runOnceBinary(t, nil, "--no-collector.mqueue", "--tail.path=testdata/live.log"))
	live := samples(t, got)
	for k, v := range once {
		if strings.HasPrefix(k, "sendmail_") && live[k] != v {
			t.Errorf("%s: live %v, --once %v", k, live[k], v)
		}
	}

	checkMetricsWithPromtool(t, got)

	golden := "testdata/e2e-output.prom"
	norm := normalise(got, dir)
	if *update {
		if err := os.WriteFile(golden, []byte(norm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if norm != string(want) {
		t.Errorf("/metrics differs from %s (go test -run TestLiveTailGolden -update rewrites it):\n%s", golden, diff(string(want), norm))
	}
}

// checkMetricsWithPromtool runs Prometheus's own linter on an exposition,
// as a subtest of the integration tier (promtool is Debian's).
func checkMetricsWithPromtool(t *testing.T, text string) {
	t.Helper()
	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := testenv.Binary(t, "promtool", "prometheus")
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// diff lists the lines only in want (-) and only in got (+).
func diff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	e := startExporter(t, "--tail.path="+filepath.Join(dir, "not-yet"), "--no-collector.mqueue")
	e.waitFor(t, "the exporter to serve", func(map[string]float64) bool { return true })
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, e.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGTERM")
	}
}

func TestLandingPage(t *testing.T) {
	e := startExporter(t, "--no-collector.mqueue")
	e.waitFor(t, "the exporter to serve", func(map[string]float64) bool { return true })
	resp, err := http.Get("http://" + e.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`href="/metrics"`)) {
		t.Fatalf("landing page: %d\n%s", resp.StatusCode, body)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--bogus"}, 2, "mailtier_exporter: unknown long flag '--bogus'\n"},
		{[]string{"--tail.path=a", "--tail.path=a"}, 2, "mailtier_exporter: --tail.path \"a\" given twice\n"},
		{[]string{"--tail.path="}, 2, "mailtier_exporter: --tail.path must not be empty\n"},
		{[]string{"--tail.poll-interval=0s"}, 2, "mailtier_exporter: --tail.poll-interval must be positive, got 0s\n"},
		{[]string{"--collector.sendmail.decision-delay=soon"}, 2, "mailtier_exporter: time: invalid duration \"soon\"\n"},
		{[]string{"--once", "--no-collector.mqueue", "--log.level=error", "--tail.path=/nonexistent/maillog"}, 1, "mailtier_exporter: open /nonexistent/maillog: no such file or directory\n"},
	} {
		cmd := exec.Command(binary, tc.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code || stderr.String() != tc.msg {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}

func TestOnceReadsStdin(t *testing.T) {
	fixture, err := os.ReadFile("testdata/live.log")
	if err != nil {
		t.Fatal(err)
	}
	fromStdin := samples(t, runOnceBinary(t, bytes.NewReader(fixture), "--no-collector.mqueue", "--tail.path=-"))
	fromFile := samples(t, runOnceBinary(t, nil, "--no-collector.mqueue", "--tail.path=testdata/live.log"))
	n := 0
	for k, v := range fromFile {
		if strings.HasPrefix(k, "sendmail_") {
			n++
			if fromStdin[k] != v {
				t.Errorf("%s: stdin %v, file %v", k, fromStdin[k], v)
			}
		}
	}
	if fromStdin[`mailtier_exporter_lines_read_total{path="-"}`] != float64(bytes.Count(fixture, []byte("\n"))) {
		t.Errorf("lines read from stdin: %v", fromStdin[`mailtier_exporter_lines_read_total{path="-"}`])
	}
	if n == 0 {
		t.Fatal("no sendmail series")
	}
}
