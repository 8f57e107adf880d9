package pipeline_test

import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// claimer records the programs of the lines it is handed.
type claimer struct {
	programs []string
	got      []string
}

func (c *claimer) Describe(chan<- *prometheus.Desc) {}
func (c *claimer) Collect(chan<- prometheus.Metric) {}
func (c *claimer) Programs() []string               { return c.programs }
func (c *claimer) Handle(rec *logline.Record) bool {
	c.got = append(c.got, strings.Clone(rec.Program))
	return rec.Message == "ok"
}

// TestRoutesByProgram: each line goes to every collector that claims its
// program, whatever other programs share its name's length, more than
// eight programs in all; a program no collector claims (as long as a
// claimed one, shorter or longer than all) is unclaimed. Each collector's
// matched and unmatched lines are counted at the checkpoint.
func TestRoutesByProgram(t *testing.T) {
	mta := &claimer{programs: []string{"sm-mta", "sendmail", "sm-msp-queue"}}
	f2b := &claimer{programs: []string{"fail2ban", "fail2ban.filter", "fail2ban-server"}}
	dkim := &claimer{programs: []string{"opendkim", "sendmail", "dovecot", "x", "opendmarc"}}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "mta", Collector: mta}, {Name: "f2b", Collector: f2b},
		{Name: "dkim", Collector: dkim}}, nil)
	in := r.Input("in")
	in.Opened(0)
	var end int64
	for _, l := range []string{"sm-mta: ok", "sendmail: ok", "opendkim: no", "fail2ban: ok", "x: ok",
		"sendmaix: ok", "y: ok", "sm-msp-queue: no", "fail2ban-server: ok", "a-very-long-program-name: ok",
		"fail2ban.filter: no", "dovecot: ok"} {
		end += int64(len(l)) + 16 + 1
		in.Line("Nov 24 05:15:41 vm "+l, end)
	}
	in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})
	for _, tc := range []struct {
		c    *claimer
		want string
	}{
		{mta, "sm-mta sendmail sm-msp-queue"},
		{f2b, "fail2ban fail2ban-server fail2ban.filter"},
		{dkim, "sendmail opendkim x dovecot"},
	} {
		if got := strings.Join(tc.c.got, " "); got != tc.want {
			t.Errorf("%v handed %q, want %q", tc.c.programs, got, tc.want)
		}
	}
	expected := `
# HELP mailtier_exporter_collector_lines_total Lines handed to a collector, by collector and whether it recognised their shape (matched) or not (unmatched).
# TYPE mailtier_exporter_collector_lines_total counter
mailtier_exporter_collector_lines_total{collector="dkim",result="matched"} 3
mailtier_exporter_collector_lines_total{collector="dkim",result="unmatched"} 1
mailtier_exporter_collector_lines_total{collector="f2b",result="matched"} 2
mailtier_exporter_collector_lines_total{collector="f2b",result="unmatched"} 1
mailtier_exporter_collector_lines_total{collector="mta",result="matched"} 2
mailtier_exporter_collector_lines_total{collector="mta",result="unmatched"} 1
# HELP mailtier_exporter_lines_skipped_total Lines no collector saw, by input path and reason: unparsed (no known envelope), unclaimed (no enabled collector claims the program), too_long.
# TYPE mailtier_exporter_lines_skipped_total counter
mailtier_exporter_lines_skipped_total{path="in",reason="too_long"} 0
mailtier_exporter_lines_skipped_total{path="in",reason="unclaimed"} 3
mailtier_exporter_lines_skipped_total{path="in",reason="unparsed"} 0
`
	metrictest.Compare(t, r, expected, "mailtier_exporter_collector_lines_total", "mailtier_exporter_lines_skipped_total")
	if in.Offset() != end {
		t.Fatalf("offset %d, want %d", in.Offset(), end)
	}
}

// TestFollowedInputPublishedTogether: between checkpoints a followed
// input's offset, lines read and collectors' counts stay as of the last
// checkpoint, all three; none runs ahead of the others (a positions save
// or a scrape in between must not see an offset past the lines counted).
func TestFollowedInputPublishedTogether(t *testing.T) {
	mta := &claimer{programs: []string{"sm-mta"}}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "mta", Collector: mta}}, nil)
	in := r.Input("in")
	in.Opened(5)
	check := func(when string, offset, lines int64, matched float64) {
		t.Helper()
		if in.Offset() != offset || in.Lines() != lines {
			t.Errorf("%s: offset %d, lines %d; want %d, %d", when, in.Offset(), in.Lines(), offset, lines)
		}
		if got := metrictest.Value(t, r, "mailtier_exporter_collector_lines_total", "collector=mta,result=matched"); got != matched {
			t.Errorf("%s: matched lines %v, want %v", when, got, matched)
		}
	}
	check("opened", 5, 0, 0)
	in.Line("Nov 24 05:15:41 vm sm-mta: ok", 40)
	in.Line("Nov 24 05:15:41 vm sm-mta: ok", 75)
	check("before the checkpoint", 5, 0, 0)
	in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: 75}, Size: 75})
	check("at the checkpoint", 75, 2, 2)
	in.TooLong(100000, 100075)
	check("after a long line", 75, 2, 2)
	in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: 100075}, Size: 100075})
	check("at the next checkpoint", 100075, 3, 2)
}
