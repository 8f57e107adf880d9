package panelcheck

import "fmt"
import "os"

import "gopkg.in/yaml.v3"

// Lint is dashboards/.lint, in grafana/dashboard-linter's format: rules
// excluded, with a reason, for all panels or listed ones. The dashboards'
// tests apply the linter's query rules themselves and honour it.
type Lint struct {
	Exclusions map[string]struct {
		Reason  string `yaml:"reason"`
		Entries []struct {
			Reason    string `yaml:"reason"`
			Dashboard string `yaml:"dashboard"`
			Panel     string `yaml:"panel"`
		} `yaml:"entries"`
	} `yaml:"exclusions"`
}

// LoadLint reads a .lint file.
func LoadLint(path string) (Lint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Lint{}, err
	}
	var c Lint
	if err := yaml.Unmarshal(b, &c); err != nil {
		return Lint{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Excluded says whether rule is excluded for the panel of a dashboard.
func (c Lint) Excluded(rule, dashboard, panel string) bool {
	e, ok := c.Exclusions[rule]
	if !ok {
		return false
	}
	if len(e.Entries) == 0 {
		return true
	}
	for _, en := range e.Entries {
		if en.Dashboard == dashboard && (en.Panel == "" || en.Panel == panel) {
			return true
		}
	}
	return false
}
