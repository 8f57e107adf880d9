package fail2ban_test

import "fmt"
import "os"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/fail2ban"

func check(t *testing.T, c prometheus.Collector, want map[string]float64) {
	t.Helper()
	got := metrictest.Gather(t, c)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func line(module, level, msg string) string {
	return fmt.Sprintf("2026-11-24 05:15:50,173 fail2ban.%-16s [9143]: %-7s %s", module, level, msg)
}

func TestCounts(t *testing.T) {
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{})
	metrictest.MustFeed(t, c,
		line("filter", "INFO", "[sshd] Found 192.0.2.1 - 2026-11-24 05:15:41"),
		line("actions", "NOTICE", "[sshd] Ban 192.0.2.1"),
		line("actions", "NOTICE", "[sshd] Ban 192.0.2.2"),
		line("actions", "NOTICE", "[sshd] Restore Ban 192.0.2.3"),
		line("actions", "NOTICE", "[sshd] Reban 192.0.2.3"),
		line("actions", "NOTICE", "[sshd] Unban 192.0.2.1"),
		// Jails not in the list: "other", addresses counted per jail.
		line("actions", "NOTICE", "[my-jail] Ban 192.0.2.9"),
		line("actions", "NOTICE", "[their-jail] Ban 192.0.2.9"),
		line("filter", "INFO", "[their-jail] Found 192.0.2.9 - 2026-11-24 05:15:41"),
	)
	check(t, c, map[string]float64{
		"fail2ban_matches_total{jail=sshd}":      1,
		"fail2ban_bans_total{jail=sshd}":         2,
		"fail2ban_ban_restores_total{jail=sshd}": 1,
		"fail2ban_unbans_total{jail=sshd}":       1,
		"fail2ban_banned{jail=sshd}":             2, // .2 and .3
		"fail2ban_bans_total{jail=other}":        2,
		"fail2ban_matches_total{jail=other}":     1,
		"fail2ban_banned{jail=other}":            2,
		"fail2ban_banned{jail=dovecot}":          0,
	})
	// An unban of an address not held counts but changes no state; a
	// flush or a stopped jail empties that jail only.
	metrictest.MustFeed(t, c,
		line("actions", "NOTICE", "[sshd] Unban 198.51.100.1"),
		line("actions", "NOTICE", "[my-jail] Flush ticket(s) with iptables-multiport"),
	)
	check(t, c, map[string]float64{"fail2ban_banned{jail=sshd}": 2, "fail2ban_banned{jail=other}": 1})
	metrictest.MustFeed(t, c, line("jail", "INFO", "Jail 'sshd' stopped"))
	check(t, c, map[string]float64{"fail2ban_banned{jail=sshd}": 0, "fail2ban_banned{jail=other}": 1,
		"fail2ban_unbans_total{jail=sshd}": 2})
	// fail2ban restarted without a stop line (killed): a new jail starts empty.
	metrictest.MustFeed(t, c, line("jail", "INFO", "Creating new jail 'their-jail'"))
	check(t, c, map[string]float64{"fail2ban_banned{jail=other}": 0})
}

func TestConfiguredJails(t *testing.T) {
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{Jails: []string{"imap-bots"}})
	metrictest.MustFeed(t, c, line("actions", "NOTICE", "[imap-bots] Ban 192.0.2.1"), line("actions", "NOTICE", "[sshd] Ban 192.0.2.1"))
	check(t, c, map[string]float64{"fail2ban_bans_total{jail=imap-bots}": 1, "fail2ban_bans_total{jail=other}": 1})
	if _, ok := metrictest.Gather(t, c)["fail2ban_bans_total{jail=sshd}"]; ok {
		t.Error("a jail outside the list has a series of its own")
	}
	for _, tc := range []struct {
		jails []string
		err   string
	}{
		{[]string{"other"}, `--collector.fail2ban.jails: "other" is the label of unlisted jails, not a jail name`},
		{[]string{"sshd", "sshd"}, `--collector.fail2ban.jails: "sshd" given twice`},
		{[]string{"ssh d"}, `--collector.fail2ban.jails: "ssh d": jail names hold letters, digits and - _ . @ only`},
		{[]string{""}, ``},
		{[]string{strings.Repeat("j", 65)}, `--collector.fail2ban.jails: "` + strings.Repeat("j", 65) + `" is longer than 64 characters`},
	} {
		_, err := fail2ban.New(fail2ban.Config{Jails: tc.jails})
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.jails, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.err {
			t.Errorf("%q: got %v, want %s", tc.jails, err, tc.err)
		}
	}
}

