package sendmail

import "math/bits"
import "math/rand/v2"
import "time"
import "unsafe"

// qidKey is a queue id as a table key: its bytes, zero-padded, as three
// little-endian words. splitQID's queue ids are 8 to 20 letters and
// digits, so no two share a key. A key is a copy, never part of a line,
// and holds no pointer: keeping one costs no allocation.
type qidKey struct {
	lo, mid uint64 // bytes 0-7 and 8-15
	hi      uint32 // bytes 16-19
}

// qidRef is a queue id's key with its hash, made once per line for every
// table the line looks in.
type qidRef struct {
	key  qidKey
	hash uint64
}

// qidSeed keys the queue id hash. Queue ids come from log lines, and a
// sender of lines that knew the hash could make them collide.
var qidSeed = rand.Uint64() | 1

// refOf returns the key and hash of queue id q (of its first 20 bytes).
// The words are read from q directly: copying q into an array and reading
// the words back stalled on the copy.
func refOf(q string) qidRef {
	q = q[:min(len(q), 20)]
	var k qidKey
	switch {
	case len(q) >= 16:
		k.lo, k.mid, k.hi = word(q[:8]), word(q[8:16]), uint32(word(q[16:]))
	case len(q) >= 8:
		k.lo, k.mid = word(q[:8]), word(q[8:])
	default:
		k.lo = word(q)
	}
	hi, lo := bits.Mul64(k.lo^qidSeed, k.mid^0x9e3779b97f4a7c15)
	hi, lo = bits.Mul64(hi^lo^uint64(k.hi), qidSeed^0xbf58476d1ce4e5b9)
	return qidRef{key: k, hash: hi ^ lo}
}

// word is the first eight bytes of s, little-endian, zero-padded when s
// is shorter.
func word(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	var w uint64
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// qidTable maps queue id keys to held messages (nil for a plain set):
// open addressing with linear probing, and deletion by shifting the
// entries after a deleted one back, so no tombstone slows later lookups.
// It is Go's map for this one key type, without hashing a key again for
// each table a line looks in, and with a cheaper hash.
type qidTable struct {
	slots []qidSlot // a power of two of them
	n     int
}

// qidSlot is a key's words with its tag in what would be the key's
// padding: 32 bytes, two slots to a cache line.
type qidSlot struct {
	lo, mid uint64
	hi      uint32
	// tag is the low bits of the key's hash with the top bit set; 0 for
	// an empty slot. Its low bits give the slot the key belongs in.
	tag uint32
	val *held
}

// is reports whether the slot holds key k with tag.
func (s *qidSlot) is(k qidKey, tag uint32) bool {
	return s.tag == tag && s.lo == k.lo && s.mid == k.mid && s.hi == k.hi
}

const tagFull = 1 << 31

// minTableSlots is the size of a table's first allocation.
const minTableSlots = 64

// find returns the slot of r, or -1.
func (t *qidTable) find(r qidRef) int {
	if t.n == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	tag := uint32(r.hash) | tagFull
	for i := int(r.hash) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.tag == 0 {
			return -1
		}
		if s.is(r.key, tag) {
			return i
		}
	}
}

// get returns the value of r and whether r is in the table.
func (t *qidTable) get(r qidRef) (*held, bool) {
	if i := t.find(r); i >= 0 {
		return t.slots[i].val, true
	}
	return nil, false
}

// put sets the value of r.
func (t *qidTable) put(r qidRef, v *held) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := len(t.slots) - 1
	tag := uint32(r.hash) | tagFull
	for i := int(r.hash) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.tag == 0 {
			*s = qidSlot{lo: r.key.lo, mid: r.key.mid, hi: r.key.hi, tag: tag, val: v}
			t.n++
			return
		}
		if s.is(r.key, tag) {
			s.val = v
			return
		}
	}
}

