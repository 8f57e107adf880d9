package main

import "strconv"
import "testing"

func TestSyslogProgram(t *testing.T) {
	for line, want := range map[string]string{
		"Nov 24 05:15:41 mx sm-mta[9221]: 6AO5Ff2e009206: to=<alice@e2e.test>": "sm-mta",
		"Nov  4 05:15:41 mx dovecot: imap-login: Login: user=<alice>":          "dovecot",
		"Nov 24 05:15:41 mx opendkim[67]: mailtierprobe: DKIM-Signature":       "opendkim",
		"2026-11-24 06:20:42,097 fail2ban.server [113]: INFO Starting":         "",
		"short line": "",
	} {
		if got := syslogProgram(line); got != want {
			t.Errorf("syslogProgram(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	x := newExpected()
	x.add(2, "a_total", "k", "x")
	x.add(1, "b_total")
	got := map[string]float64{
		series("a_total", "k", "x"): 2,
		series("a_total", "k", "y"): 1, // exact family: must be 0
		series("c_total", "k", "z"): 5, // not compared
	}
	res := map[string]check{}
	for _, c := range x.compare(got, []string{"a_total"}) {
		res[c.series] = c
	}
	if len(res) != 3 {
		t.Fatalf("compare gave %d checks, want 3: %v", len(res), res)
	}
	if !res[`a_total{k="x"}`].ok() {
		t.Errorf("a_total{k=x}: %+v, want ok", res[`a_total{k="x"}`])
	}
	if c := res[`a_total{k="y"}`]; c.ok() || c.want != 0 {
		t.Errorf("a_total{k=y}: %+v, want a failure against 0", c)
	}
	if c := res["b_total"]; c.ok() || c.present {
		t.Errorf("b_total: %+v, want absent", c)
	}
	r := check{ranged: true, want: 3, upTo: 4, got: 4, present: true}
	if !r.ok() {
		t.Errorf("%+v: want ok", r)
	}
}

func TestDotStuff(t *testing.T) {
	if got, want := dotStuff("a\r\n.b\r\n..\r\n"), "a\r\n..b\r\n...\r\n"; got != want {
		t.Errorf("dotStuff = %q, want %q", got, want)
	}
}

func TestInterleaveKeepsEveryAction(t *testing.T) {
	in := make([]action, 23)
	for i := range in {
		in[i].name = strconv.Itoa(i)
	}
	seen := map[string]int{}
	for _, a := range interleave(in) {
		seen[a.name]++
	}
	for i := range in {
		if seen[strconv.Itoa(i)] != 1 {
			t.Errorf("action %d appears %d times", i, seen[strconv.Itoa(i)])
		}
	}
}
