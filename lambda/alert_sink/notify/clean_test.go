package notify

import "testing"

import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

// hostile is alert text as a log line can shape it: NUL, an ANSI colour
// sequence, a right-to-left override that would make "exe.txt" read as
// "txt.exe", CR LF and a lone CR, a tab, DEL, a C1 control, the Unicode
// line separator, a left-to-right isolate and invalid UTF-8.
const hostile = "disk\x00full\x1b[31m on \u202eexe.txt\r\nline two\rline\tthree\x7f\u0085four\u2028five \u2066x\u2069 \xff!"

func TestCleanText(t *testing.T) {
	cases := []struct{ in, want string }{
		{hostile, "disk full [31m on exe.txt\nline two\nline three \nfour\nfive x \uFFFD!"},
		{"  firing: a\nresolved: b  ", "firing: a\nresolved: b"},
		{"\u200d👩\u200d💻 ok", "\u200d👩\u200d💻 ok"}, // joiners are not controls
		{"", ""},
	}
	for _, c := range cases {
		if got := cleanText(c.in); got != c.want {
			t.Errorf("cleanText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{hostile, "disk full [31m on exe.txt  line two line three  four five x \uFFFD!"},
		{"[CRITICAL] kuma/\u202eIMAP", "[CRITICAL] kuma/IMAP"},
	}
	for _, c := range cases {
		if got := oneLine(c.in); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestBodiesAreCleaned checks what reaches each transport, byte for byte.
func TestBodiesAreCleaned(t *testing.T) {
	const wantBody = "disk full [31m on exe.txt\nline two\nline three \nfour\nfive x \uFFFD!"
	const wantTitle = "[CRITICAL] kuma/IMAP x"

	po := fakes.NewPushover(t)
	if _, err := newPushover(po).Send(t.Context(), PushoverMessage{Title: "[CRITICAL] kuma/\u202eIMAP\x00x", Message: hostile, Priority: 1}); err != nil {
		t.Fatal(err)
	}
	form := po.Requests()[0].Form
	if got := form.Get("message"); got != wantBody {
		t.Errorf("pushover message = %q, want %q", got, wantBody)
	}
	if got := form.Get("title"); got != wantTitle {
		t.Errorf("pushover title = %q, want %q", got, wantTitle)
	}

	nt := fakes.NewNtfy(t)
	if err := newNtfy(nt, "").Publish(t.Context(), NtfyMessage{Title: "[CRITICAL] kuma/\u202eIMAP\x00x", Message: hostile, Priority: 5}); err != nil {
		t.Fatal(err)
	}
	req := nt.Requests()[0]
	if req.Body != wantBody {
		t.Errorf("ntfy body = %q, want %q", req.Body, wantBody)
	}
	if got := req.Header.Get("Title"); got != wantTitle {
		t.Errorf("ntfy Title = %q, want %q", got, wantTitle)
	}
}
