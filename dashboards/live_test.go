package dashboards_test

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "net/http"
import "net/url"
import "os"
import "os/exec"
import "path/filepath"
import "reflect"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/collectors/process"
import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/dashboards"
import "github.com/cabalmail/mailtier/dashboards/panelcheck"
import "github.com/cabalmail/mailtier/internal/testenv"

// liveOnly lists the panels whose metrics only live daemons produce, with
// the reason: a replay of the corpus cannot give them data. Everything
// else must return data in TestPanelsReturnDataFromReplay; these must be
// valid and, in the replay, empty (so that a panel the replay can fill
// never hides here). The end-to-end suite, which runs the daemons, checks
// them with `go run ./dashboards/cmd/checkpanels`.
var liveOnly = map[string]string{
	"mailtier-imap/IMAP command time":                  "dovecot_imap_command_duration_seconds comes from Dovecot's stats listener (--collector.dovecot.stats-url), not from its log",
	"mailtier-overview/imap: IMAP command p95":         "dovecot_imap_command_duration_seconds comes from Dovecot's stats listener (--collector.dovecot.stats-url), not from its log",
	"mailtier-smtp-out/DKIM signing time":              "opendkim_probe_duration_seconds is measured by the milter probe against a running OpenDKIM (--collector.opendkim.probe.address)",
	"mailtier-overview/smtp-out: DKIM signing p95":     "opendkim_probe_duration_seconds is measured by the milter probe against a running OpenDKIM (--collector.opendkim.probe.address)",
	"mailtier-smtp-out/DKIM signing probe":             "opendkim_probe_success is set by the milter probe against a running OpenDKIM (--collector.opendkim.probe.address)",
	"mailtier-imap/Open file descriptors vs limit":     "<daemon>_process_open_fds and _max_fds are read from /proc of the running daemons (--collector.process)",
	"mailtier-smtp-in/Open file descriptors vs limit":  "<daemon>_process_open_fds and _max_fds are read from /proc of the running daemons (--collector.process)",
	"mailtier-smtp-out/Open file descriptors vs limit": "<daemon>_process_open_fds and _max_fds are read from /proc of the running daemons (--collector.process)",
	"mailtier-overview/imap: file descriptors used":    "<daemon>_process_open_fds and _max_fds are read from /proc of the running daemons (--collector.process)",
	"mailtier-imap/Active IMAP sessions":               "dovecot_sessions is read from a running Dovecot's anvil socket (--collector.anvil)",
}

// replayTier is one mail tier in the replay: the collectors its sidecar
// runs (as terraform/modules/mailtier_sidecar enables them, the process
// collector left out) and the corpus logs it follows.
type replayTier struct {
	name       string
	collectors []string
	logs       []string
}

// replayTiers derives the replay's tiers from the collector registry.
func replayTiers(reg registry.List) []replayTier {
	var tiers []replayTier
	for _, name := range collectors.MailTiers {
		tier := replayTier{name: name, logs: []string{"maillog"}}
		for _, c := range reg.OnTier(name) {
			if c == process.Registration.Name {
				continue
			}
			tier.collectors = append(tier.collectors, c)
			switch c {
			case fail2ban.Registration.Name:
				tier.logs = append(tier.logs, "fail2ban.log")
			case opendmarc.Registration.Name:
				tier.logs = append(tier.logs, "opendmarc.log")
			}
		}
		tiers = append(tiers, tier)
	}
	return tiers
}

// replayLogs are the logs the replay appends, from the repository: the lab
// corpus, and what Debian's OpenDMARC logged in its collector's test (the
// lab ran no OpenDMARC).
var replayLogs = map[string]string{
	"maillog":       "testdata/corpus/maillog",
	"fail2ban.log":  "testdata/corpus/fail2ban.log",
	"opendmarc.log": "collectors/opendmarc/testdata/opendmarc.log",
}

// replayChunks is how many parts the corpus is appended in: each is seen
// by its own scrape, so every counter and histogram moves across several
// samples of the rate window.
const replayChunks = 8

// TestPanelsReturnDataFromReplay runs Debian's Prometheus, scraping every
// second three mailtier_exporter processes (one per tier, tier label set
// by the scrape config as in production) while the lab corpus
// (testdata/corpus: real sendmail, Dovecot, OpenDKIM and fail2ban logs) is
// appended to the logs they follow and messages arrive in their queues,
// with the project's rules loaded. Then every query of every dashboard
// runs through the HTTP API, $__rate_interval as 1m: each must return
// data, except the live-only panels above.
func TestPanelsReturnDataFromReplay(t *testing.T) {
	replayPanels(t, startPrometheus)
}

