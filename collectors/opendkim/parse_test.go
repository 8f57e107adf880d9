package opendkim

import (
	"strings"
	"testing"

	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/testenv"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Event
	}{
		// From the lab corpus (OpenDKIM 2.11.0~beta2, Mode s, SyslogSuccess, LogWhy).
		{"6AO5FfLr009227: DKIM-Signature field added (s=mail, d=lab.test)",
			Event{Kind: Signed, QID: "6AO5FfLr009227"}},
		{"6AO5FjOa009317: no signing table match for 'bob@other.test'",
			Event{Kind: NotSigned, QID: "6AO5FjOa009317", Reason: ReasonNoSigningTableMatch}},
		{"can't load key from /etc/opendkim/lab/keys/broken.test/brk.private: No such file or directory",
			Event{Kind: Ignored}},
		{"6AO5FjdF009337: error loading key 'brk._domainkey.broken.test'",
			Event{Kind: SignFailed, QID: "6AO5FjdF009337", Reason: ReasonKeyLoad}},
		{"OpenDKIM Filter v2.11.0 starting (args: -x /etc/opendkim/lab.conf)", Event{Kind: Ignored}},
		{"OpenDKIM Filter v2.11.0 terminating with status 0, errno = 0", Event{Kind: Ignored}},

		// Other installations (trusteddomainproject/OpenDKIM issue 132,
		// docker-mailserver issue 1867): a key OpenSSL cannot parse.
		{"31ED1BDF68: dkim_eom(): resource unavailable: d2i_PrivateKey_bio() failed",
			Event{Kind: SignFailed, QID: "31ED1BDF68", Reason: ReasonKeyLoad}},
		{"31ED1BDF68: SSL error:0D0680A8:asn1 encoding routines:asn1_check_tlen:wrong tag",
			Event{Kind: Ignored, QID: "31ED1BDF68"}},
		{"31ED1BDF69: dkim_eom(): internal error from libopendkim: dkim_sign_ed25519 failed",
			Event{Kind: SignFailed, QID: "31ED1BDF69", Reason: Other}},

		// Written by the same OpenDKIM in this package's integration tests.
		{"mail._domainkey.lab.test: key data is not secure: /tmp can be read or written by other users",
			Event{Kind: Ignored}},
		{"AAAAAAAA000006: signing table references unknown key 'nosuch._domainkey.table.test'",
			Event{Kind: SignFailed, QID: "AAAAAAAA000006", Reason: ReasonTable}},
		{"AAAAAAAA000002: localhost [127.0.0.9] not internal", Event{Kind: Ignored, QID: "AAAAAAAA000002"}},
		{"AAAAAAAA000002: not authenticated", Event{Kind: Ignored, QID: "AAAAAAAA000002"}},
		{"BBBBBBBB000001: DKIM verification successful",
			Event{Kind: Verified, QID: "BBBBBBBB000001", Result: ResultPass}},
		{"BBBBBBBB000001: s=mail d=lab.test a=rsa-sha256 SSL ", Event{Kind: Ignored, QID: "BBBBBBBB000001"}},
		{"BBBBBBBB000002: bad signature data",
			Event{Kind: Verified, QID: "BBBBBBBB000002", Result: ResultFail}},
		{"BBBBBBBB000003: no signature data",
			Event{Kind: Verified, QID: "BBBBBBBB000003", Result: ResultNoSignature}},
		{"BBBBBBBB000004: key revoked (s=mail, d=nodns.test, a=rsa-sha256)",
			Event{Kind: Verified, QID: "BBBBBBBB000004", Result: ResultFail}},
		{"BBBBBBBB000004: key retrieval failed (s=mail, d=nodns.test): 'mail._domainkey.nodns.test' record not found",
			Event{Kind: Verified, QID: "BBBBBBBB000004", Result: Other}},
		{"BBBBBBBB000005: key retrieval failed (s=mail, d=nodns.test): 'mail._domainkey.nodns.test' unexpected reply class/type (-1/-1)",
			Event{Kind: Verified, QID: "BBBBBBBB000005", Result: Other}},

		// Other shapes of opendkim.c 2.11.
		{"(unknown-jobid): DKIM-Signature field added (s=mail, d=lab.test)",
			Event{Kind: Signed, QID: "(unknown-jobid)"}},
		{"4XyzAbCdEf12: error reading signing table", Event{Kind: SignFailed, QID: "4XyzAbCdEf12", Reason: ReasonTable}},
		{"4XyzAbCdEf12: no signing domain match for 'a@x.test'", Event{Kind: NotSigned, QID: "4XyzAbCdEf12", Reason: Other}},
		{"4XyzAbCdEf12: domain 'x.test' exempted, accepting", Event{Kind: NotSigned, QID: "4XyzAbCdEf12", Reason: Other}},
		{"4XyzAbCdEf12: can't determine message sender; accepting", Event{Kind: NotSigned, QID: "4XyzAbCdEf12", Reason: Other}},
		{"4XyzAbCdEf12: external host mx.x.test attempted to send as lab.test", Event{Kind: Ignored, QID: "4XyzAbCdEf12"}},
		{"4XyzAbCdEf12: no MTA name match (host=x, MTA=MTA)", Event{Kind: Ignored, QID: "4XyzAbCdEf12"}},
		{"WARNING: symbol 'i' not available", Event{Kind: Ignored}},

		// The probe's lines are recognised like any other; the collector
		// counts them nowhere.
		{"mailtierprobe: DKIM-Signature field added (s=mail, d=lab.test)",
			Event{Kind: Signed, QID: "mailtierprobe"}},

		// Hostile and unknown text.
		{"", Event{}},
		{"DKIM-Signature field added (s=mail, d=lab.test)", Event{}}, // no queue id
		{"6AO5FjOa009317: domain 'x' owned by evil", Event{QID: "6AO5FjOa009317"}},
		{"6AO5FjOa009317: " + strings.Repeat("\xff", 100), Event{QID: "6AO5FjOa009317"}},
		{"ABC: DKIM-Signature field added (s=a, d=b)", Event{}},                   // too short for a queue id
		{"ABCDEFGHIJKLMNOPQRSTU: DKIM-Signature field added (s=a, d=b)", Event{}}, // too long
		{"6AO5FjOa009317:DKIM-Signature field added", Event{}},                    // no space
		{"6AO5FjOa009317: no signing table match for '\", reason=\"other", Event{Kind: NotSigned, QID: "6AO5FjOa009317", Reason: ReasonNoSigningTableMatch}},
		{"6AO5FjOa009317: error loading key '" + strings.Repeat("A", 70000) + "'", Event{Kind: SignFailed, QID: "6AO5FjOa009317", Reason: ReasonKeyLoad}},
	} {
		if got := Parse(tc.msg); got != tc.want {
			t.Errorf("Parse(%.80q)\n got %+v\nwant %+v", tc.msg, got, tc.want)
		}
	}
}

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
	for _, s := range perMessage {
		for _, junk := range []string{"", "x", "'\x00\xff", strings.Repeat("é", 30)} {
			ev := Parse("6AO5FjOa009317: " + s.prefix + junk)
			switch ev.Kind {
			case SignFailed:
				if !in(ev.Reason, SignFailureReasons) {
					t.Errorf("%q: reason %q", s.prefix, ev.Reason)
				}
			case NotSigned:
				if !in(ev.Reason, NotSignedReasons) {
					t.Errorf("%q: reason %q", s.prefix, ev.Reason)
				}
			case Verified:
				if !in(ev.Result, Results) {
					t.Errorf("%q: result %q", s.prefix, ev.Result)
				}
			}
		}
	}
}

// FuzzParse: no line may panic or yield a label value outside the closed
// sets; the queue id is always text of the line.
func FuzzParse(f *testing.F) {
	addRealWorldSeeds(f)
	f.Add("6AO5FfLr009227: DKIM-Signature field added (s=mail, d=lab.test)")
	f.Add("31ED1BDF68: dkim_eom(): resource unavailable: d2i_PrivateKey_bio() failed")
	f.Add("6AO5FjdF009337: error loading key 'brk._domainkey.broken.test'")
	f.Add("(unknown-jobid): no signature data")
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

// addRealWorldSeeds adds the messages of testdata/realworld/opendkim.cases (after
// their envelope) to the fuzz target's seed corpus.
func addRealWorldSeeds(f *testing.F) {
	for _, line := range testenv.RealWorldLines(f, "opendkim") {
		if rec, ok := logline.Parse(line); ok {
			f.Add(rec.Message)
		}
	}
}
