package vmrules_test

import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "os/exec"
import "path/filepath"
import "slices"
import "sort"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/prometheus/common/model"
import "github.com/prometheus/prometheus/promql/parser"
import "gopkg.in/yaml.v3"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/vmtest"
import "github.com/cabalmail/mailtier/rules/rulefiles"

// TestRuleFilesLoadInVmalert loads every rule file in `vmalert -dryRun`,
// which parses each expression as MetricsQL and each annotation as a
// vmalert template; and checks that the check refuses a broken file, so
// that its success means something.
func TestRuleFilesLoadInVmalert(t *testing.T) {
	vmalert := testenv.Binary(t, "vmalert", "victoria-metrics")
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "rules", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no rule files in rules/")
	}
	for _, f := range files {
		if out, err := exec.Command(vmalert, "-dryRun", "-loggerLevel=ERROR", "-rule="+f).CombinedOutput(); err != nil {
			t.Errorf("vmalert -dryRun -rule=rules/%s: %v\n%s", filepath.Base(f), err, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.alerts.yml")
	testenv.WriteFile(t, bad, "groups:\n  - name: bad\n    rules:\n      - alert: Bad\n        expr: up > 0\n        annotations:\n          summary: '{{ $value | noSuchFunction }}'\n")
	out, err := exec.Command(vmalert, "-dryRun", "-loggerLevel=ERROR", "-rule="+bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `function "noSuchFunction" not defined`) {
		t.Errorf("vmalert -dryRun accepted an annotation with an unknown function: %v\n%s", err, out)
	}
}

// TestPromtoolScenariosOnVictoriaMetrics replays every scenario of
// rules/tests/*_test.yml on VictoriaMetrics and vmalert:
//
//  1. each scenario's input series, expanded by Prometheus' parser, are
//     written to one VictoriaMetrics by remote write (staleness markers
//     included), each scenario in a time slot of its own;
//  2. per test file, vmalert's replay mode evaluates the file's recording
//     rules (in the order their dependencies need, one vmalert run per
//     level) and then its alerting rules over the slots, at the file's
//     evaluation interval, writing the records and ALERTS back;
//  3. at every eval_time of every alert_rule_test, the firing ALERTS series
//     with exactly that timestamp must be exactly the expected alerts
//     (alertname and labels), none more;
//  4. every promql_expr_test expression, run on VictoriaMetrics at its
//     eval_time, must give exactly promtool's series and values;
//  5. where alerts are expected, vmalert evaluates the alerting rules live
//     with its queries pinned to that eval_time, and every expected alert
//     must carry exactly the expected annotations as vmalert's templates
//     render them.
//
// Where MetricsQL's semantics make a case differ, differences_test.go
// says how and why, and the case must show exactly that difference.
func TestPromtoolScenariosOnVictoriaMetrics(t *testing.T) {
	vmalert := testenv.Binary(t, "vmalert", "victoria-metrics")
	vm := vmtest.Start(t, "-search.disableCache", "-search.maxPointsPerTimeseries=100000")
	started := time.Now()

	tests := loadTests(t)
	scenarios, err := layout(tests, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var written int
	for _, s := range scenarios {
		series, _, err := s.samples()
		if err != nil {
			t.Fatal(err)
		}
		if err := remoteWrite(vm.URL+"/api/v1/write", series); err != nil {
			t.Fatalf("%s %q: %v", s.Test.Name, s.Group.Name, err)
		}
		for _, ts := range series {
			written += len(ts.Samples)
		}
	}
	vm.Flush(t)
	t.Logf("%d scenarios of %d test files, %d samples, written in %v", len(scenarios), len(tests), written, time.Since(started).Round(time.Millisecond))

	byFile := map[*loadedTest][]scenario{}
	for _, s := range scenarios {
		byFile[s.Test] = append(byFile[s.Test], s)
	}
	// Pins every query of a live vmalert to the time in its URL path.
	pin := pinnedDatasource(t, vm.URL)
	notifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(notifier.Close)

	for _, lt := range tests {
		t.Run(strings.TrimSuffix(lt.Name, "_test.yml"), func(t *testing.T) {
			t.Parallel()
			ss := byFile[lt]
			alertFiles := replayFile(t, vmalert, vm, lt, ss)
			checkAlerts(t, vm, ss)
			checkExprs(t, vm, ss)
			checkAnnotations(t, vmalert, pin, notifier.URL, alertFiles, ss)
		})
	}
	t.Cleanup(func() { t.Logf("replay and checks took %v", time.Since(started).Round(time.Millisecond)) })
}

// replayFile runs vmalert's replay mode over the scenarios of one test
// file: the recording rules level by level (a rule that reads another
// record runs after it, and after the server has made it searchable),
// then the alerting rules. It returns the files of alerting rules.
func replayFile(t *testing.T, vmalert string, vm *vmtest.Server, lt *loadedTest, ss []scenario) []string {
	t.Helper()
	from, to := ss[0].Start, ss[0].End
	for _, s := range ss {
		to = maxTime(to, s.End)
	}
	dir := t.TempDir()
	levels, alertFiles := ruleLevels(t, lt)
	for i, level := range levels {
		path := filepath.Join(dir, fmt.Sprintf("records-%d.yml", i))
		data, err := yaml.Marshal(rulefiles.File{Groups: level})
		if err != nil {
			t.Fatal(err)
		}
		testenv.WriteFile(t, path, string(data))
		replay(t, vmalert, vm, lt, path, from, to)
	}
	for _, f := range alertFiles {
		replay(t, vmalert, vm, lt, f, from, to)
	}
	return alertFiles
}

// ruleLevels splits a test file's recording rules by dependency depth (a
// record that reads no other record of the test's files is level 0), each
// level keeping its rules' groups, and returns the alerting rule files.
func ruleLevels(t *testing.T, lt *loadedTest) ([][]rulefiles.Group, []string) {
	t.Helper()
	type record struct {
		group string
		rule  rulefiles.Rule
		reads []string
	}
	records := map[string]*record{}
	var order []string
	var alertFiles []string
	for _, f := range lt.RuleFiles {
		var rf rulefiles.File
		if err := rulefiles.DecodeStrict(f, &rf); err != nil {
			t.Fatal(err)
		}
		hasAlerts := false
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				name := r.Record
				if name == "" {
					hasAlerts = true
					continue
				}
				expr, err := seriesParser.ParseExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s: %s: %v", f, name, err)
				}
				rec := &record{group: g.Name, rule: r}
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						rec.reads = append(rec.reads, vs.Name)
					}
					return nil
				})
				records[name] = rec
				order = append(order, name)
			}
		}
		if hasAlerts {
			alertFiles = append(alertFiles, f)
		}
	}
	depth := map[string]int{}
	var level func(name string, seen map[string]bool) int
	level = func(name string, seen map[string]bool) int {
		if d, ok := depth[name]; ok {
			return d
		}
		if seen[name] {
			t.Fatalf("%s: recording rule %s depends on itself", lt.Name, name)
		}
		seen[name] = true
		d := 0
		for _, read := range records[name].reads {
			if _, ok := records[read]; ok {
				d = max(d, level(read, seen)+1)
			}
		}
		depth[name] = d
		return d
	}
	var levels [][]rulefiles.Group
	for _, name := range order {
		d := level(name, map[string]bool{})
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		rec := records[name]
		gs := levels[d]
		if len(gs) == 0 || gs[len(gs)-1].Name != rec.group {
			gs = append(gs, rulefiles.Group{Name: rec.group})
		}
		gs[len(gs)-1].Rules = append(gs[len(gs)-1].Rules, rec.rule)
		levels[d] = gs
	}
	return levels, alertFiles
}

