package mail_test

// The mail-tier configuration's files, as install.sh installs them, and
// the paths the sidecar reads as terraform renders its task definition
// (testenv.SidecarRendering, checked by go test ./terraform/).

import "encoding/json"
import "maps"
import "os"
import "os/exec"
import "os/user"
import "path/filepath"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

// sidecarCommands returns each tier's exporter command line as terraform
// renders it with monitoring on.
func sidecarCommands(t *testing.T) map[string][]string {
	t.Helper()
	var r struct {
		Sidecar struct {
			ContainerDefinitions map[string][]struct {
				Command []string `json:"command"`
			} `json:"container_definitions"`
		} `json:"sidecar"`
	}
	if err := json.Unmarshal(testenv.SidecarRendering(t), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tier := range upstream.Tiers {
		defs := r.Sidecar.ContainerDefinitions[tier]
		if len(defs) != 1 {
			t.Fatalf("%s: %d sidecars in the rendering", tier, len(defs))
		}
		out[tier] = defs[0].Command
	}
	return out
}

func TestSendmailFragment(t *testing.T) {
	m4 := testenv.ReadRepoFile(t, "docker/mail/sendmail/mailtier.m4")
	var defines []string
	for _, line := range strings.Split(strings.TrimRight(m4, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "dnl"):
		case strings.HasPrefix(line, "define("):
			defines = append(defines, line)
		default:
			// Anything else would be copied into sendmail.cf.
			t.Errorf("mailtier.m4: line is neither a define nor a dnl comment: %q", line)
		}
	}
	want := []string{"define(`confLOG_LEVEL', `9')dnl", "define(`confQUEUE_FILE_MODE', `0640')dnl"}
	if strings.Join(defines, "\n") != strings.Join(want, "\n") {
		t.Errorf("mailtier.m4 defines %q, want %q", defines, want)
	}
}

