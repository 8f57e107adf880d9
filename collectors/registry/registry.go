// Package registry is the one list of the suite's collectors. Adding a
// collector means adding its package under collectors/ and one line here;
// everything else that names collectors (the exporter's flags, the
// closed-set and metric-doc tests, the dashboards' replay, Terraform's
// collector lists) is derived from this list.
package registry

import "slices"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/dovecot"
import "github.com/cabalmail/mailtier/collectors/fail2ban"
import "github.com/cabalmail/mailtier/collectors/mqueue"
import "github.com/cabalmail/mailtier/collectors/opendkim"
import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/collectors/process"
import "github.com/cabalmail/mailtier/collectors/sendmail"

// All lists every collector, in the order their flags appear in --help.
var All = List{
	sendmail.Registration,
	mqueue.Registration,
	dovecot.Registration,
	dovecot.AnvilRegistration,
	fail2ban.Registration,
	opendkim.Registration,
	opendmarc.Registration,
	process.Registration,
}

// ExporterPrefix starts the names of the exporter's own metrics (the
// pipeline's, and each collector's health metrics).
const ExporterPrefix = "mailtier_exporter_"

// List is a list of collectors; its methods derive what the rest of the
// suite needs from their Registrations.
type List []collectors.Registration

// Names returns every collector's name, in list order.
func (l List) Names() []string {
	var names []string
	for _, r := range l {
		names = append(names, r.Name)
	}
	return names
}

// OnTier returns the names of the collectors that run on a mail tier, in
// list order.
func (l List) OnTier(tier string) []string {
	var names []string
	for _, r := range l {
		if slices.Contains(r.Tiers, tier) {
			names = append(names, r.Name)
		}
	}
	return names
}

// MetricPrefixes returns every prefix the exporter's metric names start
// with: each collector's and the exporter's own.
func (l List) MetricPrefixes() []string {
	prefixes := []string{ExporterPrefix}
	for _, r := range l {
		for _, p := range r.MetricPrefixes {
			if !slices.Contains(prefixes, p) {
				prefixes = append(prefixes, p)
			}
		}
	}
	return prefixes
}
