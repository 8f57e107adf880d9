// Package dashboards holds mailtier's Grafana dashboards: one per mail tier
// (imap, smtp-in, smtp-out) and an overview of the three.
//
// The dashboards are written in Go in this package (imap.go, smtpin.go,
// smtpout.go, overview.go), built into package grafana's model of the
// dashboard JSON (model.go) and rendered to the JSON files beside them,
// which are what Grafana loads (docker/grafana provisions this directory).
// After changing a definition, regenerate the JSON:
//
//	go generate ./dashboards
//
// TestGeneratedJSONIsCurrent fails while the committed JSON differs from
// what the definitions render. The other tests read the JSON files back
// into the same model, the way Grafana does: every query must be valid
// PromQL (promtool), name only documented metrics, and return data from a
// Prometheus scraping the exporter (see docs/dashboards.md).
package dashboards

import "embed"

//go:generate go run ./cmd/gendashboards

// Files holds the rendered dashboards, one JSON file per dashboard, as
// committed. Package panelcheck runs their queries.
//
//go:embed *.json
var Files embed.FS
