package main

import "bufio"
import "bytes"
import "compress/gzip"
import "fmt"
import "io"
import "os"
import "os/exec"
import "os/user"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "syscall"
import "time"

// poll calls cond every 20 ms until it is true or timeout passes.
func poll(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// rsyslogd's pid file, in the namespace's own /run (docker/mail/install.sh's
// default, which the shipped logrotate configuration HUPs).
const rsyslogPidFile = "/run/rsyslogd.pid"

func rsyslogPid() (int, error) {
	b, err := os.ReadFile(rsyslogPidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", rsyslogPidFile, err)
	}
	return pid, nil
}

func signalRsyslog(sig syscall.Signal) error {
	pid, err := rsyslogPid()
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

// stopRsyslog stops rsyslogd and waits until every one of its threads is
// stopped: a write under way when the signal came is then complete.
func stopRsyslog() error {
	pid, err := rsyslogPid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	return poll(10*time.Second, "rsyslogd to stop", func() (bool, error) {
		stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(stats) == 0 {
			return false, err
		}
		for _, st := range stats {
			b, err := os.ReadFile(st)
			if err != nil {
				return false, err
			}
			// "pid (comm) S ...": the state follows the last ')'
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				return false, nil
			}
		}
		return true, nil
	})
}

// renameRotation is a rotation the slow way round: the log is renamed and
// a new one created, rsyslog goes on writing the renamed file until it is
// HUPped, and only then writes the new one. The exporter must read the
// renamed file to its end before it moves on.
func renameRotation(maillog string, nudge func()) error {
	old := maillog + ".1"
	if err := os.Rename(maillog, old); err != nil {
		return err
	}
	if err := createLike(maillog); err != nil {
		return err
	}
	// rsyslog goes on writing the renamed file until its HUP: for 8 KiB
	// of lines here, over many of the exporter's polls
	if err := grow(old, size(old)+8192, nudge); err != nil {
		return fmt.Errorf("rsyslog writing the renamed file before its HUP: %w", err)
	}
	if err := signalRsyslog(syscall.SIGHUP); err != nil {
		return err
	}
	if err := grow(maillog, 0, nudge); err != nil {
		return fmt.Errorf("rsyslog writing the new file after its HUP: %w", err)
	}
	return nil
}

// grow waits until path is larger than n bytes. While it is not, it runs
// nudge (one more action): the traffic of the phase may be over.
func grow(path string, n int64, nudge func()) error {
	return poll(30*time.Second, path+" growing", func() (bool, error) {
		if size(path) > n {
			return true, nil
		}
		nudge()
		return size(path) > n, nil
	})
}

// createLike creates an empty log as logrotate's "create 0640 root mail"
// of docker/mail/logrotate does, but at once: made aside with its group
// and mode, then renamed into place, so the exporter never finds it
// unreadable.
func createLike(path string) error {
	g, err := user.LookupGroup("mail")
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return err
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Chown(0, gid)
	if err == nil {
		err = f.Chmod(0o640)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// logrotate runs the shipped logrotate configuration, forced: rename,
// create, HUP, and the previous generation compressed.
func logrotate(conf, state, maillog string, nudge func()) error {
	out, err := exec.Command("logrotate", "--force", "--state", state, conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("logrotate: %v: %s", err, out)
	}
	if err := grow(maillog, 0, nudge); err != nil {
		return fmt.Errorf("rsyslog writing the new file after logrotate: %w", err)
	}
	return nil
}

// copyTruncate copies the log aside and truncates it in place, as
// logrotate's copytruncate does. Lines written between the copy and the
// truncation would be in neither file, so rsyslog is stopped for that
// moment (the daemons' messages wait in /dev/log), once the exporter has
// read every byte so far: then every line is in exactly one file and the
// counts stay exact. The exporter has to notice the truncation by itself.
func copyTruncate(maillog string, bytesRead func() (float64, error)) error {
	for {
		if err := stopRsyslog(); err != nil {
			_ = signalRsyslog(syscall.SIGCONT)
			return err
		}
		if endsWithNewline(maillog) {
			break
		}
		// stopped in the middle of writing a line: let it finish
		if err := signalRsyslog(syscall.SIGCONT); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer func() { _ = signalRsyslog(syscall.SIGCONT) }()
	err := poll(30*time.Second, "the exporter reading the log to its end", func() (bool, error) {
		got, err := bytesRead()
		if err != nil {
			return false, err
		}
		files, err := generationsOf(maillog)
		if err != nil {
			return false, err
		}
		var total int64
		for _, f := range files {
			b, err := readLog(f)
			if err != nil {
				return false, err
			}
			total += int64(len(b))
		}
		return got == float64(total), nil
	})
	if err != nil {
		return err
	}
	in, err := os.ReadFile(maillog)
	if err != nil {
		return err
	}
	if err := os.WriteFile(maillog+".copy", in, 0o640); err != nil {
		return err
	}
	return os.Truncate(maillog, 0)
}

func endsWithNewline(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err == nil
	}
	b := make([]byte, 1)
	_, err = f.ReadAt(b, fi.Size()-1)
	return err == nil && b[0] == '\n'
}

// generations lists the log and its rotated and copied generations.
func generationsOf(path string) ([]string, error) {
	m, err := filepath.Glob(path + "*")
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// readLog reads a log generation, gzipped or not.
func readLog(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// logLines counts the lines of every generation of a log, in total and by
// syslog program (the tag before "[pid]:" or ":"); a line that is not
// syslog counts under "".
type logLines struct {
	lines, bytes int
	byProgram    map[string]int
}

func countLines(files []string) (logLines, error) {
	out := logLines{byProgram: map[string]int{}}
	for _, f := range files {
		b, err := readLog(f)
		if err != nil {
			return out, err
		}
		out.bytes += len(b)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for sc.Scan() {
			out.lines++
			out.byProgram[syslogProgram(sc.Text())]++
		}
		if err := sc.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// syslogProgram is the tag of a traditional syslog line
// ("Nov 24 05:15:41 mx sm-mta[9221]: ...").
func syslogProgram(l string) string {
	f := strings.Fields(l)
	if len(f) < 5 || !strings.HasSuffix(f[4], ":") {
		return ""
	}
	tag, _, _ := strings.Cut(strings.TrimSuffix(f[4], ":"), "[")
	return tag
}
