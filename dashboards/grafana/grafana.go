// Package grafana is the one Go model of a Grafana dashboard's JSON
// (schema 39, read by Grafana 10.4 and later) in the suite: package
// dashboards writes its JSON files from these types, and package
// panelcheck, cmd/checkpanels and the dashboards' tests read the files
// back into them. Only what the mailtier dashboards use is modelled.
//
// Fields are declared in the order Grafana's own exports write the keys,
// so the rendered files diff cleanly; a key that only some panels or
// variables carry is omitted when unset (omitzero), a key that must be
// written even when false, zero or empty is a pointer or a non-nil slice.
package grafana

import "bytes"
import "encoding/json"
import "fmt"
import "strings"

// Dashboard is a dashboard's JSON.
type Dashboard struct {
	// File is the JSON file's name (not part of the JSON).
	File        string      `json:"-"`
	Annotations Annotations `json:"annotations"`
	Description string      `json:"description"`
	Editable    bool        `json:"editable"`
	// FiscalYearStartMonth is 0 (January).
	FiscalYearStartMonth int `json:"fiscalYearStartMonth"`
	GraphTooltip         int `json:"graphTooltip"`
	// ID is kept as written: Grafana's provisioning refuses a file whose
	// "id" is not null, and a reader must tell null from a missing key.
	ID            json.RawMessage `json:"id"`
	Links         []DashboardLink `json:"links"`
	Panels        []Panel         `json:"panels"`
	Refresh       string          `json:"refresh"`
	SchemaVersion int             `json:"schemaVersion"`
	Tags          []string        `json:"tags"`
	Templating    Templating      `json:"templating"`
	Time          TimeRange       `json:"time"`
	Timepicker    struct{}        `json:"timepicker"`
	Timezone      string          `json:"timezone"`
	Title         string          `json:"title"`
	UID           string          `json:"uid"`
	Version       int             `json:"version"`
}

// Annotations are the dashboard's annotation queries.
type Annotations struct {
	List []Annotation `json:"list"`
}

// Annotation is Grafana's built-in annotation or a Prometheus query whose
// series are drawn as events.
type Annotation struct {
	BuiltIn     int        `json:"builtIn,omitzero"`
	Datasource  DataSource `json:"datasource"`
	Enable      bool       `json:"enable"`
	Expr        string     `json:"expr,omitzero"`
	Hide        bool       `json:"hide,omitzero"`
	IconColor   string     `json:"iconColor"`
	Name        string     `json:"name"`
	Step        string     `json:"step,omitzero"`
	TagKeys     string     `json:"tagKeys,omitzero"`
	TextFormat  string     `json:"textFormat,omitzero"`
	TitleFormat string     `json:"titleFormat,omitzero"`
	Type        string     `json:"type,omitzero"`
}

// DataSource names a data source by type and uid ("$datasource" for the
// dashboard's variable).
type DataSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// DashboardLink is a link in the dashboard's header: to the dashboards
// with some tags, or to a URL.
type DashboardLink struct {
	AsDropdown  *bool    `json:"asDropdown,omitzero"`
	Icon        string   `json:"icon"`
	IncludeVars *bool    `json:"includeVars,omitzero"`
	KeepTime    bool     `json:"keepTime,omitzero"`
	Tags        []string `json:"tags,omitzero"`
	TargetBlank bool     `json:"targetBlank"`
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	URL         string   `json:"url,omitzero"`
}

// Templating holds the dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is one of a dashboard's template variables: a data source, a
// custom (fixed) value or a query of label values.
type Variable struct {
	AllValue   string           `json:"allValue,omitzero"`
	Current    VariableOption   `json:"current"`
	Datasource *DataSource      `json:"datasource,omitzero"`
	Definition string           `json:"definition,omitzero"`
	Hide       int              `json:"hide"`
	IncludeAll bool             `json:"includeAll"`
	Label      string           `json:"label"`
	Multi      bool             `json:"multi"`
	Name       string           `json:"name"`
	Options    []VariableOption `json:"options"`
	// Query is a string for the variables the suite writes; Grafana
	// also stores some as objects.
	Query       any     `json:"query"`
	Refresh     int     `json:"refresh,omitzero"`
	Regex       *string `json:"regex,omitzero"`
	SkipURLSync *bool   `json:"skipUrlSync,omitzero"`
	Sort        int     `json:"sort,omitzero"`
	Type        string  `json:"type"`
}

