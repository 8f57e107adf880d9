// Package dedupe holds the state that makes alert_sink idempotent: which
// transports already delivered a given notification and which alerts were
// already paged (a Store: in memory for one instance, or in a DynamoDB
// table that every instance of the Lambda shares), and the Pushover
// receipts of emergency messages (a Cache in memory: an instance without
// them cancels by tag instead). The clock is injected so that expiry is
// tested without waiting.
package dedupe

import "sync"
import "time"

// sweepEvery bounds how often Set walks the whole map to drop expired
// entries, so that a burst of writes does not turn each one into a scan.
const sweepEvery = time.Minute

type entry[V any] struct {
	value   V
	expires time.Time
}

// Cache is a map whose entries expire after a per-entry TTL. It is safe for
// concurrent use. The zero value is not usable; call New.
type Cache[V any] struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]entry[V]
	lastSweep time.Time
}

// New returns an empty cache that reads the time from now. A nil now means
// time.Now.
func New[V any](now func() time.Time) *Cache[V] {
	if now == nil {
		now = time.Now
	}
	return &Cache[V]{now: now, entries: make(map[string]entry[V])}
}

// Get returns the value stored under key, if it has not expired.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Has reports whether key is present and unexpired.
func (c *Cache[V]) Has(key string) bool {
	_, ok := c.Get(key)
	return ok
}

// Set stores value under key until ttl has passed.
func (c *Cache[V]) Set(key string, value V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.entries[key] = entry[V]{value: value, expires: now.Add(ttl)}
	if now.Sub(c.lastSweep) >= sweepEvery {
		c.lastSweep = now
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
}

// Update replaces the value under key with fn(old), old being the zero
// value when the key is absent or expired, and gives it a new TTL,
// atomically, so that concurrent appends (receipts of one alert group) do
// not lose each other.
func (c *Cache[V]) Update(key string, ttl time.Duration, fn func(old V) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var old V
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		old = e.value
	}
	c.entries[key] = entry[V]{value: fn(old), expires: now.Add(ttl)}
}

// Delete removes key.
func (c *Cache[V]) Delete(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// Len returns the number of stored entries, expired ones included until the
// next sweep. It exists for tests that check the cache stays bounded.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
