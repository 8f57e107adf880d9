// Package docker_test checks what docker/ ships against cabal-infra, the
// system it is added to: images built the way cabal-infra builds its own,
// Prometheus and Grafana additions that replace nothing of cabal-infra's,
// and the runbook links a build points wherever the runbooks live.
package docker_test

import "bytes"
import "encoding/json"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "strings"
import "testing"

import "gopkg.in/yaml.v3"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

func repoPath(t *testing.T, rel ...string) string {
	t.Helper()
	return filepath.Join(append([]string{testenv.RepoRoot(t)}, rel...)...)
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args []string
}

// parseDockerfile splits a Dockerfile into instructions; comments and
// blank lines are dropped.
func parseDockerfile(t *testing.T, rel string) []instruction {
	t.Helper()
	var out []instruction
	cur := ""
	for _, line := range strings.Split(testenv.ReadRepoFile(t, rel), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		f := strings.Fields(cur + trimmed)
		cur = ""
		if len(f) > 0 {
			out = append(out, instruction{cmd: strings.ToUpper(f[0]), args: f[1:]})
		}
	}
	return out
}

// copySource is a COPY from the build context: its sources and
// destination, options (--chown=...) dropped.
type copySource struct {
	sources []string
	dest    string
}

func contextCopies(df []instruction) []copySource {
	var out []copySource
	for _, in := range df {
		if in.cmd != "COPY" && in.cmd != "ADD" {
			continue
		}
		var words []string
		fromStage := false
		for _, a := range in.args {
			if strings.HasPrefix(a, "--from=") {
				fromStage = true
			}
			if !strings.HasPrefix(a, "--") {
				words = append(words, a)
			}
		}
		if !fromStage && len(words) >= 2 {
			out = append(out, copySource{sources: words[:len(words)-1], dest: words[len(words)-1]})
		}
	}
	return out
}

// ourDockerfiles are the Dockerfiles of the images mailtier builds or adds
// to cabal-infra's. docker/alert_sink/Dockerfile builds a zip for the
// Lambda bucket, not an image for cabal-infra's workflow.
var ourDockerfiles = []string{
	"docker/exporter/Dockerfile",
	"docker/prometheus/Dockerfile",
	"docker/alertmanager/Dockerfile",
	"docker/grafana/Dockerfile",
}

var pinned = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

// TestDockerfilesBuildWithDockerContext: cabal-infra's workflow builds
// every image with docker/ as the context (docker buildx build -f
// docker/<tier>/Dockerfile docker/), and pins every base image by digest.
// Each COPY must therefore name a path under docker/ (one of mailtier's,
// or one of cabal-infra's own where the Dockerfile is cabal-infra's plus
// mailtier's lines), and each FROM an image@sha256:digest or an earlier
// stage.
func TestDockerfilesBuildWithDockerContext(t *testing.T) {
	for _, rel := range ourDockerfiles {
		df := parseDockerfile(t, rel)
		stages := map[string]bool{"scratch": true}
		froms := 0
		for _, in := range df {
			if in.cmd != "FROM" {
				continue
			}
			froms++
			var image string
			for _, a := range in.args {
				if !strings.HasPrefix(a, "--") {
					image = a
					break
				}
			}
			if !stages[image] && !pinned.MatchString(image) {
				t.Errorf("%s: FROM %s is not pinned by digest (image:tag@sha256:...)", rel, image)
			}
			// A later FROM may name this stage.
			for i, a := range in.args {
				if strings.EqualFold(a, "AS") && i+1 < len(in.args) {
					stages[in.args[i+1]] = true
				}
			}
		}
		if froms == 0 {
			t.Errorf("%s: no FROM", rel)
		}
		for _, c := range contextCopies(df) {
			for _, src := range c.sources {
				if strings.Contains(src, "..") || filepath.IsAbs(src) {
					t.Errorf("%s: COPY %s leaves the build context", rel, src)
					continue
				}
				if slices.Contains(upstream.DockerContextFiles, src) {
					continue // cabal-infra's, in its tree
				}
				matches, _ := filepath.Glob(repoPath(t, "docker", src))
				if len(matches) == 0 {
					t.Errorf("%s: COPY %s: no such path under docker/, the build context", rel, src)
				}
			}
		}
	}
}

