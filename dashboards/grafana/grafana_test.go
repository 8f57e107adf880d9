package grafana_test

import "bytes"
import "io/fs"
import "testing"

import "github.com/cabalmail/mailtier/dashboards"
import "github.com/cabalmail/mailtier/dashboards/grafana"

// TestCommittedDashboardsRoundTrip reads each committed dashboard into the
// model and writes it back: the bytes must be the file's, so no key the
// generator writes is missing from the model the checks read.
func TestCommittedDashboardsRoundTrip(t *testing.T) {
	files, err := fs.Glob(dashboards.Files, "*.json")
	if err != nil || len(files) != 4 {
		t.Fatalf("dashboards: %q, %v; want the 4 committed files", files, err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(dashboards.Files, f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := grafana.Parse(f, b)
		if err != nil {
			t.Fatal(err)
		}
		if d.File != f {
			t.Errorf("%s: File %q", f, d.File)
		}
		got, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: read and written back, it differs from the file:\n%s", f, firstDiff(got, b))
		}
	}
}

// TestGeneratorBuildsTheModel checks that what the generator builds is the
// model read back from its own output.
func TestGeneratorBuildsTheModel(t *testing.T) {
	for _, def := range dashboards.All() {
		built, err := def.Build()
		if err != nil {
			t.Fatal(err)
		}
		b, err := built.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		read, err := grafana.Parse(def.File, b)
		if err != nil {
			t.Fatal(err)
		}
		if read.File != def.File || read.UID != def.UID || read.Title != def.Title {
			t.Errorf("%s: read back as %s %q %q", def.File, read.File, read.UID, read.Title)
		}
		var wantPanels int
		for _, r := range def.Rows {
			wantPanels += len(r.Panels)
		}
		if got := len(read.AllPanels()); got != wantPanels {
			t.Errorf("%s: %d panels read back, %d defined", def.File, got, wantPanels)
		}
		if len(read.Panels) != wantPanels+len(def.Rows) {
			t.Errorf("%s: %d top-level panels, want %d panels and %d rows", def.File, len(read.Panels), wantPanels, len(def.Rows))
		}
	}
}

// TestNullID checks that the model tells a null "id", which Grafana's
// provisioning needs, from a missing one and from a number.
func TestNullID(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"id": null}`, "null"},
		{`{}`, ""},
		{`{"id": 7}`, "7"},
	} {
		d, err := grafana.Parse("t.json", []byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		if string(d.ID) != c.want {
			t.Errorf("%s: id %q, want %q", c.json, d.ID, c.want)
		}
	}
	if _, err := grafana.Parse("bad.json", []byte(`{"panels": 3}`)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad.json is not a valid dashboard")) {
		t.Errorf("a malformed dashboard: %v, want an error naming bad.json", err)
	}
}

// TestOptionalKeys checks the keys written only where they apply: a row's
// empty panel list is written, a panel's absent one is not, a base step's
// value is null, a minimum of 0 is written.
func TestOptionalKeys(t *testing.T) {
	zero := 0.0
	d := grafana.Dashboard{
		ID: []byte("null"),
		Panels: []grafana.Panel{
			{Type: "row", Title: "R", Panels: []grafana.Panel{}},
			{Type: "stat", Title: "S", Links: []grafana.Link{}, FieldConfig: &grafana.FieldConfig{
				Defaults: grafana.FieldDefaults{Min: &zero, Thresholds: grafana.Thresholds{Steps: []grafana.Step{{Color: "green"}}}},
			}},
		},
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"id": null,`,
		"\"panels\": [],\n      \"title\": \"R\"",
		`"links": [],`,
		`"min": 0,`,
		`"value": null`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("written JSON lacks %q:\n%s", want, b)
		}
	}
	if n := bytes.Count(b, []byte(`"panels"`)); n != 2 {
		t.Errorf("%d \"panels\" keys, want the dashboard's and the row's:\n%s", n, b)
	}
	if bytes.Contains(b, []byte(`"targets"`)) || bytes.Contains(b, []byte(`"collapsed"`)) {
		t.Errorf("unset keys written:\n%s", b)
	}
}

// firstDiff shows where two texts part.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return "got:  ..." + string(a[lo:min(i+80, len(a))]) + "\nwant: ..." + string(b[lo:min(i+80, len(b))])
}
