package dashboards_test

import "net/http"
import "net/http/httptest"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/vmtest"

// TestPanelsReturnDataFromReplayOnVictoriaMetrics is
// TestPanelsReturnDataFromReplay with VictoriaMetrics in Prometheus' place,
// as docs/operations.md describes the switch: Debian's vmagent scrapes the
// same three exporters every second with the same scrape job and writes to
// a single-node VictoriaMetrics, vmalert evaluates the rules of rules/
// against it and writes records and ALERTS back, and every query of every
// dashboard runs through VictoriaMetrics' Prometheus API. The same panels
// must return data, the same live-only panels must stay empty, and
// checkpanels must report the same.
func TestPanelsReturnDataFromReplayOnVictoriaMetrics(t *testing.T) {
	vmagent := testenv.Binary(t, "vmagent", "victoria-metrics")
	vmalert := testenv.Binary(t, "vmalert", "victoria-metrics")
	replayPanels(t, func(t *testing.T, dir string, targets, ruleGlobs []string) (string, bool) {
		vm := vmtest.Start(t, "-search.disableCache")
		// The replay's waits are sized for Prometheus, where a scraped
		// series is searchable at once.
		vm.FlushEvery(t, 500*time.Millisecond)

		scrape := filepath.Join(dir, "scrape.yml")
		testenv.WriteFile(t, scrape, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: mailtier\n    static_configs:\n"+strings.Join(targets, ""))
		if out, err := exec.Command(vmagent, "-promscrape.config="+scrape, "-promscrape.config.dryRun", "-loggerLevel=ERROR").CombinedOutput(); err != nil {
			t.Fatalf("vmagent -promscrape.config.dryRun: %v\n%s", err, out)
		}
		testenv.Start(t, "vmagent", vmagent,
			"-promscrape.config="+scrape,
			"-remoteWrite.url="+vm.URL+"/api/v1/write",
			"-remoteWrite.tmpDataPath="+filepath.Join(dir, "vmagent"),
			"-httpListenAddr="+testenv.FreeAddr(t),
			"-loggerLevel=WARN",
		)

		var ruleArgs []string
		for _, g := range ruleGlobs {
			ruleArgs = append(ruleArgs, "-rule="+g)
		}
		if out, err := exec.Command(vmalert, append([]string{"-dryRun", "-loggerLevel=ERROR"}, ruleArgs...)...).CombinedOutput(); err != nil {
			t.Errorf("vmalert -dryRun rejects rules/, so they are not loaded and the alert panels stay empty: %v\n%s", err, out)
			return vm.URL, false
		}
		// Alertmanager is not part of the replay: the alerts' state is what
		// the panels read, from the ALERTS series vmalert writes.
		notifier := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(notifier.Close)
		testenv.Start(t, "vmalert", vmalert, append(ruleArgs,
			"-datasource.url="+vm.URL,
			"-remoteWrite.url="+vm.URL,
			"-remoteWrite.flushInterval=1s",
			"-notifier.url="+notifier.URL,
			"-evaluationInterval=1s",
			"-httpListenAddr="+testenv.FreeAddr(t),
			"-loggerLevel=WARN",
		)...)
		return vm.URL, true
	})
}
