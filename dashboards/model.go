package dashboards

import "encoding/json"
import "fmt"
import "math"
import "sort"
import "strings"

import "github.com/cabalmail/mailtier/dashboards/grafana"

// The definitions in this package describe dashboards with the builder
// types below: what differs from panel to panel, in the terms of the
// golden-signal tables. Build turns them into package grafana's model of
// the JSON (the one model, which the checks read back), filling in
// layout, data sources, thresholds and links the same way everywhere.

// RunbookBase is where the runbook of each alert lives, as
// docs/runbooks/<AlertName>.md; the rules' runbook_url uses the same base.
const RunbookBase = "https://github.com/cabalmail/mailtier/blob/main/docs/runbooks/"

// DocsURL is the page that says what each dashboard answers.
const DocsURL = "https://github.com/cabalmail/mailtier/blob/main/docs/dashboards.md"

// Kind is a Grafana panel type.
type Kind string

// The panel types the dashboards use.
const (
	TimeSeries Kind = "timeseries"
	Stat       Kind = "stat"
	Table      Kind = "table"
)

// Colours of threshold steps.
const (
	Green  = "green"
	Orange = "orange" // a warning alert's threshold
	Red    = "red"    // a critical alert's threshold
)

// Step is a threshold: from Value up, the panel is drawn in Color.
type Step struct {
	Value float64
	Color string
}

// Target is one query of a panel.
type Target struct {
	Expr   string
	Legend string
	// Instant asks for the value now rather than a range (tables).
	Instant bool
}

// Link is a panel link.
type Link struct {
	Title string
	URL   string
}

// Panel is the definition of one panel; Build makes it a grafana.Panel.
type Panel struct {
	Title string
	// Description says what the panel shows and what to do when it is
	// red; Grafana shows it behind the (i) of the panel header.
	Description string
	Kind        Kind
	// Unit is a Grafana unit id (s, percentunit, cpm, bytes, ...).
	Unit string
	// AxisLabel names the unit on a time series' axis where the unit id
	// alone is terse (cpm is "c/m").
	AxisLabel string
	// Steps are the thresholds above the green base: the alerts'
	// thresholds, drawn as dashed lines on time series and as the
	// background colour of stats.
	Steps []Step
	// Base is the colour below the first step: green unless set (red for
	// 0/1 health gauges, whose step at 1 is green).
	Base    string
	Targets []Target
	// Runbooks are the alerts whose runbooks the panel links to.
	Runbooks []string
	Links    []Link
	// W and H are the panel's size on Grafana's 24-column grid.
	W, H int
	// Mappings turn values into text (stat panels of 0/1 gauges).
	Mappings map[string]string
	// Columns are the table columns to show, in order (tables only).
	Columns []string
}

// Row is a titled group of panels: one golden signal.
type Row struct {
	Title  string
	Panels []Panel
}

// Dashboard is the definition of one dashboard; Build makes it a
// grafana.Dashboard, Render its JSON.
type Dashboard struct {
	// File is the JSON file name in this directory.
	File        string
	UID         string
	Title       string
	Description string
	Tags        []string
	// Tier is the tier the dashboard shows; "" for the overview, whose
	// tier variable lists every tier.
	Tier string
	Rows []Row
}

// ds is the templated data source every panel and query uses.
var ds = grafana.DataSource{Type: "prometheus", UID: "$datasource"}

func ptr[T any](v T) *T { return &v }

// Render returns the dashboard's JSON, indented, with a final newline.
func (d Dashboard) Render() ([]byte, error) {
	g, err := d.Build()
	if err != nil {
		return nil, err
	}
	return g.Marshal()
}

