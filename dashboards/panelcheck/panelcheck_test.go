package panelcheck

import "context"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/dashboards"

const sample = `{
  "uid": "u", "title": "T",
  "annotations": {"list": [
    {"builtIn": 1, "name": "Annotations & Alerts"},
    {"name": "Firing alerts", "expr": "ALERTS{tier=~\"$tier\"}"}
  ]},
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus", "current": {}},
    {"name": "tier", "type": "custom", "query": "imap", "current": {"value": "imap"}},
    {"name": "instance", "type": "query", "includeAll": true, "allValue": ".+", "current": {"value": ["$__all"]}}
  ]},
  "panels": [
    {"type": "row", "title": "R", "panels": [
      {"type": "timeseries", "title": "Inner", "targets": [{"refId": "A", "expr": "rate(x_total{tier=~\"${tier}\", instance=~\"$instance\"}[$__rate_interval])"}]}
    ]},
    {"type": "stat", "title": "Outer", "targets": [{"refId": "A", "expr": "up{tier=~\"$tier\"}"}, {"refId": "B", "expr": "y{a=\"$missing\"}"}]}
  ]
}`

func TestParseAndExpand(t *testing.T) {
	qs, err := Parse("t.json", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Key()+" "+q.RefID)
	}
	want := []string{"u/annotation: Firing alerts ", "u/Inner A", "u/Outer A", "u/Outer B"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("queries %q, want %q", got, want)
	}
	if !qs[0].Annotation || qs[1].Annotation {
		t.Errorf("annotation flags wrong: %+v", qs[:2])
	}
	e, err := qs[1].Expand(map[string]string{"__rate_interval": "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `rate(x_total{tier=~"imap", instance=~".+"}[1m])`; e != want {
		t.Errorf("Expand = %s, want %s", e, want)
	}
	e, err = qs[1].Expand(map[string]string{"__rate_interval": "2m", "tier": "smtp-in", "instance": ".*"})
	if err != nil || e != `rate(x_total{tier=~"smtp-in", instance=~".*"}[2m])` {
		t.Errorf("Expand with overrides = %s, %v", e, err)
	}
	if _, err := qs[3].Expand(nil); err == nil || !strings.Contains(err.Error(), "$missing") {
		t.Errorf("Expand of an unknown variable: %v, want an error naming $missing", err)
	}
}

func TestParseResponse(t *testing.T) {
	for _, c := range []struct {
		name, body     string
		series, finite int
		zero, err      bool
	}{
		{"vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]},{"metric":{},"value":[1,"NaN"]}]}}`, 2, 1, false, false},
		{"only NaN", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, 1, 0, false, false},
		{"empty", `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, 0, false, false},
		{"zero", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]}}`, 1, 1, true, false},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}`, 1, 0, false, false},
		{"matrix", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"],[2,"3"]]}]}}`, 1, 1, false, false},
		{"error", `{"status":"error","errorType":"bad_data","error":"parse error"}`, 0, 0, false, true},
		{"garbage", `<html>`, 0, 0, false, true},
	} {
		s, f, _, z, err := parseResponse([]byte(c.body))
		if s != c.series || f != c.finite || z != c.zero || (err != nil) != c.err {
			t.Errorf("%s: got %d series, %d finite, zero %v, err %v", c.name, s, f, z, err)
		}
	}
}

func TestRun(t *testing.T) {
	var forms []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		forms = append(forms, r.URL.Path+"?"+r.Form.Encode())
		switch {
		case strings.HasPrefix(r.Form.Get("query"), "up"):
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`))
		default:
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
		}
	}))
	defer srv.Close()
	qs, err := Parse("t.json", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	c := Client{URL: srv.URL, Time: time.Unix(1000, 0)}
	rs := c.Run(context.Background(), qs, map[string]string{"__rate_interval": "1m"})
	var lines []string
	for _, r := range rs {
		lines = append(lines, r.Line())
	}
	want := []string{
		`PASS u "annotation: Firing alerts": accepted, nothing to annotate now`,
		`FAIL u "Inner" A: no data`,
		`PASS u "Outer" A: 1 series, max 1`,
		`FAIL u "Outer" B: no value for $missing`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	var panels []string
	for _, p := range ByPanel(rs) {
		panels = append(panels, p.Line())
	}
	wantPanels := []string{
		`PASS u "annotation: Firing alerts": accepted, nothing to annotate now`,
		`FAIL u "Inner": A no data`,
		`FAIL u "Outer": A 1 series, max 1; B no value for $missing`,
	}
	if strings.Join(panels, "\n") != strings.Join(wantPanels, "\n") {
		t.Errorf("panel report:\n%s\nwant:\n%s", strings.Join(panels, "\n"), strings.Join(wantPanels, "\n"))
	}
	if len(forms) != 3 || !strings.Contains(forms[0], "/api/v1/query?") || !strings.Contains(forms[0], "time=1000.000") {
		t.Errorf("requests %q: want three instant queries at time 1000", forms)
	}
	forms = nil
	c.Range, c.Step = 5*time.Minute, 15*time.Second
	c.Run(context.Background(), qs[2:3], nil)
	if len(forms) != 1 || !strings.Contains(forms[0], "/api/v1/query_range?") || !strings.Contains(forms[0], "start=700.000") || !strings.Contains(forms[0], "step=15") {
		t.Errorf("range request %q", forms)
	}
}

// TestCommittedDashboards checks that every query of the committed
// dashboards has a value for every variable once $__rate_interval is
// given, as checkpanels gives it.
func TestCommittedDashboards(t *testing.T) {
	qs, err := Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 50 {
		t.Fatalf("only %d queries in the committed dashboards", len(qs))
	}
	for _, q := range qs {
		if _, err := q.Expand(map[string]string{"__rate_interval": "1m"}); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
