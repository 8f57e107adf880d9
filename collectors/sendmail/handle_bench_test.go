package sendmail_test

import "os"
import "strings"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/collectors/sendmail"
import "github.com/cabalmail/mailtier/internal/logline"

// corpusRecords returns the envelopes of the corpus's sendmail lines, each
// stamped with one arrival time as the pipeline stamps a batch.
func corpusRecords(b *testing.B) []logline.Record {
	raw, err := os.ReadFile("../../testdata/corpus/maillog")
	if err != nil {
		b.Fatal(err)
	}
	at := time.Unix(1795497341, 0)
	var recs []logline.Record
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		rec, ok := logline.Parse(l)
		if !ok || rec.Program != "sm-mta" {
			continue
		}
		rec.Arrived = at
		recs = append(recs, rec)
	}
	return recs
}

// BenchmarkHandle is the collector's whole work per line, over the
// corpus's real sendmail lines in their order: parsing, session and
// per-message state, counting. One op is one line.
func BenchmarkHandle(b *testing.B) {
	recs := corpusRecords(b)
	c := sendmail.New(sendmail.Config{DecisionDelay: 2 * time.Second})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c.Handle(&recs[n%len(recs)])
		n++
	}
}

// BenchmarkParse is Parse alone over the same lines.
func BenchmarkParse(b *testing.B) {
	recs := corpusRecords(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		sendmail.Parse(recs[n%len(recs)].Message)
		n++
	}
}

// BenchmarkDeferReason classifies the deferrals of the corpus by the
// default rate limits.
func BenchmarkDeferReason(b *testing.B) {
	var evs []sendmail.Event
	for _, rec := range corpusRecords(b) {
		if ev := sendmail.Parse(rec.Message); ev.Kind == sendmail.To && ev.Status == sendmail.StatusDeferred {
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		b.Fatal("no deferral in the corpus")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := &evs[n%len(evs)]
		sendmail.DefaultRateLimits.DeferReason(ev.DSN, ev.Stat)
		n++
	}
}
