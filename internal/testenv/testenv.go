// Package testenv is what the suite's tests share about the machine they
// run on: the one switch between the fast tier and the integration tier,
// the repository's root, free loopback ports, stand-ins for a daemon's
// socket, waiting for a condition and a manual clock.
//
// Tests come in two tiers. The fast tier is plain `go test ./...`: it needs
// neither root nor Debian packages nor running daemons, and passes as any
// user. The integration tier runs real daemons, Debian's programs
// (promtool, Alertmanager, Dovecot, …) or needs root; `make test` and CI
// run it by setting MAILTIER_INTEGRATION=1. A test of that tier starts with
// Integration (or Binary, or Root). Without the variable it is skipped,
// with a message naming the command that runs it; with the variable, a
// missing prerequisite fails the test, never skips it.
package testenv

import "encoding/json"
import "fmt"
import "io"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"
import "time"

// EnvVar turns the integration tier on when set to 1.
const EnvVar = "MAILTIER_INTEGRATION"

// IntegrationEnabled reports whether the integration tier runs.
func IntegrationEnabled() bool { return os.Getenv(EnvVar) == "1" }

// Integration marks t as a test of the integration tier: skipped unless
// MAILTIER_INTEGRATION=1 (make test sets it).
func Integration(t testing.TB) {
	t.Helper()
	if !IntegrationEnabled() {
		t.Skipf("integration tier: runs under `make test` (%s=1)", EnvVar)
	}
}

// Binary marks t as an integration test and returns the path of the
// program name, failing (never skipping) when it is not installed, with
// the Debian package that ships it.
func Binary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	Integration(t)
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install %s (make deps does it)", name, debianPackage)
	}
	return p
}

// Root marks t as an integration test that needs root, and fails when the
// test does not run as root.
func Root(t testing.TB) {
	t.Helper()
	Integration(t)
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root (uid %d): run make test as root", os.Geteuid())
	}
}

// rootModule is the first line of the repository's own go.mod; the tools
// module at tools/ has a go.mod of its own, which RepoRoot passes over.
const rootModule = "module github.com/cabalmail/mailtier\n"

// RepoRoot returns the repository's root: the nearest directory above the
// test's working directory whose go.mod is the suite's main module.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), rootModule) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/cabalmail/mailtier above the test's directory")
		}
		dir = parent
	}
}

// ReadRepoFile returns the content of the file at rel, a path from the
// repository's root.
func ReadRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// SidecarRendering returns terraform's rendering of the sidecar module as
// cabal-infra calls it: the scenario "default" of
// terraform/testdata/sidecar.json, which go test ./terraform/ checks
// against terraform itself.
func SidecarRendering(t testing.TB) []byte {
	t.Helper()
	var scenarios map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ReadRepoFile(t, "terraform/testdata/sidecar.json")), &scenarios); err != nil {
		t.Fatal(err)
	}
	if scenarios["default"] == nil {
		t.Fatal("terraform/testdata/sidecar.json holds no scenario \"default\"")
	}
	return scenarios["default"]
}

// WriteFile writes content to the file at path (mode 0644), failing the
// test on an error.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ShortDir returns a new directory right under the system's temporary
// directory (its name starts with prefix), open to every user (0755) and
// removed when t ends. It is for real daemons: a unix socket's path holds
// at most 107 bytes, which t.TempDir's long names can exceed, and a daemon
// that drops its privileges, or a program run as nobody, must reach what
// lies in it, which t.TempDir's parent (0700) forbids.
func ShortDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ServeUnix stands in for a daemon's unix socket (Dovecot's anvil, a
// milter): it listens on a socket named name in a fresh temporary
// directory and hands each connection to serve, in a goroutine of its own,
// closing the connection when serve returns. The listener closes when t
// ends. It returns the socket's path.
func ServeUnix(t testing.TB, name string, serve func(net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return path
}

// Mute is a serve function for ServeUnix: a peer that reads and never
// answers, until the client hangs up.
func Mute(c net.Conn) { io.Copy(io.Discard, c) }

// FreeAddr returns "127.0.0.1:PORT" for a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// WaitUntil polls cond until it holds, failing t with what after timeout.
// It is for real processes the test does not control (daemons writing
// their logs); code under the test's control is driven, not waited for.
func WaitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	WaitFor(t, what, timeout, func() (bool, string) { return cond(), "" })
}

// WaitFor is WaitUntil for a condition that can say what it saw last
// (a query's answer, a counter's value); the failure message shows it.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if last != "" {
				t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
