package rulescheck_test

import "os"
import "path/filepath"
import "regexp"
import "slices"
import "testing"

import "github.com/prometheus/prometheus/config"
import "github.com/prometheus/prometheus/discovery"
import "github.com/prometheus/prometheus/discovery/dns"
import "github.com/prometheus/prometheus/model/labels"
import "github.com/prometheus/prometheus/model/relabel"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"
import "github.com/cabalmail/mailtier/rules/rulefiles"
import "github.com/cabalmail/mailtier/tools/promqlscan"

// loadPromConfig reads docker/prometheus/prometheus.yml with Prometheus'
// own configuration loader (its placeholders are plain strings to it).
func loadPromConfig(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docker", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(string(data), nil)
	if err != nil {
		t.Fatalf("docker/prometheus/prometheus.yml: %v", err)
	}
	return c
}

// relabelTarget runs a job's relabel_configs with Prometheus' own relabeling and
// returns the target's labels, or nil when the target is dropped.
func relabelTarget(sc *config.ScrapeConfig, target map[string]string) map[string]string {
	lb := labels.NewBuilder(labels.FromMap(target))
	if !relabel.ProcessBuilder(lb, sc.RelabelConfigs...) {
		return nil
	}
	return lb.Labels().Map()
}

func job(t *testing.T, c *config.Config, name string) *config.ScrapeConfig {
	t.Helper()
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == name {
			return sc
		}
	}
	t.Fatalf("docker/prometheus/prometheus.yml has no job %q", name)
	return nil
}

// dnsConfigs and staticGroups split a job's service discovery.
func dnsConfigs(sc *config.ScrapeConfig) []*dns.SDConfig {
	var out []*dns.SDConfig
	for _, d := range sc.ServiceDiscoveryConfigs {
		if d, ok := d.(*dns.SDConfig); ok {
			out = append(out, d)
		}
	}
	return out
}

func staticTargets(sc *config.ScrapeConfig) []map[string]string {
	var out []map[string]string
	for _, d := range sc.ServiceDiscoveryConfigs {
		groups, ok := d.(discovery.StaticConfig)
		if !ok {
			continue
		}
		for _, g := range groups {
			for _, target := range g.Targets {
				m := map[string]string{}
				for k, v := range g.Labels {
					m[string(k)] = string(v)
				}
				for k, v := range target {
					m[string(k)] = string(v)
				}
				out = append(out, m)
			}
		}
	}
	return out
}

// TestScrapeConfigTiers checks that the exporter sidecars of the three
// mail tiers are found through their Cloud Map names on the exporter port,
// and that each gets its tier label.
func TestScrapeConfigTiers(t *testing.T) {
	pc := loadPromConfig(t)
	mt := job(t, pc, "mailtier")
	ds := dnsConfigs(mt)
	if len(ds) != 1 || ds[0].Type != "A" || ds[0].Port != 9469 {
		t.Fatalf("job mailtier: want one dns_sd_config of type A on port 9469, got %+v", ds)
	}
	wantNames := map[string]string{
		"imap.cabal.internal":     "imap",
		"smtp-in.cabal.internal":  "smtp-in",
		"smtp-out.cabal.internal": "smtp-out",
	}
	if len(ds[0].Names) != len(wantNames) {
		t.Errorf("job mailtier resolves %v, want %d names", ds[0].Names, len(wantNames))
	}
	for _, name := range ds[0].Names {
		got := relabelTarget(mt, map[string]string{"__meta_dns_name": name, "__address__": "10.0.1.10:9469"})
		if got == nil || got["tier"] != wantNames[name] {
			t.Errorf("job mailtier: target from %s gets tier %q, want %q", name, got["tier"], wantNames[name])
		}
	}
	if got := relabelTarget(mt, map[string]string{"__meta_dns_name": "other.cabal.internal", "__address__": "10.0.1.11:9469"}); got != nil {
		t.Errorf("job mailtier keeps a target of an unknown name, with labels %v", got)
	}

	// The blackbox jobs are cabal-infra's, not this file's
	// (internal/upstream.ScrapeJobs; tools/adopt checks none is declared
	// again here).
}

// TestRulesMatchScrapeConfig checks that every rule file is loaded by the
// configuration, and that the job and tier values the rules select on
// exist in it.
func TestRulesMatchScrapeConfig(t *testing.T) {
	pc := loadPromConfig(t)
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rs.Files {
		rel := "rules/" + filepath.Base(f)
		loaded := false
		for _, pattern := range pc.RuleFiles {
			ok, err := filepath.Match(pattern, rel)
			if err != nil {
				t.Fatalf("rule_files pattern %q: %v", pattern, err)
			}
			loaded = loaded || ok
		}
		if !loaded {
			t.Errorf("%s matches none of rule_files %v", rel, pc.RuleFiles)
		}
	}

	// cabal-infra's jobs, which its configuration scrapes already.
	jobs := append([]string{}, upstream.ScrapeJobs...)
	scrapeTiers := map[string]bool{}
	for _, sc := range pc.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		for _, target := range staticTargets(sc) {
			if tier := target["tier"]; tier != "" {
				scrapeTiers[tier] = true
			}
		}
		for _, d := range dnsConfigs(sc) {
			for _, name := range d.Names {
				if got := relabelTarget(sc, map[string]string{"__meta_dns_name": name, "__address__": "10.0.1.10:9469"}); got["tier"] != "" {
					scrapeTiers[got["tier"]] = true
				}
			}
		}
	}
	for _, r := range rs.Rules {
		name := r.Record + r.Alert
		info, err := promqlscan.Scan(r.Expr)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, sel := range info.Selectors {
			for _, m := range sel.Matchers {
				switch m.Name {
				case "job":
					if !someMatch(m, jobs) {
						t.Errorf("%s: %s%s%q selects no job of the scrape config %v", name, m.Name, m.Op, m.Value, jobs)
					}
				case "tier":
					for _, v := range rulefiles.LiteralValues(m.Op, m.Value) {
						if !scrapeTiers[v] {
							t.Errorf("%s: selects tier %q, which the scrape config never sets", name, v)
						}
					}
				}
			}
		}
	}
}

// someMatch reports whether a positive matcher selects at least one of the
// values (negative matchers always leave something).
func someMatch(m promqlscan.Matcher, values []string) bool {
	switch m.Op {
	case "=":
		return slices.Contains(values, m.Value)
	case "=~":
		re := regexp.MustCompile("^(?:" + m.Value + ")$")
		return slices.ContainsFunc(values, re.MatchString)
	}
	return true
}
