// Package registry is the one list of the suite's collectors. Adding a
// collector means adding its package under collectors/ and one line here;
// everything else that names collectors (the exporter's flags, the
// closed-set and metric-doc tests, the dashboards' replay, Terraform's
// collector lists) is derived from this list.
package registry

import (
	"slices"

	"github.com/cabalmail/mailtier/collectors"
	"github.com/cabalmail/mailtier/collectors/dovecot"
	"github.com/cabalmail/mailtier/collectors/fail2ban"
	"github.com/cabalmail/mailtier/collectors/mqueue"
	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/collectors/process"
	"github.com/cabalmail/mailtier/collectors/sendmail"
)

// All lists every collector, in the order their flags appear in --help.
var All = []collectors.Registration{
	sendmail.Registration,
	mqueue.Registration,
	dovecot.Registration,
	fail2ban.Registration,
	opendkim.Registration,
	process.Registration,
}

// ExporterPrefix starts the names of the exporter's own metrics (the
// pipeline's, and each collector's health metrics).
const ExporterPrefix = "mailtier_exporter_"

// Names returns every collector's name, in registry order.
func Names() []string {
	var names []string
	for _, r := range All {
		names = append(names, r.Name)
	}
	return names
}

// OnTier returns the names of the collectors that run on a mail tier, in
// registry order.
func OnTier(tier string) []string {
	var names []string
	for _, r := range All {
		if slices.Contains(r.Tiers, tier) {
			names = append(names, r.Name)
		}
	}
	return names
}

// MetricPrefixes returns every prefix the exporter's metric names start
// with: each collector's and the exporter's own.
func MetricPrefixes() []string {
	prefixes := []string{ExporterPrefix}
	for _, r := range All {
		for _, p := range r.MetricPrefixes {
			if !slices.Contains(prefixes, p) {
				prefixes = append(prefixes, p)
			}
		}
	}
	return prefixes
}