// replay runs one vmalert replay of a rule file over [from, to] and makes
// what it wrote searchable.
func replay(t *testing.T, vmalert string, vm *vmtest.Server, lt *loadedTest, ruleFile string, from, to time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	points := int(to.Sub(from)/lt.Interval) + 1
	cmd := exec.CommandContext(ctx, vmalert,
		"-rule="+ruleFile,
		"-datasource.url="+vm.URL,
		"-remoteWrite.url="+vm.URL,
		"-replay.timeFrom="+from.UTC().Format(time.RFC3339),
		"-replay.timeTo="+to.UTC().Format(time.RFC3339),
		"-replay.rulesDelay=0",
		"-replay.disableProgressBar",
		"-replay.maxDatapointsPerQuery="+strconv.Itoa(min(points, 100000)),
		"-evaluationInterval="+lt.Interval.String(),
		// The step of the replay's range queries: one point per evaluation,
		// as Prometheus evaluates (the default step is 5m).
		"-datasource.queryStep="+lt.Interval.String(),
		"-disableAlertgroupLabel",
		"-httpListenAddr="+testenv.FreeAddr(t),
		"-loggerLevel=WARN",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vmalert replay of %s: %v\n%s", filepath.Base(ruleFile), err, out)
	}
	// A rule whose queries keep failing is given up on, logged, and the
	// replay still exits 0.
	if strings.Contains(string(out), "\terror\t") || strings.Contains(string(out), "\twarn\t") {
		t.Errorf("vmalert replay of %s logged problems:\n%s", filepath.Base(ruleFile), out)
	}
	vm.Flush(t)
}