// Build returns the dashboard as package grafana models it.
func (d Dashboard) Build() (grafana.Dashboard, error) {
	panels := []grafana.Panel{}
	id := 1
	y := 0
	for _, r := range d.Rows {
		panels = append(panels, grafana.Panel{
			Collapsed: ptr(false),
			GridPos:   grafana.GridPos{H: 1, W: 24, X: 0, Y: y},
			ID:        id,
			Panels:    []grafana.Panel{},
			Title:     r.Title,
			Type:      "row",
		})
		id++
		y++
		x, lineH := 0, 0
		for _, p := range r.Panels {
			w, h := p.W, p.H
			if w == 0 {
				w = 8
			}
			if h == 0 {
				h = 8
			}
			if x+w > 24 {
				x, y, lineH = 0, y+lineH, 0
			}
			rp, err := p.build(id, grafana.GridPos{H: h, W: w, X: x, Y: y})
			if err != nil {
				return grafana.Dashboard{}, fmt.Errorf("%s: panel %q: %w", d.UID, p.Title, err)
			}
			panels = append(panels, rp)
			id++
			x += w
			if h > lineH {
				lineH = h
			}
		}
		y += lineH
	}

	tierMatcher := `tier=~"$tier"`
	return grafana.Dashboard{
		File: d.File,
		Annotations: grafana.Annotations{List: []grafana.Annotation{
			{
				BuiltIn:    1,
				Datasource: grafana.DataSource{Type: "grafana", UID: "-- Grafana --"},
				Enable:     true,
				Hide:       true,
				IconColor:  "rgba(0, 211, 255, 1)",
				Name:       "Annotations & Alerts",
				Type:       "dashboard",
			},
			{
				Datasource:  ds,
				Enable:      true,
				Expr:        `ALERTS{alertstate="firing", ` + tierMatcher + `}`,
				IconColor:   "red",
				Name:        "Firing alerts",
				Step:        "1m",
				TagKeys:     "severity,tier",
				TextFormat:  "{{instance}}",
				TitleFormat: "{{alertname}}",
			},
		}},
		Description:          d.Description,
		Editable:             false,
		FiscalYearStartMonth: 0,
		GraphTooltip:         1,
		ID:                   json.RawMessage("null"),
		Links: []grafana.DashboardLink{
			{
				AsDropdown:  ptr(false),
				Icon:        "external link",
				IncludeVars: ptr(false),
				KeepTime:    true,
				Tags:        []string{"mailtier"},
				TargetBlank: false,
				Title:       "Mail tiers",
				Type:        "dashboards",
			},
			{
				Icon:        "doc",
				TargetBlank: true,
				Title:       "What this dashboard answers",
				Type:        "link",
				URL:         DocsURL,
			},
		},
		Panels:        panels,
		Refresh:       "1m",
		SchemaVersion: 39,
		Tags:          d.Tags,
		Templating:    grafana.Templating{List: d.variables()},
		Time:          grafana.TimeRange{From: "now-6h", To: "now"},
		Timezone:      "utc",
		Title:         d.Title,
		UID:           d.UID,
		Version:       1,
	}, nil
}

// variables returns the dashboard's template variables: the data source,
// the tier and the instance (the exporter sidecars of the tier).
func (d Dashboard) variables() []grafana.Variable {
	datasource := grafana.Variable{
		Hide:       0,
		IncludeAll: false,
		Label:      "Data source",
		Multi:      false,
		Name:       "datasource",
		Options:    []grafana.VariableOption{},
		Query:      "prometheus",
		Refresh:    1,
		Regex:      ptr(""),
		Type:       "datasource",
	}
	var tier grafana.Variable
	if d.Tier != "" {
		// A tier dashboard shows one tier: the variable is fixed, and
		// shown so the header says which tier this is.
		fixed := grafana.VariableOption{Selected: true, Text: d.Tier, Value: d.Tier}
		tier = grafana.Variable{
			Current:     fixed,
			Hide:        0,
			IncludeAll:  false,
			Label:       "Tier",
			Multi:       false,
			Name:        "tier",
			Options:     []grafana.VariableOption{fixed},
			Query:       d.Tier,
			SkipURLSync: ptr(false),
			Type:        "custom",
		}
	} else {
		tier = multiQueryVariable("tier", "Tier", "label_values(mailtier_exporter_build_info, tier)")
	}
	instance := multiQueryVariable("instance", "Instance", `label_values(mailtier_exporter_build_info{tier=~"$tier"}, instance)`)
	return []grafana.Variable{datasource, tier, instance}
}

// multiQueryVariable is a variable listing the values of a label, all of
// them selected by default.
func multiQueryVariable(name, label, query string) grafana.Variable {
	return grafana.Variable{
		AllValue:   ".+",
		Current:    grafana.VariableOption{Selected: true, Text: []string{"All"}, Value: []string{"$__all"}},
		Datasource: &ds,
		Definition: query,
		Hide:       0,
		IncludeAll: true,
		Label:      label,
		Multi:      true,
		Name:       name,
		Options:    []grafana.VariableOption{},
		Query:      query,
		Refresh:    2,
		Regex:      ptr(""),
		Sort:       1,
		Type:       "query",
	}
}

