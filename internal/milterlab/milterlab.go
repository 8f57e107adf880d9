// Package milterlab runs real Debian daemons (the milters OpenDKIM and
// OpenDMARC, and dnsmasq) for the collectors' tests, each in a private
// mount namespace of the test's own, and captures what they send to
// syslog.
//
// In the namespace /dev is a directory of the test's holding /dev/null,
// /dev/zero, /dev/random, /dev/urandom and, as /dev/log, a datagram socket
// the test reads: the daemons' syslog lines come to the test and to no
// syslog daemon of the machine. /etc/nsswitch.conf says "hosts: files" and
// /etc/resolv.conf "nameserver 127.0.0.1", so no name lookup of theirs
// leaves the loopback. With Net, the namespace also has a network of its
// own with only a loopback interface: a DNS server may then listen on
// 127.0.0.1:53 there, and nothing can reach any other address.
//
// It needs root (mount namespaces), util-linux's unshare and nsenter, and
// iproute2's ip for Net.
package milterlab

import "bufio"
import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strings"
import "sync"
import "syscall"
import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"

// Need fails the test unless every program exists, naming the Debian
// package that provides it.
func Need(t testing.TB, programs map[string]string) {
	t.Helper()
	// The daemons run in mount namespaces of the test's own.
	testenv.Root(t)
	for path, pkg := range programs {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s is missing: apt-get install -y --no-install-recommends %s", path, pkg)
		}
	}
}

// Lab is a private mount (and optionally network) namespace held open by
// a sleeping process, with a syslog socket the test reads.
type Lab struct {
	// Dir is the test's directory for the namespace's files; it is the
	// same path inside the namespace.
	Dir    string
	holder *exec.Cmd
	net    bool

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

// Private is a directory that exists only inside the namespace, on a
// tmpfs mounted at /run there; Lab.Path reaches it from outside.
const Private = "/run/mailtier-lab"

// Path is the path, seen from outside the namespace, of the path inside
// it: the namespace's root through the holding process's /proc entry.
func (l *Lab) Path(inside string) string {
	return fmt.Sprintf("/proc/%d/root%s", l.holder.Process.Pid, inside)
}

// New starts a namespace. It is torn down when the test ends.
func New(t testing.TB, withNet bool) *Lab {
	t.Helper()
	progs := map[string]string{"/usr/bin/unshare": "util-linux", "/usr/bin/nsenter": "util-linux", "/usr/bin/mount": "mount"}
	if withNet {
		progs["/usr/sbin/ip"] = "iproute2"
	}
	Need(t, progs)
	l := &Lab{Dir: t.TempDir(), net: withNet, changed: make(chan struct{})}
	dev := filepath.Join(l.Dir, "dev")
	etc := filepath.Join(l.Dir, "etc")
	for _, d := range []string{dev, etc} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nodes := []string{"null", "zero", "random", "urandom"}
	for _, n := range nodes {
		if err := os.WriteFile(filepath.Join(dev, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nservices: files\nprotocols: files\n",
		"resolv.conf":   "nameserver 127.0.0.1\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// /dev/log of the namespace.
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dev, "log"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dev, "log"), 0o666); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return
			}
			l.add(string(buf[:n]))
		}
	}()

	var script strings.Builder
	script.WriteString("set -e\n")
	if withNet {
		script.WriteString("ip link set lo up\n")
	}
	for _, n := range nodes {
		fmt.Fprintf(&script, "mount --bind /dev/%s %s/%s\n", n, dev, n)
	}
	fmt.Fprintf(&script, "mount --rbind %s /dev\n", dev)
	// A private /run: keys kept there have no world-writable ancestor
	// (OpenDKIM refuses keys below /tmp), and no daemon of the machine
	// sees them.
	fmt.Fprintf(&script, "mount -t tmpfs -o mode=0755 mailtier-lab /run\nmkdir -m 0700 %s\n", Private)
	for name := range files {
		fmt.Fprintf(&script, "mount --bind %s/%s /etc/%s\n", etc, name, name)
	}
	script.WriteString("echo ready\nexec sleep infinity\n")
	args := []string{"--mount", "--propagation", "private"}
	if withNet {
		args = append(args, "--net")
	}
	args = append(args, "--", "/bin/sh", "-c", script.String())
	l.holder = exec.Command("/usr/bin/unshare", args...)
	out, err := l.holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	l.holder.Stderr = &stderr
	if err := l.holder.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		ready <- s.Scan() && s.Text() == "ready"
		for s.Scan() {
		}
	}()
	t.Cleanup(func() {
		l.holder.Process.Kill()
		l.holder.Wait()
		sock.Close()
		readers.Wait()
	})
	select {
	case ok := <-ready:
		if !ok {
			l.holder.Wait()
			t.Fatalf("setting up the namespace failed: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the namespace was not ready within 30s: %s", stderr.String())
	}
	return l
}

