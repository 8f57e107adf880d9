package opendkim

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/metrictest"

func TestParse(t *testing.T) {
	metrictest.ParseCases(t, "testdata/parse.cases", kindNames, func(_ *testing.T, msg string) any { return Parse(msg) })
	// Not UTF-8, or too long, for a line of the cases file.
	for msg, want := range map[string]Event{
		"6AO5FjOa009317: " + strings.Repeat("\xff", 100):                         {QID: "6AO5FjOa009317"},
		"6AO5FjOa009317: error loading key '" + strings.Repeat("A", 70000) + "'": {Kind: SignFailed, QID: "6AO5FjOa009317", Reason: ReasonKeyLoad},
	} {
		if got := Parse(msg); got != want {
			t.Errorf("Parse(%.80q)\n got %+v\nwant %+v", msg, got, want)
		}
	}
}

// kindNames names the kinds in testdata/parse.cases.
var kindNames = map[Kind]string{Unknown: "Unknown", Ignored: "Ignored", Signed: "Signed", SignFailed: "SignFailed", NotSigned: "NotSigned", Verified: "Verified"}

// TestParseLabelsClosed checks that every label value Parse can return is
// in the closed sets, whatever the line.
func TestParseLabelsClosed(t *testing.T) {
	in := func(v string, set []string) bool {
		for _, s := range set {
			if s == v {
				return true
			}
		}
		return false
	}
	for start := range perMessage.All() {
		for _, junk := range []string{"", "x", "'\x00\xff", strings.Repeat("é", 30)} {
			ev := Parse("6AO5FjOa009317: " + start + junk)
			switch ev.Kind {
			case SignFailed:
				if !in(ev.Reason, SignFailureReasons) {
					t.Errorf("%q: reason %q", start, ev.Reason)
				}
			case NotSigned:
				if !in(ev.Reason, NotSignedReasons) {
					t.Errorf("%q: reason %q", start, ev.Reason)
				}
			case Verified:
				if !in(ev.Result, Results) {
					t.Errorf("%q: result %q", start, ev.Result)
				}
			}
		}
	}
}

// FuzzParse: no line may panic or yield a label value outside the closed
// sets; the queue id is always text of the line.
func FuzzParse(f *testing.F) {
	metrictest.AddRealWorldMessages(f, "opendkim")
	f.Fuzz(func(t *testing.T, msg string) {
		ev := Parse(msg)
		in := func(v string, set []string) bool {
			for _, s := range set {
				if s == v {
					return true
				}
			}
			return v == ""
		}
		if !in(ev.Reason, SignFailureReasons) && !in(ev.Reason, NotSignedReasons) || !in(ev.Result, Results) {
			t.Fatalf("Parse(%q) = %+v: label outside the closed sets", msg, ev)
		}
		if !strings.Contains(msg, ev.QID) {
			t.Fatalf("Parse(%q): queue id %q not from the line", msg, ev.QID)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	msgs := []string{
		"6AO5FfLr009227: DKIM-Signature field added (s=mail, d=lab.test)",
		"6AO5FjOa009317: no signing table match for 'bob@other.test'",
		"can't load key from /etc/opendkim/lab/keys/broken.test/brk.private: No such file or directory",
		"BBBBBBBB000001: DKIM verification successful",
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Parse(msgs[i%len(msgs)])
	}
}