// checkAlerts compares, at every eval_time, the firing ALERTS series vmalert
// wrote with exactly that timestamp to promtool's expected alerts.
func checkAlerts(t *testing.T, vm *vmtest.Server, ss []scenario) {
	t.Helper()
	table := newCaseTable("knownDifferences", "alert_rule_test", knownDifferences)
	for _, s := range ss {
		for _, at := range s.Group.AlertRuleTests {
			d, documented := table.lookup(s, at.EvalTime, at.Alertname)
			when := s.Start.Add(time.Duration(at.EvalTime))
			series, err := vm.Export(t, fmt.Sprintf(`ALERTS{alertname=%q, alertstate="firing"}`, at.Alertname), when, when)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sr := range series {
				ls := map[string]string{}
				for k, v := range sr.Labels {
					if k != "__name__" && k != "alertstate" {
						ls[k] = v
					}
				}
				for _, ts := range sr.Timestamps {
					if ts != when.UnixMilli() {
						t.Fatalf("export at %v returned a sample at %v", when, time.UnixMilli(ts))
					}
					got = append(got, vmtest.LabelString(ls))
				}
			}
			var want []string
			for _, ea := range at.ExpAlerts {
				ls := map[string]string{"alertname": at.Alertname}
				for k, v := range ea.ExpLabels {
					ls[k] = v
				}
				want = append(want, vmtest.LabelString(ls))
			}
			what := s.where(time.Duration(at.EvalTime)) + ": " + at.Alertname + " firing"
			if !compareCase(t, what, got, want, d, documented) {
				t.Logf("%s: %s up to then:\n\t%s", s.where(time.Duration(at.EvalTime)), at.Alertname, alertHistory(t, vm, at.Alertname, s.Start, when))
			}
		}
	}
	table.finish(t, ss[0].Test.Name)
}

// checkExprs runs every promql_expr_test expression on VictoriaMetrics at
// its eval_time, over the records vmalert wrote, and compares the result
// with promtool's expected samples: labels and values, exactly.
func checkExprs(t *testing.T, vm *vmtest.Server, ss []scenario) {
	t.Helper()
	table := newCaseTable("exprDifferences", "promql_expr_test", exprDifferences)
	for _, s := range ss {
		for _, et := range s.Group.PromQLExprTests {
			where := s.where(time.Duration(et.EvalTime))
			samples, err := vm.Query(et.Expr, s.Start.Add(time.Duration(et.EvalTime)))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var got, want []string
			for _, smp := range samples {
				got = append(got, fmt.Sprintf("%s %v", vmtest.LabelString(smp.Labels), smp.Value))
			}
			for _, es := range et.ExpSamples {
				lbls, err := seriesParser.ParseMetric(es.Labels)
				if err != nil {
					t.Fatalf("%s: %q: %v", where, es.Labels, err)
				}
				want = append(want, fmt.Sprintf("%s %v", vmtest.LabelString(lbls.Map()), es.Value))
			}
			vmWant, documented := table.lookup(s, et.EvalTime, et.Expr)
			compareCase(t, where+": "+et.Expr, got, want, difference{storedRounding, vmWant}, documented)
		}
	}
	table.finish(t, ss[0].Test.Name)
}

