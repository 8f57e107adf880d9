package pipeline_test

import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/metrictest"
import "github.com/cabalmail/mailtier/internal/pipeline"
import "github.com/cabalmail/mailtier/internal/tailer"

// countingClock is a settable clock that counts its readings.
type countingClock struct {
	t     time.Time
	reads int
}

func (c *countingClock) now() time.Time {
	c.reads++
	return c.t
}

const (
	fromLine  = "Nov 24 05:15:41 vm sm-mta[9203]: 6AO5Fffn009203: from=<jdoe@partner.test>, size=300, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=mx21.remote.test [127.0.0.21]"
	otherLine = "Nov 24 05:15:41 vm sm-mta[9204]: 6AO5Fffn009204: [127.0.0.12] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA"
)

// TestOneClockReadPerBatch: lines read together share one reading of the
// pipeline's clock, and a collector handed them reads no clock of its own,
// whether the lines come from a followed file (Line, then Checkpoint) or
// from ReadAll.
func TestOneClockReadPerBatch(t *testing.T) {
	routerClock := &countingClock{t: time.Unix(1795497341, 0)}
	smClock := &countingClock{t: time.Unix(1795497341, 0)}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: smClock.now})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "sendmail", Collector: c}}, routerClock.now)
	in := r.Input("in")
	in.Opened(0)
	var end int64
	for batch := 0; batch < 3; batch++ {
		for i := 0; i < 100; i++ {
			end += int64(len(fromLine)) + 1
			in.Line(fromLine, end)
		}
		in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})
	}
	if routerClock.reads != 3 || smClock.reads != 0 {
		t.Fatalf("300 lines in 3 batches: the pipeline's clock read %d times (want 3), the collector's %d (want 0)",
			routerClock.reads, smClock.reads)
	}

	routerClock.reads = 0
	input := strings.Repeat(otherLine+"\n", 100)
	if err := r.Input("all").ReadAll(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	if routerClock.reads != 1 || smClock.reads != 0 {
		t.Fatalf("100 lines in one read: the pipeline's clock read %d times (want 1), the collector's %d (want 0)",
			routerClock.reads, smClock.reads)
	}
}

// TestDecisionDelayByBatchTime: sendmail's decision delay is measured in
// the time of the batches its lines arrive in, exactly: a from= line waits
// for later batches until DecisionDelay has passed since its own batch.
// The collector's own clock (read at scrapes) stands still, so only the
// batches' time can decide.
func TestDecisionDelayByBatchTime(t *testing.T) {
	clk := &countingClock{t: time.Unix(1795497341, 0)}
	still := &countingClock{t: clk.t}
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second, Now: still.now})
	r := pipeline.NewRouter([]pipeline.Named{{Name: "sendmail", Collector: c}}, clk.now)
	in := r.Input("in")
	in.Opened(0)
	var end int64
	batch := func(line string) {
		end += int64(len(line)) + 1
		in.Line(line, end)
		in.Checkpoint(tailer.Checkpoint{Position: tailer.Position{Offset: end}, Size: end})
	}
	received := func() float64 {
		return metrictest.Value(t, c, "sendmail_messages_received_total", "daemon=MTA")
	}
	batch(fromLine)
	clk.t = clk.t.Add(1999 * time.Millisecond)
	batch(otherLine)
	if got := received(); got != 0 {
		t.Fatalf("received %v, 1.999 s after the from= line's batch", got)
	}
	clk.t = clk.t.Add(time.Millisecond)
	batch(otherLine)
	if got := received(); got != 1 {
		t.Fatalf("received %v, 2 s after the from= line's batch, want 1", got)
	}
}
