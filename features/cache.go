package features

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// cachedSource keeps the partitions it has read (with every column a
// snapshot may ask for) so that several cutoffs of one run decode each
// partition once. Release frees them.
type cachedSource struct {
	Source
	mu    sync.Mutex
	fact  map[Date]*cacheEntry
	attrs map[Date]*cacheEntry
}

type cacheEntry struct {
	once    sync.Once
	batches []arrow.RecordBatch
	err     error
}

func newCachedSource(s Source) *cachedSource {
	return &cachedSource{Source: s, fact: map[Date]*cacheEntry{}, attrs: map[Date]*cacheEntry{}}
}

func (c *cachedSource) entry(m map[Date]*cacheEntry, dt Date) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := m[dt]
	if e == nil {
		e = &cacheEntry{}
		m[dt] = e
	}
	return e
}

func (c *cachedSource) read(ctx context.Context, m map[Date]*cacheEntry, dt Date, all, cols []string,
	read func(context.Context, Date, []string, func(arrow.RecordBatch) error) error, fn func(arrow.RecordBatch) error) error {
	e := c.entry(m, dt)
	e.once.Do(func() {
		e.err = read(ctx, dt, all, func(b arrow.RecordBatch) error {
			b.Retain()
			e.batches = append(e.batches, b)
			return nil
		})
	})
	if e.err != nil {
		// a failed (or cancelled) read is not cached
		c.mu.Lock()
		if m[dt] == e {
			delete(m, dt)
		}
		c.mu.Unlock()
		return e.err
	}
	return project(e.batches, cols, fn)
}

// ReadDay implements Source.
func (c *cachedSource) ReadDay(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return c.read(ctx, c.fact, dt, windowCols, cols, c.Source.ReadDay, fn)
}

// ReadAttrs implements Source.
func (c *cachedSource) ReadAttrs(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return c.read(ctx, c.attrs, dt, attrCols, cols, c.Source.ReadAttrs, fn)
}

// Release frees the cached batches.
func (c *cachedSource) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[Date]*cacheEntry{c.fact, c.attrs} {
		for dt, e := range m {
			for _, b := range e.batches {
				b.Release()
			}
			delete(m, dt)
		}
	}
}