// compareCase compares what VictoriaMetrics gave for a case (got) with
// what promtool expects (want), both lists sorted here, reporting any
// departure and whether there was none. A documented difference must show
// exactly as documented: VictoriaMetrics gives what it says, and promtool
// expects something else.
func compareCase(t *testing.T, what string, got, want []string, d difference, documented bool) bool {
	t.Helper()
	sort.Strings(got)
	sort.Strings(want)
	if documented {
		vmWant := slices.Sorted(slices.Values(d.VictoriaMetrics))
		if strings.Join(got, "\n") != strings.Join(vmWant, "\n") || strings.Join(want, "\n") == strings.Join(vmWant, "\n") {
			t.Errorf("%s: the documented difference (%s) does not show: VictoriaMetrics gives\n\t%s\ndocumented:\n\t%s\npromtool expects:\n\t%s",
				what, d.Why, orNone(got), orNone(vmWant), orNone(want))
			return false
		}
		return true
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s on VictoriaMetrics:\n\t%s\nwant (promtool):\n\t%s", what, orNone(got), orNone(want))
		return false
	}
	return true
}

// alertHistory describes the ALERTS series of an alert in [from, to]: each
// state and the evaluation times (since from) it was written at.
func alertHistory(t *testing.T, vm *vmtest.Server, alertname string, from, to time.Time) string {
	series, err := vm.Export(t, fmt.Sprintf(`ALERTS{alertname=%q}`, alertname), from, to)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, sr := range series {
		var at []string
		for _, ts := range sr.Timestamps {
			at = append(at, model.Duration(time.UnixMilli(ts).Sub(from)).String())
		}
		lines = append(lines, vmtest.LabelString(sr.Labels)+" at "+strings.Join(at, " "))
	}
	return orNone(lines)
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "(none)"
	}
	return strings.Join(list, "\n\t")
}

// pinned is a datasource for live vmalerts that answers every instant
// query as VictoriaMetrics answers it at the time in the request's path:
// http://PROXY/at/UNIXSECONDS is the -datasource.url of a vmalert that
// evaluates its rules at UNIXSECONDS. Everything else of the request (the
// step vmalert asks for among it) is passed on unchanged.
type pinned struct {
	URL string
	mu  sync.Mutex
	// answered counts the queries answered per pinned time.
	answered map[string]int
}