// backend starts the time-series database of a replay: it scrapes every
// second the targets (static_configs entries of the mailtier job), loads
// the rule files of ruleGlobs when it can, and returns the URL of its
// Prometheus HTTP API and whether the rules are loaded.
type backend func(t *testing.T, dir string, targets, ruleGlobs []string) (url string, rulesLoaded bool)

// replayPanels is the replay of TestPanelsReturnDataFromReplay on the
// backend that startBackend starts.
func replayPanels(t *testing.T, startBackend backend) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	start := time.Now()

	exporter := filepath.Join(dir, "mailtier_exporter")
	build := exec.Command(goBin, "build", "-o", exporter, "./exporters/mailtier_exporter")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}

	tiers := replayTiers(registry.All)
	corpus := map[string][]string{}
	for name, path := range replayLogs {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(b), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		} else {
			lines[len(lines)-1] += "\n"
		}
		corpus[name] = lines
	}
	// The lab's brute-force client: its login failures are a known bot's.
	bots := filepath.Join(dir, "known-bots")
	testenv.WriteFile(t, bots, "127.0.0.2/32\n")

	help, _ := exec.Command(exporter, "--help").CombinedOutput()
	var targets []string
	for _, tier := range tiers {
		tdir := filepath.Join(dir, tier.name)
		queue := filepath.Join(tdir, "mqueue")
		if err := os.MkdirAll(queue, 0o755); err != nil {
			t.Fatal(err)
		}
		// Two messages waiting since before the replay.
		for i, age := range []time.Duration{40 * time.Minute, 10 * time.Minute} {
			queueMessage(t, queue, fmt.Sprintf("6AO5Fa%02d%06d", i, 1), time.Now().Add(-age))
		}
		port := testenv.FreePort(t)
		args := []string{
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--log.level=warn",
			"--tail.from-start",
			"--collector.mqueue.path=" + queue,
		}
		for _, l := range tier.logs {
			p := filepath.Join(tdir, l)
			testenv.WriteFile(t, p, "")
			args = append(args, "--tail.path="+p)
		}
		for _, c := range registry.All.Names() {
			if !bytes.Contains(help, []byte("--[no-]collector."+c+" ")) {
				t.Errorf("mailtier_exporter has no %s collector: its panels cannot have data", c)
				continue
			}
			if slices.Contains(tier.collectors, c) {
				args = append(args, "--collector."+c)
			} else {
				args = append(args, "--no-collector."+c)
			}
		}
		if slices.Contains(tier.collectors, "dovecot") {
			args = append(args, "--collector.dovecot.known-bot-networks="+bots)
		}
		testenv.Start(t, tier.name+" exporter", exporter, args...)
		targets = append(targets, fmt.Sprintf("      - targets: ['127.0.0.1:%d']\n        labels:\n          tier: %s\n", port, tier.name))
	}

	// The rules of rules/, as production loads them: the overview's alert
	// panels read their ALERTS.
	ruleGlobs := []string{filepath.Join(root, "rules", "*.rules.yml"), filepath.Join(root, "rules", "*.alerts.yml")}
	promURL, rulesOK := startBackend(t, dir, targets, ruleGlobs)
	api := promAPI{t: t, url: promURL}

	// Every exporter scraped once before any mail: the counters' zero is
	// their first sample.
	testenv.WaitFor(t, "Prometheus scrapes the three exporters", 30*time.Second, func() (bool, string) {
		up := api.byTier(`up{job="mailtier"}`)
		return len(up) == len(tiers) && !slices.Contains(mapValues(up), 0), fmt.Sprint(up)
	})

	// The replay: append the corpus in parts, a message arrives in each
	// queue with each part, and each part is scraped before the next.
	want := map[string]float64{}
	for i := 0; i < replayChunks; i++ {
		for _, tier := range tiers {
			for _, l := range tier.logs {
				lines := corpus[l]
				from, to := len(lines)*i/replayChunks, len(lines)*(i+1)/replayChunks
				appendFile(t, filepath.Join(dir, tier.name, l), strings.Join(lines[from:to], ""))
				want[tier.name] += float64(to - from)
			}
			queueMessage(t, filepath.Join(dir, tier.name, "mqueue"), fmt.Sprintf("6AO5Fb%02d%06d", i, 2), time.Now())
		}
		testenv.WaitFor(t, fmt.Sprintf("part %d of the corpus is read and scraped", i+1), 20*time.Second, func() (bool, string) {
			got := api.byTier(`sum by (tier) (mailtier_exporter_lines_read_total{job="mailtier"})`)
			for tier, n := range want {
				if got[tier] != n {
					return false, fmt.Sprintf("lines read %v, want %v", got, want)
				}
			}
			return true, ""
		})
	}
	if rulesOK {
		testenv.WaitFor(t, "the rules fire an alert on the replayed traffic", 20*time.Second, func() (bool, string) {
			n := api.byTier(`count by (tier) (ALERTS{alertstate="firing"})`)
			return len(n) > 0, "no alert firing"
		})
	}
	t.Logf("replay done in %v", time.Since(start).Round(100*time.Millisecond))

	qs, err := panelcheck.Load(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	// As a panel does: a range query over the replay, one point a second.
	client := panelcheck.Client{URL: promURL, HTTP: &http.Client{Timeout: 10 * time.Second}, Range: time.Since(start), Step: time.Second}
	results := client.Run(context.Background(), qs, map[string]string{"__rate_interval": "1m", "instance": ".*"})
	matched := map[string]bool{}
	var zero []string
	passed := 0
	for _, r := range results {
		if reason, ok := liveOnly[r.Key()]; ok {
			matched[r.Key()] = true
			switch {
			case r.Err != nil:
				t.Errorf("%s (live only: %s): %v", r.Query, reason, r.Err)
			case r.Finite > 0:
				t.Errorf("%s is listed as live only (%s), but the replay gives it data: remove it from liveOnly", r.Query, reason)
			}
			continue
		}
		if !r.OK() {
			t.Errorf("%s\n\tquery: %s", r.Line(), r.Expanded)
			continue
		}
		passed++
		if r.Zero {
			zero = append(zero, r.Query.String())
		}
	}
	for k := range liveOnly {
		if !matched[k] {
			t.Errorf("liveOnly lists %q, which is no panel", k)
		}
	}
	checkCommand(t, goBin, root, dir, promURL, time.Since(start))
	t.Logf("%d queries returned data, %d live-only panels are empty as expected, in %v", passed, len(liveOnly), time.Since(start).Round(100*time.Millisecond))
	if len(zero) > 0 {
		t.Logf("returned data, all zero in the replay (the corpus has no such event):\n\t%s", strings.Join(zero, "\n\t"))
	}
}

