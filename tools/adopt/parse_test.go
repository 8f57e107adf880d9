package adopt_test

import "log/slog"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "sort"
import "strings"
import "testing"

import "github.com/prometheus/common/model"
import "github.com/prometheus/prometheus/model/labels"
import "github.com/prometheus/prometheus/model/rulefmt"
import "github.com/prometheus/prometheus/promql/parser"
import "gopkg.in/yaml.v3"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

// rule is one rule of rules/, with the metric names its expression
// selects, recording rules expanded to what they read.
type rule struct {
	file   string
	r      rulefmt.Rule
	series []string
}

// loadRules parses every rule file of rules/ with Prometheus' own parser
// and resolves the series each rule reads down to scraped ones.
func loadRules(t *testing.T) []rule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	p := parser.NewParser(parser.Options{})
	var all []rule
	recorded := map[string][]string{} // record name -> metric names its expressions select
	for _, f := range files {
		groups, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f, errs)
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				expr, err := p.ParseExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s: %s: %v", f, r.Expr, err)
				}
				names := selectedNames(t, expr)
				if r.Record != "" {
					recorded[r.Record] = append(recorded[r.Record], names...)
				}
				all = append(all, rule{file: filepath.Base(f), r: r, series: names})
			}
		}
	}
	for i := range all {
		all[i].series = expand(all[i].series, recorded, map[string]bool{})
	}
	return all
}

// selectedNames returns the metric names expr's vector selectors select by
// name equality.
func selectedNames(t *testing.T, expr parser.Expr) []string {
	var names []string
	for _, sel := range parser.ExtractSelectors(expr) {
		for _, m := range sel {
			if m.Name == model.MetricNameLabel {
				if m.Type != labels.MatchEqual {
					t.Fatalf("%s: a selector of the metric name by regex; list the names", expr)
				}
				names = append(names, m.Value)
			}
		}
	}
	return names
}

