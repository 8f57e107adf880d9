package dedupe

import "context"
import "crypto/rand"
import "encoding/hex"
import "sync"
import "time"

// ClaimState is what Claim found.
type ClaimState int

const (
	// Claimed: the caller holds the key for one delivery attempt.
	Claimed ClaimState = iota
	// AlreadyDone: the key was delivered and its record has not expired.
	AlreadyDone
	// HeldElsewhere: another request (on this instance or another) holds
	// the key and its lease has not run out.
	HeldElsewhere
)

// Claim is the answer of Store.Claim.
type Claim struct {
	Key   string
	State ClaimState
	// Token identifies the holder, so that only it releases its claim.
	Token string
	// LeaseUntil is when the holder's claim lapses (HeldElsewhere).
	LeaseUntil time.Time
}

// Store holds the idempotency records of deliveries: which notification was
// delivered to which transport, and which alerts were paged. A record goes
// through claimed (for one attempt, bounded by a lease) and then either
// done (until its TTL) or released. Claiming is atomic across every
// instance that shares the store, so two copies of one webhook never both
// send, whichever instances they reach.
type Store interface {
	// Claim takes key for one attempt of at most lease, unless it is done
	// or held by another attempt whose lease has not run out.
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)
	// Done records key as delivered for ttl, whatever claim it had.
	Done(ctx context.Context, key string, ttl time.Duration) error
	// Release gives up c after a failed attempt, so that a retry can
	// claim the key at once. A claim already taken over is left alone.
	Release(ctx context.Context, c Claim) error
	// IsDone reports whether key is recorded as delivered.
	IsDone(ctx context.Context, key string) (bool, error)
}

// newToken returns a random claim token.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// memoryRecord is one record of a Memory store.
type memoryRecord struct {
	done       bool
	token      string
	leaseUntil time.Time
	expires    time.Time
}

// Memory is a Store in the process's memory: exact for one instance (HTTP
// mode, tests), but invisible to other instances and lost with the
// process. The clock is injected so that expiry is tested without waiting.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	records   map[string]memoryRecord
	lastSweep time.Time
}

// NewMemory returns an empty Memory store that reads the time from now
// (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, records: make(map[string]memoryRecord)}
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, key string, lease time.Duration) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if r, ok := m.records[key]; ok && now.Before(r.expires) {
		if r.done {
			return Claim{Key: key, State: AlreadyDone}, nil
		}
		if now.Before(r.leaseUntil) {
			return Claim{Key: key, State: HeldElsewhere, LeaseUntil: r.leaseUntil}, nil
		}
	}
	c := Claim{Key: key, State: Claimed, Token: newToken(), LeaseUntil: now.Add(lease)}
	m.records[key] = memoryRecord{token: c.Token, leaseUntil: c.LeaseUntil, expires: c.LeaseUntil}
	m.sweep(now)
	return c, nil
}

// Done implements Store.
func (m *Memory) Done(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.records[key] = memoryRecord{done: true, expires: now.Add(ttl)}
	m.sweep(now)
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, c Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.records[c.Key]; ok && !r.done && r.token == c.Token {
		delete(m.records, c.Key)
	}
	return nil
}

// IsDone implements Store.
func (m *Memory) IsDone(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[key]
	return ok && r.done && m.now().Before(r.expires), nil
}

// Len returns the number of records, expired ones included until the next
// sweep; tests use it to check the store stays bounded.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

// sweep drops expired records at most every sweepEvery, so that a burst of
// writes does not turn each one into a scan.
func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for k, r := range m.records {
		if !now.Before(r.expires) {
			delete(m.records, k)
		}
	}
}
