package dashboards_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/cabalmail/mailtier/dashboards/panelcheck"
	"github.com/cabalmail/mailtier/internal/testenv"
	"github.com/cabalmail/mailtier/rules/rulefiles"
)

// What the tests read from the rest of the repository: the dashboards as
// Grafana loads them, docs/metrics.md, the rules and the runbooks.

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The dashboard JSON as the tests read it.
type jsonDashboard struct {
	file          string
	raw           map[string]any
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	ID            *int     `json:"id"`
	Editable      bool     `json:"editable"`
	SchemaVersion int      `json:"schemaVersion"`
	Tags          []string `json:"tags"`
	Annotations   struct {
		List []struct {
			Name       string            `json:"name"`
			Expr       string            `json:"expr"`
			Datasource map[string]string `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
	Panels     []jsonPanel `json:"panels"`
	Templating struct {
		List []jsonVariable `json:"list"`
	} `json:"templating"`
}

type jsonPanel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Datasource  map[string]string        `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Links []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"links"`
	Targets []struct {
		Expr       string            `json:"expr"`
		RefID      string            `json:"refId"`
		Datasource map[string]string `json:"datasource"`
	} `json:"targets"`
	Panels []jsonPanel `json:"panels"`
}

type jsonVariable struct {
	Name       string            `json:"name"`
	Label      string            `json:"label"`
	Type       string            `json:"type"`
	Query      any               `json:"query"`
	Definition string            `json:"definition"`
	Datasource map[string]string `json:"datasource"`
	Multi      bool              `json:"multi"`
	IncludeAll bool              `json:"includeAll"`
	AllValue   string            `json:"allValue"`
	Refresh    int               `json:"refresh"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

func (d jsonDashboard) variable(name string) (jsonVariable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return jsonVariable{}, false
}

// panels returns every panel that is not a row, rows' own panels included.
func (d jsonDashboard) panels() []jsonPanel {
	var out []jsonPanel
	var walk func([]jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// loadDashboards reads every *.json in dashboards/.
func loadDashboards(t *testing.T) []jsonDashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no dashboards (*.json) in dashboards/")
	}
	var out []jsonDashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d jsonDashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s is not a valid dashboard: %v", f, err)
		}
		if err := json.Unmarshal(b, &d.raw); err != nil {
			t.Fatal(err)
		}
		d.file = f
		out = append(out, d)
	}
	return out
}

func loadRules(t *testing.T) []rulefiles.Loaded {
	t.Helper()
	rs, err := rulefiles.Load(filepath.Join(testenv.RepoRoot(t), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	return rs.Rules
}

func loadLint(t *testing.T) panelcheck.Lint {
	t.Helper()
	c, err := panelcheck.LoadLint(".lint")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
