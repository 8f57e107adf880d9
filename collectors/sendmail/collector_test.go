package sendmail_test

import "fmt"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/sendmail"

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func feed(t *testing.T, c *sendmail.Collector, lines ...string) {
	t.Helper()
	metrictest.Feed(t, c, lines...)
}

// value returns the value of the series name{labels} ("k=v,k=v") from c.
func value(t *testing.T, c prometheus.Collector, name, labels string) float64 {
	t.Helper()
	return metrictest.Value(t, c, name, labels)
}

const (
	from1   = "Nov 24 05:15:41 vm sm-mta[1]: 6AO5FflG009238: from=<a@remote.test>, size=207, class=0, nrcpts=1, msgid=<m1@remote.test>, proto=ESMTP, daemon=MTA, relay=[127.0.0.21]"
	to1     = "Nov 24 05:15:41 vm sm-mta[2]: 6AO5FflG009238: to=<alice@lab.test>, delay=00:00:01, xdelay=00:00:01, mailer=local, pri=30417, dsn=2.0.0, stat=Sent"
	big     = "Nov 24 05:15:42 vm sm-mta[3]: 6AO5Fgn9009275: from=<info@remote.test>, size=148357, class=0, nrcpts=1, msgid=<m2@remote.test>, proto=ESMTP, daemon=MTA, relay=[127.0.0.10]"
	bigRej  = "Nov 24 05:15:42 vm sm-mta[3]: 6AO5Fgn9009275: message size (148357) exceeds maximum (100000)"
	bigEcho = "Nov 24 05:15:42 vm sm-mta[3]: 6AO5Fgn9009275: to=<erin@lab.test>, delay=00:00:00, pri=178357, stat=Message exceeds maximum fixed size (100000)"
)

func TestReceivedWaitsForRefusal(t *testing.T) {
	clk := &clock{t: time.Unix(1795497341, 0)}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: clk.now})
	feed(t, c, from1)
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 0 {
		t.Fatalf("received before its decision: %v", got)
	}
	if got := value(t, c, "mailtier_exporter_sendmail_messages_undecided", ""); got != 1 {
		t.Fatalf("undecided = %v, want 1", got)
	}
	// The next line of the queue id decides.
	feed(t, c, to1)
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 1 {
		t.Fatalf("received = %v, want 1", got)
	}
	// A refusal right after the from= line: not received, one reject.
	feed(t, c, big, bigRej, bigEcho)
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 1 {
		t.Fatalf("received = %v, want 1", got)
	}
	if got := value(t, c, "sendmail_rejects_total", "reason=message_too_large,stage=data"); got != 1 {
		t.Fatalf("too large = %v, want 1", got)
	}
	if got := value(t, c, "sendmail_deliveries_total", "mailer=other,status=other"); got != 0 {
		t.Fatalf("the refusal's echo counted as a delivery")
	}
}

func TestReceivedAfterDecisionDelay(t *testing.T) {
	clk := &clock{t: time.Unix(1795497341, 0)}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: clk.now})
	feed(t, c, from1)
	clk.t = clk.t.Add(1999 * time.Millisecond)
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 0 {
		t.Fatalf("received = %v before the delay passed", got)
	}
	clk.t = clk.t.Add(time.Millisecond)
	// A scrape decides what waited long enough, with no further line.
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 1 {
		t.Fatalf("received = %v after the delay, want 1", got)
	}
}

func TestFlushDecides(t *testing.T) {
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Hour})
	feed(t, c, from1)
	c.Flush()
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 1 {
		t.Fatalf("received = %v after Flush, want 1", got)
	}
}

func TestAbortBeforeFrom(t *testing.T) {
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Hour})
	feed(t, c,
		"Nov 24 05:15:41 vm sm-mta[9212]: 6AO5FfUe009212: collect: premature EOM: unexpected close",
		"Nov 24 05:15:41 vm sm-mta[9212]: 6AO5FfUe009212: collect: relay=mx21.remote.test, from=<jdoe@partner.test>, info=unexpected close",
		"Nov 24 05:15:41 vm sm-mta[9212]: 6AO5FfUe009212: from=<jdoe@partner.test>, size=57, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=mx21.remote.test [127.0.0.21]",
		"Nov 24 05:15:41 vm sm-mta[9203]: 6AO5Fffn009203: lost input channel from mx21.remote.test [127.0.0.21] to MTA after rcpt",
		"Nov 24 05:15:41 vm sm-mta[9203]: 6AO5Fffn009203: from=<jdoe@partner.test>, size=0, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=mx21.remote.test [127.0.0.21]",
	)
	c.Flush()
	metrictest.Golden(t, c, "abort-before-from", "sendmail_messages_received_total", "sendmail_connections_lost_total")
}

