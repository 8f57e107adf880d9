// Command gendashboards renders the dashboards defined in package
// dashboards to their JSON files. `go generate ./dashboards` runs it in the
// dashboards directory; -dir writes elsewhere. JSON files in the directory
// that no dashboard renders any more are removed.
package main

import "flag"
import "fmt"
import "os"
import "path/filepath"

import "github.com/cabalmail/mailtier/dashboards"

func main() {
	dir := flag.String("dir", ".", "Directory to write the dashboard JSON files to.")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendashboards:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.Generate()
	if err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
