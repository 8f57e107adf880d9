package dashboards_test

import "github.com/cabalmail/mailtier/internal/testenv"
import "strings"
import "testing"

// docs/dashboards.md says what each dashboard answers, panel by panel: it
// must name every panel in the table of its dashboard (the exporter health
// row of the tier dashboards in its own section), and every live-only
// panel.
func TestDocsDescribeDashboards(t *testing.T) {
	doc := testenv.ReadRepoFile(t, "docs/dashboards.md")
	sections := map[string]string{} // heading -> body
	var heading string
	for _, line := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			heading = h
			continue
		}
		sections[heading] += line + "\n"
	}
	find := func(pred func(string) bool) (string, string) {
		for h, body := range sections {
			if pred(h) {
				return h, body
			}
		}
		return "", ""
	}
	_, exporterRow := find(func(h string) bool { return strings.HasPrefix(h, "Exporter health") })
	for _, d := range loadDashboards(t) {
		h, body := find(func(h string) bool { return strings.Contains(h, "`"+d.UID+"`") })
		if h == "" {
			t.Errorf("docs/dashboards.md has no section for %s (a heading with `%s`)", d.File, d.UID)
			continue
		}
		if !strings.Contains(h, d.Title) {
			t.Errorf("docs/dashboards.md: heading %q does not name the dashboard %q", h, d.Title)
		}
		if !strings.Contains(body, "Answers:") {
			t.Errorf("docs/dashboards.md: section %q does not say what the dashboard answers", h)
		}
		row := ""
		for _, p := range d.Panels {
			if p.Type == "row" {
				row = p.Title
				continue
			}
			where, text := h, body
			if row == "Exporter health" && wantDashboards[d.File].tier != "" {
				where, text = "Exporter health", exporterRow
			}
			if !strings.Contains(text, "| "+p.Title+" |") {
				t.Errorf("docs/dashboards.md: section %q does not list the panel %q (row %s of %s)", where, p.Title, row, d.File)
			}
		}
	}
	_, live := find(func(h string) bool { return strings.Contains(h, "only live daemons") })
	for k := range liveOnly {
		title := k[strings.Index(k, "/")+1:]
		if !strings.Contains(live, `"`+title+`"`) {
			t.Errorf("docs/dashboards.md: the live-only panels section does not name %q", title)
		}
	}
}