func TestSizeRefusedAtMail(t *testing.T) {
	sizeLine := "Nov 24 05:15:50 vm sm-mta[9555]: 6AO5FoGo009555: from=<billing@remote.test>, size=500000, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=mx22.remote.test [127.0.0.22]"
	unknown := []string{
		"Nov 24 05:15:41 vm sm-mta[9251]: 6AO5Ff1s009251: <test107@lab.test>... User unknown",
		"Nov 24 05:15:41 vm sm-mta[9251]: 6AO5Ff1s009251: from=<jdoe@partner.test>, size=300, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=mx21.remote.test [127.0.0.21]",
	}
	for _, tc := range []struct {
		max  int64
		want float64
	}{{0, 1}, {100000, 1}, {600000, 0}} {
		c := sendmail.New(sendmail.Config{MaxMessageSize: tc.max})
		feed(t, c, sizeLine)
		// A declared SIZE on a transaction whose recipients were all
		// refused is not a size refusal: the refusal already counted.
		feed(t, c, unknown...)
		if got := value(t, c, "sendmail_rejects_total", "reason=message_too_large,stage=mail"); got != tc.want {
			t.Errorf("max %d: too large at MAIL = %v, want %v", tc.max, got, tc.want)
		}
		if got := value(t, c, "sendmail_rejects_total", "reason=user_unknown,stage=rcpt"); got != 1 {
			t.Errorf("user unknown = %v, want 1", got)
		}
	}
}

func TestHeldIsBounded(t *testing.T) {
	c := sendmail.New(sendmail.Config{DecisionDelay: time.Hour, MaxHeld: 100})
	for i := 0; i < 1000; i++ {
		feed(t, c, fmt.Sprintf("Nov 24 05:15:41 vm sm-mta[1]: Q%013d: from=<a@b>, size=1, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=x", i))
	}
	if got := value(t, c, "mailtier_exporter_sendmail_messages_undecided", ""); got != 100 {
		t.Fatalf("undecided = %v, want 100", got)
	}
	if got := value(t, c, "sendmail_messages_received_total", "daemon=MTA"); got != 900 {
		t.Fatalf("received = %v, want 900", got)
	}
}

func TestLint(t *testing.T) {
	c := sendmail.New(sendmail.Config{})
	feed(t, c, from1, to1)
	metrictest.Lint(t, c)
}

// TestCorpus replays real sendmail 8.17 logs, in both syslog formats, and
// checks every count against the lab driver's ground truth.
func TestCorpus(t *testing.T) {
	// Every sendmail line of the corpus has a known shape.
	metrictest.ExpectCorpus(t, "sendmail", 1715, func(*testing.T) collectors.LogCollector {
		return sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	})
}

// TestForgedDelaysRejected: a forged delay= or xdelay= must not drive a
// histogram's sum negative (or anywhere absurd); it is left out and
// counted, and the delivery still counts.
func TestForgedDelaysRejected(t *testing.T) {
	c := sendmail.New(sendmail.Config{})
	feed(t, c,
		"Nov 24 05:15:41 vm sm-mta[2]: 6AO5FflG009238: to=<alice@lab.test>, delay=999999999999999999+00:00:00, xdelay=9223372036854775807:00:00, mailer=local, pri=30417, dsn=2.0.0, stat=Sent",
		"Nov 24 05:15:41 vm sm-mta[2]: 6AO5FflG009239: to=<alice@lab.test>, delay=00:00:03, xdelay=00:00:01, mailer=local, pri=30417, dsn=2.0.0, stat=Sent")
	g := metrictest.Gather(t, c)
	for name, want := range map[string]float64{
		`sendmail_deliveries_total{mailer=local,status=sent}`:            2,
		`sendmail_delivery_delay_seconds{mailer=local,status=sent}`:      1,
		`sendmail_delivery_delay_seconds_sum{mailer=local,status=sent}`:  3,
		`sendmail_delivery_xdelay_seconds_sum{mailer=local,status=sent}`: 1,
		`mailtier_exporter_sendmail_delays_rejected_total{}`:             2,
	} {
		if got, ok := g[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
