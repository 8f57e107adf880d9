package dedupe

import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/credentials"
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

import "github.com/cabalmail/mailtier/lambda/alert_sink/internal/fakes"

const testTable = "alert-sink-dedupe-test"

// newDynamoDB returns a store on the fake table with a settable clock.
func newDynamoDB(t *testing.T, fake *fakes.DynamoDB, now *atomic.Int64) *DynamoDB {
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fake.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDDEDUPETEST", "dedupe-test-secret", ""),
	})
	return &DynamoDB{Client: client, Table: testTable, Now: func() time.Time { return time.Unix(0, now.Load()) }}
}

func TestDynamoDBClaimLifecycle(t *testing.T) {
	fake := fakes.NewDynamoDB(t, testTable, AttrKey)
	var now atomic.Int64
	start := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	now.Store(start.UnixNano())
	a, b := newDynamoDB(t, fake, &now), newDynamoDB(t, fake, &now) // two instances
	ctx := t.Context()

	c1, err := a.Claim(ctx, "k", 10*time.Second)
	if err != nil || c1.State != Claimed || !c1.LeaseUntil.Equal(start.Add(10*time.Second)) {
		t.Fatalf("first claim = %+v, %v", c1, err)
	}
	item := fake.Items()["k"]
	if item["state"] != "pending" || item["lease_until"] != "1795500010000" || item["expires_at"] != "1795503610" || item["token"] != c1.Token {
		t.Errorf("pending item = %v", item)
	}
	c2, err := b.Claim(ctx, "k", 10*time.Second)
	if err != nil || c2.State != HeldElsewhere || !c2.LeaseUntil.Equal(start.Add(10*time.Second)) {
		t.Fatalf("claim while held = %+v, %v", c2, err)
	}
	// Only the holder releases.
	if err := b.Release(ctx, Claim{Key: "k", Token: "not-the-holder"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.Claim(ctx, "k", 10*time.Second); c.State != HeldElsewhere {
		t.Fatalf("claim after a stranger's release = %+v", c)
	}
	if err := a.Release(ctx, c1); err != nil {
		t.Fatal(err)
	}
	c3, err := b.Claim(ctx, "k", 10*time.Second)
	if err != nil || c3.State != Claimed {
		t.Fatalf("claim after release = %+v, %v", c3, err)
	}

	// The holder dies: once its lease has run out, another takes over.
	now.Store(start.Add(10*time.Second + time.Millisecond).UnixNano())
	c4, err := a.Claim(ctx, "k", 10*time.Second)
	if err != nil || c4.State != Claimed {
		t.Fatalf("claim after the lease = %+v, %v", c4, err)
	}
	if err := a.Done(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	if item := fake.Items()["k"]; item["state"] != "done" || item["expires_at"] != "1795503610" {
		t.Errorf("done item = %v", item)
	}
	if c, _ := b.Claim(ctx, "k", 10*time.Second); c.State != AlreadyDone {
		t.Fatalf("claim of a done key = %+v", c)
	}
	if done, err := b.IsDone(ctx, "k"); !done || err != nil {
		t.Errorf("IsDone = %v, %v", done, err)
	}
	// A late release of the superseded claim leaves the record.
	if err := b.Release(ctx, c3); err != nil {
		t.Fatal(err)
	}
	// Past its TTL the record no longer counts, even before DynamoDB
	// deletes it.
	now.Store(start.Add(10*time.Second + time.Hour + 2*time.Second).UnixNano())
	if done, _ := b.IsDone(ctx, "k"); done {
		t.Error("IsDone past the TTL")
	}
	if c, _ := b.Claim(ctx, "k", 10*time.Second); c.State != Claimed {
		t.Fatalf("claim past the TTL = %+v", c)
	}
	if done, _ := b.IsDone(ctx, "never"); done {
		t.Error("IsDone of a missing key")
	}
}

// TestDynamoDBOneClaimWins races claims of one key from 8 instances: only
// one may win, whatever the interleaving.
func TestDynamoDBOneClaimWins(t *testing.T) {
	fake := fakes.NewDynamoDB(t, testTable, AttrKey)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	var won, held atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		s := newDynamoDB(t, fake, &now)
		wg.Go(func() {
			for range 5 {
				c, err := s.Claim(t.Context(), "race", time.Minute)
				switch {
				case err != nil:
					t.Error(err)
				case c.State == Claimed:
					won.Add(1)
				case c.State == HeldElsewhere:
					held.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || held.Load() != 39 {
		t.Errorf("claims won %d, held elsewhere %d; want 1 and 39", won.Load(), held.Load())
	}
}

func TestDynamoDBErrors(t *testing.T) {
	fake := fakes.NewDynamoDB(t, testTable, AttrKey)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s := newDynamoDB(t, fake, &now)
	s.Table = "no-such-table"
	if _, err := s.Claim(t.Context(), "k", time.Minute); err == nil {
		t.Error("claim on a missing table succeeded")
	}
	if _, err := s.IsDone(t.Context(), "k"); err == nil {
		t.Error("IsDone on a missing table succeeded")
	}
}
