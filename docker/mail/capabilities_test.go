// Package mail_test checks the mail-tier configuration of docker/mail on
// the real programs, run the way cabal-infra's task definitions run them.
package mail_test

import "fmt"
import "os"
import "os/exec"
import "os/user"
import "path/filepath"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/internal/upstream"

// underTierCapabilities returns cmd run as cabal-infra's task definition
// runs the tier's processes: root, with the tier's capabilities as the
// bounding set (so exactly those after exec), none inheritable, and
// no_new_privs (dockerSecurityOptions no-new-privileges).
func underTierCapabilities(tier string, name string, args ...string) *exec.Cmd {
	priv := []string{"--bounding-set", upstream.SetprivCapabilities(tier), "--inh-caps", "-all"}
	if upstream.NoNewPrivileges {
		priv = append(priv, "--no-new-privs")
	}
	priv = append(append(priv, "--", name), args...)
	return exec.Command("setpriv", priv...)
}

// TestRsyslogLogsUnderEachTiersCapabilities installs the shipped rsyslog
// and logrotate configuration, runs rsyslogd and logrotate under each
// tier's capability set, and checks that a mail line reaches maillog,
// readable by the log group, before and after a rotation. smtp-in has no
// CAP_CHOWN: a configuration that makes rsyslog or logrotate chown loses
// the whole log there.
func TestRsyslogLogsUnderEachTiersCapabilities(t *testing.T) {
	testenv.Root(t)
	rsyslogd := testenv.Binary(t, "rsyslogd", "rsyslog")
	logrotate := testenv.Binary(t, "logrotate", "logrotate")
	testenv.Binary(t, "setpriv", "util-linux")
	testenv.Binary(t, "logger", "bsdutils")
	mail, err := user.LookupGroup("mail")
	if err != nil {
		t.Fatal(err)
	}
	mailGID, _ := strconv.Atoi(mail.Gid)
	repo := testenv.RepoRoot(t)

	for _, tier := range upstream.Tiers {
		t.Run(tier, func(t *testing.T) {
			dir := t.TempDir()
			logDir := filepath.Join(dir, "log")
			sock := filepath.Join(dir, "log.sock")
			pidfile := filepath.Join(dir, "rsyslogd.pid")
			stage := filepath.Join(dir, "stage")
			install := exec.Command("sh", filepath.Join(repo, "docker/mail/install.sh"), stage)
			install.Env = append(os.Environ(),
				"MAILTIER_LOG_DIR="+logDir, "MAILTIER_LOG_GROUP=mail",
				"MAILTIER_SYSLOG_SOCKET="+sock, "MAILTIER_RSYSLOG_PIDFILE="+pidfile,
				"MAILTIER_LOG_MAX_SIZE=1k", "MAILTIER_LOG_ROTATE=2")
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("install.sh: %v\n%s", err, out)
			}
			// The log directory as the image has it (the task volume takes
			// its owner and mode from there), moved to where the
			// configuration points.
			if err := os.Rename(filepath.Join(stage, logDir), logDir); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(stage, "etc/rsyslog.conf")

			rsyslog := underTierCapabilities(tier, rsyslogd, "-n", "-f", conf, "-i", pidfile)
			var rsyslogOut strings.Builder
			rsyslog.Stdout, rsyslog.Stderr = &rsyslogOut, &rsyslogOut
			if err := rsyslog.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = rsyslog.Process.Signal(syscall.SIGTERM)
				_ = rsyslog.Wait()
			})
			testenv.WaitUntil(t, "rsyslogd's socket", 10*time.Second, func() bool {
				_, err := os.Stat(sock)
				return err == nil
			})

			maillog := filepath.Join(logDir, "maillog")
			send := func(msg string) {
				t.Helper()
				out, err := exec.Command("logger", "--socket", sock, "-p", "mail.info", "-t", "sm-mta", msg).CombinedOutput()
				if err != nil {
					t.Fatalf("logger: %v\n%s", err, out)
				}
				testenv.WaitUntil(t, fmt.Sprintf("%q in maillog (rsyslogd said: %s)", msg, &rsyslogOut), 10*time.Second, func() bool {
					b, _ := os.ReadFile(maillog)
					return strings.Contains(string(b), msg)
				})
				checkLogFile(t, maillog, mailGID)
			}
			send("first line under " + tier)

			// A rotation as the shipped logrotate configuration does it,
			// under the same capabilities: rename, create, HUP rsyslog.
			state := filepath.Join(dir, "logrotate.state")
			lr := underTierCapabilities(tier, logrotate, "--force", "--state", state, filepath.Join(stage, "etc/logrotate.d/mailtier-maillog"))
			if out, err := lr.CombinedOutput(); err != nil {
				t.Fatalf("logrotate under %s's capabilities: %v\n%s", tier, err, out)
			}
			if _, err := os.Stat(maillog + ".1"); err != nil {
				t.Fatalf("logrotate did not rotate: %v", err)
			}
			checkLogFile(t, maillog, mailGID)
			send("second line under " + tier)
			if b, _ := os.ReadFile(maillog); strings.Contains(string(b), "first line") {
				t.Errorf("the new maillog holds the line written before the rotation:\n%s", b)
			}
		})
	}
}

// checkLogFile asserts the log is 0640, owned by root, in group gid.
func checkLogFile(t *testing.T, path string, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || st.Uid != 0 || int(st.Gid) != gid {
		t.Errorf("%s: mode %o uid %d gid %d, want 640 uid 0 gid %d", path, fi.Mode().Perm(), st.Uid, st.Gid, gid)
	}
}
