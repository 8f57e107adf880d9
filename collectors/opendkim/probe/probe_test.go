package probe

import "context"
import "strings"
import "testing"
import "time"

// TestParseAddress: the milter socket specs OpenDKIM's Socket setting
// takes, as a network and an address to dial.
func TestParseAddress(t *testing.T) {
	for _, tc := range []struct{ spec, network, address string }{
		{"inet:8891@127.0.0.1", "tcp4", "127.0.0.1:8891"},
		{"inet:8891@localhost", "tcp4", "localhost:8891"},
		{"inet6:8891@[::1]", "tcp6", "[::1]:8891"},
		{"inet6:8891@::1", "tcp6", "[::1]:8891"},
		{"unix:/run/opendkim/opendkim.sock", "unix", "/run/opendkim/opendkim.sock"},
		{"local:/run/opendkim/opendkim.sock", "unix", "/run/opendkim/opendkim.sock"},
		{"/run/opendkim/opendkim.sock", "unix", "/run/opendkim/opendkim.sock"},
	} {
		network, address, err := ParseAddress(tc.spec)
		if err != nil || network != tc.network || address != tc.address {
			t.Errorf("ParseAddress(%q) = %q, %q, %v; want %q, %q", tc.spec, network, address, err, tc.network, tc.address)
		}
	}
}

// TestParseAddressRefuses: each spec that is no socket, with its error.
func TestParseAddressRefuses(t *testing.T) {
	for spec, want := range map[string]string{
		"":                     `milter socket "": want inet:PORT@HOST, inet6:PORT@HOST or unix:PATH`,
		"unix:":                `milter socket "unix:": no path`,
		"inet:8891":            `milter socket "inet:8891": want inet:PORT@HOST`,
		"inet:0@127.0.0.1":     `milter socket "inet:0@127.0.0.1": bad port "0"`,
		"inet:70000@127.0.0.1": `milter socket "inet:70000@127.0.0.1": bad port "70000"`,
		"tcp:8891@127.0.0.1":   `milter socket "tcp:8891@127.0.0.1": want inet:PORT@HOST, inet6:PORT@HOST or unix:PATH`,
	} {
		if _, _, err := ParseAddress(spec); err == nil || err.Error() != want {
			t.Errorf("ParseAddress(%q): error %v, want %s", spec, err, want)
		}
	}
}

func TestNewMessage(t *testing.T) {
	m := NewMessage("probe@lab.test", time.Date(2026, 11, 24, 5, 15, 41, 0, time.UTC))
	if m.QueueID != QueueID || m.From != "probe@lab.test" || m.AuthType == "" || m.ClientAddr != "127.0.0.1" {
		t.Errorf("%+v", m)
	}
	want := map[string]string{
		"From":    "<probe@lab.test>",
		"To":      "<probe@lab.test>",
		"Date":    "Tue, 24 Nov 2026 05:15:41 +0000",
		"Subject": "mailtier OpenDKIM signing probe",
	}
	for _, h := range m.Headers {
		if w, ok := want[h.Name]; ok && h.Value != w {
			t.Errorf("%s: %q, want %q", h.Name, h.Value, w)
		}
		if h.Name == "Message-ID" && !strings.HasSuffix(h.Value, "."+QueueID+"@lab.test>") {
			t.Errorf("Message-ID %q", h.Value)
		}
	}
	if !strings.HasSuffix(string(m.Body), "\r\n") {
		t.Errorf("body %q does not end in CRLF", m.Body)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Config{Address: "nonsense", From: "p@lab.test"}); err == nil {
		t.Error("bad address accepted")
	}
	if _, err := Run(ctx, Config{Address: "unix:/nonexistent", From: "lab.test"}); err == nil {
		t.Error("bad sender accepted")
	}
	// A cancelled context ends the probe before it connects.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Config{Address: "inet:9@127.0.0.1", From: "p@lab.test", Timeout: time.Second}); err == nil {
		t.Error("probe with a cancelled context succeeded")
	}
}
