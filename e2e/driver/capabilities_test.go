package main

import "os"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

// TestRunShCapabilitySets checks that make e2e runs the daemons under
// cabal-infra's capability sets: e2e/run.sh's CAPS_ lines equal the sets
// of cabal-infra's task definitions, and every daemon it starts (rsyslog,
// OpenDKIM, sendmail, Dovecot, the exporter) and every program the driver
// runs for a tier (sendmail's queue run, logrotate) goes through them.
func TestRunShCapabilitySets(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "e2e/run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(CAPS_[A-Z_]+)=(\S+)$`).FindAllStringSubmatch(src, -1) {
		v := m[2]
		if strings.HasPrefix(v, "$") {
			v = vars[strings.TrimPrefix(v, "$")]
		}
		vars[m[1]] = v
	}
	for tier, name := range map[string]string{"imap": "CAPS_IMAP", "smtp-in": "CAPS_SMTP_IN", "smtp-out": "CAPS_SMTP_OUT"} {
		if got, want := vars[name], upstream.SetprivCapabilities(tier); got != want {
			t.Errorf("run.sh %s=%s, want %s (cabal-infra's %s task definition)", name, got, want, tier)
		}
	}
	// Each daemon under the smallest set among the tiers that run it.
	for name, want := range map[string]string{
		"CAPS_RSYSLOG":   upstream.SetprivCapabilities("smtp-in"),
		"CAPS_SENDMAIL":  upstream.SetprivCapabilities("smtp-in"),
		"CAPS_OPENDKIM":  upstream.SetprivCapabilities("smtp-in"),
		"CAPS_LOGROTATE": upstream.SetprivCapabilities("smtp-in"),
		"CAPS_DOVECOT":   upstream.SetprivCapabilities("imap"),
		"CAPS_SIDECAR":   "-all",
	} {
		if vars[name] != want {
			t.Errorf("run.sh %s=%s, want %s", name, vars[name], want)
		}
	}
	for _, start := range []string{
		`with_caps "$CAPS_RSYSLOG" rsyslogd `,
		`with_caps "$CAPS_OPENDKIM" opendkim `,
		`with_caps "$CAPS_SENDMAIL" "$SM" `,
		`with_caps "$CAPS_DOVECOT" dovecot `,
		`--bounding-set "$CAPS_SIDECAR" --inh-caps -all --no-new-privs`,
		`setpriv --bounding-set "$set" --inh-caps -all --no-new-privs -- "$@"`,
		`-sendmail "$DIR/bin/tier/sendmail"`,
		`PATH=$DIR/bin/tier:$PATH "$DIR/bin/driver"`,
	} {
		if !strings.Contains(src, start) {
			t.Errorf("run.sh does not contain %q", start)
		}
	}
	// No daemon started without them.
	for _, bare := range regexp.MustCompile(`(?m)^\t(rsyslogd|opendkim|dovecot|"\$SM") .*-(bd|f|c|x) `).FindAllString(src, -1) {
		t.Errorf("run.sh starts a daemon without its capability set: %q", bare)
	}
}
