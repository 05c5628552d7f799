package parquetio

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"
)

// valueLayout mirrors parquet.Value (v0.32.0) so that values can be built
// with plain stores instead of constructor + Level calls, which dominate the
// cost of handing Arrow columns to parquet-go. fastValues is only true when
// init verified, on real parquet.Values, that the layouts agree; otherwise
// the portable path is used.
type valueLayout struct {
	ptr  *byte
	u64  uint64
	kind int8
	def  byte
	rep  byte
	col  uint16
}

var fastValues = checkLayout()

func checkLayout() bool {
	if unsafe.Sizeof(parquet.Value{}) != unsafe.Sizeof(valueLayout{}) {
		return false
	}
	b := []byte("xyz")
	bv := parquet.ByteArrayValue(b).Level(0, 1, 7)
	l := (*valueLayout)(unsafe.Pointer(&bv))
	if l.ptr != &b[0] || l.u64 != 3 || l.kind != ^int8(parquet.ByteArray) || l.def != 1 || l.rep != 0 || l.col != ^uint16(7) {
		return false
	}
	iv := parquet.Int32Value(-5).Level(0, 0, 3)
	l = (*valueLayout)(unsafe.Pointer(&iv))
	if l.ptr != nil || l.u64 != negU64(5) || l.kind != ^int8(parquet.Int32) || l.def != 0 || l.col != ^uint16(3) {
		return false
	}
	dv := parquet.DoubleValue(1.5).Level(0, 1, 2)
	l = (*valueLayout)(unsafe.Pointer(&dv))
	if l.u64 != math.Float64bits(1.5) || l.kind != ^int8(parquet.Double) {
		return false
	}
	tv := parquet.BooleanValue(true).Level(0, 1, 2)
	l = (*valueLayout)(unsafe.Pointer(&tv))
	if l.u64 != 1 || l.kind != ^int8(parquet.Boolean) {
		return false
	}
	nv := parquet.NullValue().Level(0, 0, 4)
	l = (*valueLayout)(unsafe.Pointer(&nv))
	if l.kind != 0 || l.ptr != nil || l.u64 != 0 || l.col != ^uint16(4) || !nv.IsNull() {
		return false
	}
	i64 := parquet.Int64Value(-7).Level(0, 1, 1)
	l = (*valueLayout)(unsafe.Pointer(&i64))
	return l.u64 == negU64(7) && l.kind == ^int8(parquet.Int64)
}

// put stores a value field by field. Building it in a local and copying
// that (lay[j] = v) had the compiler copy through a 16-byte load spanning
// two 8-byte stores just made, which the CPU cannot forward from its store
// buffer: every value waited about 20 cycles for it (BenchmarkFill).
func (l *valueLayout) put(ptr *byte, u64 uint64, t *valueLayout) {
	l.ptr = ptr
	l.u64 = u64
	l.kind, l.def, l.rep, l.col = t.kind, t.def, t.rep, t.col
}

