package objstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/churnctl/churnctl/internal/errkind"
)

// A lease is a lock on object storage that expires if its holder dies,
// since there is no process another machine could check. It is one small
// JSON object (LeaseRecord):
//
//   - Acquire creates it with If-None-Match: * — of two clients exactly one
//     succeeds.
//   - The holder renews it (every TTL/3 with KeepAlive) by a compare-and-swap
//     on its ETag (If-Match), so a holder that lost the lease learns it at
//     its next renewal instead of overwriting its successor.
//   - Another client takes over a lease that has expired — judged on the
//     store's clock alone: the response's Date against the object's
//     Last-Modified plus the TTL, both second-granular, with a second of
//     margin — again by If-Match on the ETag it read, so of several
//     contenders exactly one wins.
//   - Release marks the record released (If-Match), so the next Acquire
//     takes it at once.
//
// The holder trusts its lease until the local monotonic time it sent the
// last successful write plus the TTL (Valid): the store cannot see it as
// expired earlier. Seq grows by one at every acquisition: a fencing token for
// the commit protocol (COMMIT.md).

// LeaseRecord is the lease object's content.
type LeaseRecord struct {
	Owner    string `json:"owner"`
	Token    string `json:"token"` // unique per acquisition
	Seq      int64  `json:"seq"`   // acquisitions so far, this one included
	TTLms    int64  `json:"ttl_ms"`
	Released bool   `json:"released,omitempty"`
	// Renewed is the holder's wall-clock time of the write (for people
	// reading the object; expiry is judged on the store's clock).
	Renewed time.Time `json:"renewed"`
}

// ErrLeaseHeld: the lease is held by somebody else and has not expired.
// It wraps errkind.Transient (retry later).
var ErrLeaseHeld = errors.New("lease held")

// ErrLeaseLost: the holder's lease was taken over (it expired before a
// renewal got through). Stop writing.
var ErrLeaseLost = errors.New("lease lost")

// LeaseHeldError says who holds a lease and until when (store clock).
type LeaseHeldError struct {
	URL   URL
	Owner string
	Until time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("objstore: %s is held by %s until about %s", e.URL, e.Owner, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap gives ErrLeaseHeld and errkind.Transient.
func (e *LeaseHeldError) Unwrap() []error { return []error{ErrLeaseHeld, errkind.Transient} }

// Lease is a held lease.
type Lease struct {
	c   *Client
	u   URL
	ttl time.Duration

	mu         sync.Mutex
	rec        LeaseRecord
	etag       string
	validUntil time.Time // local monotonic clock
	lost       bool
}

// skewMargin covers the second granularity of Date and Last-Modified.
const skewMargin = time.Second

// AcquireLease takes the lease at u for owner (a run id, a host name) for
// ttl: it creates the lease object, or takes over one that is released or
// expired. A live lease of somebody else is a *LeaseHeldError (ErrLeaseHeld,
// errkind.Transient).
func (c *Client) AcquireLease(ctx context.Context, u URL, owner string, ttl time.Duration) (*Lease, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("%w: objstore: lease ttl %s: at least 1s", errkind.Usage, ttl)
	}
	l := &Lease{c: c, u: u, ttl: ttl}
	l.rec = LeaseRecord{Owner: owner, Token: randToken(), Seq: 1, TTLms: ttl.Milliseconds()}
	for attempt := 0; ; attempt++ {
		sent := time.Now()
		res, err := c.putLease(ctx, u, &l.rec, PutOptions{IfNoneMatch: true})
		if err == nil {
			l.held(res.ETag, sent)
			return l, nil
		}
		if KindOf(err) != KindPrecondition {
			return nil, err
		}
		cur, etag, modTime, now, err := c.readLease(ctx, u)
		if KindOf(err) == KindNotFound && attempt < 3 {
			continue // released and deleted in between: try to create it again
		}
		if err != nil {
			return nil, err
		}
		until := modTime.Add(time.Duration(cur.TTLms) * time.Millisecond).Add(skewMargin)
		if !cur.Released && !now.After(until) {
			return nil, &LeaseHeldError{URL: u, Owner: cur.Owner, Until: until}
		}
		l.rec.Seq = cur.Seq + 1
		sent = time.Now()
		res, err = c.putLease(ctx, u, &l.rec, PutOptions{IfMatch: etag})
		if err == nil {
			l.held(res.ETag, sent)
			return l, nil
		}
		if KindOf(err) != KindPrecondition {
			return nil, err
		}
		if attempt >= 3 {
			return nil, &LeaseHeldError{URL: u, Owner: "another client (it took the expired lease first)", Until: until}
		}
		// Somebody else took it first: read who, and report them.
	}
}

func randToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (l *Lease) held(etag string, sent time.Time) {
	l.etag = etag
	l.validUntil = sent.Add(l.ttl)
}

func (c *Client) putLease(ctx context.Context, u URL, rec *LeaseRecord, opts PutOptions) (PutResult, error) {
	rec.Renewed = time.Now().UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(rec)
	if err != nil {
		return PutResult{}, err
	}
	opts.ContentType = "application/json"
	return c.PutBytes(ctx, u, b, opts)
}

// readLease returns the lease record, its ETag and Last-Modified, and the
// store's clock (the response's Date).
func (c *Client) readLease(ctx context.Context, u URL) (LeaseRecord, string, time.Time, time.Time, error) {
	out, err := c.c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key})
	if err != nil {
		return LeaseRecord{}, "", time.Time{}, time.Time{}, c.c.classify("read lease", u, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return LeaseRecord{}, "", time.Time{}, time.Time{}, c.c.classify("read lease", u, err)
	}
	var rec LeaseRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return LeaseRecord{}, "", time.Time{}, time.Time{}, fmt.Errorf("%w: objstore: lease %s is not a lease record: %v", errkind.BadInput, u, err)
	}
	now := time.Now()
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if d, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			now = d
		}
	}
	return rec, aws.ToString(out.ETag), aws.ToTime(out.LastModified), now, nil
}

