// Package prometheus_test checks the optional remote_write of mailtier's
// Prometheus image (remote_write.yml, appended by entrypoint.sh): how the
// entrypoint renders and refuses it, and a real Prometheus on loopback
// writing the exporter's series to a real VictoriaMetrics.
package prometheus_test

import "encoding/json"
import "fmt"
import "net/http"
import "net/url"
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
import "github.com/cabalmail/mailtier/internal/vmtest"

// render runs entrypoint.sh with MAILTIER_PROM_BINARY=true, so that it only
// writes the configuration, and returns the rendered file and the script's
// output and error.
func render(t *testing.T, template string, env ...string) (string, string, error) {
	t.Helper()
	root := testenv.RepoRoot(t)
	config := filepath.Join(t.TempDir(), "prometheus.yml")
	cmd := exec.Command("sh", filepath.Join(root, "docker", "prometheus", "entrypoint.sh"))
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"MAILTIER_PROM_TEMPLATE=" + template,
		"MAILTIER_PROM_CONFIG=" + config,
		"MAILTIER_PROM_REMOTE_WRITE=" + filepath.Join(root, "docker", "prometheus", "remote_write.yml"),
		"MAILTIER_PROM_BINARY=true",
		"ENVIRONMENT=prod",
		"CONTROL_DOMAIN=mail.example.com",
	}, env...)
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(config)
	return string(b), string(out), err
}

// TestRemoteWriteIsOptional: without REMOTE_WRITE_URL the rendered file is
// the template as before, with no remote_write; with it, the fragment is
// appended with the URL in place.
func TestRemoteWriteIsOptional(t *testing.T) {
	template := filepath.Join(testenv.RepoRoot(t), "docker", "prometheus", "prometheus.yml")
	plain, out, err := render(t, template)
	if err != nil {
		t.Fatalf("entrypoint without REMOTE_WRITE_URL: %v\n%s", err, out)
	}
	if strings.Contains(plain, "remote_write") {
		t.Errorf("without REMOTE_WRITE_URL the rendered config has a remote_write:\n%s", plain)
	}
	withURL, out, err := render(t, template, "REMOTE_WRITE_URL=http://victoria-metrics.cabal-monitoring.cabal.internal:8428/api/v1/write")
	if err != nil {
		t.Fatalf("entrypoint with REMOTE_WRITE_URL: %v\n%s", err, out)
	}
	added, ok := strings.CutPrefix(withURL, plain)
	if !ok {
		t.Fatalf("with REMOTE_WRITE_URL the rendered config does not start with the one without:\n%s", withURL)
	}
	if want := "remote_write:\n  - name: mailtier-remote\n    url: \"http://victoria-metrics.cabal-monitoring.cabal.internal:8428/api/v1/write\"\n"; !strings.HasSuffix(added, want) {
		t.Errorf("appended:\n%s\nwant it to end with:\n%s", added, want)
	}
	if strings.Contains(added, "__REMOTE_WRITE_URL__") {
		t.Errorf("the placeholder is left in:\n%s", added)
	}
}

