package terraform_test

// Tests of what docker/ ships, checked against the Terraform that deploys
// it: the exporter and alert_sink builds (run for real, for both
// platforms), and the mail-tier configuration.

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const repoRoot = ".."

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// parseDockerfile returns the instructions of a Dockerfile, with line
// continuations joined and comments dropped.
func parseDockerfile(t *testing.T, rel string) []dockerInstruction {
	t.Helper()
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(readRepoFile(t, rel), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		full := strings.TrimSpace(cur.String())
		cur.Reset()
		if full == "" {
			continue
		}
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out
}

func instructions(all []dockerInstruction, cmd string) []string {
	var out []string
	for _, in := range all {
		if in.cmd == cmd {
			args := in.args
			if cmd == "RUN" {
				// Drop RUN's own options (--mount=...): the rest is the
				// shell command.
				for strings.HasPrefix(args, "--") {
					_, args, _ = strings.Cut(args, " ")
					args = strings.TrimSpace(args)
				}
			}
			out = append(out, args)
		}
	}
	return out
}

// goBuilds returns the go build commands of a shell command line (split on
// &&), each with the output path after -o and the package (last word).
type goBuild struct {
	command string
	output  string
	pkg     string
}

func goBuilds(t *testing.T, shell string) []goBuild {
	t.Helper()
	var out []goBuild
	for _, part := range strings.Split(shell, "&&") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, "go build") {
			continue
		}
		m := regexp.MustCompile(`-o\s+(\S+)\s+(\./\S+)$`).FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("go build without -o OUTPUT ./PACKAGE at the end: %s", part)
		}
		out = append(out, goBuild{command: part, output: m[1], pkg: m[2]})
	}
	return out
}

// assertMainPackage checks that the package directory exists and is a
// command (package main).
func assertMainPackage(t *testing.T, pkg string) {
	t.Helper()
	dir := filepath.Join(repoRoot, pkg)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("%s: no Go files (%v)", pkg, err)
		return
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if parsed.Name.Name != "main" {
			t.Errorf("%s: package %s, want main", f, parsed.Name.Name)
		}
		return
	}
	t.Errorf("%s: only test files", pkg)
}

// sidecarDefaults evaluates the sidecar module's variable defaults.
func sidecarDefaults(t *testing.T) map[string]cty.Value {
	t.Helper()
	m := loadModule(t, sidecarDir)
	vals, err := m.variableValues(map[string]cty.Value{"aws_region": cty.StringVal("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func TestExporterDockerfile(t *testing.T) {
	df := parseDockerfile(t, "docker/exporter/Dockerfile")
	defaults := sidecarDefaults(t)

	froms := instructions(df, "FROM")
	if len(froms) != 2 {
		t.Fatalf("FROM lines = %q, want a builder and a final stage", froms)
	}
	if froms[0] != "--platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build" {
		t.Errorf("builder stage = %q", froms[0])
	}
	if froms[1] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage = %q", froms[1])
	}
	args := strings.Join(instructions(df, "ARG"), " ")
	for _, want := range []string{"TARGETOS", "TARGETARCH", "GO_VERSION=1.26.8"} {
		if !strings.Contains(args, want) {
			t.Errorf("no ARG %s", want)
		}
	}
	// The Go version the image builds with is the module's.
	if !strings.Contains(readRepoFile(t, "go.mod"), "\ngo 1.26.8\n") {
		t.Errorf("go.mod's go directive is not 1.26.8; update GO_VERSION in the Dockerfiles")
	}

	var builds []goBuild
	for _, run := range instructions(df, "RUN") {
		builds = append(builds, goBuilds(t, run)...)
	}
	gotPkgs := map[string]string{}
	for _, b := range builds {
		for _, want := range []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "-trimpath", `-ldflags "-s -w`} {
			if !strings.Contains(b.command, want) {
				t.Errorf("go build of %s lacks %s", b.pkg, want)
			}
		}
		gotPkgs[b.output] = b.pkg
		assertMainPackage(t, b.pkg)
	}
	wantPkgs := map[string]string{
		"/out/mailtier_exporter": "./exporters/mailtier_exporter",
		"/out/healthcheck":       "./docker/exporter/healthcheck",
	}
	if !equalMaps(gotPkgs, wantPkgs) {
		t.Errorf("go build outputs = %v, want %v", gotPkgs, wantPkgs)
	}

	copies := instructions(df, "COPY")
	stateDir := defaults["state_directory"].AsString()
	for _, want := range []string{
		"--from=build /out/mailtier_exporter /mailtier_exporter",
		"--from=build /out/healthcheck /healthcheck",
		"--from=build --chown=65532:12 /out/state " + stateDir,
	} {
		if !contains(copies, want) {
			t.Errorf("no COPY %s (have %q)", want, copies)
		}
	}

	// The image's user and port are the ones the task definition sets.
	uid, _ := defaults["user_id"].AsBigFloat().Int64()
	gid, _ := defaults["group_id"].AsBigFloat().Int64()
	if users := instructions(df, "USER"); len(users) != 1 || users[0] != strconv.FormatInt(uid, 10)+":"+strconv.FormatInt(gid, 10) || users[0] != "65532:12" {
		t.Errorf("USER = %q, want 65532:12 as in the Terraform defaults", users)
	}
	port, _ := defaults["exporter_port"].AsBigFloat().Int64()
	if exp := instructions(df, "EXPOSE"); len(exp) != 1 || exp[0] != strconv.FormatInt(port, 10) {
		t.Errorf("EXPOSE = %q, want %d", exp, port)
	}
	if ep := instructions(df, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/mailtier_exporter"]` {
		t.Errorf("ENTRYPOINT = %q", ep)
	}

	// The health check the task definition runs is the binary the image has.
	m, ctx := sidecarContext(t, sidecarInputs(nil))
	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	for _, tier := range tiers {
		if hc := defs[tier][0].HealthCheck.Command; hc[0] != "CMD" || hc[1] != "/healthcheck" {
			t.Errorf("%s health check %v does not run /healthcheck", tier, hc)
		}
	}
}

// checkStaticELF checks that path is a statically linked Linux executable
// for machine.
func checkStaticELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: machine %v type %v, want %v executable", path, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", path)
		}
	}
}

var goarchMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestImageBuildsForBothPlatforms runs the exporter Dockerfile's own go
// build commands for linux/amd64 and linux/arm64 (the image's platforms)
// and builds the whole module for both.
func TestImageBuildsForBothPlatforms(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("the go command is needed to build the images' binaries")
	}
	var builds []goBuild
	for _, run := range instructions(parseDockerfile(t, "docker/exporter/Dockerfile"), "RUN") {
		builds = append(builds, goBuilds(t, run)...)
	}
	for _, arch := range []string{"arm64", "amd64"} {
		out := t.TempDir()
		for _, b := range builds {
			cmd := exec.Command("sh", "-c", strings.ReplaceAll(b.command, "/out/", out+"/"))
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+arch, "VERSION=test", "REVISION=test")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("linux/%s: %s: %v\n%s", arch, b.command, err, msg)
				continue
			}
			checkStaticELF(t, filepath.Join(out, filepath.Base(b.output)), goarchMachine[arch])
		}
		cmd := exec.Command("go", "build", "./...")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=linux GOARCH=%s go build ./...: %v\n%s", arch, err, msg)
		}
	}
}

func TestAlertSinkBuild(t *testing.T) {
	script := readRepoFile(t, "docker/alert_sink/build.sh")
	builds := goBuilds(t, strings.Join(regexp.MustCompile(`(?m)^CGO_ENABLED=0 .*go build .*$`).FindAllString(script, -1), " && "))
	if len(builds) != 1 {
		t.Fatalf("build.sh has %d go build lines, want 1", len(builds))
	}
	b := builds[0]
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "-tags lambda.norpc", "-trimpath"} {
		if !strings.Contains(b.command, want) {
			t.Errorf("alert_sink build lacks %s: %s", want, b.command)
		}
	}
	if b.pkg != "./lambda/alert_sink" || b.output != `"$work/bootstrap"` {
		t.Errorf("alert_sink build: -o %s %s", b.output, b.pkg)
	}
	assertMainPackage(t, b.pkg)

	df := parseDockerfile(t, "docker/alert_sink/Dockerfile")
	if runs := instructions(df, "RUN"); !strings.Contains(strings.Join(runs, "\n"), "sh docker/alert_sink/build.sh /out") {
		t.Errorf("alert_sink Dockerfile does not run build.sh: %q", runs)
	}
	if copies := instructions(df, "COPY"); !contains(copies, "--from=build /out/mailtier_alert_sink.zip /out/mailtier_alert_sink.zip.base64sha256 /") {
		t.Errorf("alert_sink Dockerfile does not export the zip: %q", copies)
	}

	// The zip Terraform deploys is the one build.sh names.
	mon := loadModule(t, monitoringDir)
	if key := *mon.variables["alert_sink_s3_key"].def; key.AsString() != "lambda/mailtier_alert_sink.zip" {
		t.Errorf("alert_sink_s3_key default = %q", key.AsString())
	}

	// Build it for real.
	out := t.TempDir()
	cmd := exec.Command("sh", "docker/alert_sink/build.sh", out)
	cmd.Dir = repoRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(filepath.Join(out, "mailtier_alert_sink.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode() != 0o755 {
		t.Fatalf("zip entries: %v", zr.File)
	}
	bin := filepath.Join(out, "bootstrap")
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rc)
	rc.Close()
	if err := os.WriteFile(bin, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	checkStaticELF(t, bin, elf.EM_AARCH64)
	sum := sha256.Sum256(data)
	hash, _ := os.ReadFile(filepath.Join(out, "mailtier_alert_sink.zip.base64sha256"))
	if string(hash) != base64.StdEncoding.EncodeToString(sum[:])+"\n" {
		t.Errorf("mailtier_alert_sink.zip.base64sha256 = %q does not match the zip", hash)
	}
}