// Record returns the lease's current content.
func (l *Lease) Record() LeaseRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec
}

// URL returns the lease object's location.
func (l *Lease) URL() URL { return l.u }

// Valid reports whether the holder may still act under the lease: it has
// not been lost and its last successful write is less than the TTL ago.
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lost && time.Now().Before(l.validUntil)
}

// Renew extends the lease by its TTL. ErrLeaseLost (wrapping
// errkind.Transient) means somebody else took it over.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return l.lostErr()
	}
	rec := l.rec
	sent := time.Now()
	res, err := l.c.putLease(ctx, l.u, &rec, PutOptions{IfMatch: l.etag})
	if KindOf(err) == KindPrecondition {
		l.lost = true
		return l.lostErr()
	}
	if err != nil {
		return err
	}
	l.rec = rec
	l.held(res.ETag, sent)
	return nil
}

func (l *Lease) lostErr() error {
	return fmt.Errorf("%w: %w: objstore: lease %s of %s was taken over", errkind.Transient, ErrLeaseLost, l.u, l.rec.Owner)
}

// Release gives the lease up, so the next AcquireLease takes it at once. A
// lease already lost is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return nil
	}
	rec := l.rec
	rec.Released = true
	_, err := l.c.putLease(ctx, l.u, &rec, PutOptions{IfMatch: l.etag})
	l.lost = true
	if KindOf(err) == KindPrecondition {
		return nil
	}
	return err
}

// KeepAlive renews the lease every TTL/3 until ctx is done or the lease is
// lost. When it is lost (taken over, or no renewal got through before the
// TTL ran out), onLost is called once with the reason: the holder must
// stop before its next commit point. The returned stop function ends the
// renewals and waits for them.
func (l *Lease) KeepAlive(ctx context.Context, onLost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := l.Renew(ctx)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrLeaseLost) || (err != nil && !l.Valid()) {
				l.mu.Lock()
				l.lost = true
				l.mu.Unlock()
				if onLost != nil {
					onLost(err)
				}
				return
			}
			// A transient failure: the next tick tries again while the
			// lease is still valid.
		}
	}()
	return func() { cancel(); <-done }
}