func TestBannedBounded(t *testing.T) {
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{MaxBanned: 100})
	for i := 0; i < 1000; i++ {
		metrictest.MustFeed(t, c, line("actions", "NOTICE", fmt.Sprintf("[sshd] Ban 10.0.%d.%d", i/256, i%256)))
		metrictest.MustFeed(t, c, line("actions", "NOTICE", fmt.Sprintf("[jail%d] Ban 10.0.0.1", i)))
	}
	check(t, c, map[string]float64{"fail2ban_bans_total{jail=sshd}": 1000, "fail2ban_banned{jail=sshd}": 50,
		"fail2ban_banned{jail=other}": 50, "fail2ban_bans_total{jail=other}": 1000})
	// Unbans free room.
	for i := 0; i < 1000; i++ {
		metrictest.MustFeed(t, c, line("actions", "NOTICE", fmt.Sprintf("[sshd] Unban 10.0.%d.%d", i/256, i%256)))
	}
	metrictest.MustFeed(t, c, line("actions", "NOTICE", "[sshd] Ban 192.0.2.1"))
	check(t, c, map[string]float64{"fail2ban_banned{jail=sshd}": 1, "fail2ban_banned{jail=other}": 50})
	// Names longer than anything fail2ban writes are not held.
	metrictest.MustFeed(t, c, line("actions", "NOTICE", "[sshd] Ban "+strings.Repeat("1", 100)))
	check(t, c, map[string]float64{"fail2ban_banned{jail=sshd}": 1, "fail2ban_bans_total{jail=sshd}": 1002})
}

func TestLint(t *testing.T) {
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{})
	metrictest.MustFeed(t, c, line("actions", "NOTICE", "[sshd] Ban 192.0.2.1"))
	metrictest.Lint(t, c)
}

// status reads f2b-status-end.txt, the output of "fail2ban-client status
// <jail>" for every jail at the end of the lab's run.
func status(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/corpus/f2b-status-end.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	jail := ""
	field := regexp.MustCompile(`^[|` + "`" + ` -]*(Currently failed|Total failed|Currently banned|Total banned):\s*(\d+)$`)
	for _, l := range strings.Split(string(raw), "\n") {
		if j, ok := strings.CutPrefix(l, "Status for the jail: "); ok {
			jail = j
			out[jail] = map[string]float64{}
			continue
		}
		if m := field.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[jail][m[1]] = v
		}
	}
	if len(out) != 3 {
		t.Fatalf("f2b-status-end.txt: %d jails", len(out))
	}
	return out
}

// TestCorpus replays fail2ban 1.0.2's log of the lab run and checks every
// jail against fail2ban's own totals at the end of the run.
func TestCorpus(t *testing.T) {
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{})
	r := metrictest.Replay(t, "fail2ban", c, "fail2ban.log")
	want := map[string]float64{}
	for jail, st := range status(t) {
		metrictest.Golden(t, c, "corpus-fail2ban.log")

		want["fail2ban_bans_total{jail="+jail+"}"] = st["Total banned"]
		want["fail2ban_matches_total{jail="+jail+"}"] = st["Total failed"]
		want["fail2ban_banned{jail="+jail+"}"] = st["Currently banned"]
		// Every ban of the run was lifted by its bantime (bantime 20 s).
		want["fail2ban_unbans_total{jail="+jail+"}"] = st["Total banned"] - st["Currently banned"]
	}
	metrictest.ExpectOnly(t, metrictest.Gather(t, c), want)
	metrictest.ExpectLines(t, r, "fail2ban", 317)
}

