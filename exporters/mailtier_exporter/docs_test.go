package main

import "bufio"
import "net"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "testing"

import "github.com/prometheus/common/expfmt"
import "github.com/prometheus/common/model"

import "github.com/cabalmail/mailtier/collectors/process"
import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/docs/metricsdoc"
import "github.com/cabalmail/mailtier/internal/testenv"

// documented reads docs/metrics.md: every metric's label names, sorted.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := metricsdoc.Load("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for name, m := range doc.Metrics {
		labels := slices.Clone(m.Labels)
		sort.Strings(labels)
		out[name] = labels
	}
	return out
}

// TestMetricsDocumented checks that every metric the exporter exposes,
// with every collector on, is in docs/metrics.md with the same labels.
func TestMetricsDocumented(t *testing.T) {
	docs := documented(t)
	queue := filepath.Join(t.TempDir(), "mqueue")
	if err := os.Mkdir(queue, 0o750); err != nil {
		t.Fatal(err)
	}
	out := runOnceBinary(t, nil, "--collector.mqueue.path="+queue, "--tail.path=../../testdata/corpus/maillog",
		// Dovecot's stats passthrough exists once a stats listener answers.
		"--collector.dovecot.stats-url="+dovecotStats(t),
		// Sessions exist once an anvil socket answers.
		"--collector.anvil", "--collector.anvil.socket="+anvilSocket(t),
		// The probe's metrics exist once a probe is configured (--once
		// runs no probe); the process collector is off by default, and
		// its fake procfs has a process of every group.
		"--collector.opendkim.probe.address=unix:/nonexistent/opendkim.sock", "--collector.opendkim.probe.from=probe@lab.test",
		"--collector.process", "--collector.process.procfs=../../collectors/process/testdata/proc",
		"--collector.process.names=dovecot,sendmail/sm-mta,opendkim,opendmarc,procmail,fail2ban/fail2ban-server,rsyslog/rsyslogd")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for name, mf := range mfs {
		exposed[name] = true
		want, ok := docs[name]
		if !ok {
			t.Errorf("%s is exposed but not in docs/metrics.md", name)
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName())
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels %v, docs/metrics.md says %v", name, got, want)
				break
			}
		}
	}
	// Everything documented for the collectors that ran must exist.
	for name := range docs {
		ours := processMetric(name) || slices.ContainsFunc(registry.All.MetricPrefixes(), func(p string) bool { return strings.HasPrefix(name, p) })
		if ours && !exposed[name] {
			t.Errorf("docs/metrics.md lists %s, which the exporter does not expose", name)
		}
	}
}

// processMetric reports whether name is one of the process collector's
// per-group metrics (<group>_processes, <group>_process_*).
func processMetric(name string) bool {
	for _, g := range process.Groups {
		if strings.HasPrefix(name, g+"_process") {
			return true
		}
	}
	return false
}

// dovecotStats serves what Debian's Dovecot 2.3 served with
// docker/mail/dovecot/95-stats.conf, as its stats listener does.
func dovecotStats(t *testing.T) string {
	t.Helper()
	body, err := os.ReadFile("../../collectors/dovecot/testdata/stats-95.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=0.0.1; charset=utf-8")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// anvilSocket answers CONNECT-DUMP as Dovecot 2.3's anvil does, with one
// IMAP session.
func anvilSocket(t *testing.T) string {
	t.Helper()
	return testenv.ServeUnix(t, "anvil", func(c net.Conn) {
		r := bufio.NewReader(c)
		r.ReadString('\n') // VERSION
		r.ReadString('\n') // CONNECT-DUMP
		c.Write([]byte("imap/192.0.2.10/alice\t9310\t1\n\n"))
	})
}
