package dedupe

import "testing"
import "time"

import "github.com/cabalmail/mailtier/internal/testenv"

func TestCacheExpiresAtTTL(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := New[string](clk.Now)
	c.Set("k", "v", 10*time.Second)

	clk.Advance(10*time.Second - time.Nanosecond)
	if v, ok := c.Get("k"); !ok || v != "v" {
		t.Fatalf("just before TTL: Get = %q, %v; want \"v\", true", v, ok)
	}
	clk.Advance(time.Nanosecond)
	if v, ok := c.Get("k"); ok {
		t.Fatalf("at TTL: Get = %q, true; want expired", v)
	}
	if c.Has("k") {
		t.Fatal("Has after TTL = true")
	}
}

func TestCacheSweepDropsExpiredEntries(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := New[struct{}](clk.Now)
	for _, k := range []string{"a", "b", "c"} {
		c.Set(k, struct{}{}, time.Second)
	}
	if got := c.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	// The first Set swept (lastSweep was zero); the next sweep is due one
	// sweep interval later, when a, b and c are long expired.
	clk.Advance(sweepEvery)
	c.Set("d", struct{}{}, time.Hour)
	if got := c.Len(); got != 1 {
		t.Fatalf("Len after sweep = %d, want 1", got)
	}
	if !c.Has("d") {
		t.Fatal("fresh entry d was swept")
	}
}

func TestCacheUpdateAppendsAndRenews(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := New[[]string](clk.Now)
	appendR := func(r string) {
		c.Update("g", time.Minute, func(old []string) []string {
			return append(old, r)
		})
	}
	appendR("r1")
	clk.Advance(50 * time.Second)
	appendR("r2")
	clk.Advance(50 * time.Second) // 100 s after r1, 50 s after the renewal
	got, ok := c.Get("g")
	if !ok || len(got) != 2 || got[0] != "r1" || got[1] != "r2" {
		t.Fatalf("Get = %q, %v; want [r1 r2], true", got, ok)
	}

	clk.Advance(time.Minute)
	var sawOld bool
	c.Update("g", time.Minute, func(old []string) []string {
		sawOld = len(old) != 0
		return []string{"r3"}
	})
	if sawOld {
		t.Fatal("Update passed an expired value to fn")
	}
	c.Delete("g")
	if c.Has("g") {
		t.Fatal("Has after Delete = true")
	}
}