// add records one syslog datagram as a traditional syslog file line,
// with "lab" for the host the datagram does not carry:
// "<30>Nov 24 05:15:41 opendkim[9]: msg" becomes
// "Nov 24 05:15:41 lab opendkim[9]: msg".
func (l *Lab) add(datagram string) {
	line := strings.TrimRight(datagram, "\n\x00")
	if strings.HasPrefix(line, "<") {
		if i := strings.IndexByte(line, '>'); i > 0 {
			line = line[i+1:]
		}
	}
	if len(line) > 16 && line[15] == ' ' {
		line = line[:15] + " lab" + line[15:]
	}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Lines returns every syslog line received so far.
func (l *Lab) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// WaitLines waits until done(lines) holds for the syslog lines received so
// far, and returns them; it fails the test after timeout.
func (l *Lab) WaitLines(t testing.TB, timeout time.Duration, what string, done func(lines []string) bool) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		lines, changed := append([]string(nil), l.lines...), l.changed
		l.mu.Unlock()
		if done(lines) {
			return lines
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waiting %s for %s; syslog so far:\n%s", timeout, what, strings.Join(lines, "\n"))
		}
	}
}

// Proc is a daemon running in the namespace.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	output *testenv.SyncBuffer
}

// Start runs path with args inside the namespace. The process is stopped
// when the test ends, if it still runs.
func (l *Lab) Start(t testing.TB, path string, args ...string) *Proc {
	t.Helper()
	nsArgs := []string{"--target", fmt.Sprint(l.holder.Process.Pid), "--mount"}
	if l.net {
		nsArgs = append(nsArgs, "--net")
	}
	nsArgs = append(nsArgs, "--", path)
	p := &Proc{Name: filepath.Base(path), done: make(chan struct{}), output: &testenv.SyncBuffer{}}
	// nsenter execs path: the process's PID is the daemon's.
	p.cmd = exec.Command("/usr/bin/nsenter", append(nsArgs, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// At the end of the test there is nothing to wait for: OpenDKIM
		// takes 5 s to end on SIGTERM.
		if !p.Exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, p.output.String())
		}
	})
	return p
}