func pinnedDatasource(t *testing.T, vmURL string) *pinned {
	t.Helper()
	p := &pinned{answered: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/at/")
		if !ok {
			http.Error(w, "no /at/ prefix", http.StatusNotFound)
			return
		}
		at, path, ok := strings.Cut(rest, "/")
		if !ok {
			http.Error(w, "no path after the time", http.StatusNotFound)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := r.Form
		form.Set("time", at)
		resp, err := http.PostForm(vmURL+"/"+path, form)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		p.mu.Lock()
		p.answered[at]++
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *pinned) count(at string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered[at]
}

// liveAlert is an alert in vmalert's /api/v1/alerts.
type liveAlert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// checkAnnotations runs, for every eval_time of the file where alerts are
// expected, a live vmalert pinned to that time, and compares the
// annotations of each expected alert.
func checkAnnotations(t *testing.T, vmalert string, pin *pinned, notifierURL string, alertFiles []string, ss []scenario) {
	t.Helper()
	alertRules := 0
	for _, f := range alertFiles {
		var rf rulefiles.File
		if err := rulefiles.DecodeStrict(f, &rf); err != nil {
			t.Fatal(err)
		}
		for _, g := range rf.Groups {
			alertRules += len(g.Rules)
		}
	}
	type evalPoint struct {
		scenario int // index in ss
		at       time.Duration
	}
	var points []evalPoint
	expected := map[evalPoint][]rulefiles.AlertRuleTest{}
	for i, s := range ss {
		for _, at := range s.Group.AlertRuleTests {
			if len(at.ExpAlerts) == 0 {
				continue
			}
			p := evalPoint{i, time.Duration(at.EvalTime)}
			if _, ok := expected[p]; !ok {
				points = append(points, p)
			}
			expected[p] = append(expected[p], at)
		}
	}
	checked := 0
	for _, p := range points {
		s := ss[p.scenario]
		when := s.Start.Add(p.at)
		atParam := strconv.FormatInt(when.Unix(), 10)
		addr := testenv.FreeAddr(t)
		args := []string{
			"-datasource.url=" + pin.URL + "/at/" + atParam,
			"-notifier.url=" + notifierURL,
			"-httpListenAddr=" + addr,
			"-evaluationInterval=1s",
			"-disableAlertgroupLabel",
			"-loggerLevel=WARN",
		}
		for _, f := range alertFiles {
			args = append(args, "-rule="+f)
		}
		proc := testenv.Start(t, "vmalert at "+s.where(p.at), vmalert, args...)
		want := 0
		for _, at := range expected[p] {
			want += len(at.ExpAlerts)
		}
		// Done when the expected alerts are listed, or else when the first
		// evaluation is complete: vmalert evaluates a group's rules one after
		// the other, so a query more than the rules means a second round.
		var alerts []liveAlert
		testenv.WaitUntil(t, fmt.Sprintf("%s: vmalert evaluates the alerting rules", s.where(p.at)), 30*time.Second, func() bool {
			if done, err := proc.Exited(); done {
				t.Fatalf("vmalert exited: %v\n%s", err, proc.Output())
			}
			complete := pin.count(atParam) > alertRules
			alerts = liveAlerts("http://" + addr)
			return len(findExpected(expected[p], alerts)) == want || complete
		})
		proc.Stop()
		found := findExpected(expected[p], alerts)
		for _, at := range expected[p] {
			for _, ea := range at.ExpAlerts {
				key := expectedKey(at.Alertname, ea)
				a, ok := found[key]
				if !ok {
					t.Errorf("%s: vmalert evaluating live has no alert %s", s.where(p.at), key)
					continue
				}
				for _, k := range sortedKeys(ea.ExpAnnotations, a.Annotations) {
					if g, w := a.Annotations[k], ea.ExpAnnotations[k]; g != w {
						t.Errorf("%s: %s annotation %s on vmalert:\n\t%q\nwant (promtool):\n\t%q", s.where(p.at), key, k, g, w)
					}
				}
				checked++
			}
		}
	}
	t.Logf("annotations of %d expected alerts checked", checked)
}

// expectedKey is an expected alert's labels, alertname among them.
func expectedKey(alertname string, ea rulefiles.ExpAlert) string {
	ls := map[string]string{"alertname": alertname}
	for k, v := range ea.ExpLabels {
		ls[k] = v
	}
	return vmtest.LabelString(ls)
}

// findExpected returns the live alerts that are expected, by their labels.
func findExpected(tests []rulefiles.AlertRuleTest, alerts []liveAlert) map[string]liveAlert {
	out := map[string]liveAlert{}
	for _, at := range tests {
		for _, ea := range at.ExpAlerts {
			key := expectedKey(at.Alertname, ea)
			for _, a := range alerts {
				if a.Name == at.Alertname && vmtest.LabelString(a.Labels) == key {
					out[key] = a
				}
			}
		}
	}
	return out
}

func liveAlerts(base string) []liveAlert {
	resp, err := http.Get(base + "/api/v1/alerts")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []liveAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil
	}
	return body.Data.Alerts
}

func sortedKeys(maps ...map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