// fillFast converts rows [lo, hi) of arr into vals (len hi-lo) using the
// mirrored layout.
func fillFast(vals []parquet.Value, k kind, arr arrow.Array, lo, hi, def, ci int) {
	lay := unsafe.Slice((*valueLayout)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
	null := valueLayout{col: ^uint16(ci)}
	hasNulls := arr.NullN() > 0
	tmpl := valueLayout{kind: ^int8(physicalKind(k)), def: byte(def), col: ^uint16(ci)}
	switch k {
	case kindInt32:
		src := arr.(*array.Int32).Int32Values()[lo:hi]
		for j, x := range src {
			lay[j].put(nil, uint64(int64(x)), &tmpl)
		}
	case kindDate32:
		src := arr.(*array.Date32).Date32Values()[lo:hi]
		for j, x := range src {
			lay[j].put(nil, uint64(int64(x)), &tmpl)
		}
	case kindInt64:
		src := arr.(*array.Int64).Int64Values()[lo:hi]
		for j, x := range src {
			lay[j].put(nil, uint64(x), &tmpl)
		}
	case kindTimestampMS:
		src := arr.(*array.Timestamp).TimestampValues()[lo:hi]
		for j, x := range src {
			lay[j].put(nil, uint64(x), &tmpl)
		}
	case kindFloat64:
		src := arr.(*array.Float64).Float64Values()[lo:hi]
		for j, x := range src {
			lay[j].put(nil, math.Float64bits(x), &tmpl)
		}
	case kindBool:
		a := arr.(*array.Boolean)
		for j := range lay {
			u := uint64(0)
			if a.Value(lo + j) {
				u = 1
			}
			lay[j].put(nil, u, &tmpl)
		}
	case kindString, kindBinary:
		var offs []int32
		if k == kindString {
			offs = arr.(*array.String).ValueOffsets()
		} else {
			offs = arr.(*array.Binary).ValueOffsets()
		}
		base := valueData(arr)
		for j := range lay {
			o, e := offs[lo+j], offs[lo+j+1]
			var p *byte
			if e > o {
				p = (*byte)(unsafe.Add(unsafe.Pointer(base), o))
			}
			lay[j].put(p, uint64(e-o), &tmpl)
		}
	}
	if hasNulls {
		valid := validityOf(arr)
		for j := range lay {
			if valid.null(lo + j) {
				lay[j] = null
			}
		}
	}
}

// physicalKind is the Parquet physical type that values of kind k have.
func physicalKind(k kind) parquet.Kind {
	switch k {
	case kindInt32, kindDate32:
		return parquet.Int32
	case kindInt64, kindTimestampMS:
		return parquet.Int64
	case kindFloat64:
		return parquet.Double
	case kindBool:
		return parquet.Boolean
	}
	return parquet.ByteArray
}

// negU64 is the two's complement bit pattern of -n.
func negU64(n int64) uint64 { return uint64(-n) }

// validity is an array's validity bitmap and offset, or a nil bitmap when
// the array has no nulls (so that the per-row check needs no interface
// call).
type validity struct {
	bits []byte
	off  int
}

func validityOf(a arrow.Array) validity {
	if a.NullN() == 0 {
		return validity{}
	}
	return validity{bits: a.NullBitmapBytes(), off: a.Data().Offset()}
}

// null reports whether row i is null.
func (v validity) null(i int) bool {
	if v.bits == nil {
		return false
	}
	i += v.off
	return v.bits[i>>3]&(1<<(i&7)) == 0
}

// minRun is the shortest run of consecutive rows of one batch that is
// written through fillFast.
const minRun = 16

// span is a stretch [lo, hi) of row references: a run of consecutive rows
// of one batch, or references taken one at a time.
type span struct {
	lo, hi int
	run    bool
}

// refSpans cuts rows into runs of at least minRun consecutive rows of one
// batch and the stretches between them. Row references are mostly such
// runs (the rows of a nearly sorted input less a few filtered out), which
// fillFast converts reading each array sequentially.
func refSpans(rows []RowRef) []span {
	var spans []span
	scattered := 0 // start of the rows not in a span yet
	for i := 0; i < len(rows); {
		b, r := rows[i].Batch, rows[i].Row
		j := i + 1
		for j < len(rows) && rows[j].Batch == b && rows[j].Row == r+int32(j-i) {
			j++
		}
		if j-i >= minRun {
			if scattered < i {
				spans = append(spans, span{lo: scattered, hi: i})
			}
			spans = append(spans, span{lo: i, hi: j, run: true})
			scattered = j
		}
		i = j
	}
	if scattered < len(rows) {
		spans = append(spans, span{lo: scattered, hi: len(rows)})
	}
	return spans
}

// refFiller converts referenced rows of several arrays (one column of
// several batches) into parquet.Values.
type refFiller struct {
	k     kind
	arrs  []arrow.Array
	def   int
	ci    int
	valid []validity
	bufs  [][]byte // fixed-width values
	offs  [][]int32
	datas []*byte
	width int
}

func newRefFiller(k kind, arrs []arrow.Array, def, ci int) *refFiller {
	f := &refFiller{k: k, arrs: arrs, def: def, ci: ci, valid: make([]validity, len(arrs))}
	for i, a := range arrs {
		f.valid[i] = validityOf(a)
	}
	switch k {
	case kindInt32, kindDate32, kindInt64, kindTimestampMS, kindFloat64:
		f.width = 8
		if k == kindInt32 || k == kindDate32 {
			f.width = 4
		}
		f.bufs = make([][]byte, len(arrs))
		for i, a := range arrs {
			b := a.Data().Buffers()[1].Bytes()
			f.bufs[i] = b[a.Data().Offset()*f.width:]
		}
	case kindString, kindBinary:
		f.offs = make([][]int32, len(arrs))
		f.datas = make([]*byte, len(arrs))
		for i, a := range arrs {
			if k == kindString {
				f.offs[i] = a.(*array.String).ValueOffsets()
			} else {
				f.offs[i] = a.(*array.Binary).ValueOffsets()
			}
			f.datas[i] = valueData(a)
		}
	}
	return f
}

// fill converts rows into vals (same length), cut into spans by refSpans.
func (f *refFiller) fill(vals []parquet.Value, rows []RowRef, spans []span) {
	for _, sp := range spans {
		if sp.run {
			ref := rows[sp.lo]
			fillFast(vals[sp.lo:sp.hi], f.k, f.arrs[ref.Batch], int(ref.Row), int(ref.Row)+sp.hi-sp.lo, f.def, f.ci)
		} else {
			f.scattered(vals[sp.lo:sp.hi], rows[sp.lo:sp.hi])
		}
	}
}

// scattered converts rows one reference at a time.
func (f *refFiller) scattered(vals []parquet.Value, rows []RowRef) {
	lay := unsafe.Slice((*valueLayout)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
	tmpl := valueLayout{kind: ^int8(physicalKind(f.k)), def: byte(f.def), col: ^uint16(f.ci)}
	null := valueLayout{col: ^uint16(f.ci)}
	valid := f.valid
	switch f.k {
	case kindInt32, kindDate32, kindInt64, kindTimestampMS, kindFloat64:
		// Fixed-width values: read the raw 4 or 8 bytes.
		bufs, width := f.bufs, f.width
		for j, ref := range rows {
			if valid[ref.Batch].null(int(ref.Row)) {
				lay[j] = null
				continue
			}
			p := unsafe.Pointer(&bufs[ref.Batch][int(ref.Row)*width])
			var u uint64
			if width == 4 {
				u = uint64(int64(*(*int32)(p)))
			} else {
				u = *(*uint64)(p)
			}
			lay[j].put(nil, u, &tmpl)
		}
	case kindBool:
		for j, ref := range rows {
			if valid[ref.Batch].null(int(ref.Row)) {
				lay[j] = null
				continue
			}
			u := uint64(0)
			if f.arrs[ref.Batch].(*array.Boolean).Value(int(ref.Row)) {
				u = 1
			}
			lay[j].put(nil, u, &tmpl)
		}
	case kindString, kindBinary:
		offs, datas := f.offs, f.datas
		for j, ref := range rows {
			if valid[ref.Batch].null(int(ref.Row)) {
				lay[j] = null
				continue
			}
			o := offs[ref.Batch]
			b, e := o[ref.Row], o[ref.Row+1]
			var p *byte
			if e > b {
				p = (*byte)(unsafe.Add(unsafe.Pointer(datas[ref.Batch]), b))
			}
			lay[j].put(p, uint64(e-b), &tmpl)
		}
	}
}

// valueData is the start of a string/binary array's data buffer, which
// ValueOffsets index (ValueBytes is rebased at the first offset of a slice).
func valueData(a arrow.Array) *byte {
	bufs := a.Data().Buffers()
	if len(bufs) < 3 || bufs[2] == nil {
		return nil
	}
	return unsafe.SliceData(bufs[2].Bytes())
}