// del removes r and returns its value and whether it was there.
func (t *qidTable) del(r qidRef) (*held, bool) {
	i := t.find(r)
	if i < 0 {
		return nil, false
	}
	v := t.slots[i].val
	mask := len(t.slots) - 1
	// Shift back every entry after i, up to the next empty slot, that
	// may not sit beyond the hole: the one whose home slot is not
	// cyclically within (i, j].
	for j := (i + 1) & mask; t.slots[j].tag != 0; j = (j + 1) & mask {
		home := int(t.slots[j].tag) & mask
		if (i <= j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = qidSlot{}
	t.n--
	return v, true
}

func (t *qidTable) len() int { return t.n }

// grow doubles the table (allocating its first slots) and puts every
// entry back.
func (t *qidTable) grow() {
	old := t.slots
	t.slots = make([]qidSlot, max(2*len(old), minTableSlots))
	t.n = 0
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.tag == 0 {
			continue
		}
		i := int(s.tag) & mask
		for t.slots[i].tag != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// qidSet remembers up to a fixed number of queue ids, forgetting the
// oldest first. Queue ids are attacker-driven (every connection makes
// one), so no per-id state may grow without bound.
type qidSet struct {
	m    qidTable
	ring []qidRef
	next int
	max  int
}

func newQIDSet(max int) *qidSet {
	return &qidSet{max: max}
}

// addRef remembers the queue id of r.
func (s *qidSet) addRef(r qidRef) {
	if _, ok := s.m.get(r); ok {
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, r)
	} else {
		s.m.del(s.ring[s.next])
		s.ring[s.next] = r
		s.next = (s.next + 1) % s.max
	}
	s.m.put(r, nil)
}

// takeRef reports whether the queue id of r was remembered, and forgets
// it.
func (s *qidSet) takeRef(r qidRef) bool {
	_, ok := s.m.del(r)
	return ok
}

// held is a message whose from= line has been read and whose fate (taken
// into the queue, or refused at the end of DATA) is not yet known.
type held struct {
	// qid is the queue id, over buf: its own copy, not the line's.
	qid    string
	buf    [20]byte
	daemon string
	at     time.Time
	done   bool
}

// heldQueue keeps held messages in arrival order, so the oldest can be
// decided first, and by queue id, so a later line can decide its own.
// Decided messages stay in order until they reach its head or until they
// outnumber the undecided ones, when order is compacted: its length stays
// within twice the number of held messages (plus a little slack), however
// long the server is never idle. A decided message that has left order is
// kept for reuse, so holding a message allocates nothing once the queue
// has held as many at once before.
type heldQueue struct {
	byQID qidTable
	order []*held
	head  int
	free  []*held
}

// compactSlack is how many decided entries order may hold beyond the
// undecided ones before it is compacted.
const compactSlack = 64

func newHeldQueue() *heldQueue {
	return &heldQueue{}
}

func (q *heldQueue) push(qid, daemon string, at time.Time) { q.pushRef(refOf(qid), qid, daemon, at) }

// pushRef is push for a queue id whose key r is already made.
func (q *heldQueue) pushRef(r qidRef, qid, daemon string, at time.Time) {
	if old, ok := q.byQID.get(r); ok {
		old.done = true
	}
	var h *held
	if n := len(q.free); n > 0 {
		h, q.free = q.free[n-1], q.free[:n-1]
	} else {
		h = new(held)
	}
	*h = held{daemon: daemon, at: at}
	n := copy(h.buf[:], qid)
	h.qid = unsafe.String(&h.buf[0], n)
	q.byQID.put(r, h)
	if len(q.order) > 2*q.byQID.len()+compactSlack {
		q.compact()
	}
	q.order = append(q.order, h)
}

// compact drops the decided entries of order into a new slice, so the old
// backing array can be freed.
func (q *heldQueue) compact() {
	live := make([]*held, 0, 2*q.byQID.len()+compactSlack)
	for _, h := range q.order[q.head:] {
		if !h.done {
			live = append(live, h)
		} else {
			q.free = append(q.free, h)
		}
	}
	q.order, q.head = live, 0
}

// take removes and returns the held message of qid, if any. It stays
// valid until the next push.
func (q *heldQueue) take(qid string) *held { return q.takeRef(refOf(qid)) }

// takeRef is take for a queue id whose key r is already made.
func (q *heldQueue) takeRef(r qidRef) *held {
	h, ok := q.byQID.del(r)
	if !ok {
		return nil
	}
	h.done = true
	return h
}

// oldest returns the oldest undecided message without removing it.
func (q *heldQueue) oldest() *held {
	for q.head < len(q.order) {
		h := q.order[q.head]
		if !h.done {
			return h
		}
		q.order[q.head] = nil
		q.head++
		q.free = append(q.free, h)
	}
	// Everything is decided: reuse the slice from its start.
	q.order = q.order[:0]
	q.head = 0
	return nil
}

func (q *heldQueue) len() int { return q.byQID.len() }