func (p Panel) build(id int, pos grafana.GridPos) (grafana.Panel, error) {
	if p.Title == "" || p.Description == "" || p.Unit == "" || len(p.Targets) == 0 {
		return grafana.Panel{}, fmt.Errorf("a panel needs a title, a description, a unit and a query")
	}
	base := p.Base
	if base == "" {
		base = Green
	}
	steps := []grafana.Step{{Color: base, Value: nil}}
	for _, s := range p.Steps {
		steps = append(steps, grafana.Step{Color: s.Color, Value: ptr(s.Value)})
	}
	defaults := grafana.FieldDefaults{Color: grafana.ColorMode{Mode: "palette-classic"}}
	if p.Kind != TimeSeries {
		defaults.Color.Mode = "thresholds"
	}
	if p.Kind == TimeSeries {
		custom := &grafana.FieldCustom{AxisLabel: ptr(p.AxisLabel), AxisSoftMin: ptr(0.0)}
		thresholdsStyle := "off"
		if len(p.Steps) > 0 {
			// The axis reaches past the highest threshold even when the
			// data stays far below it, so the dashed line is always in
			// view; data above it still stretches the axis.
			top := math.Round(p.Steps[len(p.Steps)-1].Value*1.5*1e9) / 1e9
			if p.Unit == "percentunit" && top > 1 {
				top = 1
			}
			custom.AxisSoftMax = ptr(top)
			thresholdsStyle = "dashed"
		}
		custom.DrawStyle = "line"
		custom.FillOpacity = 10
		custom.LineWidth = 1
		custom.ShowPoints = "never"
		custom.SpanNulls = ptr(false)
		custom.ThresholdsStyle = &grafana.ColorMode{Mode: thresholdsStyle}
		defaults.Custom = custom
	}
	if p.Kind == Table {
		defaults.Custom = &grafana.FieldCustom{Align: "auto", CellOptions: &grafana.CellOptions{Type: "color-text"}}
	}
	if len(p.Mappings) > 0 {
		opts := map[string]grafana.MappingResult{}
		for i, v := range sortedKeys(p.Mappings) {
			opts[v] = grafana.MappingResult{Index: i, Text: p.Mappings[v]}
		}
		defaults.Mappings = []grafana.Mapping{{Options: opts, Type: "value"}}
	}
	if p.Kind != Table {
		defaults.Min = ptr(0.0)
	}
	defaults.NoValue = "no data"
	defaults.Thresholds = grafana.Thresholds{Mode: "absolute", Steps: steps}
	defaults.Unit = p.Unit

	var options grafana.PanelOptions
	switch p.Kind {
	case TimeSeries:
		options = grafana.PanelOptions{
			Legend:  &grafana.Legend{Calcs: []string{"lastNotNull", "max"}, DisplayMode: "table", Placement: "bottom", ShowLegend: true},
			Tooltip: &grafana.Tooltip{Mode: "multi", Sort: "desc"},
		}
	case Stat:
		// A stat is coloured only when it has a threshold: a traffic
		// figure in green would read as "healthy".
		colorMode := "background"
		if len(p.Steps) == 0 {
			colorMode = "none"
		}
		options = grafana.PanelOptions{
			ColorMode:   colorMode,
			GraphMode:   "area",
			JustifyMode: "auto",
			Orientation: "auto",
			ReduceOptions: &grafana.ReduceOptions{
				Calcs:  []string{"lastNotNull"},
				Fields: "",
				Values: false,
			},
			TextMode: "auto",
		}
	case Table:
		options = grafana.PanelOptions{
			CellHeight: "sm",
			Footer:     &grafana.TableFooter{Show: false, Reducer: []string{"sum"}, CountRows: false},
			ShowHeader: true,
		}
	default:
		return grafana.Panel{}, fmt.Errorf("unknown panel kind %q", p.Kind)
	}

	links := []grafana.Link{}
	for _, a := range p.Runbooks {
		links = append(links, grafana.Link{TargetBlank: true, Title: "Runbook: " + a, URL: RunbookBase + a + ".md"})
	}
	for _, l := range p.Links {
		// Other dashboards open in place, pages outside Grafana in a new tab.
		external := strings.HasPrefix(l.URL, "https://")
		links = append(links, grafana.Link{TargetBlank: external, Title: l.Title, URL: l.URL})
	}

	var targets []grafana.Target
	for i, t := range p.Targets {
		target := grafana.Target{
			Datasource:   ds,
			EditorMode:   "code",
			Expr:         t.Expr,
			Instant:      t.Instant,
			LegendFormat: t.Legend,
			Range:        !t.Instant,
			RefID:        string(rune('A' + i)),
		}
		if t.Instant {
			target.Format = "table"
		}
		targets = append(targets, target)
	}

	overrides := []grafana.Override{}
	for _, c := range p.Columns {
		if c != "alertname" {
			continue
		}
		// Each alert name in a table opens the alert's runbook.
		overrides = append(overrides, grafana.Override{
			Matcher: grafana.Matcher{ID: "byName", Options: "alertname"},
			Properties: []grafana.Property{{ID: "links", Value: []grafana.Link{{
				TargetBlank: true,
				Title:       "Runbook",
				URL:         RunbookBase + "${__value.raw}.md",
			}}}},
		})
	}

	out := grafana.Panel{
		Datasource:  &ds,
		Description: p.Description,
		FieldConfig: &grafana.FieldConfig{Defaults: defaults, Overrides: overrides},
		GridPos:     pos,
		ID:          id,
		Links:       links,
		Options:     &options,
		Targets:     targets,
		Title:       p.Title,
		Type:        string(p.Kind),
	}
	if p.Kind == Table && len(p.Columns) > 0 {
		index := map[string]int{}
		for i, c := range p.Columns {
			index[c] = i
		}
		out.Transformations = []grafana.Transformation{{
			ID: "organize",
			Options: grafana.OrganizeOptions{
				ExcludeByName: map[string]bool{"Time": true, "Value": true},
				IndexByName:   index,
			},
		}}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