// TestRestart cuts the corpus log after every line: an exporter that read
// the log live up to the cut, and a new exporter that replays the same
// file at start (--collector.fail2ban.log-path), agree on fail2ban_banned.
// The replay counts nothing.
func TestRestart(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/corpus/fail2ban.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
	dir := t.TempDir()
	live := metrictest.New(t, fail2ban.New, fail2ban.Config{})
	peak := map[string]float64{}
	for i, l := range lines {
		metrictest.MustFeed(t, live, strings.TrimSuffix(l, "\n"))
		path := filepath.Join(dir, fmt.Sprintf("cut%d.log", i))
		// Half the cuts end without a final newline, as a file being written may.
		cut := strings.Join(lines[:i+1], "")
		if i%2 == 1 {
			cut = strings.TrimSuffix(cut, "\n")
		}
		if err := os.WriteFile(path, []byte(cut), 0o644); err != nil {
			t.Fatal(err)
		}
		restarted := metrictest.New(t, fail2ban.New, fail2ban.Config{LogPaths: []string{filepath.Join(dir, "missing.log"), path}})
		want, got := metrictest.Gather(t, live), metrictest.Gather(t, restarted)
		for k, v := range want {
			if strings.HasPrefix(k, "fail2ban_banned{") {
				if got[k] != v {
					t.Fatalf("after line %d: %s live %v, restarted %v", i+1, k, v, got[k])
				}
				peak[k] = max(peak[k], v)
			} else if got[k] != 0 {
				t.Fatalf("after line %d: the replay counted %s = %v", i+1, k, got[k])
			}
		}
	}
	// The run did ban: the comparison was not only of zeros.
	for _, j := range []string{"dovecot", "dovecot-file", "sendmail-reject"} {
		if peak["fail2ban_banned{jail="+j+"}"] == 0 {
			t.Errorf("jail %s never had a ban in the corpus", j)
		}
	}
	// Rotated file first, then the current one.
	half := len(lines) / 2
	old, cur := filepath.Join(dir, "fail2ban.log.1"), filepath.Join(dir, "fail2ban.log")
	os.WriteFile(old, []byte(strings.Join(lines[:half], "")), 0o644)
	os.WriteFile(cur, []byte(strings.Join(lines[half:], "")), 0o644)
	restarted := metrictest.New(t, fail2ban.New, fail2ban.Config{LogPaths: []string{old, cur}})
	for k, v := range metrictest.Gather(t, live) {
		if strings.HasPrefix(k, "fail2ban_banned{") && metrictest.Gather(t, restarted)[k] != v {
			t.Errorf("rotated + current: %s = %v, want %v", k, metrictest.Gather(t, restarted)[k], v)
		}
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	// A directory cannot be read as a log.
	_, err := fail2ban.New(fail2ban.Config{LogPaths: []string{dir}})
	want := "--collector.fail2ban.log-path " + dir + ": read " + dir + ": is a directory"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// Lines longer than 64 KiB are skipped, the rest replayed.
	path := filepath.Join(dir, "f2b.log")
	content := strings.Repeat("x", 200<<10) + "\n" + line("actions", "NOTICE", "[sshd] Ban 192.0.2.1") + "\n" + strings.Repeat("y", 100<<10)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	c := metrictest.New(t, fail2ban.New, fail2ban.Config{LogPaths: []string{path}})
	check(t, c, map[string]float64{"fail2ban_banned{jail=sshd}": 1, "fail2ban_bans_total{jail=sshd}": 0})
}

func TestRegistrationFlags(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "fail2ban.log")
	if err := os.WriteFile(logPath, []byte(line("actions", "NOTICE", "[imap] Ban 192.0.2.1")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want map[string]float64
		err  string
	}{
		{nil, map[string]float64{"fail2ban_banned{jail=sshd}": 0, "fail2ban_banned{jail=dovecot-file}": 0, "fail2ban_banned{jail=recidive}": 0}, ""},
		{[]string{"--collector.fail2ban.jails=imap,smtp", "--collector.fail2ban.jails=sshd", "--collector.fail2ban.log-path=" + filepath.Join(dir, "fail2ban.log.1"),
			"--collector.fail2ban.log-path=" + logPath},
			map[string]float64{"fail2ban_banned{jail=imap}": 1, "fail2ban_banned{jail=smtp}": 0, "fail2ban_banned{jail=sshd}": 0, "fail2ban_banned{jail=other}": 0}, ""},
		{[]string{"--collector.fail2ban.jails=sshd,other"}, nil, `--collector.fail2ban.jails: "other" is the label of unlisted jails, not a jail name`},
		{[]string{"--collector.fail2ban.log-path=" + dir}, nil, "--collector.fail2ban.log-path " + dir + ": read " + dir + ": is a directory"},
	} {
		c := metrictest.BuildErr(t, fail2ban.Registration, tc.err, tc.args...)
		if c == nil {
			continue
		}
		check(t, c, tc.want)
		if _, ok := c.(collectors.LogCollector); !ok {
			t.Fatal("not a LogCollector")
		}
	}
	if fail2ban.Registration.Name != "fail2ban" || !fail2ban.Registration.Enabled {
		t.Errorf("registration %q, enabled %v", fail2ban.Registration.Name, fail2ban.Registration.Enabled)
	}
}
