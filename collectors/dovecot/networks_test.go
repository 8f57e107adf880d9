package dovecot

import "os"
import "path/filepath"
import "strings"
import "testing"

func TestParseNetworks(t *testing.T) {
	n, err := ParseNetworks(strings.NewReader(`# scanners seen on every tier
192.0.2.0/24
198.51.100.7        # one host
  2001:db8::/32
203.0.113.0/24
192.0.2.0/24

0.0.0.0/32
`))
	if err != nil {
		t.Fatal(err)
	}
	if n.Len() != 5 {
		t.Errorf("Len() = %d, want 5 (the duplicate counts once)", n.Len())
	}
	for ip, want := range map[string]bool{
		"192.0.2.0": true, "192.0.2.255": true, "192.0.3.0": false,
		"198.51.100.7": true, "198.51.100.8": false,
		"2001:db8::1": true, "2001:db8:ffff::": true, "2001:db9::1": false,
		"::ffff:192.0.2.9": true, // IPv4-mapped, as a dual-stack listener may log it
		"203.0.113.200":    true,
		"0.0.0.0":          true,
		"":                 false, "not-an-ip": false, "192.0.2.1.": false, "fe80::1%eth0": false,
	} {
		if got := n.Contains(ip); got != want {
			t.Errorf("Contains(%q) = %v, want %v", ip, got, want)
		}
	}
	var none *Networks
	if none.Contains("192.0.2.1") || none.Len() != 0 {
		t.Error("a nil set is not empty")
	}
	empty, err := ParseNetworks(strings.NewReader("# nothing yet\n\n"))
	if err != nil || empty.Len() != 0 || empty.Contains("192.0.2.1") {
		t.Errorf("empty file: %v, %d", err, empty.Len())
	}
}

func TestParseNetworksErrors(t *testing.T) {
	for _, tc := range []struct {
		input, err string
	}{
		{"192.0.2.0/24\nbogus\n", `line 2: "bogus" is not an IP address or network (such as 192.0.2.0/24 or 2001:db8::/32)`},
		{"192.0.2.0/33", `line 1: "192.0.2.0/33": prefix length "33" is not a number from 0 to 32`},
		{"2001:db8::/129", `line 1: "2001:db8::/129": prefix length "129" is not a number from 0 to 128`},
		{"192.0.2.0/", `line 1: "192.0.2.0/": prefix length "" is not a number from 0 to 32`},
		{"192.0.2.0/-1", `line 1: "192.0.2.0/-1": prefix length "-1" is not a number from 0 to 32`},
		{"192.0.2.0/024", `line 1: "192.0.2.0/024": prefix length "024" is not a number from 0 to 32`},
		{"192.0.2.1/24", `line 1: "192.0.2.1/24" has host bits set; the network is 192.0.2.0/24`},
		{"2001:db8::1/32", `line 1: "2001:db8::1/32" has host bits set; the network is 2001:db8::/32`},
		{"\n\n256.0.0.0/8", `line 3: "256.0.0.0/8" is not an IP address or network (such as 192.0.2.0/24 or 2001:db8::/32)`},
		{"192.0.2.0/24 198.51.100.0/24", `line 1: "192.0.2.0/24 198.51.100.0/24": one network per line`},
		{"fe80::/10%eth0", `line 1: "fe80::/10%eth0": prefix length "10%eth0" is not a number from 0 to 128`},
		{"fe80::1%eth0", `line 1: "fe80::1%eth0" is not an IP address or network (such as 192.0.2.0/24 or 2001:db8::/32)`},
		{"::ffff:192.0.2.0/120", `line 1: "::ffff:192.0.2.0/120": write IPv4-mapped networks as IPv4 (192.0.2.0)`},
		{"192.0.2.0/24,", `line 1: "192.0.2.0/24,": prefix length "24," is not a number from 0 to 32`},
		{strings.Repeat("1", 2<<20), `line 1: bufio.Scanner: token too long`},
	} {
		_, err := ParseNetworks(strings.NewReader(tc.input))
		if err == nil || err.Error() != tc.err {
			t.Errorf("ParseNetworks(%.40q):\n got %v\nwant %s", tc.input, err, tc.err)
		}
	}
}

func TestLoadNetworksErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bots.txt")
	if err := os.WriteFile(bad, []byte("192.0.2.0/24\n192.0.2.300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadNetworks(bad)
	want := `known-bot networks ` + bad + `: line 2: "192.0.2.300" is not an IP address or network (such as 192.0.2.0/24 or 2001:db8::/32)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	missing := filepath.Join(dir, "missing.txt")
	_, err = LoadNetworks(missing)
	want = "known-bot networks: open " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
