package dovecot

import "bufio"
import "fmt"
import "io"
import "net/netip"
import "os"
import "slices"
import "strconv"
import "strings"

// Networks is a set of IP networks: the known-bot networks whose login
// failures carry known_bot="true". The zero value and nil are empty.
type Networks struct {
	byBits map[int]map[netip.Prefix]struct{}
	bits   []int // the prefix lengths present, longest first
	n      int
}

// ParseNetworks reads one network per line in CIDR notation
// (192.0.2.0/24, 2001:db8::/32) or a single address (192.0.2.7, taken as
// /32 or /128). Blank lines and text after '#' are ignored. The first bad
// line is an error naming its line number.
func ParseNetworks(r io.Reader) (*Networks, error) {
	n := &Networks{byBits: map[int]map[netip.Prefix]struct{}{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		p, err := parseNetwork(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		n.add(p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return n, nil
}

// LoadNetworks reads the networks file at path.
func LoadNetworks(path string) (*Networks, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("known-bot networks: %w", err)
	}
	defer f.Close()
	n, err := ParseNetworks(f)
	if err != nil {
		return nil, fmt.Errorf("known-bot networks %s: %w", path, err)
	}
	return n, nil
}

// parseNetwork reads one network, with errors of its own wording so that
// they do not change with Go's.
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.ContainsAny(s, " \t") {
		return netip.Prefix{}, fmt.Errorf("%q: one network per line", s)
	}
	addrText, bitsText, hasBits := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or network (such as 192.0.2.0/24 or 2001:db8::/32)", s)
	}
	if addr.Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q: write IPv4-mapped networks as IPv4 (%s)", s, addr.Unmap())
	}
	bits := addr.BitLen()
	if hasBits {
		b, err := strconv.Atoi(bitsText)
		if err != nil || b < 0 || b > addr.BitLen() || bitsText != strconv.Itoa(b) {
			return netip.Prefix{}, fmt.Errorf("%q: prefix length %q is not a number from 0 to %d", s, bitsText, addr.BitLen())
		}
		bits = b
	}
	p := netip.PrefixFrom(addr, bits)
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; the network is %s", s, m)
	}
	return p, nil
}

func (n *Networks) add(p netip.Prefix) {
	bits := p.Bits()
	if p.Addr().Is6() {
		bits += 1000 // keep IPv4 and IPv6 lengths apart
	}
	m := n.byBits[bits]
	if m == nil {
		m = map[netip.Prefix]struct{}{}
		n.byBits[bits] = m
		n.bits = append(n.bits, bits)
		slices.Sort(n.bits)
		slices.Reverse(n.bits)
	}
	if _, dup := m[p]; !dup {
		m[p] = struct{}{}
		n.n++
	}
}

// Len is the number of distinct networks.
func (n *Networks) Len() int {
	if n == nil {
		return 0
	}
	return n.n
}

// Contains reports whether the address ip lies in one of the networks.
// Text that is not an address is in none.
func (n *Networks) Contains(ip string) bool {
	if n.Len() == 0 || ip == "" {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, key := range n.bits {
		bits := key
		if key >= 1000 {
			if !addr.Is6() {
				continue
			}
			bits -= 1000
		} else if !addr.Is4() {
			continue
		}
		p, err := addr.Prefix(bits)
		if err != nil {
			continue
		}
		if _, ok := n.byBits[key][p]; ok {
			return true
		}
	}
	return false
}
