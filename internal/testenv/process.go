package testenv

import "bytes"
import "os/exec"
import "sync"
import "syscall"
import "testing"
import "time"

// Process is a long-running program a test started with Start: a daemon
// it talks to over loopback.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  SyncBuffer
	done chan struct{}
	err  error
}

// Start starts path with args for the test and stops it when the test
// ends: SIGTERM, then SIGKILL after 10 seconds. When the test failed, the
// program's output is logged under name.
func Start(t testing.TB, name, path string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() && p.out.Len() > 0 {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// Stop ends the program (SIGTERM, then SIGKILL after 10 seconds) and
// waits for it; stopping a program that has ended does nothing.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the program has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Output returns what the program wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// SyncBuffer is a bytes.Buffer that a process's output (or a logger's) is
// written into from one goroutine while the test reads it from another.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *SyncBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}
