// Package registry is the one list of the suite's collectors. Adding a
// collector means adding its package under collectors/ and one line here.
package registry

import (
	"github.com/cabalmail/mailtier/collectors"
	"github.com/cabalmail/mailtier/collectors/dovecot"
	"github.com/cabalmail/mailtier/collectors/fail2ban"
	"github.com/cabalmail/mailtier/collectors/mqueue"
	"github.com/cabalmail/mailtier/collectors/opendkim"
	"github.com/cabalmail/mailtier/collectors/opendmarc"
	"github.com/cabalmail/mailtier/collectors/process"
	"github.com/cabalmail/mailtier/collectors/sendmail"
)

// All lists every collector, in the order their flags appear in --help.
var All = []collectors.Registration{
	sendmail.Registration,
	mqueue.Registration,
	dovecot.Registration,
	dovecot.AnvilRegistration,
	fail2ban.Registration,
	opendkim.Registration,
	opendmarc.Registration,
	process.Registration,
}
