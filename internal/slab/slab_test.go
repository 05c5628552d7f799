package slab

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestPoolRecyclesAndBounds: buffers of a size class come back from the
// pool, the pool keeps no more than its limit, and odd capacities are left
// to the GC.
func TestPoolRecyclesAndBounds(t *testing.T) {
	p := New(64 << 10)
	b := p.Get(5000)
	if cap(b) != 8192 || len(b) != 0 {
		t.Fatalf("Get(5000): len %d cap %d, want 0 and 8192", len(b), cap(b))
	}
	b = append(b, 1, 2, 3)
	p.Put(b)
	c := p.Get(8000)
	if &c[:1][0] != &b[0] {
		t.Error("a freed buffer of the class was not reused")
	}
	for range 20 {
		p.Put(make([]byte, 0, 8192))
	}
	if p.pooled > 64<<10 {
		t.Errorf("pool keeps %d bytes, limit %d", p.pooled, 64<<10)
	}
	p.Put(make([]byte, 0, 5000)) // not a class size: dropped
	if n := len(p.free[classOf(5000)]); n*8192 > 64<<10 {
		t.Errorf("%d buffers pooled", n)
	}
}

// TestPoolBacksArrowBuilders: Arrow builders allocating from the pool
// (reused, dirty buffers) build the same arrays as with Go's allocator:
// they clear what they grow.
func TestPoolBacksArrowBuilders(t *testing.T) {
	p := New(1 << 20)
	for i := range 8 { // dirty some buffers
		b := p.Get(1 << (12 + i%4))[:1<<(12+i%4)]
		for j := range b {
			b[j] = 0xff
		}
		p.Put(b)
	}
	bld := array.NewInt64Builder(p)
	defer bld.Release()
	for i := range 3000 {
		if i%3 == 0 {
			bld.AppendNull()
		} else {
			bld.Append(int64(i))
		}
	}
	a := bld.NewInt64Array()
	defer a.Release()
	for i := range 3000 {
		if (i%3 == 0) != a.IsNull(i) || (i%3 != 0 && a.Value(i) != int64(i)) {
			t.Fatalf("row %d: null %v value %d", i, a.IsNull(i), a.Value(i))
		}
	}
	if a.NullN() != 1000 {
		t.Errorf("%d nulls, want 1000", a.NullN())
	}
}
