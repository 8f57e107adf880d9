package sendmail

import (
	"testing"

	"github.com/cabalmail/mailtier/internal/logline"
	"github.com/cabalmail/mailtier/internal/testenv"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Event
	}{
		{"6AO5FflG009238: from=<support@remote.test>, size=207, class=0, nrcpts=1, msgid=<in_local_ok-0002@remote.test>, proto=ESMTP, daemon=MTA, relay=mx21.remote.test [127.0.0.21]",
			Event{Kind: From, QID: "6AO5FflG009238", Daemon: "MTA", Nrcpts: 1, Size: 207}},
		{"6AO5FfLr009227: from=<carol@lab.test>, size=424, class=0, nrcpts=1, msgid=<x@lab.test>, proto=ESMTP, daemon=MSA, relay=localhost [127.0.0.1]",
			Event{Kind: From, QID: "6AO5FfLr009227", Daemon: "MSA", Nrcpts: 1, Size: 424}},
		{"6AO5FoGo009555: from=<billing@remote.test>, size=500000, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=mx22.remote.test [127.0.0.22]",
			Event{Kind: From, QID: "6AO5FoGo009555", Daemon: "MTA", Size: 500000}},
		// Command-line submission: no daemon=.
		{"5AO5FfLr009227: from=root, size=321, class=0, nrcpts=1, msgid=<a@b>, relay=root@localhost",
			Event{Kind: From, QID: "5AO5FfLr009227", Daemon: DaemonLocal, Nrcpts: 1, Size: 321}},
		// A hostile sender that spells fields inside its address.
		{"6AO5FoGo009555: from=<\", size=1, class=0, nrcpts=9, daemon=MSA, \"@x>, size=10, class=0, nrcpts=1, proto=ESMTP, daemon=evil-name, relay=x",
			Event{Kind: From, QID: "6AO5FoGo009555", Daemon: Other, Nrcpts: 1, Size: 10}},
		{"6AO5Ff2e009206: to=<alice@lab.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30417, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "6AO5Ff2e009206", HasDelay: true, Mailer: "local", Status: StatusSent, HasXDelay: true}},
		{"6AO5GAtN010625: to=<user917@down.test>, delay=00:02:16, xdelay=00:00:00, mailer=relay, pri=120209, relay=[127.0.0.1], dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.1]",
			Event{Kind: To, QID: "6AO5GAtN010625", HasDelay: true, Mailer: "relay", Status: StatusDeferred, Delay: 136, HasXDelay: true, DeferReason: DeferConnectionRefused}},
		{"6AO5FgQk009265: to=<dave@lab.test>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30422, dsn=5.0.0, stat=Insufficient permission",
			Event{Kind: To, QID: "6AO5FgQk009265", HasDelay: true, Mailer: "local", Status: StatusBounced, HasXDelay: true}},
		{"6AO5FfPF009223: to=<orders@partner.test>, ctladdr=<carol@lab.test> (994/993), delay=2+01:02:03, xdelay=00:00:07, mailer=esmtp, pri=30426, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (2.0.0 Ok: queued as sink1)",
			Event{Kind: To, QID: "6AO5FfPF009223", HasDelay: true, Mailer: "esmtp", Status: StatusSent, Delay: 2*86400 + 3723, XDelay: 7, HasXDelay: true}},
		{"7AO5FfPF009223: to=<a@gmail.test>, delay=00:10:00, xdelay=00:00:01, mailer=esmtp, pri=1, relay=mx.gmail.test. [192.0.2.1], dsn=4.7.28, stat=Deferred: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail",
			Event{Kind: To, QID: "7AO5FfPF009223", HasDelay: true, Mailer: "esmtp", Status: StatusDeferred, Delay: 600, XDelay: 1, HasXDelay: true, DeferReason: DeferRateLimited}},
		{"7AO5FfPF009224: to=<a@x.test>, delay=00:00:05, xdelay=00:00:05, mailer=esmtp, pri=1, relay=x.test. [192.0.2.1], dsn=4.0.0, stat=Deferred: Connection timed out with x.test.",
			Event{Kind: To, QID: "7AO5FfPF009224", HasDelay: true, Mailer: "esmtp", Status: StatusDeferred, Delay: 5, XDelay: 5, HasXDelay: true, DeferReason: DeferConnectionTimeout}},
		{"7AO5FfPF009225: to=<a@nx.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=nx.test., dsn=4.4.3, stat=Host unknown (Name server: nx.test.: host name lookup failure)",
			Event{Kind: To, QID: "7AO5FfPF009225", HasDelay: true, Mailer: "esmtp", Status: StatusDeferred, HasXDelay: true, DeferReason: DeferHostUnknown}},
		{"7AO5FfPF009226: to=<a@x.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=x.test. [192.0.2.1], dsn=4.3.0, stat=Deferred: 451 4.3.0 Temporary lookup failure",
			Event{Kind: To, QID: "7AO5FfPF009226", HasDelay: true, Mailer: "esmtp", Status: StatusDeferred, HasXDelay: true, DeferReason: DeferRemoteTempfail}},
		{"7AO5FfPF009227: to=|/usr/bin/procmail, delay=00:00:00, xdelay=00:00:00, mailer=prog, pri=1, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "7AO5FfPF009227", HasDelay: true, Mailer: "prog", Status: StatusSent, HasXDelay: true}},
		{"7AO5FfPF009228: to=/var/mail/x, delay=00:00:00, xdelay=00:00:00, mailer=*file*, pri=1, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "7AO5FfPF009228", HasDelay: true, Mailer: "file", Status: StatusSent, HasXDelay: true}},
		{"7AO5FfPF009229: to=<a@x.test>, delay=00:00:00, mailer=cyrusv2, pri=1, stat=queued",
			Event{Kind: To, QID: "7AO5FfPF009229", HasDelay: true, Mailer: Other, Status: Other}},
		// The echo of a message refused at the end of DATA names no mailer.
		{"6AO5Fgn9009275: to=<erin@lab.test>, delay=00:00:00, pri=178357, stat=Message exceeds maximum fixed size (100000)",
			Event{Kind: To, QID: "6AO5Fgn9009275", HasDelay: true, Status: Other}},
		// A hostile recipient that spells fields inside its address.
		{"7AO5FfPF009230: to=<\", delay=99:99:99, mailer=relay, \"@x>, delay=00:00:03, xdelay=00:00:01, mailer=local, pri=1, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "7AO5FfPF009230", HasDelay: true, Mailer: "local", Status: StatusSent, Delay: 3, XDelay: 1, HasXDelay: true}},
		{"6AO5FgLc009280: ruleset=check_rcpt, arg1=<victim167@elsewhere.test>, relay=relay.spam.test [127.0.0.23], reject=550 5.7.1 <victim167@elsewhere.test>... Relaying denied",
			Event{Kind: Reject, QID: "6AO5FgLc009280", Stage: StageRcpt, Reason: ReasonRelayingDenied}},
		{"6AO5FfrX009190: ruleset=check_rcpt, arg1=<x243@elsewhere.test>, relay=[127.0.0.5], reject=550 5.7.1 <x243@elsewhere.test>... Relaying denied. IP name lookup failed [127.0.0.5]",
			Event{Kind: Reject, QID: "6AO5FfrX009190", Stage: StageRcpt, Reason: ReasonRelayingDenied}},
		{"ruleset=check_relay, arg1=[127.0.0.66], arg2=127.0.0.66, relay=[127.0.0.66], reject=550 5.7.1 Access denied",
			Event{Kind: Reject, Stage: StageConnect, Reason: ReasonAccessDenied}},
		{"6AO5FkgG009370: ruleset=check_mail, arg1=<spammer@spam.test>, relay=mx22.remote.test [127.0.0.22], reject=550 5.7.1 <spammer@spam.test>... Access denied",
			Event{Kind: Reject, QID: "6AO5FkgG009370", Stage: StageMail, Reason: ReasonAccessDenied}},
		{"6AO5FkgG009371: ruleset=check_mail, arg1=<a@nx.test>, relay=x [192.0.2.1], reject=553 5.1.8 <a@nx.test>... Domain of sender address a@nx.test does not exist",
			Event{Kind: Reject, QID: "6AO5FkgG009371", Stage: StageMail, Reason: Other}},
		{"ruleset=check_relay, arg1=x, arg2=192.0.2.9, relay=x [192.0.2.9], reject=554 5.7.1 Rejected 192.0.2.9 found in zen.spamhaus.org",
			Event{Kind: Reject, Stage: StageConnect, Reason: Other}},
		{"6AO5FkgG009372: ruleset=check_rcpt, arg1=<a@b>, relay=x, discard",
			Event{Kind: Ignored, QID: "6AO5FkgG009372"}},
		{"6AO5Ff1s009251: <test107@lab.test>... User unknown",
			Event{Kind: Reject, QID: "6AO5Ff1s009251", Stage: StageRcpt, Reason: ReasonUserUnknown}},
		{"6AO5Fgn9009275: message size (148357) exceeds maximum (100000)",
			Event{Kind: Reject, QID: "6AO5Fgn9009275", Stage: StageData, Reason: ReasonTooLarge, Refusal: true}},
		{"6AO5FjdF009337: Milter: data, reject=451 4.3.2 Please try again later",
			Event{Kind: Reject, QID: "6AO5FjdF009337", Stage: StageData, Reason: ReasonMilter, Refusal: true}},
		{"6AO5FjdF009338: Milter: from=<a@b>, reject=550 5.7.1 no",
			Event{Kind: Reject, QID: "6AO5FjdF009338", Stage: StageMail, Reason: ReasonMilter}},
		{"6AO5FjdF009339: Milter: to=<a@b>, reject=550 5.7.1 no",
			Event{Kind: Reject, QID: "6AO5FjdF009339", Stage: StageRcpt, Reason: ReasonMilter}},
		{"6AO5FfSX009185: rejecting commands from [127.0.0.7] [127.0.0.7] due to pre-greeting traffic after 0 seconds",
			Event{Kind: Reject, QID: "6AO5FfSX009185", Stage: StageConnect, Reason: ReasonPregreet}},
		{"6AO5FfAA009204: [127.0.0.8]: VRFY erin [rejected]",
			Event{Kind: Reject, QID: "6AO5FfAA009204", Stage: Other, Reason: ReasonVrfy}},
		{"6AO5Fffn009203: lost input channel from mx21.remote.test [127.0.0.21] to MTA after rcpt",
			Event{Kind: Lost, QID: "6AO5Fffn009203", Stage: StageRcpt, Abort: true}},
		{"6AO5Fffn009204: lost input channel from [192.0.2.1] to MTA after ehlo",
			Event{Kind: Lost, QID: "6AO5Fffn009204", Stage: StageHelo, Abort: true}},
		{"6AO5FfUe009212: collect: premature EOM: unexpected close",
			Event{Kind: Lost, QID: "6AO5FfUe009212", Stage: StageData, Abort: true}},
		{"6AO5FfUe009212: collect: relay=mx21.remote.test, from=<jdoe@partner.test>, info=unexpected close",
			Event{Kind: Ignored, QID: "6AO5FfUe009212"}},
		{"6AO5FgK3009287: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
			Event{Kind: NoMail, QID: "6AO5FgK3009287"}},
		{"STARTTLS=server, relay=[127.0.0.10], version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
			Event{Kind: StartTLS, Role: RoleServer, Result: ResultOK}},
		{"STARTTLS=server, error: accept failed=-1, reason=unexpected eof while reading, SSL_error=1, errno=0, retry=-1, relay=mx21.remote.test [127.0.0.21]",
			Event{Kind: StartTLS, Role: RoleServer, Result: ResultErr}},
		{"STARTTLS=client, relay=mx.example.test., version=TLSv1.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
			Event{Kind: StartTLS, Role: RoleClient, Result: ResultOK}},
		{"STARTTLS=server: 2340:error:0A000126:SSL routines::unexpected eof while reading:ssl/record/rec_layer_s3.c:303:",
			Event{Kind: Ignored}},
		{"6AO5FgQk009265: 6AO5FgQk009266: DSN: Insufficient permission",
			Event{Kind: DSN, QID: "6AO5FgQk009265"}},
		{"AUTH=server, relay=x [192.0.2.1], authid=alice, mech=PLAIN, bits=0",
			Event{Kind: Auth, Result: ResultOK}},
		{"6AO5FgQk009267: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=alice, relay=x [192.0.2.1]",
			Event{Kind: Auth, QID: "6AO5FgQk009267", Result: ResultFail}},
		{"6AO5FfLr009227: Milter (opendkim) insert (0): header: DKIM-Signature:  v=1; a=rsa-sha256",
			Event{Kind: Ignored, QID: "6AO5FfLr009227"}},
		{"starting daemon (8.17.1.9): SMTP", Event{Kind: Ignored}},
		{"NOQUEUE: connect from [192.0.2.1]", Event{Kind: Ignored}},
		{"6AO5FfLr009227: something sendmail says that is new", Event{Kind: Unknown, QID: "6AO5FfLr009227"}},
		{"", Event{}},
		// One field missing or unexpected never discards the line.
		{"6AO5FfLr009227: to=<a@b>, stat=Sent", Event{Kind: To, QID: "6AO5FfLr009227", Status: StatusSent}},
		{"i3PMa7Xo076734: from=<olimaul@cpan.org>, size=3314, class=-60, nrcpts=1, msgid=<2004@pause.perl.org>, proto=SMTP, daemon=MTA, relay=x1.develooper.com [63.251.223.170]",
			Event{Kind: From, QID: "i3PMa7Xo076734", Daemon: "MTA", Nrcpts: 1, Size: 3314}},
		{"64653CTR048104: from=root, size=12362438, class=-60, nrcpts=1, msgid=<2026@x>, relay=root@localhost",
			Event{Kind: From, QID: "64653CTR048104", Daemon: DaemonLocal, Nrcpts: 1, Size: 12362438}},
		{"7AO5FfPF009231: to=<a@x.test>, delay=999999999999999999+00:00:00, xdelay=9223372036854775807:00:00, mailer=esmtp, pri=1, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "7AO5FfPF009231", Mailer: "esmtp", Status: StatusSent, BadDelays: 2}},
		{"7AO5FfPF009232: to=<a@x.test>, delay=00:99:00, xdelay=00:00:01x, mailer=esmtp, pri=1, dsn=2.0.0, stat=Sent",
			Event{Kind: To, QID: "7AO5FfPF009232", Mailer: "esmtp", Status: StatusSent, BadDelays: 2}},
		{"s1D0GoSs025815: [217.193.142.180]: expn info [rejected]",
			Event{Kind: Reject, QID: "s1D0GoSs025815", Stage: Other, Reason: ReasonVrfy}},
		{"s1MD2hsd004030: rrcs-24-73-201-194.se.biz.rr.com [24.73.201.194] (may be forged): Vrfy root [rejected]",
			Event{Kind: Reject, QID: "s1MD2hsd004030", Stage: Other, Reason: ReasonVrfy}},
		{"s1MD2hsd004031: [24.73.201.194]: HELP vrfy [rejected]", Event{QID: "s1MD2hsd004031"}},
		{"rA37ZTSC026250: <arhipov@domain.com>... No such user here",
			Event{Kind: Reject, QID: "rA37ZTSC026250", Stage: StageRcpt, Reason: Other}},
		{"55HIbcGI002794: <baduser@yourhost.com>... User unknown",
			Event{Kind: Reject, QID: "55HIbcGI002794", Stage: StageRcpt, Reason: ReasonUserUnknown}},
		{"6AO5FfLr009229: Milter: cmd=data, reject=550 5.7.1 Command rejected",
			Event{Kind: Reject, QID: "6AO5FfLr009229", Stage: StageData, Reason: ReasonMilter}},
		{"mAO2tx04010773: mB26PuEl004811: sender notify: Cannot send message for 5 days",
			Event{Kind: DSN, QID: "mAO2tx04010773"}},
		{"mAO2tx04010773: mB26PuEl004812: postmaster notify: User unknown",
			Event{Kind: DSN, QID: "mAO2tx04010773"}},
		{"6AO5FfLr009227: from=<a@b>, size=x", Event{QID: "6AO5FfLr009227", Daemon: DaemonLocal}},
	} {
		got := Parse(tc.msg)
		got.DSN, got.Stat = "", "" // substrings of the line, checked in TestDeferReason
		if got != tc.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.msg, got, tc.want)
		}
	}
}

func TestDeferReason(t *testing.T) {
	for _, tc := range []struct{ dsn, stat, want string }{
		{"4.7.28", "Deferred: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail", DeferRateLimited},
		{"4.7.0", "Deferred: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints", DeferRateLimited},
		{"4.7.650", "Deferred: 451 4.7.650 The mail server [192.0.2.1] has been temporarily Rate Limited due to IP reputation.", DeferRateLimited},
		{"4.3.2", "Deferred: 421 4.3.2 Connection rate limit exceeded.", DeferRateLimited},
		// A refusal by policy is not rate limiting.
		{"4.7.1", "Deferred: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", DeferPolicy},
		{"4.7.1", "Deferred: 451 4.7.1 Please try again later", DeferPolicy},
		{"4.4.1", "Deferred: Connection refused by mx.example.", DeferConnectionRefused},
		{"4.0.0", "Deferred: Connection timed out with example.com.", DeferConnectionTimeout},
		{"4.3.0", "Deferred: 451 4.3.0 Temporary lookup failure", DeferRemoteTempfail},
	} {
		if got := DefaultRateLimits.DeferReason(tc.dsn, tc.stat); got != tc.want {
			t.Errorf("DeferReason(%q, %q) = %q, want %q", tc.dsn, tc.stat, got, tc.want)
		}
	}
	// The operator's choice: a site that counts 4.7.1 as rate limiting.
	rl := RateLimits{DSNs: []string{"4.7.1"}}
	if got := rl.DeferReason("4.7.1", "Deferred: 450 4.7.1 Client host rejected"); got != DeferRateLimited {
		t.Errorf("with --collector.sendmail.rate-limit-dsn=4.7.1: %q, want rate_limited", got)
	}
	if got := rl.DeferReason("4.7.0", "Deferred: 421 4.7.0 too many connections"); got != DeferPolicy {
		t.Errorf("without the default texts: %q, want policy", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		secs float64
		n    int
	}{
		{"00:00:00", 0, 8},
		{"00:02:16, x", 136, 8},
		{"1+00:00:01", 86401, 10},
		{"123:00:00", 123 * 3600, 9},
		{"00:0:00", 0, 0},
		{"00:60:00", 0, 0},
		{"00:00:60", 0, 0},
		{"x", 0, 0},
		{"1+", 0, 0},
		{"", 0, 0},
	} {
		secs, n := parseDuration(tc.in)
		if secs != tc.secs || n != tc.n {
			t.Errorf("parseDuration(%q) = %v, %d; want %v, %d", tc.in, secs, n, tc.secs, tc.n)
		}
	}
}

// TestParseDurationHuge: days and hours past int64 saturate, positive,
// beyond MaxDelay; they never wrap negative.
func TestParseDurationHuge(t *testing.T) {
	for _, in := range []string{"999999999999999999+00:00:00", "9223372036854775807:00:00", "99999999999999999999999+99999999999999999999:00:00"} {
		secs, n := parseDuration(in)
		if n != len(in) || !(secs > MaxDelay.Seconds()) {
			t.Errorf("parseDuration(%q) = %v, %d; want over %v, %d", in, secs, n, MaxDelay.Seconds(), len(in))
		}
		if _, ok := parseDelay(in); ok {
			t.Errorf("parseDelay(%q) accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	addRealWorldSeeds(f)
	f.Add("6AO5Ff2e009206: to=<a@b>, delay=00:00:00, xdelay=00:00:00, mailer=local, pri=1, dsn=2.0.0, stat=Sent")
	f.Add("6AO5FflG009238: from=<a@b>, size=207, class=0, nrcpts=1, daemon=MTA, relay=x")
	f.Add("ruleset=check_rcpt, arg1=<a>, relay=x, reject=550 5.7.1 <a>... Relaying denied")
	f.Fuzz(func(t *testing.T, msg string) {
		ev := Parse(msg)
		in := func(v string, set []string) bool {
			if v == "" {
				return true
			}
			for _, s := range set {
				if s == v {
					return true
				}
			}
			return false
		}
		if !in(ev.Daemon, Daemons) || !in(ev.Mailer, Mailers) || !in(ev.Status, Statuses) ||
			!in(ev.Stage, Stages) || !in(ev.Reason, Reasons) || !in(ev.DeferReason, DeferReasons) ||
			!in(ev.Role, []string{RoleServer, RoleClient}) || !in(ev.Result, []string{ResultOK, ResultErr, ResultFail}) {
			t.Fatalf("label outside its closed set: %+v", ev)
		}
	})
}

// addRealWorldSeeds adds the messages of testdata/realworld/sendmail.cases (after
// their envelope) to the fuzz target's seed corpus.
func addRealWorldSeeds(f *testing.F) {
	for _, line := range testenv.RealWorldLines(f, "sendmail") {
		if rec, ok := logline.Parse(line); ok {
			f.Add(rec.Message)
		}
	}
}