// startPrometheus is the backend of production: Debian's Prometheus, with
// the rules when promtool accepts them.
func startPrometheus(t *testing.T, dir string, targets, ruleGlobs []string) (string, bool) {
	prometheus := testenv.Binary(t, "prometheus", "prometheus")
	promtool := testenv.Binary(t, "promtool", "prometheus")
	var ruleFiles []string
	for _, g := range ruleGlobs {
		m, _ := filepath.Glob(g)
		ruleFiles = append(ruleFiles, m...)
	}
	rulesOK := false
	if out, err := exec.Command(promtool, append([]string{"check", "rules"}, ruleFiles...)...).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules rejects rules/, so they are not loaded and the alert panels stay empty: %v\n%s", err, out)
	} else {
		rulesOK = true
	}
	config := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
	if rulesOK {
		config += "rule_files:\n"
		for _, g := range ruleGlobs {
			config += "  - " + strconv.Quote(g) + "\n"
		}
	}
	config += "scrape_configs:\n  - job_name: mailtier\n    static_configs:\n" + strings.Join(targets, "")
	configFile := filepath.Join(dir, "prometheus.yml")
	testenv.WriteFile(t, configFile, config)
	if out, err := exec.Command(promtool, "check", "config", configFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, config)
	}
	promPort := testenv.FreePort(t)
	promURL := "http://127.0.0.1:" + strconv.Itoa(promPort)
	testenv.Start(t, "prometheus", prometheus,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(promPort),
		"--log.level=warn",
	)
	return promURL, rulesOK
}

var reportLineRE = regexp.MustCompile(`^(PASS|FAIL) (\S+) ("(?:[^"\\]|\\.)*")`)