// VariableOption is a variable's current value or one of its options:
// Text and Value are a string, or a list of them for a multi-value
// variable.
type VariableOption struct {
	Selected bool `json:"selected,omitzero"`
	Text     any  `json:"text,omitzero"`
	Value    any  `json:"value,omitzero"`
}

// TimeRange is the dashboard's default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Panel is a panel, or a row (Type "row") with Collapsed and, when
// collapsed, its panels.
type Panel struct {
	Collapsed       *bool            `json:"collapsed,omitzero"`
	Datasource      *DataSource      `json:"datasource,omitzero"`
	Description     string           `json:"description,omitzero"`
	FieldConfig     *FieldConfig     `json:"fieldConfig,omitzero"`
	GridPos         GridPos          `json:"gridPos"`
	ID              int              `json:"id"`
	Links           []Link           `json:"links,omitzero"`
	Options         *PanelOptions    `json:"options,omitzero"`
	Panels          []Panel          `json:"panels,omitzero"` // a row's panels
	Targets         []Target         `json:"targets,omitzero"`
	Title           string           `json:"title"`
	Transformations []Transformation `json:"transformations,omitzero"`
	Type            string           `json:"type"`
}

// GridPos is a panel's place on Grafana's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// FieldConfig is how a panel draws its values.
type FieldConfig struct {
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []Override    `json:"overrides"`
}

// FieldDefaults applies to every field of a panel.
type FieldDefaults struct {
	Color      ColorMode    `json:"color"`
	Custom     *FieldCustom `json:"custom,omitzero"`
	Mappings   []Mapping    `json:"mappings,omitzero"`
	Min        *float64     `json:"min,omitzero"`
	NoValue    string       `json:"noValue"`
	Thresholds Thresholds   `json:"thresholds"`
	Unit       string       `json:"unit"`
}

// ColorMode is how values are coloured: "palette-classic" or
// "thresholds".
type ColorMode struct {
	Mode string `json:"mode"`
}

// FieldCustom holds the options of one panel type: a table's (Align,
// CellOptions) or a time series' (the rest).
type FieldCustom struct {
	Align       string       `json:"align,omitzero"`
	CellOptions *CellOptions `json:"cellOptions,omitzero"`
	AxisLabel   *string      `json:"axisLabel,omitzero"`
	AxisSoftMin *float64     `json:"axisSoftMin,omitzero"`
	// AxisSoftMax keeps the highest threshold in view.
	AxisSoftMax     *float64   `json:"axisSoftMax,omitzero"`
	DrawStyle       string     `json:"drawStyle,omitzero"`
	FillOpacity     int        `json:"fillOpacity,omitzero"`
	LineWidth       int        `json:"lineWidth,omitzero"`
	ShowPoints      string     `json:"showPoints,omitzero"`
	SpanNulls       *bool      `json:"spanNulls,omitzero"`
	ThresholdsStyle *ColorMode `json:"thresholdsStyle,omitzero"`
}

// CellOptions is how a table draws its cells.
type CellOptions struct {
	Type string `json:"type"`
}

// Mapping turns values into text: Options maps a value to its text.
type Mapping struct {
	Options map[string]MappingResult `json:"options"`
	Type    string                   `json:"type"`
}

// MappingResult is the text a mapped value is shown as.
type MappingResult struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// Step is a threshold: from Value up, Color; the base step's Value is
// null.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// Thresholds colour a panel by value.
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Override changes the fields a matcher selects.
type Override struct {
	Matcher    Matcher    `json:"matcher"`
	Properties []Property `json:"properties"`
}