// TestRemoteWriteURLRefused: a URL that is not http(s), or holds a
// character that would break the YAML or the substitution, stops the
// container before Prometheus starts.
func TestRemoteWriteURLRefused(t *testing.T) {
	template := filepath.Join(testenv.RepoRoot(t), "docker", "prometheus", "prometheus.yml")
	for _, u := range []string{
		"victoria-metrics:8428/api/v1/write",
		"ftp://victoria-metrics/api/v1/write",
		"http://",
		"http://vm:8428/api/v1/write\"\n  - url: http://evil",
		"http://vm:8428/api/v1/write?a=1&b=2",
		"http://vm:8428/api/v1/write|x",
		"http://vm:8428/api/v1/write #",
		`http://vm:8428/api/v1/write\`,
	} {
		if _, out, err := render(t, template, "REMOTE_WRITE_URL="+u); err == nil {
			t.Errorf("REMOTE_WRITE_URL=%q accepted:\n%s", u, out)
		}
	}
}

// TestRenderedRemoteWriteChecks: the production configuration with
// remote_write on passes promtool check config, rules included.
func TestRenderedRemoteWriteChecks(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "prometheus")
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	// The image's layout: the configuration beside rules/.
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Glob(filepath.Join(root, "rules", "*.yml"))
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, filepath.Join(dir, "rules", filepath.Base(f)), string(b))
	}
	rendered, out, err := render(t, filepath.Join(root, "docker", "prometheus", "prometheus.yml"), "REMOTE_WRITE_URL=https://vm.example.com/api/v1/write")
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "prometheus.yml")
	testenv.WriteFile(t, config, rendered)
	check, err := exec.Command(promtool, "check", "config", config).CombinedOutput()
	if err != nil || !strings.Contains(string(check), fmt.Sprintf("SUCCESS: %d rule files found", len(rules))) {
		t.Errorf("promtool check config with remote_write: %v\n%s", err, check)
	}
}

// TestVmagentReadsScrapeConfig: when VictoriaMetrics replaces Prometheus,
// vmagent scrapes with the rendered prometheus.yml as it is. vmagent
// refuses, when strict, exactly the fields that are not scraping (the rule
// evaluation, which vmalert takes over) and accepts the file once told to
// ignore them.
func TestVmagentReadsScrapeConfig(t *testing.T) {
	vmagent := testenv.Binary(t, "vmagent", "victoria-metrics")
	rendered, out, err := render(t, filepath.Join(testenv.RepoRoot(t), "docker", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	config := filepath.Join(t.TempDir(), "prometheus.yml")
	testenv.WriteFile(t, config, rendered)
	strict, err := exec.Command(vmagent, "-promscrape.config="+config, "-promscrape.config.dryRun", "-loggerLevel=ERROR").CombinedOutput()
	if err == nil {
		t.Fatalf("vmagent accepts prometheus.yml strictly; drop -promscrape.config.strictParse=false from docs/operations.md")
	}
	unknown := regexp.MustCompile(`field (\S+) not found`).FindAllStringSubmatch(string(strict), -1)
	var fields []string
	for _, m := range unknown {
		fields = append(fields, m[1])
	}
	if got, want := strings.Join(fields, " "), "evaluation_interval rule_files"; got != want {
		t.Errorf("vmagent, strict, refuses the fields %q of prometheus.yml, want %q:\n%s", got, want, strict)
	}
	if out, err := exec.Command(vmagent, "-promscrape.config="+config, "-promscrape.config.dryRun", "-promscrape.config.strictParse=false", "-loggerLevel=ERROR").CombinedOutput(); err != nil {
		t.Errorf("vmagent -promscrape.config.strictParse=false refuses prometheus.yml: %v\n%s", err, out)
	}
}

// TestPrometheusRemoteWritesToVictoriaMetrics runs Debian's Prometheus on
// loopback, configured by entrypoint.sh with REMOTE_WRITE_URL pointing at
// a VictoriaMetrics, scraping a mailtier_exporter that reads the bundled
// mail log. VictoriaMetrics must then hold every series Prometheus scraped
// from the exporter, with Prometheus' external labels, and exactly
// Prometheus' samples of the exporter's line counter.
func TestPrometheusRemoteWritesToVictoriaMetrics(t *testing.T) {
	prometheus := testenv.Binary(t, "prometheus", "prometheus")
	vm := vmtest.Start(t)
	// New series searchable within the waits below, not 10 s later.
	vm.FlushEvery(t, 500*time.Millisecond)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()

	exporter := filepath.Join(dir, "mailtier_exporter")
	build := exec.Command("go", "build", "-o", exporter, "./exporters/mailtier_exporter")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}
	corpus, err := os.ReadFile(filepath.Join(root, "testdata", "corpus", "maillog"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(corpus), "\n")
	log := filepath.Join(dir, "maillog")
	testenv.WriteFile(t, log, string(corpus))
	exporterAddr := testenv.FreeAddr(t)
	testenv.Start(t, "mailtier_exporter", exporter,
		"--web.listen-address="+exporterAddr,
		"--log.level=warn",
		"--tail.from-start",
		"--tail.path="+log,
		"--no-collector.mqueue",
		"--no-collector.process",
	)

	// The production file's scrape jobs resolve Cloud Map names; this one
	// scrapes the loopback exporter instead, with the same external labels.
	template := filepath.Join(dir, "prometheus.yml.in")
	testenv.WriteFile(t, template, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels:
    cluster: cabalmail
    environment: __ENVIRONMENT__
scrape_configs:
  - job_name: mailtier
    static_configs:
      - targets: ['%s']
        labels:
          tier: imap
`, exporterAddr))
	rendered, out, err := render(t, template, "REMOTE_WRITE_URL="+vm.URL+"/api/v1/write")
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "prometheus.yml")
	testenv.WriteFile(t, config, rendered)
	promAddr := testenv.FreeAddr(t)
	testenv.Start(t, "prometheus", prometheus,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--log.level=warn",
	)
	prom := "http://" + promAddr

	const counter = `mailtier_exporter_lines_read_total{job="mailtier"}`
	testenv.WaitUntil(t, "Prometheus scrapes the exporter after it read the whole log", 60*time.Second, func() bool {
		v, ok := promScalar(prom, "sum("+counter+")")
		return ok && v == float64(lines)
	})
	testenv.WaitUntil(t, "VictoriaMetrics receives the exporter's line counter at its final value", 60*time.Second, func() bool {
		s, err := vm.Query(`sum(`+counter+`)`, time.Time{})
		return err == nil && len(s) == 1 && s[0].Value == float64(lines)
	})

	// Every series Prometheus has of the job, with the external labels.
	promSeries := promSeriesSet(t, prom, `{job="mailtier"}`)
	var want []string
	for _, ls := range promSeries {
		ls["cluster"], ls["environment"] = "cabalmail", "prod"
		want = append(want, vmtest.LabelString(ls))
	}
	var got []string
	testenv.WaitUntil(t, "VictoriaMetrics holds every series of the job", 30*time.Second, func() bool {
		got = vmSeriesSet(t, vm, `{job="mailtier"}`)
		return len(got) >= len(want)
	})
	if strings.Join(got, "\n") != strings.Join(sortedCopy(want), "\n") {
		t.Errorf("series in VictoriaMetrics:\n\t%s\nwant (Prometheus' series with its external labels):\n\t%s", strings.Join(got, "\n\t"), strings.Join(sortedCopy(want), "\n\t"))
	}
	if len(want) < 10 {
		t.Errorf("only %d series of the exporter: %v", len(want), want)
	}

	// The line counter's raw samples, Prometheus' and VictoriaMetrics', up
	// to the last one both hold.
	promSamples := promRaw(t, prom, counter)
	vmRaw, err := vm.Export(t, counter, time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(vmRaw) != 1 {
		t.Fatalf("VictoriaMetrics has %d series %s, want 1", len(vmRaw), counter)
	}
	var vmSamples []string
	for i, ts := range vmRaw[0].Timestamps {
		vmSamples = append(vmSamples, fmt.Sprintf("%d=%g", ts, vmRaw[0].Values[i]))
	}
	n := min(len(promSamples), len(vmSamples))
	if n < 2 || strings.Join(promSamples[:n], " ") != strings.Join(vmSamples[:n], " ") {
		t.Errorf("samples of %s\n\tPrometheus:      %v\n\tVictoriaMetrics: %v", counter, promSamples, vmSamples)
	}
	t.Logf("%d series and %d samples of the line counter match", len(want), n)
}

// promScalar runs an instant query on Prometheus that returns one series.
func promScalar(base, q string) (float64, bool) {
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// promSeriesSet returns the label sets of the series matching selector.
func promSeriesSet(t *testing.T, base, selector string) []map[string]string {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v1/series", url.Values{"match[]": {selector}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Data
}

// vmSeriesSet returns VictoriaMetrics' series matching selector, as sorted
// label strings.
func vmSeriesSet(t *testing.T, vm *vmtest.Server, selector string) []string {
	t.Helper()
	series, err := vm.Export(t, selector, time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range series {
		out = append(out, vmtest.LabelString(s.Labels))
	}
	return sortedCopy(out)
}

// promRaw returns Prometheus' raw samples of one series over the last hour,
// as "milliseconds=value".
func promRaw(t *testing.T, base, selector string) []string {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {selector + "[1h]"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Data.Result) != 1 {
		t.Fatalf("Prometheus has %d series %s, want 1", len(body.Data.Result), selector)
	}
	var out []string
	for _, v := range body.Data.Result[0].Values {
		ts, _ := v[0].(float64)
		s, _ := v[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d=%g", int64(ts*1000+0.5), f))
	}
	return out
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
