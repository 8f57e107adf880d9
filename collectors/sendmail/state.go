package sendmail

import (
	"time"
	"unsafe"
)

// qidKey is a queue id as a map key: its bytes, zero-padded. splitQID's
// queue ids are 8 to 20 letters and digits, so no two share a key. A key
// is a copy, never part of a line, and holds no pointer: keeping one costs
// no allocation, and the sets of keys are not scanned by the garbage
// collector.
type qidKey [20]byte

func keyOf(q string) (k qidKey) {
	copy(k[:], q)
	return k
}

// qidSet remembers up to a fixed number of queue ids, forgetting the
// oldest first. Queue ids are attacker-driven (every connection makes
// one), so no per-id state may grow without bound.
type qidSet struct {
	m    map[qidKey]struct{}
	ring []qidKey
	next int
	max  int
}

func newQIDSet(max int) *qidSet {
	return &qidSet{m: make(map[qidKey]struct{}), max: max}
}

func (s *qidSet) add(q string) {
	k := keyOf(q)
	if _, ok := s.m[k]; ok {
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, k)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % s.max
	}
	s.m[k] = struct{}{}
}

// take reports whether q was remembered, and forgets it.
func (s *qidSet) take(q string) bool {
	k := keyOf(q)
	if _, ok := s.m[k]; ok {
		delete(s.m, k)
		return true
	}
	return false
}

// held is a message whose from= line has been read and whose fate (taken
// into the queue, or refused at the end of DATA) is not yet known.
type held struct {
	// qid is the queue id, over key: its own copy, not the line's.
	qid    string
	key    qidKey
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
	byQID map[qidKey]*held
	order []*held
	head  int
	free  []*held
}

// compactSlack is how many decided entries order may hold beyond the
// undecided ones before it is compacted.
const compactSlack = 64

func newHeldQueue() *heldQueue {
	return &heldQueue{byQID: make(map[qidKey]*held)}
}

func (q *heldQueue) push(qid, daemon string, at time.Time) {
	k := keyOf(qid)
	if old, ok := q.byQID[k]; ok {
		old.done = true
	}
	var h *held
	if n := len(q.free); n > 0 {
		h, q.free = q.free[n-1], q.free[:n-1]
	} else {
		h = new(held)
	}
	*h = held{key: k, daemon: daemon, at: at}
	h.qid = unsafe.String(&h.key[0], min(len(qid), len(h.key)))
	q.byQID[k] = h
	if len(q.order) > 2*len(q.byQID)+compactSlack {
		q.compact()
	}
	q.order = append(q.order, h)
}

// compact drops the decided entries of order into a new slice, so the old
// backing array can be freed.
func (q *heldQueue) compact() {
	live := make([]*held, 0, 2*len(q.byQID)+compactSlack)
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
func (q *heldQueue) take(qid string) *held {
	k := keyOf(qid)
	h, ok := q.byQID[k]
	if !ok {
		return nil
	}
	delete(q.byQID, k)
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

func (q *heldQueue) len() int { return len(q.byQID) }
