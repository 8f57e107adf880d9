package opendmarc_test

import "os"
import "slices"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/collectors/opendmarc"
import "github.com/cabalmail/mailtier/internal/metrictest"

// labRun is the golden exposition (testdata/lab-run.prom) of what
// TestRealOpenDMARC's messages count, on the real OpenDMARC and in
// TestCapturedLines' replay of its lines: DMARC pass 4; fail 5 (rejected,
// quarantined and monitored: the result is fail for all three, whatever
// the disposition); none 4 (no DMARC record, and no answer from DNS);
// permerror 1; SPF pass 6 and fail 7 for MAIL FROM, pass 1 for HELO; one
// ignored domain, one message without From:, two ignored connections.
const labRun = "lab-run"

// TestCapturedLines replays what Debian's OpenDMARC 1.4.2 logged in
// TestRealOpenDMARC (testdata/opendmarc.log, refreshed by running it with
// MAILTIER_OPENDMARC_CAPTURE=testdata): every line is recognised and the
// counts are those of the real run.
func TestCapturedLines(t *testing.T) {
	b, err := os.ReadFile("testdata/opendmarc.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	c := opendmarc.New(opendmarc.Config{})
	if got := metrictest.Feed(t, c, lines...); got != len(lines) {
		t.Errorf("%d of %d lines recognised", got, len(lines))
	}
	metrictest.Golden(t, c, labRun)
}

// TestShapes covers the lines of opendmarc.c the real run does not make,
// written as its syslog calls format them.
func TestShapes(t *testing.T) {
	cases := []struct {
		msg  string
		kind opendmarc.Kind
		// label is Result for Evaluated and SPF, Reason otherwise.
		label string
	}{
		{"6AO5FfLr009245: example.com temperror", opendmarc.Evaluated, "temperror"},
		{"6AO5FfLr009245: opendmarc_policy_query_dmarc(example.com) returned status 2", opendmarc.Evaluated, "temperror"},
		{"6AO5FfLr009245: opendmarc_policy_query_dmarc(example.com) returned status 6", opendmarc.Evaluated, "permerror"},
		{"6AO5FfLr009245: opendmarc_policy_query_dmarc(a) returned status 9) returned status 3", opendmarc.Evaluated, "permerror"},
		{"6AO5FfLr009245: opendmarc_policy_query_dmarc(example.com) returned status 12", opendmarc.Evaluated, "other"},
		{"(unknown-jobid): example.com pass", opendmarc.Evaluated, "pass"},
		{"6AO5FfLr009245:  none", opendmarc.Evaluated, "none"}, // a From: with no domain
		{"6AO5FfLr009245: SPF(mailfrom): example.com tempfail", opendmarc.SPF, "tempfail"},
		{"6AO5FfLr009245: SPF(helo): mx.example.com permerror", opendmarc.SPF, "permerror"},
		{"6AO5FfLr009245: SPF(mailfrom): example.com neutral", opendmarc.SPF, "other"},
		{"6AO5FfLr009245: RFC5322 requirement error: multiple From fields", opendmarc.NotEvaluated, "header_requirements"},
		{"6AO5FfLr009245: multi-valued From field detected", opendmarc.NotEvaluated, "multi_from"},
		{"6AO5FfLr009245: unable to parse From header field", opendmarc.NotEvaluated, "unparsable_from"},
		{"6AO5FfLr009245: opendmarc_policy_store_from_domain() returned status 4", opendmarc.Failed, "policy_store"},
		{"6AO5FfLr009245: opendmarc_policy_store_spf() returned status 4", opendmarc.Failed, "policy_store"},
		{"6AO5FfLr009245: Authentication-Results header add failed", opendmarc.Failed, "header_add"},
		{"6AO5FfLr009245: /var/run/opendmarc/opendmarc.dat: fopen(): Permission denied", opendmarc.Failed, "history"},
		{"6AO5FfLr009245: /var/run/opendmarc/opendmarc.dat: flock(LOCK_EX): Bad file descriptor", opendmarc.Failed, "history"},
		{"6AO5FfLr009245: popen(): Cannot allocate memory", opendmarc.Failed, "report"},
		{"6AO5FfLr009245: smfi_quarantine() failed", opendmarc.Failed, "milter"},
		{"6AO5FfLr009245: can't extract SPF address from Authentication-Results", opendmarc.Failed, "other"},
		{"6AO5FfLr009245: ignoring invalid Authentication-Results header \"x\"", opendmarc.Ignored, ""},
		{"6AO5FfLr009245: ARC pass, policy pass > overriding DMARC fail", opendmarc.Ignored, ""},
		{"6AO5FfLr009245 ignoring Authentication-Results at 1 from mx.example.net", opendmarc.Ignored, ""},
		{"ignoring connection from mail.example.net", opendmarc.ConnectionIgnored, ""},
		{"OpenDMARC Filter v1.4.2 terminating with status 0, errno = 4", opendmarc.Ignored, ""},
		{"configuration reloaded from /etc/opendmarc.conf", opendmarc.Ignored, ""},
		// Not OpenDMARC's shapes, or text from the mail that only looks
		// like one: not counted.
		{"6AO5FfLr009245: example.com pass extra", opendmarc.Unknown, ""},
		{"6AO5FfLr009245: example.com quarantine", opendmarc.Unknown, ""},
		{"6AO5FfLr009245: pass", opendmarc.Unknown, ""},
		{"6AO5FfLr009245 example.com pass", opendmarc.Unknown, ""},
		{"short: example.com pass", opendmarc.Unknown, ""},
		{"malloc(): Cannot allocate memory", opendmarc.Unknown, ""},
		{"", opendmarc.Unknown, ""},
	}
	for _, c := range cases {
		ev := opendmarc.Parse(c.msg)
		label := ev.Reason
		if ev.Kind == opendmarc.Evaluated || ev.Kind == opendmarc.SPF {
			label = ev.Result
		}
		if ev.Kind != c.kind || label != c.label {
			t.Errorf("Parse(%q) = kind %d, %q; want kind %d, %q", c.msg, ev.Kind, label, c.kind, c.label)
		}
	}
}

// TestDomainsNeverLabels feeds lines whose domains and results are
// attacker-chosen text: the series stay the closed set.
func TestDomainsNeverLabels(t *testing.T) {
	c := opendmarc.New(opendmarc.Config{})
	before := len(metrictest.Gather(t, c))
	for _, msg := range []string{
		"6AO5FfLr009245: evil\"} 1\nx{a=\"b pass",
		"6AO5FfLr009245: SPF(mailfrom): evil.example fail\"} 9",
		"6AO5FfLr009245: SPF(helo): evil.example ",
		"6AO5FfLr009245: opendmarc_policy_query_dmarc(x) returned status ",
		"6AO5FfLr009245: " + strings.Repeat("a", 70000) + " fail",
	} {
		metrictest.Feed(t, c, "Nov 24 05:15:41 mx opendmarc[9]: "+msg)
	}
	got := metrictest.Gather(t, c)
	if len(got) != before {
		t.Errorf("%d series after hostile lines, %d before", len(got), before)
	}
	for k := range got {
		if strings.Contains(k, "evil") || strings.Contains(k, "aaaa") {
			t.Errorf("text from a line became a label: %s", k)
		}
	}
}

// TestRegistration builds the collector from its flags.
func TestRegistration(t *testing.T) {
	c, err := metrictest.Build(t, opendmarc.Registration, "--collector.opendmarc.programs=opendmarc-milter")
	if err != nil {
		t.Fatal(err)
	}
	lc := c.(*opendmarc.Collector)
	if p := lc.Programs(); len(p) != 1 || p[0] != "opendmarc-milter" {
		t.Errorf("programs %q", p)
	}
	metrictest.MustFeed(t, lc, "Nov 24 05:15:41 mx opendmarc-milter[9]: 6AO5FfLr009245: example.com fail")
	metrictest.Golden(t, lc, "registration")
}

// FuzzParse: no input makes Parse panic or yield a label value outside
// its closed set, or a queue id that is not a part of the line.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/opendmarc.log")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if i := strings.Index(l, "]: "); i > 0 {
			f.Add(l[i+3:])
		}
	}
	f.Add("6AO5FfLr009245: opendmarc_policy_query_dmarc(x) returned status 4")
	f.Fuzz(func(t *testing.T, msg string) {
		ev := opendmarc.Parse(msg)
		in := func(v string, set []string) bool {
			return v == "" || slices.Contains(set, v)
		}
		if !in(ev.Origin, opendmarc.Origins) || !in(ev.Reason, append(append([]string{}, opendmarc.NotEvaluatedReason...), opendmarc.ErrorReasons...)) ||
			!in(ev.Result, append(append([]string{}, opendmarc.Results...), opendmarc.SPFResults...)) {
			t.Fatalf("label outside its closed set: %+v", ev)
		}
		if ev.Kind == opendmarc.SPF && (ev.Origin == "" || !slices.Contains(opendmarc.SPFResults, ev.Result)) {
			t.Fatalf("SPF event without origin or result: %+v", ev)
		}
		if ev.Kind == opendmarc.Evaluated && !slices.Contains(opendmarc.Results, ev.Result) {
			t.Fatalf("evaluation without a result: %+v", ev)
		}
		if !strings.HasPrefix(msg, ev.QID) {
			t.Fatalf("queue id %q is not the start of %q", ev.QID, msg)
		}
	})
}
