package bronze

import (
	"unsafe"

	"github.com/churnctl/churnctl/internal/slab"
)

// pool recycles the buffers of decoded batches: a batch's column buffers
// go back to the pool when the batch is released after writing. Pooled
// memory is not zeroed: every user writes what it reads.
var pool = slab.New(maxPooled)

const maxPooled = 48 << 20

// getSlice returns a []T of length 0 and capacity >= n from the pool.
func getSlice[T int32 | int64 | float64](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	b := pool.Get(n * size)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b[:cap(b)]))), cap(b)/size)[:0]
}
