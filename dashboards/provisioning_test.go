package dashboards_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docker/grafana provisions the dashboards: its image must copy every
// dashboard where the dashboard provider reads, and its data source must
// be the one the dashboards' $datasource picks.

// dockerfile returns the instructions of a Dockerfile, continuation lines
// joined and comments dropped.
func dockerfile(t *testing.T, rel string) [][]string {
	t.Helper()
	var out [][]string
	var cur string
	for _, line := range strings.Split(readRepoFile(t, rel), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		out = append(out, strings.Fields(cur))
		cur = ""
	}
	return out
}

func TestGrafanaImage(t *testing.T) {
	df := dockerfile(t, "docker/grafana/Dockerfile")
	var from string
	copies := map[string]string{} // source -> destination
	env := map[string]string{}
	for _, in := range df {
		switch strings.ToUpper(in[0]) {
		case "FROM":
			from = in[1]
		case "COPY":
			if len(in) != 3 {
				t.Errorf("COPY %v: want one source and one destination", in[1:])
				continue
			}
			copies[in[1]] = in[2]
		case "ENV":
			for _, kv := range in[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	if !regexp.MustCompile(`^grafana/grafana:[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(from) {
		t.Errorf("FROM %q: want the upstream grafana/grafana image at a pinned version", from)
	}

	// The dashboard provider reads where the image puts the JSON.
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name            string `yaml:"name"`
			Type            string `yaml:"type"`
			DisableDeletion bool   `yaml:"disableDeletion"`
			AllowUIUpdates  bool   `yaml:"allowUiUpdates"`
			Options         struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "docker/grafana/provisioning/dashboards/mailtier.yml")), &prov); err != nil {
		t.Fatal(err)
	}
	if prov.APIVersion != 1 || len(prov.Providers) != 1 {
		t.Fatalf("dashboards provisioning: want apiVersion 1 and one provider, got %+v", prov)
	}
	p := prov.Providers[0]
	if p.Type != "file" || !p.DisableDeletion || p.AllowUIUpdates {
		t.Errorf("provider %q: want type file, disableDeletion, no UI updates; got %+v", p.Name, p)
	}
	dest, ok := copies["dashboards/*.json"]
	if !ok {
		t.Fatalf("the image does not COPY dashboards/*.json (copies: %v)", copies)
	}
	if filepath.Clean(dest) != filepath.Clean(p.Options.Path) {
		t.Errorf("the image copies the dashboards to %s, the provider reads %s", dest, p.Options.Path)
	}
	if strings.HasPrefix(filepath.Clean(dest), "/var/lib/grafana") {
		t.Errorf("%s is under /var/lib/grafana, which the task mounts from EFS over the image's files", dest)
	}
	if home := env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != filepath.Join(filepath.Clean(dest), "overview.json") {
		t.Errorf("home dashboard %q: want the overview in %s", home, dest)
	}
	for _, dir := range []string{"datasources", "dashboards"} {
		src := "docker/grafana/provisioning/" + dir + "/"
		if copies[src] != "/etc/grafana/provisioning/"+dir+"/" {
			t.Errorf("the image must COPY %s to /etc/grafana/provisioning/%s/ (copies: %v)", src, dir, copies)
		}
	}

	// The data source: Prometheus, the default (what $datasource picks),
	// its URL from the environment, its scrape interval Prometheus' own.
	var dsf struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			UID       string         `yaml:"uid"`
			Type      string         `yaml:"type"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "docker/grafana/provisioning/datasources/prometheus.yml")), &dsf); err != nil {
		t.Fatal(err)
	}
	if dsf.APIVersion != 1 || len(dsf.Datasources) != 1 {
		t.Fatalf("datasources provisioning: want apiVersion 1 and one data source, got %+v", dsf)
	}
	ds := dsf.Datasources[0]
	if ds.Type != "prometheus" || !ds.IsDefault || ds.UID == "" {
		t.Errorf("data source %q: want the default, of type prometheus, with a uid; got %+v", ds.Name, ds)
	}
	if ds.URL != "${PROMETHEUS_URL}" || !strings.HasPrefix(env["PROMETHEUS_URL"], "http://") {
		t.Errorf("data source URL %q, image PROMETHEUS_URL %q: want ${PROMETHEUS_URL} with a default in the image", ds.URL, env["PROMETHEUS_URL"])
	}
	var promConf struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "docker/prometheus/prometheus.yml")), &promConf); err != nil {
		t.Fatal(err)
	}
	if got, want := ds.JSONData["timeInterval"], promConf.Global.ScrapeInterval; got != want {
		t.Errorf("data source timeInterval %v, Prometheus scrape_interval %q: $__rate_interval is computed from it; keep them equal", got, want)
	}

	// The build context lets in what the image copies.
	ignore := strings.Fields(readRepoFile(t, "docker/grafana/Dockerfile.dockerignore"))
	for _, want := range []string{"!docker/grafana/provisioning", "!dashboards/*.json"} {
		if !slices.Contains(ignore, want) {
			t.Errorf("Dockerfile.dockerignore lacks %s", want)
		}
	}
}
