package sendmail

import "fmt"
import "testing"
import "time"

// TestHeldQueueOrderBounded: a server that is never idle always holds a
// message, so order never empties; its length must still stay bounded by
// the messages held, not grow with every message ever held.
func TestHeldQueueOrderBounded(t *testing.T) {
	q := newHeldQueue()
	at := time.Unix(0, 0)
	q.push("first0000000", "MTA", at)
	for i := 0; i < 100000; i++ {
		qid := fmt.Sprintf("Q%011d", i)
		q.push(qid, "MTA", at)
		// Decided by its own next line, out of order: the first stays held.
		q.take(qid)
		if h := q.oldest(); h == nil || h.qid != "first0000000" {
			t.Fatalf("oldest = %v, want the first message", h)
		}
	}
	if q.len() != 1 {
		t.Fatalf("held = %d, want 1", q.len())
	}
	if n, c := len(q.order), cap(q.order); n > 2*q.len()+65 || c > 4*(2*q.len()+65) {
		t.Fatalf("order holds %d entries (capacity %d) for %d held messages", n, c, q.len())
	}
}
