package rules_test

import "github.com/cabalmail/mailtier/docs/metricsdoc"

import "github.com/cabalmail/mailtier/internal/testenv"

import "os"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/upstream"

// TestUpstreamAlertsDoc checks docs/alerts.md's table of cabal-infra's
// alerts: one row for each of its 16, saying whether it is kept,
// complemented or replaced and by which mailtier alerts (which must
// exist), and a retirement step for each one replaced.
func TestUpstreamAlertsDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	section := markdownSection(doc, "## cabal-infra's alerts")
	if section == "" {
		t.Fatal(`docs/alerts.md has no "## cabal-infra's alerts" section`)
	}
	ours := loadRules(t).AlertNames()
	relation := regexp.MustCompile("^(kept|kept, complemented by|replaced by)((?: `[A-Za-z0-9]+`,?)*)$")
	rows := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := metricsdoc.TableCells(line)
		if len(cells) != 3 || !strings.HasPrefix(cells[0], "`") {
			continue
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := rows[name]; dup {
			t.Errorf("docs/alerts.md: two rows for %s", name)
		}
		rows[name] = cells[1]
		m := relation.FindStringSubmatch(cells[1])
		if m == nil {
			t.Errorf("docs/alerts.md: %s: %q is not kept, kept, complemented by `...`, or replaced by `...`", name, cells[1])
			continue
		}
		if (m[1] == "kept") != (m[2] == "") {
			t.Errorf("docs/alerts.md: %s: %q names no mailtier alert, or names one after plain kept", name, cells[1])
		}
		for _, a := range regexp.MustCompile("`([A-Za-z0-9]+)`").FindAllStringSubmatch(m[2], -1) {
			if !ours[a[1]] {
				t.Errorf("docs/alerts.md: %s is %s %s, which no rule of rules/ defines", name, m[1], a[1])
			}
		}
		if m[1] == "replaced by" && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("docs/alerts.md: no step retires %s", name)
		}
		if m[1] == "replaced by" && !strings.Contains(markdownSection(section, "### Retiring the replaced alerts"), "`"+name+"`") {
			t.Errorf("docs/alerts.md: %s is replaced, but the retirement steps do not name it", name)
		}
	}
	for _, u := range upstream.Alerts {
		if _, ok := rows[u.Name]; !ok {
			t.Errorf("docs/alerts.md does not say what becomes of cabal-infra's %s", u.Name)
		}
	}
	if len(rows) != len(upstream.Alerts) {
		t.Errorf("docs/alerts.md maps %d of cabal-infra's alerts, want its %d", len(rows), len(upstream.Alerts))
	}
}

// markdownSection returns the text under heading, up to the next heading
// of the same or a higher level.
func markdownSection(doc, heading string) string {
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading)+2:]
	level := strings.Index(heading, " ")
	for j := 0; j < len(rest); {
		k := strings.Index(rest[j:], "\n#")
		if k < 0 {
			break
		}
		line := rest[j+k+1:]
		hashes := len(line) - len(strings.TrimLeft(line, "#"))
		if hashes <= level && strings.HasPrefix(line[hashes:], " ") {
			return rest[:j+k]
		}
		j += k + 1
	}
	return rest
}