// TestBaseImagesAreUpstreams: the images mailtier adds to are cabal-infra's
// own, at the same digest.
func TestBaseImagesAreUpstreams(t *testing.T) {
	for rel, want := range map[string]string{
		"docker/prometheus/Dockerfile":   upstream.PrometheusImage,
		"docker/alertmanager/Dockerfile": upstream.AlertmanagerImage,
		"docker/grafana/Dockerfile":      upstream.GrafanaImage,
	} {
		var froms []string
		for _, in := range parseDockerfile(t, rel) {
			if in.cmd == "FROM" {
				froms = append(froms, strings.Join(in.args, " "))
			}
		}
		if len(froms) != 1 || froms[0] != want {
			t.Errorf("%s: FROM %q, want cabal-infra's %s", rel, froms, want)
		}
	}
}

// TestPrometheusAddsOnlyItsOwnJobs: mailtier contributes its sidecars'
// scrape job and its rules; the jobs cabal-infra already has (blackbox,
// cloudwatch, node, ...) are not declared again, and nothing probes a
// listener cabal-infra removed (the IMAPS listener on 993).
func TestPrometheusAddsOnlyItsOwnJobs(t *testing.T) {
	src := testenv.ReadRepoFile(t, "docker/prometheus/prometheus.yml")
	var conf struct {
		Global        map[string]any   `yaml:"global"`
		Alerting      map[string]any   `yaml:"alerting"`
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(src), &conf); err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, sc := range conf.ScrapeConfigs {
		name, _ := sc["job_name"].(string)
		jobs = append(jobs, name)
		if slices.Contains(upstream.ScrapeJobs, name) {
			t.Errorf("docker/prometheus/prometheus.yml declares job %s, which cabal-infra's configuration already has", name)
		}
	}
	if !slices.Equal(jobs, []string{"mailtier"}) {
		t.Errorf("scrape jobs %v, want only mailtier's own [mailtier]", jobs)
	}
	if conf.Alerting != nil {
		t.Error("docker/prometheus/prometheus.yml declares alerting: cabal-infra's configuration sends to its Alertmanager already")
	}
	for _, gone := range upstream.RemovedListeners {
		if regexp.MustCompile(`[^0-9]` + regexp.QuoteMeta(gone) + `([^0-9]|$)`).MatchString(src) {
			t.Errorf("docker/prometheus/prometheus.yml names %s, a listener cabal-infra removed", gone)
		}
	}
}