// expand replaces recorded series by the series their rules read.
func expand(names []string, recorded map[string][]string, seen map[string]bool) []string {
	var out []string
	for _, n := range names {
		if src, ok := recorded[n]; ok {
			if !seen[n] {
				seen[n] = true
				out = append(out, expand(src, recorded, seen)...)
			}
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

var notAlnum = regexp.MustCompile(`[^a-z0-9]`)

// TestNoAlertDoublesUpstream: cabal-infra already pages on its 16 alerts.
// A mailtier alert with the same name, or one that reads a series one of
// them reads, would page a second time for the same thing.
func TestNoAlertDoublesUpstream(t *testing.T) {
	alerts := 0
	for _, r := range loadRules(t) {
		if r.r.Alert == "" {
			continue
		}
		alerts++
		for _, u := range upstream.Alerts {
			if notAlnum.ReplaceAllString(strings.ToLower(r.r.Alert), "") == notAlnum.ReplaceAllString(strings.ToLower(u.Name), "") {
				t.Errorf("%s: alert %s has the name of cabal-infra's %s", r.file, r.r.Alert, u.Name)
			}
			for _, s := range r.series {
				if slices.Contains(u.Series, s) {
					t.Errorf("%s: alert %s reads %s, as cabal-infra's %s does: one event, two pages", r.file, r.r.Alert, s, u.Name)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts in rules/")
	}
}

// cloudWatchName is the series name cloudwatch_exporter gives a statistic
// of a metric: the namespace lower-cased and the metric name in snake
// case, joined by _, every character outside [a-zA-Z0-9:_] made _ and
// runs of _ merged, then _<statistic> (basic statistics lower-cased, with
// SampleCount as sample_count; extended ones such as p95 as written).
func cloudWatchName(namespace, metric, statistic string) string {
	snake := regexp.MustCompile(`([a-z0-9])([A-Z])`)
	safe := func(s string) string {
		s = regexp.MustCompile(`[^a-zA-Z0-9:_]`).ReplaceAllString(s, "_")
		return regexp.MustCompile(`__+`).ReplaceAllString(s, "_")
	}
	toSnake := func(s string) string { return strings.ToLower(snake.ReplaceAllString(s, "${1}_${2}")) }
	base := safe(strings.ToLower(namespace) + "_" + toSnake(metric))
	return base + "_" + safe(toSnake(statistic))
}

func TestCloudWatchName(t *testing.T) {
	// The names cabal-infra's own rules read (docker/prometheus/rules/
	// alerts.yml there), from its config's entries.
	for _, c := range []struct{ ns, metric, stat, want string }{
		{"AWS/ApiGateway", "5XXError", "Sum", "aws_apigateway_5_xxerror_sum"},
		{"ECS/ContainerInsights", "RunningTaskCount", "Average", "ecs_containerinsights_running_task_count_average"},
		{"AWS/EFS", "BurstCreditBalance", "Average", "aws_efs_burst_credit_balance_average"},
		{"AWS/Lambda", "Duration", "p95", "aws_lambda_duration_p95"},
		{"AWS/Cognito", "SignInSuccesses", "SampleCount", "aws_cognito_sign_in_successes_sample_count"},
		{"AWS/ECS", "CPUReservation", "Average", "aws_ecs_cpureservation_average"},
		{"AWS/CloudFront", "4xxErrorRate", "Average", "aws_cloudfront_4xx_error_rate_average"},
	} {
		if got := cloudWatchName(c.ns, c.metric, c.stat); got != c.want {
			t.Errorf("cloudWatchName(%s, %s, %s) = %s, want %s", c.ns, c.metric, c.stat, got, c.want)
		}
	}
}

// exporterConfig is the part of a cloudwatch_exporter configuration that
// decides series names.
type exporterConfig struct {
	Metrics []struct {
		Namespace  string   `yaml:"aws_namespace"`
		Name       string   `yaml:"aws_metric_name"`
		Statistics []string `yaml:"aws_statistics"`
		Extended   []string `yaml:"aws_extended_statistics"`
	} `yaml:"metrics"`
}

// TestEveryCloudWatchSeriesIsExported: every aws_* and ecs_* series a rule
// reads comes from an entry of cabal-infra's cloudwatch_exporter configs
// or of the additions mailtier ships in docker/cloudwatch-exporter/. A
// series nobody exports leaves its alert silent forever.
func TestEveryCloudWatchSeriesIsExported(t *testing.T) {
	produced := map[string]string{}
	for _, m := range upstream.CloudWatchMetrics {
		for _, s := range m.Statistics {
			produced[cloudWatchName(m.Namespace, m.Name, s)] = "cabal-infra"
		}
	}
	shipped, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "docker", "cloudwatch-exporter", "*.yml"))
	if err != nil || len(shipped) == 0 {
		t.Fatalf("no cloudwatch_exporter configs in docker/cloudwatch-exporter: %v", err)
	}
	for _, f := range shipped {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c exporterConfig
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, m := range c.Metrics {
			for _, s := range append(slices.Clone(m.Statistics), m.Extended...) {
				name := cloudWatchName(m.Namespace, m.Name, s)
				if by, dup := produced[name]; dup {
					t.Errorf("%s: %s is already exported by %s", filepath.Base(f), name, by)
				}
				produced[name] = filepath.Base(f)
			}
		}
	}
	read := 0
	for _, r := range loadRules(t) {
		for _, s := range r.series {
			if !strings.HasPrefix(s, "aws_") && !strings.HasPrefix(s, "ecs_") {
				continue
			}
			read++
			if _, ok := produced[s]; !ok {
				t.Errorf("%s: %s%s reads %s, which no cloudwatch_exporter config exports", r.file, r.r.Alert, r.r.Record, s)
			}
		}
	}
	if read == 0 {
		t.Fatal("no rule reads a CloudWatch series: the test checks nothing")
	}
}
