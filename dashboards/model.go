package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// The definitions in this package describe dashboards with the types
// below; Render turns them into Grafana's dashboard JSON (schema 39, read
// by Grafana 10.4 and later). Only what the dashboards use is modelled.

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

// Panel is one panel of a dashboard.
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

// Dashboard is one dashboard.
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
var ds = map[string]string{"type": "prometheus", "uid": "$datasource"}

// Render returns the dashboard's JSON, indented, with a final newline.
func (d Dashboard) Render() ([]byte, error) {
	var panels []any
	id := 1
	y := 0
	for _, r := range d.Rows {
		panels = append(panels, ordered{
			{"collapsed", false},
			{"gridPos", gridPos{H: 1, W: 24, X: 0, Y: y}},
			{"id", id},
			{"panels", []any{}},
			{"title", r.Title},
			{"type", "row"},
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
			rp, err := p.render(id, gridPos{H: h, W: w, X: x, Y: y})
			if err != nil {
				return nil, fmt.Errorf("%s: panel %q: %w", d.UID, p.Title, err)
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
	out := ordered{
		{"annotations", map[string]any{"list": []any{
			ordered{
				{"builtIn", 1},
				{"datasource", map[string]string{"type": "grafana", "uid": "-- Grafana --"}},
				{"enable", true},
				{"hide", true},
				{"iconColor", "rgba(0, 211, 255, 1)"},
				{"name", "Annotations & Alerts"},
				{"type", "dashboard"},
			},
			ordered{
				{"datasource", ds},
				{"enable", true},
				{"expr", `ALERTS{alertstate="firing", ` + tierMatcher + `}`},
				{"iconColor", "red"},
				{"name", "Firing alerts"},
				{"step", "1m"},
				{"tagKeys", "severity,tier"},
				{"textFormat", "{{instance}}"},
				{"titleFormat", "{{alertname}}"},
			},
		}}},
		{"description", d.Description},
		{"editable", false},
		{"fiscalYearStartMonth", 0},
		{"graphTooltip", 1},
		{"id", nil},
		{"links", []any{
			ordered{
				{"asDropdown", false},
				{"icon", "external link"},
				{"includeVars", false},
				{"keepTime", true},
				{"tags", []string{"mailtier"}},
				{"targetBlank", false},
				{"title", "Mail tiers"},
				{"type", "dashboards"},
			},
			ordered{
				{"icon", "doc"},
				{"targetBlank", true},
				{"title", "What this dashboard answers"},
				{"type", "link"},
				{"url", DocsURL},
			},
		}},
		{"panels", panels},
		{"refresh", "1m"},
		{"schemaVersion", 39},
		{"tags", d.Tags},
		{"templating", map[string]any{"list": d.variables()}},
		{"time", map[string]string{"from": "now-6h", "to": "now"}},
		{"timepicker", map[string]any{}},
		{"timezone", "utc"},
		{"title", d.Title},
		{"uid", d.UID},
		{"version", 1},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// variables returns the dashboard's template variables: the data source,
// the tier and the instance (the exporter sidecars of the tier).
func (d Dashboard) variables() []any {
	datasource := ordered{
		{"current", map[string]any{}},
		{"hide", 0},
		{"includeAll", false},
		{"label", "Data source"},
		{"multi", false},
		{"name", "datasource"},
		{"options", []any{}},
		{"query", "prometheus"},
		{"refresh", 1},
		{"regex", ""},
		{"type", "datasource"},
	}
	var tier ordered
	if d.Tier != "" {
		// A tier dashboard shows one tier: the variable is fixed, and
		// shown so the header says which tier this is.
		tier = ordered{
			{"current", map[string]any{"selected": true, "text": d.Tier, "value": d.Tier}},
			{"hide", 0},
			{"includeAll", false},
			{"label", "Tier"},
			{"multi", false},
			{"name", "tier"},
			{"options", []any{map[string]any{"selected": true, "text": d.Tier, "value": d.Tier}}},
			{"query", d.Tier},
			{"skipUrlSync", false},
			{"type", "custom"},
		}
	} else {
		tier = multiQueryVariable("tier", "Tier", "label_values(mailtier_exporter_build_info, tier)")
	}
	instance := multiQueryVariable("instance", "Instance", `label_values(mailtier_exporter_build_info{tier=~"$tier"}, instance)`)
	return []any{datasource, tier, instance}
}

// multiQueryVariable is a variable listing the values of a label, all of
// them selected by default.
func multiQueryVariable(name, label, query string) ordered {
	return ordered{
		{"allValue", ".+"},
		{"current", map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}},
		{"datasource", ds},
		{"definition", query},
		{"hide", 0},
		{"includeAll", true},
		{"label", label},
		{"multi", true},
		{"name", name},
		{"options", []any{}},
		{"query", query},
		{"refresh", 2},
		{"regex", ""},
		{"sort", 1},
		{"type", "query"},
	}
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

func (p Panel) render(id int, pos gridPos) (ordered, error) {
	if p.Title == "" || p.Description == "" || p.Unit == "" || len(p.Targets) == 0 {
		return nil, fmt.Errorf("a panel needs a title, a description, a unit and a query")
	}
	base := p.Base
	if base == "" {
		base = Green
	}
	steps := []any{map[string]any{"color": base, "value": nil}}
	for _, s := range p.Steps {
		steps = append(steps, map[string]any{"color": s.Color, "value": s.Value})
	}
	defaults := ordered{
		{"color", map[string]string{"mode": "palette-classic"}},
	}
	if p.Kind != TimeSeries {
		defaults[0] = kv{"color", map[string]string{"mode": "thresholds"}}
	}
	if p.Kind == TimeSeries {
		custom := ordered{{"axisLabel", p.AxisLabel}, {"axisSoftMin", 0}}
		thresholdsStyle := "off"
		if len(p.Steps) > 0 {
			// The axis reaches past the highest threshold even when the
			// data stays far below it, so the dashed line is always in
			// view; data above it still stretches the axis.
			top := math.Round(p.Steps[len(p.Steps)-1].Value*1.5*1e9) / 1e9
			if p.Unit == "percentunit" && top > 1 {
				top = 1
			}
			custom = append(custom, kv{"axisSoftMax", top})
			thresholdsStyle = "dashed"
		}
		custom = append(custom,
			kv{"drawStyle", "line"},
			kv{"fillOpacity", 10},
			kv{"lineWidth", 1},
			kv{"showPoints", "never"},
			kv{"spanNulls", false},
			kv{"thresholdsStyle", map[string]string{"mode": thresholdsStyle}},
		)
		defaults = append(defaults, kv{"custom", custom})
	}
	if p.Kind == Table {
		defaults = append(defaults, kv{"custom", map[string]any{"align": "auto", "cellOptions": map[string]string{"type": "color-text"}}})
	}
	if len(p.Mappings) > 0 {
		opts := map[string]any{}
		i := 0
		for _, v := range sortedKeys(p.Mappings) {
			opts[v] = map[string]any{"index": i, "text": p.Mappings[v]}
			i++
		}
		defaults = append(defaults, kv{"mappings", []any{map[string]any{"type": "value", "options": opts}}})
	}
	if p.Kind != Table {
		defaults = append(defaults, kv{"min", 0})
	}
	defaults = append(defaults,
		kv{"noValue", "no data"},
		kv{"thresholds", map[string]any{"mode": "absolute", "steps": steps}},
		kv{"unit", p.Unit},
	)

	var options any
	switch p.Kind {
	case TimeSeries:
		options = map[string]any{
			"legend":  map[string]any{"calcs": []string{"lastNotNull", "max"}, "displayMode": "table", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		}
	case Stat:
		// A stat is coloured only when it has a threshold: a traffic
		// figure in green would read as "healthy".
		colorMode := "background"
		if len(p.Steps) == 0 {
			colorMode = "none"
		}
		options = map[string]any{
			"colorMode":   colorMode,
			"graphMode":   "area",
			"justifyMode": "auto",
			"orientation": "auto",
			"reduceOptions": map[string]any{
				"calcs":  []string{"lastNotNull"},
				"fields": "",
				"values": false,
			},
			"textMode": "auto",
		}
	case Table:
		options = map[string]any{
			"cellHeight": "sm",
			"footer":     map[string]any{"show": false, "reducer": []string{"sum"}, "countRows": false},
			"showHeader": true,
		}
	default:
		return nil, fmt.Errorf("unknown panel kind %q", p.Kind)
	}

	var links []any
	for _, a := range p.Runbooks {
		links = append(links, map[string]any{"targetBlank": true, "title": "Runbook: " + a, "url": RunbookBase + a + ".md"})
	}
	for _, l := range p.Links {
		// Other dashboards open in place, pages outside Grafana in a new tab.
		external := strings.HasPrefix(l.URL, "https://")
		links = append(links, map[string]any{"targetBlank": external, "title": l.Title, "url": l.URL})
	}
	if links == nil {
		links = []any{}
	}

	var targets []any
	for i, t := range p.Targets {
		target := ordered{
			{"datasource", ds},
			{"editorMode", "code"},
			{"expr", t.Expr},
		}
		if t.Instant {
			target = append(target, kv{"format", "table"}, kv{"instant", true})
		} else {
			target = append(target, kv{"instant", false})
		}
		target = append(target, kv{"legendFormat", t.Legend})
		if !t.Instant {
			target = append(target, kv{"range", true})
		} else {
			target = append(target, kv{"range", false})
		}
		target = append(target, kv{"refId", string(rune('A' + i))})
		targets = append(targets, target)
	}

	overrides := []any{}
	for _, c := range p.Columns {
		if c != "alertname" {
			continue
		}
		// Each alert name in a table opens the alert's runbook.
		overrides = append(overrides, map[string]any{
			"matcher": map[string]string{"id": "byName", "options": "alertname"},
			"properties": []any{map[string]any{"id": "links", "value": []any{map[string]any{
				"targetBlank": true,
				"title":       "Runbook",
				"url":         RunbookBase + "${__value.raw}.md",
			}}}},
		})
	}

	out := ordered{
		{"datasource", ds},
		{"description", p.Description},
		{"fieldConfig", map[string]any{"defaults": defaults, "overrides": overrides}},
		{"gridPos", pos},
		{"id", id},
		{"links", links},
		{"options", options},
		{"targets", targets},
		{"title", p.Title},
	}
	if p.Kind == Table && len(p.Columns) > 0 {
		exclude := map[string]bool{"Time": true, "Value": true}
		index := map[string]int{}
		for i, c := range p.Columns {
			index[c] = i
		}
		out = append(out, kv{"transformations", []any{map[string]any{
			"id": "organize",
			"options": map[string]any{
				"excludeByName": exclude,
				"indexByName":   index,
			},
		}}})
	}
	out = append(out, kv{"type", string(p.Kind)})
	return out, nil
}

// kv and ordered keep the keys of a JSON object in the order written, so
// the rendered files read like Grafana's own exports and diff cleanly.
type kv struct {
	Key   string
	Value any
}

type ordered []kv

func (o ordered) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(e.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.Value); err != nil {
			return nil, err
		}
		buf.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