// Run runs path with args inside the namespace to its end and returns
// its output, failing the test if it fails.
func (l *Lab) Run(t testing.TB, path string, args ...string) string {
	t.Helper()
	nsArgs := []string{"--target", fmt.Sprint(l.holder.Process.Pid), "--mount"}
	if l.net {
		nsArgs = append(nsArgs, "--net")
	}
	out, err := exec.Command("/usr/bin/nsenter", append(append(nsArgs, "--", path), args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in the namespace: %v\n%s", path, args, err, out)
	}
	return string(out)
}

// PID is the daemon's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is what the process wrote to stdout and stderr.
func (p *Proc) Output() string { return p.output.String() }

// Stop ends the process by its PID (SIGTERM, then SIGKILL after 10 s) and
// waits for it.
func (p *Proc) Stop(t testing.TB) {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitDial waits until network/address accepts a connection, failing the
// test after timeout or if p exits first.
func WaitDial(t testing.TB, p *Proc, network, address string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout(network, address, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on %s: %v\n%s", p.Name, address, p.err, p.output.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after %s: %v\n%s", p.Name, address, timeout, err, p.output.String())
		}
		// Poll again soon; the daemon is starting.
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitExit waits until p has exited, failing the test after timeout.
func WaitExit(t testing.TB, p *Proc, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s", p.Name, timeout)
	}
}

// Key is a DKIM key pair made by opendkim-genkey.
type Key struct {
	Domain, Selector string
	// Private is the path, inside the lab, of the PEM private key.
	Private string
	// TXT is the DNS TXT record of the public key ("v=DKIM1; h=sha256;
	// k=rsa; p=…"), its quoted pieces joined.
	TXT string
}

// GenKey makes a key pair for domain and selector with Debian's
// opendkim-genkey (package opendkim-tools), in Private/keys/<domain>
// (mode 0700, the key 0600, owned by root): where OpenDKIM's
// RequireSafeKeys finds it safe.
func (l *Lab) GenKey(t testing.TB, domain, selector string, bits int) Key {
	t.Helper()
	Need(t, map[string]string{"/usr/sbin/opendkim-genkey": "opendkim-tools"})
	inside := Private + "/keys/" + domain
	dir := l.Path(inside)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/sbin/opendkim-genkey", "-b", fmt.Sprint(bits), "-d", domain, "-s", selector, "-D", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("opendkim-genkey: %v\n%s", err, out)
	}
	txt, err := os.ReadFile(filepath.Join(dir, selector+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	// mail._domainkey	IN	TXT	( "v=DKIM1; h=sha256; k=rsa; "
	//	  "p=MIIB…" "…" )  ; ----- DKIM key mail for lab.test
	var record strings.Builder
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(string(txt), -1) {
		record.WriteString(m[1])
	}
	if !strings.Contains(record.String(), "p=") {
		t.Fatalf("no public key in %s", txt)
	}
	if err := os.Chmod(filepath.Join(dir, selector+".private"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Key{Domain: domain, Selector: selector, Private: inside + "/" + selector + ".private", TXT: record.String()}
}

// OpenDKIM is a running opendkim.
type OpenDKIM struct {
	*Proc
	// Socket is its milter socket, in OpenDKIM's notation.
	Socket string
}

// StartOpenDKIM runs /usr/sbin/opendkim in the foreground in the namespace
// with the configuration conf, to which it adds Socket, PidFile and
// syslog logging of successes and reasons. socket is "unix" (a socket in
// the lab's directory) or "inet" (a free port on 127.0.0.1, reachable
// from the test only when the lab has no network of its own). It returns
// once the socket accepts connections.
func (l *Lab) StartOpenDKIM(t testing.TB, name, conf, socket string) *OpenDKIM {
	t.Helper()
	Need(t, map[string]string{"/usr/sbin/opendkim": "opendkim"})
	dir := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec, network, address := l.milterSocket(t, dir, socket)
	full := conf + fmt.Sprintf(`
Syslog                  yes
SyslogFacility          mail
SyslogSuccess           yes
LogWhy                  yes
Socket                  %s
PidFile                 %s/opendkim.pid
`, spec, dir)
	path := filepath.Join(dir, "opendkim.conf")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	p := l.Start(t, "/usr/sbin/opendkim", "-f", "-x", path)
	WaitDial(t, p, network, address, 30*time.Second)
	return &OpenDKIM{Proc: p, Socket: spec}
}

// StartDNS runs dnsmasq on 127.0.0.1:53 of the lab's own network, serving
// only the TXT records given (name to its text) and nothing else: no
// upstream servers, no /etc/hosts; other names under the records'
// top-level domains are NXDOMAIN. The lab must have been made with Net.
func (l *Lab) StartDNS(t testing.TB, txt map[string]string) *Proc {
	t.Helper()
	if !l.net {
		t.Fatal("StartDNS needs a lab with a network of its own")
	}
	Need(t, map[string]string{"/usr/sbin/dnsmasq": "dnsmasq-base"})
	args := []string{"--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
		"--listen-address=127.0.0.1", "--bind-interfaces", "--port=53",
		"--user=root", "--pid-file=", "--log-queries", "--log-facility=" + filepath.Join(l.Dir, "dnsmasq.log")}
	tlds := map[string]bool{}
	for name, value := range txt {
		// Authoritative for the names' top-level domains: any other name
		// there is NXDOMAIN, as a real zone answers.
		if tld := name[strings.LastIndexByte(name, '.')+1:]; !tlds[tld] {
			tlds[tld] = true
			args = append(args, "--local=/"+tld+"/")
		}
		// A TXT string holds at most 255 bytes; longer records are
		// split into several strings, as a DKIM key of 2048 bits is.
		// dnsmasq takes quotes on its command line literally, and a
		// DKIM record has no comma.
		if strings.Contains(value, ",") {
			t.Fatalf("TXT record %q has a comma", value)
		}
		arg := "--txt-record=" + name
		for len(value) > 0 {
			n := min(len(value), 255)
			arg += "," + value[:n]
			value = value[n:]
		}
		args = append(args, arg)
	}
	p := l.Start(t, "/usr/sbin/dnsmasq", args...)
	// dnsmasq answers on UDP and TCP; the TCP listener tells it is up.
	l.waitDialInside(t, p, "127.0.0.1:53")
	return p
}

// waitDialInside waits until a TCP port of the lab's own network accepts
// connections, probing from inside the namespace with bash's /dev/tcp.
func (l *Lab) waitDialInside(t testing.TB, p *Proc, hostport string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(hostport)
	deadline := time.Now().Add(30 * time.Second)
	for {
		nsArgs := []string{"--target", fmt.Sprint(l.holder.Process.Pid), "--mount", "--net", "--",
			"/bin/bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)}
		if exec.Command("/usr/bin/nsenter", nsArgs...).Run() == nil {
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on %s: %v\n%s", p.Name, hostport, p.err, p.output.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after 30s\n%s", p.Name, hostport, p.output.String())
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// OpenDMARC is a running opendmarc.
type OpenDMARC struct {
	*Proc
	// Socket is its milter socket, in OpenDMARC's notation (OpenDKIM's).
	Socket string
}

// StartOpenDMARC runs /usr/sbin/opendmarc in the foreground in the
// namespace with the configuration conf, to which it adds Socket, PidFile
// and syslog logging to the mail facility. socket is "unix" or "inet" as
// for StartOpenDKIM (in a lab with a network of its own, only "unix" is
// reachable from the test). It returns once the socket accepts
// connections.
func (l *Lab) StartOpenDMARC(t testing.TB, name, conf, socket string) *OpenDMARC {
	t.Helper()
	Need(t, map[string]string{"/usr/sbin/opendmarc": "opendmarc"})
	dir := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec, network, address := l.milterSocket(t, dir, socket)
	full := conf + fmt.Sprintf(`
Syslog                  true
SyslogFacility          mail
Socket                  %s
PidFile                 %s/opendmarc.pid
`, spec, dir)
	path := filepath.Join(dir, "opendmarc.conf")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	p := l.Start(t, "/usr/sbin/opendmarc", "-f", "-c", path)
	WaitDial(t, p, network, address, 30*time.Second)
	return &OpenDMARC{Proc: p, Socket: spec}
}

// milterSocket picks a milter socket: "unix" (milter.sock in dir) or
// "inet" (a free port on 127.0.0.1). It returns the milter's notation of
// it and what net.Dial takes.
func (l *Lab) milterSocket(t testing.TB, dir, socket string) (spec, network, address string) {
	t.Helper()
	switch socket {
	case "unix":
		address = filepath.Join(dir, "milter.sock")
		os.Remove(address)
		return "unix:" + address, "unix", address
	case "inet":
		port := testenv.FreePort(t)
		return fmt.Sprintf("inet:%d@127.0.0.1", port), "tcp", fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatalf("socket %q: want unix or inet", socket)
	return "", "", ""
}