// Matcher selects fields, e.g. by name.
type Matcher struct {
	ID      string `json:"id"`
	Options string `json:"options"`
}

// Property is one overridden field option; Value's shape depends on ID
// ([]Link for "links").
type Property struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// Link is a panel link, or a field's data link.
type Link struct {
	TargetBlank bool   `json:"targetBlank"`
	Title       string `json:"title"`
	URL         string `json:"url"`
}

// PanelOptions holds the options of one panel type: a table's, a stat's
// or a time series'.
type PanelOptions struct {
	CellHeight    string         `json:"cellHeight,omitzero"`
	ColorMode     string         `json:"colorMode,omitzero"`
	Footer        *TableFooter   `json:"footer,omitzero"`
	GraphMode     string         `json:"graphMode,omitzero"`
	JustifyMode   string         `json:"justifyMode,omitzero"`
	Legend        *Legend        `json:"legend,omitzero"`
	Orientation   string         `json:"orientation,omitzero"`
	ReduceOptions *ReduceOptions `json:"reduceOptions,omitzero"`
	ShowHeader    bool           `json:"showHeader,omitzero"`
	TextMode      string         `json:"textMode,omitzero"`
	Tooltip       *Tooltip       `json:"tooltip,omitzero"`
}

// TableFooter is a table's footer.
type TableFooter struct {
	CountRows bool     `json:"countRows"`
	Reducer   []string `json:"reducer"`
	Show      bool     `json:"show"`
}

// Legend is a time series' legend.
type Legend struct {
	Calcs       []string `json:"calcs"`
	DisplayMode string   `json:"displayMode"`
	Placement   string   `json:"placement"`
	ShowLegend  bool     `json:"showLegend"`
}

// ReduceOptions is how a stat reduces a series to one value.
type ReduceOptions struct {
	Calcs  []string `json:"calcs"`
	Fields string   `json:"fields"`
	Values bool     `json:"values"`
}

// Tooltip is a time series' tooltip.
type Tooltip struct {
	Mode string `json:"mode"`
	Sort string `json:"sort"`
}

// Target is one query of a panel.
type Target struct {
	Datasource   DataSource `json:"datasource"`
	EditorMode   string     `json:"editorMode"`
	Expr         string     `json:"expr"`
	Format       string     `json:"format,omitzero"`
	Instant      bool       `json:"instant"`
	LegendFormat string     `json:"legendFormat"`
	Range        bool       `json:"range"`
	RefID        string     `json:"refId"`
}

// Transformation changes a panel's data before it is drawn; the
// dashboards use "organize" (a table's columns).
type Transformation struct {
	ID      string          `json:"id"`
	Options OrganizeOptions `json:"options"`
}

// OrganizeOptions hides and orders a table's columns.
type OrganizeOptions struct {
	ExcludeByName map[string]bool `json:"excludeByName,omitzero"`
	IndexByName   map[string]int  `json:"indexByName,omitzero"`
}

// Marshal returns the dashboard's JSON as Grafana's exports write it:
// indented by two spaces, "&", "<" and ">" unescaped, a final newline.
func (d Dashboard) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads one dashboard's JSON; file names it.
func Parse(file string, b []byte) (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s is not a valid dashboard: %w", file, err)
	}
	d.File = file
	return d, nil
}

// Variable returns the dashboard's variable of that name.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// AllPanels returns every panel that is not a row, rows' own panels
// included.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
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

// Runbooks returns the alert names of the panel's links to runbooks: the
// links under base ("…/docs/runbooks/"), each "<alert>.md".
func (p Panel) Runbooks(base string) []string {
	var out []string
	for _, l := range p.Links {
		if a, ok := strings.CutPrefix(l.URL, base); ok {
			out = append(out, strings.TrimSuffix(a, ".md"))
		}
	}
	return out
}
