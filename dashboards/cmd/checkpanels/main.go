// Command checkpanels runs every query of the mailtier dashboards against
// a Prometheus and prints one PASS or FAIL line per panel:
//
//	go run ./dashboards/cmd/checkpanels --prometheus=http://127.0.0.1:9090
//
// A panel passes when each of its queries returns at least one finite
// value (the line shows each query's outcome by refId); an annotation when
// Prometheus accepts it. The exit status is 1 when any panel fails, 2 on
// a usage error.
//
// The dashboards are the JSON files committed in dashboards/ (built into
// the command), or those of --dir. Their variables take their default
// values: $tier the tier of a tier dashboard ("All", i.e. .+, on the
// overview), $instance All (.+); --var overrides them, and sets
// $__rate_interval (default 1m). --dashboard and --panel select queries
// by uid and panel title (regular expressions).
package main

import "context"
import "flag"
import "fmt"
import "io"
import "io/fs"
import "net/http"
import "os"
import "regexp"
import "strings"
import "time"

import "github.com/cabalmail/mailtier/dashboards"
import "github.com/cabalmail/mailtier/dashboards/panelcheck"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("checkpanels", flag.ContinueOnError)
	fl.SetOutput(stderr)
	prom := fl.String("prometheus", "", "Base URL of the Prometheus to query, e.g. http://127.0.0.1:9090 (required).")
	dir := fl.String("dir", "", "Read the dashboards from this directory instead of the committed ones.")
	uid := fl.String("dashboard", "", "Only the dashboards whose uid matches this regular expression.")
	title := fl.String("panel", "", "Only the panels whose title matches this regular expression.")
	rng := fl.Duration("range", 0, "Query the last RANGE of data (as a panel does) instead of the value now.")
	timeout := fl.Duration("timeout", 10*time.Second, "Time limit of each query.")
	vars := map[string]string{"__rate_interval": "1m"}
	fl.Func("var", "NAME=VALUE: the value of a dashboard variable (repeatable), e.g. tier=smtp-out or __rate_interval=2m.", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", s)
		}
		vars[strings.TrimPrefix(name, "$")] = value
		return nil
	})
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *prom == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "checkpanels: --prometheus is required and there are no arguments")
		fl.Usage()
		return 2
	}
	uidRE, err := regexp.Compile(*uid)
	if err != nil {
		fmt.Fprintln(stderr, "checkpanels: --dashboard:", err)
		return 2
	}
	titleRE, err := regexp.Compile(*title)
	if err != nil {
		fmt.Fprintln(stderr, "checkpanels: --panel:", err)
		return 2
	}
	var fsys fs.FS = dashboards.Files
	if *dir != "" {
		fsys = os.DirFS(*dir)
	}
	all, err := panelcheck.Load(fsys)
	if err != nil {
		fmt.Fprintln(stderr, "checkpanels:", err)
		return 2
	}
	var qs []panelcheck.Query
	for _, q := range all {
		if uidRE.MatchString(q.UID) && titleRE.MatchString(q.Panel) {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		fmt.Fprintln(stderr, "checkpanels: no query matches --dashboard and --panel")
		return 2
	}
	c := panelcheck.Client{URL: *prom, HTTP: &http.Client{Timeout: *timeout}, Range: *rng}
	panels := panelcheck.ByPanel(c.Run(context.Background(), qs, vars))
	failed := 0
	for _, p := range panels {
		fmt.Fprintln(stdout, p.Line())
		if !p.OK() {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d panels (%d queries), %d failed\n", len(panels), len(qs), failed)
	if failed > 0 {
		return 1
	}
	return 0
}
