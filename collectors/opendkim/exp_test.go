package opendkim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabalmail/mailtier/collectors/opendkim/internal/odtest"
	"github.com/cabalmail/mailtier/collectors/opendkim/probe"
)

func msg(qid, from, addr, auth string) probe.Message {
	m := probe.NewMessage(from, time.Now())
	m.QueueID = qid
	m.ClientAddr = addr
	m.AuthType = auth
	return m
}

func TestExp(t *testing.T) {
	key := odtest.GenKey(t, "lab.test", "mail", 1024)
	lab := odtest.New(t, false)
	dir := lab.Dir
	os.WriteFile(filepath.Join(dir, "KeyTable"), []byte(fmt.Sprintf("mail._domainkey.lab.test lab.test:mail:%s\nbrk._domainkey.broken.test broken.test:brk:%s/nokey.private\n", key.Private, dir)), 0o644)
	os.WriteFile(filepath.Join(dir, "SigningTable"), []byte("*@lab.test mail._domainkey.lab.test\n*@broken.test brk._domainkey.broken.test\n*@table.test nosuch._domainkey.table.test\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Internal"), []byte("127.0.0.1\n"), 0o644)
	conf := fmt.Sprintf("Mode s\nCanonicalization relaxed/simple\nKeyTable file:%s/KeyTable\nSigningTable refile:%s/SigningTable\nInternalHosts %s/Internal\nNameservers 127.0.0.1\n", dir, dir, dir)
	od := lab.StartOpenDKIM(t, "signer", conf, "inet")
	t.Logf("key %+v", key)
	for _, m := range []probe.Message{
		msg("AAAAAAAA000001", "a@lab.test", "127.0.0.1", ""),
		msg("AAAAAAAA000002", "a@lab.test", "127.0.0.9", ""),
		msg("AAAAAAAA000003", "a@lab.test", "127.0.0.9", "PLAIN"),
		msg("AAAAAAAA000004", "a@other.test", "127.0.0.1", ""),
		msg("AAAAAAAA000005", "a@broken.test", "127.0.0.1", ""),
		msg("AAAAAAAA000006", "a@table.test", "127.0.0.1", ""),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := probe.Transact(ctx, od.Socket, m)
		cancel()
		t.Logf("%s %s: %+v %v", m.QueueID, m.From, r, err)
	}
	time.Sleep(500 * time.Millisecond)
	t.Log("\n" + strings.Join(lab.Lines(), "\n"))
	t.Log(od.Output())
}
