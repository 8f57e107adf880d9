package sendmail

import "fmt"
import "math/rand/v2"
import "testing"
import "time"

// TestQIDTableMatchesMap: random puts, gets and deletes give what Go's
// map gives, with real hashes and with hashes made to collide (a few
// home slots, long runs wrapping around the end of the table), through
// growth and through deletions that shift entries back.
func TestQIDTableMatchesMap(t *testing.T) {
	for _, homes := range []uint64{0, 1, 3, 40, 200} {
		t.Run(fmt.Sprint("homes=", homes), func(t *testing.T) {
			r := rand.New(rand.NewPCG(homes, 7))
			ref := func(i int) qidRef {
				q := refOf(fmt.Sprintf("6AO5F%09d", i))
				if homes > 0 {
					// Home slots at the table's end, whatever its size,
					// so runs wrap around it, and at its start, where
					// the wrapped runs meet entries at home.
					q.hash = uint64(i) % homes
					if i%2 == 0 {
						q.hash = ^q.hash
					}
				}
				return q
			}
			var tab qidTable
			want := map[qidKey]*held{}
			vals := make([]held, 400)
			for op := 0; op < 50000; op++ {
				i := r.IntN(len(vals))
				q := ref(i)
				switch r.IntN(3) {
				case 0:
					tab.put(q, &vals[i])
					want[q.key] = &vals[i]
				case 1:
					v, ok := tab.del(q)
					w, wok := want[q.key]
					delete(want, q.key)
					if v != w || ok != wok {
						t.Fatalf("op %d: del(%d) = %p, %v; want %p, %v", op, i, v, ok, w, wok)
					}
				default:
					v, ok := tab.get(q)
					if w, wok := want[q.key]; v != w || ok != wok {
						t.Fatalf("op %d: get(%d) = %p, %v; want %p, %v", op, i, v, ok, w, wok)
					}
				}
				if tab.len() != len(want) {
					t.Fatalf("op %d: len %d, want %d", op, tab.len(), len(want))
				}
			}
			for i := range vals {
				q := ref(i)
				v, ok := tab.get(q)
				if w, wok := want[q.key]; v != w || ok != wok {
					t.Fatalf("get(%d) = %p, %v; want %p, %v", i, v, ok, w, wok)
				}
			}
		})
	}
}

// TestQIDSetForgetsOldest: past its bound a set forgets the queue ids
// it was given longest ago, and only those.
func TestQIDSetForgetsOldest(t *testing.T) {
	s := newQIDSet(100)
	for i := 0; i < 250; i++ {
		s.addRef(refOf(fmt.Sprintf("Q%011d", i)))
	}
	for i := 0; i < 250; i++ {
		if got, want := s.takeRef(refOf(fmt.Sprintf("Q%011d", i))), i >= 150; got != want {
			t.Fatalf("queue id %d remembered: %v, want %v", i, got, want)
		}
	}
	if s.m.len() != 0 {
		t.Fatalf("%d left after taking all", s.m.len())
	}
}

// TestQIDKeys: queue ids of every length up to 20 have keys of their
// own; longer ones are keyed by their first 20 bytes, as a held
// message's copy of one keeps them.
func TestQIDKeys(t *testing.T) {
	const id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	seen := map[qidKey]string{}
	for n := 0; n <= 20; n++ {
		for _, q := range []string{id[:n], id[len(id)-n:]} {
			k := refOf(q).key
			if other, ok := seen[k]; ok && other != q {
				t.Fatalf("%q and %q share a key", q, other)
			}
			seen[k] = q
		}
	}
	if refOf(id) != refOf(id[:20]) || refOf(id) == refOf(id[:19]) {
		t.Fatal("a long queue id is not keyed by its first 20 bytes")
	}
	q := newHeldQueue()
	q.push(id, "MTA", time.Unix(0, 0))
	if h := q.take(id[:20]); h == nil || h.qid != id[:20] {
		t.Fatalf("held %+v, want queue id %q", h, id[:20])
	}
}