// TestRulesReachUpstreamsRuleFiles: cabal-infra's Prometheus loads
// /etc/prometheus/rules/*.yml, which the image's rule files must match, and
// the copies under docker/ are those of rules/ (docker/sync.sh).
func TestRulesReachUpstreamsRuleFiles(t *testing.T) {
	rules, _ := filepath.Glob(repoPath(t, "rules", "*.rules.yml"))
	alerts, _ := filepath.Glob(repoPath(t, "rules", "*.alerts.yml"))
	sources := append(rules, alerts...)
	if len(sources) == 0 {
		t.Fatal("no rule files in rules/")
	}
	var want []string
	for _, f := range sources {
		name := "mailtier-" + filepath.Base(f)
		want = append(want, name)
		if ok, _ := filepath.Match(filepath.Base(upstream.PrometheusRuleGlob), name); !ok {
			t.Errorf("%s does not match cabal-infra's rule_files %s", name, upstream.PrometheusRuleGlob)
		}
		got, err := os.ReadFile(repoPath(t, "docker", "prometheus", "rules", name))
		if err != nil {
			t.Errorf("docker/prometheus/rules/%s: %v (run docker/sync.sh)", name, err)
			continue
		}
		if orig, _ := os.ReadFile(f); !bytes.Equal(got, orig) {
			t.Errorf("docker/prometheus/rules/%s differs from rules/%s (run docker/sync.sh)", name, filepath.Base(f))
		}
	}
	copies, _ := filepath.Glob(repoPath(t, "docker", "prometheus", "rules", "*"))
	for _, c := range copies {
		if !slices.Contains(want, filepath.Base(c)) {
			t.Errorf("docker/prometheus/rules/%s is a copy of no file of rules/ (run docker/sync.sh)", filepath.Base(c))
		}
	}
	// The image copies them where cabal-infra's glob reads.
	found := false
	for _, c := range contextCopies(parseDockerfile(t, "docker/prometheus/Dockerfile")) {
		if slices.Equal(c.sources, []string{"prometheus/rules/"}) && c.dest == filepath.Dir(upstream.PrometheusRuleGlob)+"/" {
			found = true
		}
	}
	if !found {
		t.Errorf("docker/prometheus/Dockerfile does not COPY prometheus/rules/ to %s/", filepath.Dir(upstream.PrometheusRuleGlob))
	}
}

var runbookURL = regexp.MustCompile(`(?m)^\s*runbook_url:\s*(\S+)\s*$`)