func TestBuildScript(t *testing.T) {
	script := readRepoFile(t, "docker/build.sh")
	for _, want := range []string{
		"platforms=linux/amd64,linux/arm64",
		`docker buildx build --platform "$platforms"`,
		`-f "$root/docker/exporter/Dockerfile"`,
		`"$root/docker/alert_sink/build.sh"`,
		`echo "$repository@$digest"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("docker/build.sh lacks %s", want)
		}
	}
	cmd := exec.Command("sh", "-n", "docker/build.sh")
	cmd.Dir = repoRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n docker/build.sh: %v\n%s", err, msg)
	}
}

func TestSendmailFragment(t *testing.T) {
	m4 := readRepoFile(t, "docker/mail/sendmail/mailtier.m4")
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

// dovecotSettings returns the top-level "key = value" settings of a Dovecot
// config file (outside any { } section).
func dovecotSettings(src string) map[string]string {
	out := map[string]string{}
	depth := 0
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasSuffix(line, "{"):
			depth++
		case line == "}":
			depth--
		case depth == 0:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// dovecotSections returns the settings inside each "name {" section,
// keyed by the section header path (e.g. "service stats/inet_listener http").
func dovecotSections(src string) map[string]map[string]string {
	out := map[string]map[string]string{}
	var stack []string
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasSuffix(line, "{"):
			stack = append(stack, strings.TrimSpace(strings.TrimSuffix(line, "{")))
			out[strings.Join(stack, "/")] = map[string]string{}
		case line == "}":
			stack = stack[:len(stack)-1]
		case len(stack) > 0:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.Join(stack, "/")][strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

func TestDovecotConfigs(t *testing.T) {
	logging := dovecotSettings(readRepoFile(t, "docker/mail/dovecot/10-logging.conf"))
	wantLogging := map[string]string{"log_path": "syslog", "syslog_facility": "mail", "auth_verbose": "yes"}
	if !equalMaps(logging, wantLogging) {
		t.Errorf("10-logging.conf = %v, want %v", logging, wantLogging)
	}

	stats := dovecotSections(readRepoFile(t, "docker/mail/dovecot/95-stats.conf"))
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
		if !equalMaps(stats[name], settings) {
			t.Errorf("95-stats.conf %s = %v, want %v", name, stats[name], settings)
		}
	}
	// The sidecar reads the listener this file opens.
	url := sidecarDefaults(t)["dovecot_stats_url"].AsString()
	if url != "http://127.0.0.1:9900/metrics" {
		t.Errorf("dovecot_stats_url default = %q does not match 95-stats.conf's listener", url)
	}
}

func TestOpenDKIMFragment(t *testing.T) {
	got := map[string]string{}
	for _, line := range strings.Split(readRepoFile(t, "docker/mail/opendkim/mailtier-logging.conf"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if len(f) != 2 {
				t.Errorf("line %q is not KEY VALUE", line)
				continue
			}
			got[f[0]] = f[1]
		}
	}
	want := map[string]string{"Syslog": "yes", "SyslogFacility": "mail", "SyslogSuccess": "yes", "LogWhy": "yes"}
	if !equalMaps(got, want) {
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
	cmd.Dir = repoRoot
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
	defaults := sidecarDefaults(t)
	maillog := defaults["log_directory"].AsString() + "/maillog"

	rsyslog := readFile(t, filepath.Join(dest, "etc/rsyslog.conf"))
	for _, want := range []string{
		`module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")`,
		`mail.* action(type="omfile" file="` + maillog + `"`,
		`template="RSYSLOG_TraditionalFileFormat"`,
		`fileOwner="root" fileGroup="mail" fileCreateMode="0640"`,
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
	m, ctx := sidecarContext(t, sidecarInputs(nil))
	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	for _, tier := range tiers {
		if !contains(defs[tier][0].Command, "--tail.path="+maillog) {
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
		if readFile(t, filepath.Join(dest, rel)) != readRepoFile(t, "docker/mail/"+src) {
			t.Errorf("%s is not a copy of docker/mail/%s", rel, src)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "usr/local/bin/mailtier-logrotate.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mailtier-logrotate.sh is not executable: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "var/log/mail")); err != nil || !fi.IsDir() {
		t.Errorf("log directory not created: %v", err)
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
	for _, want := range []string{`SysSock.Name="/run/e2e/log.sock"`, `file="/srv/e2e/log/maillog"`, `fileGroup="smmsp"`} {
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
		cmd.Dir = repoRoot
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
	cmd.Dir = repoRoot
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
	conf := readRepoFile(t, "docker/mail/supervisord/mailtier.conf")
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

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
