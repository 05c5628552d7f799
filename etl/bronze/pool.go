package bronze

import (
	"math/bits"
	"sync"
	"unsafe"
)

// slabPool recycles the buffers of decoded batches: a batch's column
// buffers go back to the pool when the batch is released after writing, so
// a run does not allocate (and the kernel does not zero and fault in) fresh
// memory for every chunk. It implements memory.Allocator; buffers come in
// power-of-two size classes from 4 KiB to 64 MiB. Pooled memory is not
// zeroed: every user writes what it reads.
type slabPool struct {
	classes [minClass + numClasses]sync.Pool
}

const (
	minClass   = 12 // 4 KiB
	numClasses = 15 // up to 64 MiB
)

var pool slabPool

func classOf(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// get returns a byte slice of length 0 and capacity >= n.
func (p *slabPool) get(n int) []byte {
	c := classOf(n)
	if c >= minClass+numClasses {
		return make([]byte, 0, n)
	}
	if v := p.classes[c].Get(); v != nil {
		return (*(v.(*[]byte)))[:0]
	}
	return make([]byte, 0, 1<<c)
}

// put recycles b if its capacity is exactly a size class.
func (p *slabPool) put(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 || bits.Len(uint(c))-1 >= minClass+numClasses {
		return
	}
	b = b[:0]
	p.classes[bits.Len(uint(c))-1].Put(&b)
}

// Allocate, Reallocate and Free make the pool a memory.Allocator, used to
// release batch buffers back into it.
func (p *slabPool) Allocate(size int) []byte { return p.get(size)[:size] }

func (p *slabPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.get(size)[:size]
	copy(nb, b)
	p.put(b)
	return nb
}

func (p *slabPool) Free(b []byte) { p.put(b) }

// getSlice returns a []T of length 0 and capacity >= n from the pool.
func getSlice[T int32 | int64 | float64](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	b := pool.get(n * size)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b[:cap(b)]))), cap(b)/size)[:0]
}