// dovecotConfig returns the top-level "key = value" settings of a Dovecot
// config file (outside any { } section), and the settings inside each
// "name {" section, keyed by the section header path (e.g. "service
// stats/inet_listener http").
func dovecotConfig(src string) (top map[string]string, sections map[string]map[string]string) {
	top, sections = map[string]string{}, map[string]map[string]string{}
	var stack []string
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasSuffix(line, "{"):
			stack = append(stack, strings.TrimSpace(strings.TrimSuffix(line, "{")))
			sections[strings.Join(stack, "/")] = map[string]string{}
		case line == "}":
			stack = stack[:len(stack)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			if len(stack) == 0 {
				top[strings.TrimSpace(k)] = strings.TrimSpace(v)
			} else {
				sections[strings.Join(stack, "/")][strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return top, sections
}

func TestDovecotConfigs(t *testing.T) {
	logging, _ := dovecotConfig(testenv.ReadRepoFile(t, "docker/mail/dovecot/10-logging.conf"))
	wantLogging := map[string]string{"log_path": "syslog", "syslog_facility": "mail", "auth_verbose": "yes"}
	if !maps.Equal(logging, wantLogging) {
		t.Errorf("10-logging.conf = %v, want %v", logging, wantLogging)
	}

	_, stats := dovecotConfig(testenv.ReadRepoFile(t, "docker/mail/dovecot/95-stats.conf"))
	buckets := "duration:exponential:10:24:2"
	want := map[string]map[string]string{
		"service stats":                    {},
		"service stats/inet_listener http": {"address": "127.0.0.1", "port": "9900"},
		"metric imap_command": {
			"filter":   "event=imap_command_finished AND NOT cmd_name=IDLE",
			"group_by": buckets,
		},
		"metric auth_success":  {"filter": "event=auth_request_finished AND success=yes"},
		"metric auth_failure":  {"filter": "event=auth_request_finished AND NOT success=yes"},
		"metric mail_delivery": {"filter": "event=mail_delivery_finished", "group_by": buckets},
	}
	if len(stats) != len(want) {
		t.Errorf("95-stats.conf sections = %v", stats)
	}
	for name, settings := range want {
		if !maps.Equal(stats[name], settings) {
			t.Errorf("95-stats.conf %s = %v, want %v", name, stats[name], settings)
		}
	}
	// The sidecars that read Dovecot read the listener this file opens.
	for tier, cmd := range sidecarCommands(t) {
		if tier == "smtp-in" {
			continue
		}
		if !slices.Contains(cmd, "--collector.dovecot.stats-url=http://127.0.0.1:9900/metrics") {
			t.Errorf("%s sidecar does not read 95-stats.conf's listener: %v", tier, cmd)
		}
	}
}

func TestOpenDKIMFragment(t *testing.T) {
	got := map[string]string{}
	for _, line := range strings.Split(testenv.ReadRepoFile(t, "docker/mail/opendkim/mailtier-logging.conf"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if len(f) != 2 {
				t.Errorf("line %q is not KEY VALUE", line)
				continue
			}
			got[f[0]] = f[1]
		}
	}
	want := map[string]string{"Syslog": "yes", "SyslogFacility": "mail", "SyslogSuccess": "yes", "LogWhy": "yes"}
	if !maps.Equal(got, want) {
		t.Errorf("opendkim fragment = %v, want %v", got, want)
	}
}

// runInstall runs docker/mail/install.sh into a fresh directory.
func runInstall(t *testing.T, env ...string) string {
	t.Helper()
	dest := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dest, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "Mode\tsv\nsyslog\tno\nSyslogSuccess Yes\n  logwhy no\nSocket\tinet:8891@localhost\nLogResults yes\n"
	if err := os.WriteFile(filepath.Join(dest, "etc/opendkim.conf"), []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "docker/mail/install.sh", dest)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, msg)
	}
	return dest
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMailInstallDefaults(t *testing.T) {
	dest := runInstall(t)
	maillog := "/var/log/mail/maillog"

	rsyslog := readFile(t, filepath.Join(dest, "etc/rsyslog.conf"))
	for _, want := range []string{
		`module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")`,
		`mail.* action(type="omfile" file="` + maillog + `"`,
		`template="RSYSLOG_TraditionalFileFormat"`,
		`fileCreateMode="0640" dirCreateMode="0755"`,
		`createDirs="on" failOnChOwnFailure="off")`,
		"\n*.* stop\n",
	} {
		if !strings.Contains(rsyslog, want) {
			t.Errorf("rsyslog.conf lacks %s", want)
		}
	}

	logrotate := readFile(t, filepath.Join(dest, "etc/logrotate.d/mailtier-maillog"))
	for _, want := range []string{
		"\n" + maillog + " {\n",
		"\n    size 50M\n",
		"\n    rotate 2\n",
		"\n    delaycompress\n",
		"\n    create 0640 root mail\n",
		`[ ! -s /var/run/rsyslogd.pid ] || kill -HUP "$(cat /var/run/rsyslogd.pid)"`,
	} {
		if !strings.Contains(logrotate, want) {
			t.Errorf("mailtier-maillog lacks %q", want)
		}
	}

	// What the sidecar tails is what rsyslog writes.
	for tier, cmd := range sidecarCommands(t) {
		if !slices.Contains(cmd, "--tail.path="+maillog) {
			t.Errorf("%s sidecar does not tail %s", tier, maillog)
		}
	}

	for rel, src := range map[string]string{
		"etc/dovecot/conf.d/10-logging.conf":           "dovecot/10-logging.conf",
		"etc/dovecot/conf.d/95-stats.conf":             "dovecot/95-stats.conf",
		"etc/mail/mailtier.m4":                         "sendmail/mailtier.m4",
		"etc/mailtier/supervisord.conf":                "supervisord/mailtier.conf",
		"usr/local/bin/mailtier-logrotate.sh":          "logrotate/mailtier-logrotate.sh",
		"usr/local/bin/mailtier-mqueue-permissions.sh": "sendmail/mqueue-permissions.sh",
	} {
		if readFile(t, filepath.Join(dest, rel)) != testenv.ReadRepoFile(t, "docker/mail/"+src) {
			t.Errorf("%s is not a copy of docker/mail/%s", rel, src)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "usr/local/bin/mailtier-logrotate.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mailtier-logrotate.sh is not executable: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "var/log/mail")); err != nil || !fi.IsDir() || fi.Mode()&(os.ModeSetgid|os.ModePerm) != os.ModeSetgid|0o750 {
		t.Errorf("log directory not created setgid 2750: %v %v", fi, err)
	}
	// No chown anywhere: smtp-in has no CAP_CHOWN.
	for _, chown := range []string{"fileOwner", "fileGroup", "dirOwner", "dirGroup"} {
		if strings.Contains(rsyslog, chown+"=") {
			t.Errorf("rsyslog.conf sets %s, a chown smtp-in cannot do", chown)
		}
	}

	// The OpenDKIM keys are merged: one setting each, the fragment's.
	dkim := readFile(t, filepath.Join(dest, "etc/opendkim.conf"))
	wantDKIM := "Mode\tsv\nSocket\tinet:8891@localhost\nLogResults yes\n\n" +
		"Syslog                  yes\nSyslogFacility          mail\nSyslogSuccess           yes\nLogWhy                  yes\n"
	if dkim != wantDKIM {
		t.Errorf("merged opendkim.conf =\n%s\nwant\n%s", dkim, wantDKIM)
	}
}

func TestMailInstallOverrides(t *testing.T) {
	dest := runInstall(t,
		"MAILTIER_LOG_DIR=/srv/e2e/log",
		"MAILTIER_LOG_GROUP=smmsp",
		"MAILTIER_SYSLOG_SOCKET=/run/e2e/log.sock",
		"MAILTIER_RSYSLOG_PIDFILE=/run/e2e/rsyslogd.pid",
		"MAILTIER_LOG_MAX_SIZE=1M",
		"MAILTIER_LOG_ROTATE=5",
	)
	rsyslog := readFile(t, filepath.Join(dest, "etc/rsyslog.conf"))
	logrotate := readFile(t, filepath.Join(dest, "etc/logrotate.d/mailtier-maillog"))
	for _, want := range []string{`SysSock.Name="/run/e2e/log.sock"`, `file="/srv/e2e/log/maillog"`} {
		if !strings.Contains(rsyslog, want) {
			t.Errorf("rsyslog.conf lacks %s", want)
		}
	}
	for _, want := range []string{"/srv/e2e/log/maillog {", "size 1M", "rotate 5", "create 0640 root smmsp", `kill -HUP "$(cat /run/e2e/rsyslogd.pid)"`} {
		if !strings.Contains(logrotate, want) {
			t.Errorf("mailtier-maillog lacks %s", want)
		}
	}
	if strings.Contains(rsyslog+logrotate, "@") && regexp.MustCompile(`@[A-Z_]+@`).MatchString(rsyslog+logrotate) {
		t.Error("unfilled placeholder")
	}

	for _, bad := range []string{"MAILTIER_LOG_DIR=relative/log", "MAILTIER_LOG_GROUP=mail;rm"} {
		cmd := exec.Command("sh", "docker/mail/install.sh", t.TempDir())
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), bad)
		if err := cmd.Run(); err == nil {
			t.Errorf("install.sh accepted %s", bad)
		}
	}
}

func TestMqueuePermissions(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mqueue")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"qf6AO5FfLr009227": 0o600, "df6AO5FfLr009227": 0o600, "notes": 0o600} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "docker/mail/sendmail/mqueue-permissions.sh", dir)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(), "MAILTIER_QUEUE_GROUP="+g.Name)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mqueue-permissions.sh: %v\n%s", err, msg)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(os.ModePerm|os.ModeSetgid) != 0o750|os.ModeSetgid {
		t.Errorf("queue directory mode = %v, want drwxr-s---", fi.Mode())
	}
	want := map[string]os.FileMode{"qf6AO5FfLr009227": 0o640, "df6AO5FfLr009227": 0o640, "notes": 0o600}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
}

func TestSupervisordProgram(t *testing.T) {
	conf := testenv.ReadRepoFile(t, "docker/mail/supervisord/mailtier.conf")
	for _, want := range []string{
		"\n[program:mailtier-logrotate]\n",
		"\ncommand=/usr/local/bin/mailtier-logrotate.sh /etc/logrotate.d/mailtier-maillog\n",
		"\nautorestart=true\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("supervisord/mailtier.conf lacks %q", want)
		}
	}
}
