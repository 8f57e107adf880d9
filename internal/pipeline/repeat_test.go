package pipeline_test

import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/pipeline"

// TestRepeatedMessage: rsyslog's "message repeated N times: [ msg]" is
// handed to the collectors as msg, N times.
func TestRepeatedMessage(t *testing.T) {
	rec := &recorder{}
	r := pipeline.NewRouter([]pipeline.Named{{Name: "test", Collector: rec}}, nil)
	in := r.Input("in")
	input := "Nov 24 05:15:41 vm sm-mta[1]: message repeated 3 times: [ one]\n" +
		"Nov 24 05:15:42 vm sm-mta[1]: two\n"
	if err := in.ReadAll(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.lines, "|"), "one|one|one|two"; got != want {
		t.Fatalf("handled %q, want %q", got, want)
	}
}
