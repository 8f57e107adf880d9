package terraform_test

// The sidecar's command lines, as the Terraform renders them for each tier,
// run against the real exporter; and the Dovecot statistics the shipped
// 95-stats.conf produces, as captured from a running Dovecot.

import "bufio"
import "io"
import "maps"
import "net"
import "net/http"
import "net/http/httptest"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "sort"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"

const dovecotStatsCapture = "testdata/dovecot-2.3.19.1-stats.openmetrics"

// localizeArgs rewrites a sidecar command for this machine: every path and
// address the task provides is replaced by a temporary one on loopback.
func localizeArgs(t *testing.T, args []string, dir, listen, statsURL, milter string) []string {
	t.Helper()
	var out []string
	for _, arg := range args {
		name, value, _ := strings.Cut(arg, "=")
		switch name {
		case "--web.listen-address":
			value = listen
		case "--tail.path":
			value = filepath.Join(dir, "log", filepath.Base(value))
		case "--tail.positions":
			value = filepath.Join(dir, "state", filepath.Base(value))
		case "--collector.mqueue.path":
			value = filepath.Join(dir, "mqueue")
		case "--collector.dovecot.stats-url":
			value = statsURL
		case "--collector.opendkim.probe.address":
			value = milter
		default:
			out = append(out, arg)
			continue
		}
		out = append(out, name+"="+value)
	}
	return out
}

// TestSidecarCommandsRunTheExporter starts the exporter with each tier's
// command line and checks it serves its landing page (what the health
// check requests) and metrics. A flag the exporter does not have stops it
// at start, and would stop the sidecar in ECS the same way.
func TestSidecarCommandsRunTheExporter(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mailtier_exporter")
	build := exec.Command("go", "build", "-o", bin, "./exporters/mailtier_exporter")
	build.Dir = testenv.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./exporters/mailtier_exporter: %v\n%s", err, msg)
	}

	capture, err := os.ReadFile(dovecotStatsCapture)
	if err != nil {
		t.Fatal(err)
	}
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		_, _ = w.Write(capture)
	}))
	defer stats.Close()
	// Something listening where the OpenDKIM milter would be.
	milter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer milter.Close()
	go func() {
		for {
			c, err := milter.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	defs := sidecarDefinitions(t)

	for _, tier := range tiers {
		t.Run(tier, func(t *testing.T) {
			dir := t.TempDir()
			for _, sub := range []string{"log", "state", "mqueue"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			line := "Nov 24 05:15:41 vm sendmail[9221]: 6AO5Ff2e009206: to=<alice@lab.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30417, dsn=2.0.0, stat=Sent\n"
			if err := os.WriteFile(filepath.Join(dir, "log", "maillog"), []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			listen := testenv.FreeAddr(t)
			args := localizeArgs(t, defs[tier].Command, dir, listen, stats.URL+"/metrics", "inet:"+portOf(milter.Addr().String())+"@127.0.0.1")

			exporter := testenv.Start(t, "mailtier_exporter", bin, args...)
			landing := "http://" + listen + "/"
			testenv.WaitFor(t, "a 200 from "+landing, 15*time.Second, func() (bool, string) {
				if done, err := exporter.Exited(); done {
					t.Fatalf("exporter exited (%v) with %v\n%s", err, args, exporter.Output())
				}
				resp, err := http.Get(landing)
				if err != nil {
					return false, err.Error()
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK, resp.Status
			})

			resp, err := http.Get("http://" + listen + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/metrics: %s\n%s", resp.Status, body)
			}
			for _, want := range []string{"mailtier_exporter_build_info{", `mailtier_exporter_queue_scrape_success{queue="` + filepath.Join(dir, "mqueue") + `"} 1`} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// TestDovecotStatsCapture checks the captured output of Dovecot's stats
// listener against docker/mail/dovecot/95-stats.conf, which produced it,
// and against the names docs/operations.md gives the exporter.
func TestDovecotStatsCapture(t *testing.T) {
	f, err := os.Open(dovecotStatsCapture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]string{}
	series := map[string]bool{}
	les := map[string]bool{}
	sample := regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? \S+$`)
	le := regexp.MustCompile(`le="([^"]+)"`)
	sc := bufio.NewScanner(f)
	var last string
	for sc.Scan() {
		line := sc.Text()
		last = line
		if strings.HasPrefix(line, "# TYPE ") {
			parts := strings.Fields(line)
			types[parts[2]] = parts[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a sample line: %q", line)
			continue
		}
		series[m[1]] = true
		if l := le.FindStringSubmatch(m[2]); l != nil {
			les[l[1]] = true
		}
	}
	if last != "# EOF" {
		t.Errorf("capture does not end with # EOF (OpenMetrics)")
	}

	wantTypes := map[string]string{
		"process_start_time_seconds":            "gauge",
		"dovecot_build":                         "info",
		"dovecot_imap_command":                  "histogram",
		"dovecot_auth_success":                  "counter",
		"dovecot_auth_success_duration_seconds": "counter",
		"dovecot_auth_failure":                  "counter",
		"dovecot_auth_failure_duration_seconds": "counter",
		"dovecot_mail_delivery":                 "histogram",
	}
	if !maps.Equal(types, wantTypes) {
		t.Errorf("metric families = %v, want %v", types, wantTypes)
	}
	wantSeries := []string{
		"dovecot_auth_failure_duration_seconds_total", "dovecot_auth_failure_total",
		"dovecot_auth_success_duration_seconds_total", "dovecot_auth_success_total",
		"dovecot_build_info",
		"dovecot_imap_command_bucket", "dovecot_imap_command_count", "dovecot_imap_command_sum",
		"dovecot_mail_delivery_bucket", "dovecot_mail_delivery_count", "dovecot_mail_delivery_sum",
		"process_start_time_seconds",
	}
	if got := sortedKeys(series); strings.Join(got, " ") != strings.Join(wantSeries, " ") {
		t.Errorf("series names = %v, want %v", got, wantSeries)
	}
	// duration:exponential:10:24:2 in 95-stats.conf: powers of two from
	// 2^10 to 2^24 microseconds, written in seconds with six decimals.
	var wantLE []string
	for e := 10; e <= 24; e++ {
		wantLE = append(wantLE, strconv.FormatFloat(float64(int64(1)<<e)/1e6, 'f', 6, 64))
	}
	wantLE = append(wantLE, "+Inf")
	sort.Strings(wantLE)
	if got := sortedKeys(les); strings.Join(got, " ") != strings.Join(wantLE, " ") {
		t.Errorf("le values = %v, want %v", got, wantLE)
	}

	// Every metric block of 95-stats.conf is in the capture, and the
	// operations guide names every series.
	conf := testenv.ReadRepoFile(t, "docker/mail/dovecot/95-stats.conf")
	for _, m := range regexp.MustCompile(`(?m)^metric ([a-z_]+) \{`).FindAllStringSubmatch(conf, -1) {
		if _, ok := types["dovecot_"+m[1]]; !ok {
			t.Errorf("metric %s of 95-stats.conf is not in the capture", m[1])
		}
	}
	guide := testenv.ReadRepoFile(t, "docs/operations.md")
	for _, name := range wantSeries {
		if !strings.Contains(guide, "`"+name+"`") && !strings.Contains(guide, name+"{") {
			t.Errorf("docs/operations.md does not name %s", name)
		}
	}
	for _, v := range []string{"0.001024", "16.777216"} {
		if !strings.Contains(guide, "`"+v+"`") {
			t.Errorf("docs/operations.md does not give le=%s", v)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
