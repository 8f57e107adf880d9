package docker_test

// The images' builds, run for real for both platforms, and the exporter
// image checked against the sidecar's task definition as terraform renders
// it (testenv.SidecarRendering, checked by go test ./terraform/).

import "archive/zip"
import "bytes"
import "crypto/sha256"
import "debug/elf"
import "encoding/base64"
import "encoding/json"
import "go/parser"
import "go/token"
import "maps"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

// sidecarContainer is the part of the sidecar's container definition the
// image must agree with.
type sidecarContainer struct {
	User         string   `json:"user"`
	Command      []string `json:"command"`
	PortMappings []struct {
		ContainerPort int `json:"containerPort"`
	} `json:"portMappings"`
	MountPoints []struct {
		SourceVolume  string `json:"sourceVolume"`
		ContainerPath string `json:"containerPath"`
	} `json:"mountPoints"`
	HealthCheck struct {
		Command []string `json:"command"`
	} `json:"healthCheck"`
}

// renderedSidecars reads each tier's sidecar as terraform renders it with
// monitoring on.
func renderedSidecars(t *testing.T) map[string]sidecarContainer {
	t.Helper()
	var r struct {
		Sidecar struct {
			ContainerDefinitions map[string][]sidecarContainer `json:"container_definitions"`
		} `json:"sidecar"`
	}
	if err := json.Unmarshal(testenv.SidecarRendering(t), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]sidecarContainer{}
	for _, tier := range upstream.Tiers {
		defs := r.Sidecar.ContainerDefinitions[tier]
		if len(defs) != 1 {
			t.Fatalf("%s: %d sidecars in the rendering", tier, len(defs))
		}
		out[tier] = defs[0]
	}
	return out
}

// args returns the arguments of every instruction cmd, space-joined, RUN's
// own options (--mount=...) dropped.
func args(df []instruction, cmd string) []string {
	var out []string
	for _, in := range df {
		if in.cmd != cmd {
			continue
		}
		a := in.args
		if cmd == "RUN" {
			for len(a) > 0 && strings.HasPrefix(a[0], "--") {
				a = a[1:]
			}
		}
		out = append(out, strings.Join(a, " "))
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
	dir := repoPath(t, pkg)
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

func TestExporterDockerfile(t *testing.T) {
	df := parseDockerfile(t, "docker/exporter/Dockerfile")
	sidecars := renderedSidecars(t)

	froms := args(df, "FROM")
	golang := "golang:1.26-alpine@sha256:f1ddd9fe14fffc091dd98cb4bfa999f32c5fc77d2f2305ea9f0e2595c5437c14"
	want := []string{
		"--platform=$BUILDPLATFORM " + golang + " AS module",
		"scratch AS mailtier-src",
		"--platform=$BUILDPLATFORM " + golang + " AS build",
		"gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639",
	}
	if !slices.Equal(froms, want) {
		t.Errorf("FROM lines = %q, want %q", froms, want)
	}
	argLines := strings.Join(args(df, "ARG"), " ")
	for _, want := range []string{"TARGETOS", "TARGETARCH", "MAILTIER_VERSION"} {
		if !strings.Contains(argLines, want) {
			t.Errorf("no ARG %s", want)
		}
	}
	// The source is the named context mailtier-src: the release of the
	// module by default, the working tree from docker/build.sh.
	copies := args(df, "COPY")
	for _, want := range []string{
		"--from=module /mailtier/ /",
		"--from=mailtier-src go.mod go.sum ./",
		"--from=mailtier-src . .",
	} {
		if !slices.Contains(copies, want) {
			t.Errorf("no COPY %s (have %q)", want, copies)
		}
	}

	var builds []goBuild
	for _, run := range args(df, "RUN") {
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
	if !maps.Equal(gotPkgs, wantPkgs) {
		t.Errorf("go build outputs = %v, want %v", gotPkgs, wantPkgs)
	}

	// The image's user, port, state directory and health check are the
	// ones the task definition uses.
	for _, tier := range upstream.Tiers {
		c := sidecars[tier]
		state := ""
		for _, mp := range c.MountPoints {
			if mp.SourceVolume == "mailtier-exporter-state" {
				state = mp.ContainerPath
			}
		}
		if !slices.Contains(copies, "--from=build --chown=65532:12 /out/state "+state) {
			t.Errorf("%s: the image does not create the state directory %q the task mounts", tier, state)
		}
		if users := args(df, "USER"); len(users) != 1 || users[0] != c.User || users[0] != "65532:12" {
			t.Errorf("%s: USER = %q, task definition user %q, want 65532:12", tier, users, c.User)
		}
		if exp := args(df, "EXPOSE"); len(exp) != 1 || exp[0] != strconv.Itoa(c.PortMappings[0].ContainerPort) {
			t.Errorf("%s: EXPOSE = %q, task port %d", tier, exp, c.PortMappings[0].ContainerPort)
		}
		if hc := c.HealthCheck.Command; len(hc) < 2 || hc[0] != "CMD" || hc[1] != "/healthcheck" {
			t.Errorf("%s health check %v does not run /healthcheck", tier, hc)
		}
	}
	if ep := args(df, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/mailtier_exporter"]` {
		t.Errorf("ENTRYPOINT = %q", ep)
	}
	if !strings.Contains(testenv.ReadRepoFile(t, "docker/build.sh"), `--build-context mailtier-src="$root"`) {
		t.Error("docker/build.sh does not build the working tree as mailtier-src")
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
	for _, run := range args(parseDockerfile(t, "docker/exporter/Dockerfile"), "RUN") {
		builds = append(builds, goBuilds(t, run)...)
	}
	for _, arch := range []string{"arm64", "amd64"} {
		out := t.TempDir()
		for _, b := range builds {
			cmd := exec.Command("sh", "-c", strings.ReplaceAll(b.command, "/out/", out+"/"))
			cmd.Dir = testenv.RepoRoot(t)
			cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+arch, "MAILTIER_VERSION=test", "REVISION=test")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("linux/%s: %s: %v\n%s", arch, b.command, err, msg)
				continue
			}
			checkStaticELF(t, filepath.Join(out, filepath.Base(b.output)), goarchMachine[arch])
		}
		cmd := exec.Command("go", "build", "./...")
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=linux GOARCH=%s go build ./...: %v\n%s", arch, err, msg)
		}
	}
}

func TestAlertSinkBuild(t *testing.T) {
	script := testenv.ReadRepoFile(t, "docker/alert_sink/build.sh")
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
	if runs := args(df, "RUN"); !strings.Contains(strings.Join(runs, "\n"), "sh docker/alert_sink/build.sh /out") {
		t.Errorf("alert_sink Dockerfile does not run build.sh: %q", runs)
	}
	if copies := args(df, "COPY"); !slices.Contains(copies, "--from=build /out/mailtier_alert_sink.zip /out/mailtier_alert_sink.zip.base64sha256 /") {
		t.Errorf("alert_sink Dockerfile does not export the zip: %q", copies)
	}

	// Build it for real.
	out := t.TempDir()
	cmd := exec.Command("sh", "docker/alert_sink/build.sh", out)
	cmd.Dir = testenv.RepoRoot(t)
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
	script := testenv.ReadRepoFile(t, "docker/build.sh")
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
	cmd.Dir = testenv.RepoRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n docker/build.sh: %v\n%s", err, msg)
	}
}
