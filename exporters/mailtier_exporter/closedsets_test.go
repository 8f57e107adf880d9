package main

import (
	"strconv"

	"github.com/cabalmail/mailtier/collectors/dovecot"
	"github.com/cabalmail/mailtier/collectors/fail2ban"
	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/collectors/opendmarc"
	"github.com/cabalmail/mailtier/collectors/registry"
	"github.com/cabalmail/mailtier/collectors/sendmail"
	"github.com/cabalmail/mailtier/internal/pipeline"
)

// closedSets lists, per collector, every value each label may take. The
// hostile-input test fails on a series whose label value is not here.
// A new collector adds its sets as one more entry.
var closedSets = []map[string][]string{
	{
		"collector": registryNames(),
		"reason":    {pipeline.SkipUnparsed, pipeline.SkipUnclaimed, pipeline.SkipTooLong},
		"result":    {"matched", "unmatched"},
	},
	{
		"daemon":      sendmail.Daemons,
		"mailer":      sendmail.Mailers,
		"status":      sendmail.Statuses,
		"stage":       sendmail.Stages,
		"reason":      append(append([]string{}, sendmail.Reasons...), sendmail.DeferReasons...),
		"role":        {sendmail.RoleServer, sendmail.RoleClient},
		"disposition": sendmail.Dispositions,
		"result":      {sendmail.ResultOK, sendmail.ResultErr, sendmail.ResultFail},
		"le":          buckets(sendmail.DelayBuckets),
	},
	{
		"service":   dovecot.Services,
		"reason":    append(append([]string{}, dovecot.LoginFailReasons...), dovecot.AuthFailReasons...),
		"known_bot": dovecot.KnownBotValues,
		"agent":     dovecot.Agents,
		"result":    append(append([]string{}, dovecot.DeliveryResults...), dovecot.RelayResults...),
		"le":        buckets(dovecot.DurationBuckets),
	},
	{
		"service": dovecot.Services, // anvil
	},
	{
		"jail": append(append([]string{}, fail2ban.DefaultJails...), fail2ban.Other),
	},
	{
		"reason": append(append([]string{}, opendkim.SignFailureReasons...), opendkim.NotSignedReasons...),
		"result": opendkim.Results,
		"le":     buckets(opendkim.ProbeBuckets),
	},
	{
		"result": append(append([]string{}, opendmarc.Results...), opendmarc.SPFResults...),
		"origin": opendmarc.Origins,
		"reason": append(append([]string{}, opendmarc.NotEvaluatedReason...), opendmarc.ErrorReasons...),
	},
	{}, // process: no labels (a group's name is its metrics' prefix)
}

func registryNames() []string {
	var names []string
	for _, r := range registry.All {
		names = append(names, r.Name)
	}
	return names
}

// buckets are a histogram's le label values, as the text format writes them.
func buckets(bs []float64) []string {
	out := []string{"+Inf"}
	for _, b := range bs {
		out = append(out, strconv.FormatFloat(b, 'g', -1, 64))
	}
	return out
}
