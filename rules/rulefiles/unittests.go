package rulefiles

import "fmt"
import "path/filepath"
import "sort"

import "github.com/prometheus/common/model"

// UnitTestFile is a promtool unit test file (rules/tests/*_test.yml):
// every field of promtool's format the suite's tests use, so that a strict
// decode (DecodeStrict) refuses a field promtool would not read.
type UnitTestFile struct {
	RuleFiles          []string          `yaml:"rule_files"`
	EvaluationInterval model.Duration    `yaml:"evaluation_interval"`
	GroupEvalOrder     []string          `yaml:"group_eval_order"`
	Tests              []UnitTestGroup   `yaml:"tests"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
}

// UnitTestGroup is one test of a unit test file: input series and what
// the rules must give from them.
type UnitTestGroup struct {
	Name            string            `yaml:"name"`
	Interval        model.Duration    `yaml:"interval"`
	InputSeries     []InputSeries     `yaml:"input_series"`
	AlertRuleTests  []AlertRuleTest   `yaml:"alert_rule_test"`
	PromQLExprTests []ExprTest        `yaml:"promql_expr_test"`
	ExternalLabels  map[string]string `yaml:"external_labels"`
}

// InputSeries is a series and its values in promtool's expanding notation.
type InputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// AlertRuleTest is the alerts of one name that must fire at EvalTime.
type AlertRuleTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []ExpAlert     `yaml:"exp_alerts"`
}

// ExpAlert is one expected alert: its labels (beside alertname) and
// annotations.
type ExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// ExprTest is an expression and the samples it must give at EvalTime.
type ExprTest struct {
	Expr       string         `yaml:"expr"`
	EvalTime   model.Duration `yaml:"eval_time"`
	ExpSamples []ExpSample    `yaml:"exp_samples"`
}

// ExpSample is one expected sample: a series in the text notation and its
// value.
type ExpSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// UnitTestPaths returns the unit test files of rules/tests below root (the
// repository), sorted; none is an error.
func UnitTestPaths(root string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(root, "rules", "tests", "*_test.yml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no promtool test files in %s", filepath.Join(root, "rules", "tests"))
	}
	sort.Strings(paths)
	return paths, nil
}
