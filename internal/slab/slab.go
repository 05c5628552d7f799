// Package slab recycles large byte buffers by power-of-two size classes, so
// a stream of batches does not allocate (and the kernel does not zero and
// fault in) fresh memory for every batch.
package slab

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	minClass   = 12 // 4 KiB
	numClasses = 15 // up to 64 MiB
)

// Pool is a set of free lists, one per size class from 4 KiB to 64 MiB,
// holding at most its byte limit (free lists, not sync.Pool: a GC does not
// empty them, and they stay bounded). It implements memory.Allocator, so
// Arrow buffers allocated from it go back to it when released. Safe for
// concurrent use.
type Pool struct {
	mu      sync.Mutex
	free    [minClass + numClasses][][]byte
	pooled  int
	maxKeep int
}

var _ memory.Allocator = (*Pool)(nil)

// New returns a pool keeping at most maxKeep bytes of free buffers.
//
// Pooled memory comes back as it was left, not zeroed: every user must
// write what it reads. Arrow's builders do (they clear the bitmaps and
// buffers they grow), and so do churnctl's own take and concat.
func New(maxKeep int) *Pool { return &Pool{maxKeep: maxKeep} }

func classOf(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// Get returns a byte slice of length 0 and capacity >= n (not cleared).
func (p *Pool) Get(n int) []byte {
	c := classOf(n)
	if c >= minClass+numClasses {
		return make([]byte, 0, n)
	}
	p.mu.Lock()
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c][l-1] = nil
		p.free[c] = p.free[c][:l-1]
		p.pooled -= cap(b)
		p.mu.Unlock()
		return b[:0]
	}
	p.mu.Unlock()
	return make([]byte, 0, 1<<c)
}

// Put recycles b if its capacity is exactly a size class and the pool has
// room; otherwise the GC takes it. b must not be used afterwards.
func (p *Pool) Put(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 || bits.Len(uint(c))-1 >= minClass+numClasses {
		return
	}
	p.mu.Lock()
	if p.pooled+c <= p.maxKeep {
		k := bits.Len(uint(c)) - 1
		p.free[k] = append(p.free[k], b[:0])
		p.pooled += c
	}
	p.mu.Unlock()
}

// Allocate returns a buffer of length size (not cleared).
func (p *Pool) Allocate(size int) []byte { return p.Get(size)[:size] }

// Reallocate grows b to size, keeping its contents.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Put(b)
	return nb
}

// Free returns b to the pool.
func (p *Pool) Free(b []byte) { p.Put(b) }
