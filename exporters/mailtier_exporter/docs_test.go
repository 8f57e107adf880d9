package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// documented reads docs/metrics.md: every metric row's name and label names.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([a-z_:][a-z0-9_:]*)` \\| (counter|gauge|histogram) \\|([^|]*)\\|")
	label := regexp.MustCompile("`([a-z_][a-z0-9_]*)`")
	out := map[string][]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var labels []string
		for _, lm := range label.FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, lm[1])
		}
		sort.Strings(labels)
		if _, dup := out[m[1]]; dup {
			t.Errorf("docs/metrics.md lists %s twice", m[1])
		}
		out[m[1]] = labels
	}
	return out
}

// TestMetricsDocumented checks that every metric the exporter exposes,
// with every collector on, is in docs/metrics.md with the same labels.
func TestMetricsDocumented(t *testing.T) {
	docs := documented(t)
	queue := filepath.Join(t.TempDir(), "mqueue")
	if err := os.Mkdir(queue, 0o750); err != nil {
		t.Fatal(err)
	}
	out := runOnceBinary(t, nil, "--collector.mqueue.path="+queue, "--tail.path=../../testdata/corpus/maillog")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for name, mf := range mfs {
		exposed[name] = true
		want, ok := docs[name]
		if !ok {
			t.Errorf("%s is exposed but not in docs/metrics.md", name)
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName())
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels %v, docs/metrics.md says %v", name, got, want)
				break
			}
		}
	}
	// Everything documented for the collectors that ran must exist.
	for name := range docs {
		if (strings.HasPrefix(name, "sendmail_") || strings.HasPrefix(name, "mailtier_exporter_")) && !exposed[name] {
			t.Errorf("docs/metrics.md lists %s, which the exporter does not expose", name)
		}
	}
}
