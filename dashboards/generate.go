package dashboards

import "fmt"
import "sort"

// All returns every dashboard, ordered by file name.
func All() []Dashboard {
	ds := []Dashboard{imap(), overview(), smtpIn(), smtpOut()}
	sort.Slice(ds, func(i, j int) bool { return ds[i].File < ds[j].File })
	return ds
}

// Generate renders every dashboard: its file name in this directory to its
// JSON.
func Generate() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range All() {
		if _, dup := out[d.File]; dup {
			return nil, fmt.Errorf("two dashboards are rendered to %s", d.File)
		}
		b, err := d.Render()
		if err != nil {
			return nil, err
		}
		out[d.File] = b
	}
	return out, nil
}