// TestRunbookBaseURLIsABuildSetting: the Prometheus image rewrites the
// rules' runbook links to its RUNBOOK_BASE_URL build argument. Run on
// every rule file with cabal-infra's layout, every link must start with
// that base and end in the alert's runbook, which exists in docs/runbooks.
func TestRunbookBaseURLIsABuildSetting(t *testing.T) {
	df := testenv.ReadRepoFile(t, "docker/prometheus/Dockerfile")
	const def = "https://github.com/cabalmail/mailtier/blob/main/docs/runbooks/"
	for _, want := range []string{
		"ARG RUNBOOK_BASE_URL=" + def,
		`sh /usr/local/bin/mailtier-runbooks.sh "$RUNBOOK_BASE_URL" /etc/prometheus/rules/mailtier-*.yml`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("docker/prometheus/Dockerfile lacks %q", want)
		}
	}
	base := strings.TrimSuffix(upstream.RunbookBaseURL, "/") + "/mailtier/"
	dir := t.TempDir()
	files, _ := filepath.Glob(repoPath(t, "docker", "prometheus", "rules", "mailtier-*.alerts.yml"))
	if len(files) == 0 {
		t.Fatal("no alert rule files under docker/prometheus/rules")
	}
	var copies []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range runbookURL.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], def) {
				t.Errorf("%s: runbook_url %s does not start with the default base %s, so the build setting cannot move it", filepath.Base(f), m[1], def)
			}
		}
		c := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(c, b, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	out, err := exec.Command("sh", append([]string{repoPath(t, "docker", "prometheus", "runbooks.sh"), base}, copies...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("runbooks.sh: %v\n%s", err, out)
	}
	links := 0
	for _, c := range copies {
		b, _ := os.ReadFile(c)
		for _, m := range runbookURL.FindAllStringSubmatch(string(b), -1) {
			links++
			name, ok := strings.CutPrefix(m[1], base)
			if !ok {
				t.Errorf("%s: runbook_url %s after the rewrite, want it under %s", filepath.Base(c), m[1], base)
				continue
			}
			if _, err := os.Stat(repoPath(t, "docs", "runbooks", name)); err != nil {
				t.Errorf("%s: runbook %s: %v", filepath.Base(c), name, err)
			}
		}
	}
	if links == 0 {
		t.Fatal("no runbook_url in the rules")
	}
	for _, bad := range []string{"ftp://example.com/", "https://example.com/no-slash", "https://example.com/a b/", "https://example.com/a|b/"} {
		if err := exec.Command("sh", repoPath(t, "docker", "prometheus", "runbooks.sh"), bad, copies[0]).Run(); err == nil {
			t.Errorf("runbooks.sh accepted the base URL %q", bad)
		}
	}
}

// TestGrafanaAddsToUpstreamsDashboards: cabal-infra's image provisions its
// four dashboards from /etc/grafana/dashboards, recursively. mailtier's
// provider reads a directory outside it (a subdirectory would load every
// mailtier dashboard twice, with the same UIDs), its UIDs are not
// cabal-infra's, the image keeps copying cabal-infra's dashboards and
// provisioning as cabal-infra's Dockerfile does, and mailtier ships no
// data source of its own (cabal-infra's, uid prometheus, is the default).
func TestGrafanaAddsToUpstreamsDashboards(t *testing.T) {
	var prov struct {
		Providers []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(testenv.ReadRepoFile(t, "docker/grafana/provisioning/dashboards/mailtier.yml")), &prov); err != nil {
		t.Fatal(err)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("want one file provider, got %+v", prov.Providers)
	}
	path := filepath.Clean(prov.Providers[0].Options.Path)
	up := filepath.Clean(upstream.GrafanaDashboardsPath)
	if path == up || strings.HasPrefix(path, up+"/") || strings.HasPrefix(up, path+"/") {
		t.Errorf("mailtier's provider reads %s, which overlaps cabal-infra's %s: dashboards load twice", path, up)
	}
	if strings.HasPrefix(path, "/var/lib/grafana") {
		t.Errorf("%s is under /var/lib/grafana, which the task mounts from EFS over the image", path)
	}
	if prov.Providers[0].Name == "cabal-default" {
		t.Error("mailtier's provider has the name of cabal-infra's")
	}

	copies := map[string]string{}
	for _, c := range contextCopies(parseDockerfile(t, "docker/grafana/Dockerfile")) {
		copies[strings.Join(c.sources, " ")] = c.dest
	}
	for src, dest := range map[string]string{
		"grafana/provisioning/":        "/etc/grafana/provisioning/", // cabal-infra's, with mailtier.yml among them
		"grafana/dashboards/":          up + "/",                     // cabal-infra's four
		"grafana/mailtier-dashboards/": path + "/",
	} {
		if copies[src] != dest {
			t.Errorf("docker/grafana/Dockerfile: COPY %s goes to %q, want %s (copies: %v)", src, copies[src], dest, copies)
		}
	}
	if _, err := os.Stat(repoPath(t, "docker", "grafana", "provisioning", "datasources")); err == nil {
		t.Error("docker/grafana/provisioning/datasources exists: cabal-infra provisions the Prometheus data source (uid prometheus); a second one collides")
	}

	sources, _ := filepath.Glob(repoPath(t, "dashboards", "*.json"))
	if len(sources) == 0 {
		t.Fatal("no dashboards")
	}
	for _, f := range sources {
		name := filepath.Base(f)
		if _, clash := upstream.GrafanaDashboards[name]; clash {
			t.Errorf("dashboards/%s has the file name of one of cabal-infra's", name)
		}
		orig, _ := os.ReadFile(f)
		var d struct {
			UID string `json:"uid"`
		}
		if err := json.Unmarshal(orig, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for file, uid := range upstream.GrafanaDashboards {
			if d.UID == uid {
				t.Errorf("dashboards/%s has UID %s, cabal-infra's %s", name, d.UID, file)
			}
		}
		got, err := os.ReadFile(repoPath(t, "docker", "grafana", "mailtier-dashboards", name))
		if err != nil || !bytes.Equal(got, orig) {
			t.Errorf("docker/grafana/mailtier-dashboards/%s is not a copy of dashboards/%s (run docker/sync.sh): %v", name, name, err)
		}
	}
	copied, _ := filepath.Glob(repoPath(t, "docker", "grafana", "mailtier-dashboards", "*"))
	if len(copied) != len(sources) {
		t.Errorf("docker/grafana/mailtier-dashboards has %d files, dashboards/ %d (run docker/sync.sh)", len(copied), len(sources))
	}
}

// TestCloudWatchAdditionsAreAdditions: the cloudwatch_exporter files are
// additions to cabal-infra's two configurations, with its global settings,
// and each has at least one metric.
func TestCloudWatchAdditionsAreAdditions(t *testing.T) {
	for _, name := range []string{"mailtier.yml", "mailtier-us-east-1.yml"} {
		var c struct {
			Period  int              `yaml:"period_seconds"`
			Range   int              `yaml:"range_seconds"`
			Delay   int              `yaml:"delay_seconds"`
			Region  string           `yaml:"region"`
			Metrics []map[string]any `yaml:"metrics"`
		}
		if err := yaml.Unmarshal([]byte(testenv.ReadRepoFile(t, "docker/cloudwatch-exporter/"+name)), &c); err != nil {
			t.Fatal(err)
		}
		// cabal-infra's settings (docker/cloudwatch-exporter/config.yml there);
		// the region comes from the task's AWS_REGION.
		if c.Period != 60 || c.Range != 600 || c.Delay != 120 || c.Region != "" || len(c.Metrics) == 0 {
			t.Errorf("%s: period %d range %d delay %d region %q, %d metrics; want cabal-infra's 60/600/120, no region, some metrics", name, c.Period, c.Range, c.Delay, c.Region, len(c.Metrics))
		}
	}
}

// TestDocsUseUpstreamsCluster: every ECS command in the docs names
// cabal-infra's cluster.
func TestDocsUseUpstreamsCluster(t *testing.T) {
	var files []string
	for _, pattern := range []string{"docs/*.md", "docs/runbooks/*.md", "terraform/README.md", "docker/mail/README.md"} {
		m, _ := filepath.Glob(repoPath(t, pattern))
		files = append(files, m...)
	}
	seen := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`--cluster[ =]("?[^\s"]+"?)`).FindAllStringSubmatch(string(b), -1) {
			seen++
			if m[1] != upstream.ClusterName {
				t.Errorf("%s: --cluster %s, want cabal-infra's cluster %s", filepath.Base(f), m[1], upstream.ClusterName)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no --cluster in the docs: the test checks nothing")
	}
}

// TestAdoptingNamesUpstreamsFiles: every cabal-infra path docs/adopting.md
// tells a maintainer to change or rely on exists in cabal-infra
// (internal/upstream.Files), or is one the change set creates. Paths of
// this repository are written mailtier/....
func TestAdoptingNamesUpstreamsFiles(t *testing.T) {
	created := []string{
		"docker/mailtier-mail", "docker/grafana/mailtier-dashboards/",
		"docs/operations/runbooks/mailtier/",
	}
	doc := testenv.ReadRepoFile(t, "docs/adopting.md")
	seen := 0
	for _, m := range regexp.MustCompile("`((?:terraform/infra|docker|\\.github|docs/operations)/[^`\\s]*)`").FindAllStringSubmatch(doc, -1) {
		seen++
		p := m[1]
		if !slices.Contains(upstream.Files, p) && !slices.Contains(created, p) {
			t.Errorf("docs/adopting.md names %s, which is neither a cabal-infra file (internal/upstream.Files) nor one the change set creates", p)
		}
	}
	if seen == 0 {
		t.Fatal("docs/adopting.md names no cabal-infra file")
	}
	// Every file a Terraform snippet adds to exists, unless it is new.
	for _, m := range regexp.MustCompile(`(?m)^# (terraform/infra/\S+) \(([^)]*)\)$`).FindAllStringSubmatch(doc, -1) {
		if m[2] != "new" && !slices.Contains(upstream.Files, m[1]) {
			t.Errorf("docs/adopting.md changes %s (%s), which cabal-infra does not have", m[1], m[2])
		}
	}
}
