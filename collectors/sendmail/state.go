package sendmail

import (
	"strings"
	"time"
)

// qidSet remembers up to a fixed number of queue ids, forgetting the
// oldest first. Queue ids are attacker-driven (every connection makes
// one), so no per-id state may grow without bound.
type qidSet struct {
	m    map[string]struct{}
	ring []string
	next int
	max  int
}

func newQIDSet(max int) *qidSet {
	return &qidSet{m: make(map[string]struct{}), max: max}
}

func (s *qidSet) add(q string) {
	if _, ok := s.m[q]; ok {
		return
	}
	// Clone: q is a substring of a log line that must not be kept alive.
	q = strings.Clone(q)
	if len(s.ring) < s.max {
		s.ring = append(s.ring, q)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = q
		s.next = (s.next + 1) % s.max
	}
	s.m[q] = struct{}{}
}

// take reports whether q was remembered, and forgets it.
func (s *qidSet) take(q string) bool {
	if _, ok := s.m[q]; ok {
		delete(s.m, q)
		return true
	}
	return false
}

// held is a message whose from= line has been read and whose fate (taken
// into the queue, or refused at the end of DATA) is not yet known.
type held struct {
	qid    string
	daemon string
	at     time.Time
	done   bool
}

// heldQueue keeps held messages in arrival order, so the oldest can be
// decided first, and by queue id, so a later line can decide its own.
// Decided messages stay in order until they reach its head or until they
// outnumber the undecided ones, when order is compacted: its length stays
// within twice the number of held messages (plus a little slack), however
// long the server is never idle.
type heldQueue struct {
	byQID map[string]*held
	order []*held
	head  int
}

// compactSlack is how many decided entries order may hold beyond the
// undecided ones before it is compacted.
const compactSlack = 64

func newHeldQueue() *heldQueue {
	return &heldQueue{byQID: make(map[string]*held)}
}

func (q *heldQueue) push(qid, daemon string, at time.Time) {
	if old, ok := q.byQID[qid]; ok {
		old.done = true
	}
	h := &held{qid: strings.Clone(qid), daemon: daemon, at: at}
	q.byQID[h.qid] = h
	if len(q.order) > 2*len(q.byQID)+compactSlack {
		q.compact()
	}
	q.order = append(q.order, h)
}

// compact drops the decided entries of order into a new slice, so the old
// backing array (and what it pinned) can be freed.
func (q *heldQueue) compact() {
	live := make([]*held, 0, 2*len(q.byQID)+compactSlack)
	for _, h := range q.order[q.head:] {
		if !h.done {
			live = append(live, h)
		}
	}
	q.order, q.head = live, 0
}

// take removes and returns the held message of qid, if any.
func (q *heldQueue) take(qid string) *held {
	h, ok := q.byQID[qid]
	if !ok {
		return nil
	}
	delete(q.byQID, qid)
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
	}
	// Everything is decided: reuse the slice from its start.
	q.order = q.order[:0]
	q.head = 0
	return nil
}

func (q *heldQueue) len() int { return len(q.byQID) }
