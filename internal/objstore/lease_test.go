package objstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/objstore"
)

func readRecord(t *testing.T, c *objstore.Client, u objstore.URL) objstore.LeaseRecord {
	t.Helper()
	rc, err := c.Open(context.Background(), u, 0, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	var rec objstore.LeaseRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("lease object %q: %v", b, err)
	}
	return rec
}

// Two clients (two processes' worth: separate clients and connections)
// race for one lease: exactly one gets it; the other is told who holds it.
func TestIntegrationLeaseTwoClients(t *testing.T) {
	a, env := setup(t)
	b := newClient(t, testConfig(env))
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "lake/.lock"}
	for round := range 3 {
		var wg sync.WaitGroup
		leases := make([]*objstore.Lease, 8)
		errs := make([]error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := a
				if i%2 == 1 {
					c = b
				}
				leases[i], errs[i] = c.AcquireLease(ctx, u, fmt.Sprintf("run-%d-%d", round, i), time.Minute)
			}()
		}
		wg.Wait()
		var held *objstore.Lease
		for i := range 8 {
			switch {
			case errs[i] == nil:
				if held != nil {
					t.Fatalf("round %d: two holders: %s and %s", round, held.Record().Owner, leases[i].Record().Owner)
				}
				held = leases[i]
			case errors.Is(errs[i], objstore.ErrLeaseHeld) && exitcode.Code(errs[i]) == exitcode.Transient:
			default:
				t.Fatalf("round %d: %v, want ErrLeaseHeld (exit 4)", round, errs[i])
			}
		}
		if held == nil {
			t.Fatalf("round %d: nobody got the lease: %v", round, errs)
		}
		var he *objstore.LeaseHeldError
		for _, err := range errs {
			if errors.As(err, &he) && he.Owner != held.Record().Owner {
				t.Errorf("round %d: loser told %q holds it, want %q", round, he.Owner, held.Record().Owner)
			}
		}
		if !held.Valid() || readRecord(t, a, u).Token != held.Record().Token {
			t.Fatalf("round %d: the holder's lease is not the stored one", round)
		}
		if got := held.Record().Seq; got != int64(round+1) {
			t.Errorf("round %d: seq %d, want %d (one more per acquisition)", round, got, round+1)
		}
		if err := held.Renew(ctx); err != nil {
			t.Fatalf("round %d: renew: %v", round, err)
		}
		if err := held.Release(ctx); err != nil {
			t.Fatalf("round %d: release: %v", round, err)
		}
		if held.Valid() {
			t.Fatalf("round %d: a released lease is still valid", round)
		}
	}
}

// A holder that dies (stops renewing) loses the lease once it expires on the
// store's clock; the successor takes it over, and the old holder's renewal
// fails instead of overwriting the successor's lease.
func TestIntegrationLeaseExpiredHolder(t *testing.T) {
	a, env := setupParallel(t)
	b := newClient(t, testConfig(env))
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "lake/.lock"}
	const ttl = time.Second
	old, err := a.AcquireLease(ctx, u, "run-dead", ttl)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AcquireLease(ctx, u, "run-next", ttl)
	var he *objstore.LeaseHeldError
	if !errors.As(err, &he) || he.Owner != "run-dead" {
		t.Fatalf("acquire of a live lease: %v, want held by run-dead", err)
	}
	// The holder dies: nobody renews. Poll until the store says expired
	// (TTL plus up to two seconds of Date/Last-Modified granularity).
	deadline := time.Now().Add(10 * time.Second)
	var next *objstore.Lease
	for {
		next, err = b.AcquireLease(ctx, u, "run-next", ttl)
		if err == nil {
			break
		}
		if !errors.Is(err, objstore.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("taking over an expired lease: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if old.Valid() {
		t.Fatal("the dead holder still believes its lease valid after the takeover")
	}
	if next.Record().Seq != 2 || readRecord(t, b, u).Owner != "run-next" {
		t.Fatalf("after takeover: %+v", readRecord(t, b, u))
	}
	// The old holder wakes up: its renewal and release must not touch the
	// successor's lease.
	if err := old.Renew(ctx); !errors.Is(err, objstore.ErrLeaseLost) || exitcode.Code(err) != exitcode.Transient {
		t.Fatalf("renewal of a taken-over lease: %v, want ErrLeaseLost", err)
	}
	if err := old.Release(ctx); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	if rec := readRecord(t, b, u); rec.Owner != "run-next" || rec.Released {
		t.Fatalf("the old holder changed the successor's lease: %+v", rec)
	}
	// Several contenders for one expired lease: exactly one wins.
	time.Sleep(ttl + 2500*time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			if _, err := c.AcquireLease(ctx, u, fmt.Sprintf("contender-%d", i), time.Minute); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, objstore.ErrLeaseHeld) {
				t.Errorf("contender %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d contenders took over one expired lease, want 1", wins)
	}
	if rec := readRecord(t, a, u); rec.Seq != 3 {
		t.Fatalf("seq after the contended takeover %d, want 3", rec.Seq)
	}
}

// KeepAlive keeps a short lease alive well past its TTL, and reports the
// loss when somebody takes it over.
func TestIntegrationLeaseKeepAlive(t *testing.T) {
	a, env := setupParallel(t)
	b := newClient(t, testConfig(env))
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "lake/.lock"}
	const ttl = time.Second
	l, err := a.AcquireLease(ctx, u, "run-alive", ttl)
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	stop := l.KeepAlive(ctx, func(err error) { lost <- err })
	time.Sleep(3 * ttl)
	if _, err := b.AcquireLease(ctx, u, "run-other", ttl); !errors.Is(err, objstore.ErrLeaseHeld) {
		t.Fatalf("acquire of a kept-alive lease after 3 TTLs: %v, want ErrLeaseHeld", err)
	}
	if !l.Valid() {
		t.Fatal("kept-alive lease not valid")
	}
	// Somebody overwrites the lease object behind the holder's back (an
	// operator, or a takeover after a long pause): the next renewal
	// notices.
	if _, err := b.PutBytes(ctx, u, []byte(`{"owner":"intruder","token":"x","seq":9,"ttl_ms":60000}`), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, objstore.ErrLeaseLost) {
			t.Fatalf("onLost(%v), want ErrLeaseLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the loss was not reported")
	}
	stop()
	if l.Valid() {
		t.Fatal("lost lease still valid")
	}
}
