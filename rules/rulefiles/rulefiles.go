// Package rulefiles reads the Prometheus rule files of rules/ for the
// suite's tests: the rules' own (promtool, runbooks, docs) and the tools
// module's, which read every expression with Prometheus' parser.
package rulefiles

import "bytes"
import "fmt"
import "os"
import "path/filepath"
import "regexp"
import "sort"
import "strings"

import "gopkg.in/yaml.v3"

// File is one rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is one rule group. Its fields, and a Rule's, are omitted when
// empty, so that a File written back (tools/vmrules splits rule files by
// dependency) is one Prometheus and vmalert load: vmalert refuses an empty
// "for" or "interval".
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is one recording or alerting rule.
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Loaded is a rule with the file, area and group it came from.
type Loaded struct {
	Rule
	File, Area, Group string
}

// Set is every rule of rules/.
type Set struct {
	Files  []string // paths of the rule files, sorted
	Rules  []Loaded
	Groups map[string][]string // rule file path -> group names
	// Problems are the files' departures from the layout: a file named
	// other than <area>.rules.yml or <area>.alerts.yml, a file with other
	// than one group named after it, a group mixing both kinds of rule.
	Problems []string
}

// Alerts returns the alerting rules.
func (s Set) Alerts() []Loaded {
	var out []Loaded
	for _, r := range s.Rules {
		if r.Alert != "" {
			out = append(out, r)
		}
	}
	return out
}

// AlertNames returns the alerts' names.
func (s Set) AlertNames() map[string]bool {
	names := map[string]bool{}
	for _, r := range s.Alerts() {
		names[r.Alert] = true
	}
	return names
}

// Records returns the recording rules by the name they record.
func (s Set) Records() map[string]Loaded {
	out := map[string]Loaded{}
	for _, r := range s.Rules {
		if r.Record != "" {
			out[r.Record] = r
		}
	}
	return out
}

// FileRE is a rule file's name: <area>.rules.yml or <area>.alerts.yml.
var FileRE = regexp.MustCompile(`^([a-z]+)\.(rules|alerts)\.yml$`)

// DecodeStrict decodes a YAML file into v, refusing fields v does not have.
func DecodeStrict(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Load reads every rule file of dir (the repository's rules/).
func Load(dir string) (Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Set{}, err
	}
	s := Set{Groups: map[string][]string{}}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yml") && !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		m := FileRE.FindStringSubmatch(e.Name())
		if m == nil {
			s.Problems = append(s.Problems, fmt.Sprintf("rules/%s: rule files are named <area>.rules.yml or <area>.alerts.yml", e.Name()))
			continue
		}
		area, kind := m[1], m[2]
		path := filepath.Join(dir, e.Name())
		var f File
		if err := DecodeStrict(path, &f); err != nil {
			return s, err
		}
		s.Files = append(s.Files, path)
		if len(f.Groups) != 1 || f.Groups[0].Name != area+"."+kind {
			s.Problems = append(s.Problems, fmt.Sprintf("rules/%s: want exactly one group, named %s.%s", e.Name(), area, kind))
		}
		for _, g := range f.Groups {
			s.Groups[path] = append(s.Groups[path], g.Name)
			for _, r := range g.Rules {
				if kind == "rules" && r.Record == "" || kind == "alerts" && r.Alert == "" {
					s.Problems = append(s.Problems, fmt.Sprintf("rules/%s: group %s holds only %s", e.Name(), g.Name, map[string]string{"rules": "recording rules", "alerts": "alerting rules"}[kind]))
				}
				s.Rules = append(s.Rules, Loaded{Rule: r, File: path, Area: area, Group: g.Name})
			}
		}
	}
	sort.Strings(s.Files)
	if len(s.Alerts()) == 0 {
		return s, fmt.Errorf("no alerting rules found in %s", dir)
	}
	return s, nil
}

var literalAlternatives = regexp.MustCompile(`^[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)*$`)

// LiteralValues returns the values a label matcher (operator op) names
// literally: its value for = and !=, the alternatives of a regex made only
// of literal alternatives, nothing for any other regex.
func LiteralValues(op, value string) []string {
	if op == "=" || op == "!=" {
		return []string{value}
	}
	if literalAlternatives.MatchString(value) {
		return strings.Split(value, "|")
	}
	return nil
}