// checkCommand runs checkpanels, the end-to-end suite's entry point, on the
// replay's Prometheus: it must exit 1, reporting as failed exactly the
// live-only panels.
func checkCommand(t *testing.T, goBin, root, dir, promURL string, window time.Duration) {
	t.Helper()
	bin := filepath.Join(dir, "checkpanels")
	build := exec.Command(goBin, "build", "-o", bin, "./dashboards/cmd/checkpanels")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building checkpanels: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--prometheus="+promURL, "--range="+window.Round(time.Second).String(), "--var", "instance=.*")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("checkpanels: %v, want exit status 1 (the live-only panels fail)\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("checkpanels --prometheus=%s:\n%s", promURL, out)
	}
	failed := map[string]bool{}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := reportLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		lines++
		panel, err := strconv.Unquote(m[3])
		if err != nil {
			t.Errorf("checkpanels line %q: %v", line, err)
			continue
		}
		key := m[2] + "/" + panel
		if m[1] == "FAIL" {
			failed[key] = true
			if _, ok := liveOnly[key]; !ok {
				t.Errorf("checkpanels: %s", line)
			}
		}
	}
	if lines == 0 {
		t.Errorf("checkpanels printed no PASS or FAIL line:\n%s", out)
	}
	for k := range liveOnly {
		if !failed[k] {
			t.Errorf("checkpanels did not report the live-only panel %s as failed", k)
		}
	}
}

// promAPI queries the test's Prometheus.
type promAPI struct {
	t   *testing.T
	url string
}

// byTier runs an instant query and returns each series' value by its tier
// label; a failed query returns nothing (the callers poll).
func (p promAPI) byTier(q string) map[string]float64 {
	resp, err := http.PostForm(p.url+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		if len(r.Value) != 2 {
			continue
		}
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err == nil {
			out[r.Metric["tier"]] = v
		}
	}
	return out
}

func mapValues(m map[string]float64) []float64 {
	var out []float64
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// queueMessage puts a message in a sendmail queue directory as sendmail
// does: a qf control file and a df body, received at the given time.
func queueMessage(t *testing.T, queue, id string, received time.Time) {
	t.Helper()
	qf := filepath.Join(queue, "qf"+id)
	df := filepath.Join(queue, "df"+id)
	testenv.WriteFile(t, qf, fmt.Sprintf("V8\nT%d\nK0\nN0\nP30000\nMDeferred: Connection refused by imap.cabal.internal\nFb\nS<sender@example.com>\nrRFC822; rcpt@example.com\nRPFD:<rcpt@example.com>\nH?P?Return-Path: <sender@example.com>\n.\n", received.Unix()))
	testenv.WriteFile(t, df, "Subject: queued\n\nA message waiting in the queue.\n")
	if err := os.Chtimes(df, received, received); err != nil {
		t.Fatal(err)
	}
}

// TestReplayTiers derives the replay's tiers from a registry of four
// collectors.
func TestReplayTiers(t *testing.T) {
	reg := registry.List{
		{Name: "sendmail", Tiers: collectors.MailTiers},
		{Name: fail2ban.Registration.Name, Tiers: []string{"smtp-in"}},
		{Name: opendmarc.Registration.Name, Tiers: []string{"smtp-in"}},
		{Name: process.Registration.Name, Tiers: collectors.MailTiers},
	}
	want := []replayTier{
		{"imap", []string{"sendmail"}, []string{"maillog"}},
		{"smtp-in", []string{"sendmail", "fail2ban", "opendmarc"}, []string{"maillog", "fail2ban.log", "opendmarc.log"}},
		{"smtp-out", []string{"sendmail"}, []string{"maillog"}},
	}
	if got := replayTiers(reg); !reflect.DeepEqual(got, want) {
		t.Errorf("replayTiers() = %v, want %v", got, want)
	}
}

// e2ePanelsRE is the --panel argument of checkpanels in e2e/run.sh's
// check_live_panels.
var e2ePanelsRE = regexp.MustCompile(`"\$DIR/bin/checkpanels" [^\n]*\\\n\s*--panel '([^']*)'`)

// TestEndToEndChecksLiveOnlyPanels checks that the end-to-end suite, which
// runs the live daemons, checks exactly the live-only panels: each one the
// replay leaves empty is proven filled there, and nothing else is claimed.
func TestEndToEndChecksLiveOnlyPanels(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "e2e/run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := e2ePanelsRE.FindSubmatch(b)
	if m == nil {
		t.Fatal("e2e/run.sh: no checkpanels --panel argument in check_live_panels")
	}
	re, err := regexp.Compile(string(m[1]))
	if err != nil {
		t.Fatalf("e2e/run.sh: checkpanels --panel %q: %v", m[1], err)
	}
	qs, err := panelcheck.Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	selected := map[string]bool{}
	for _, q := range qs {
		if re.MatchString(q.Panel) {
			selected[q.Key()] = true
		}
	}
	for k := range liveOnly {
		if !selected[k] {
			t.Errorf("e2e/run.sh does not check the live-only panel %s (checkpanels --panel %q)", k, m[1])
		}
	}
	for k := range selected {
		if _, ok := liveOnly[k]; !ok {
			t.Errorf("e2e/run.sh checks %s, which liveOnly does not list", k)
		}
	}
}
