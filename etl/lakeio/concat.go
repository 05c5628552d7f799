package lakeio

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// concatFast concatenates the columns of the lake's flat schemas
// (fixed-width numbers, timestamps, dates, strings) with exactly sized
// buffers and one copy per part; ok is false for other types (the caller
// falls back to array.Concatenate). It is several times faster than the
// general concatenation, which grows its buffers as it goes.
func concatFast(mem memory.Allocator, parts []arrow.Array) (arrow.Array, bool) {
	dt := parts[0].DataType()
	n, nulls := 0, 0
	for _, p := range parts {
		n += p.Len()
		nulls += p.NullN()
	}
	var valid *memory.Buffer
	if nulls > 0 {
		valid = memory.NewResizableBuffer(mem)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		bits := valid.Bytes()
		clear(bits)
		off := 0
		for _, p := range parts {
			if p.NullN() == 0 {
				bitutil.SetBitsTo(bits, int64(off), int64(p.Len()), true)
			} else {
				bitutil.CopyBitmap(p.NullBitmapBytes(), p.Data().Offset(), p.Len(), bits, off)
			}
			off += p.Len()
		}
	}
	var bufs []*memory.Buffer
	switch dt.ID() {
	case arrow.INT64, arrow.INT32, arrow.FLOAT64, arrow.TIMESTAMP, arrow.DATE32:
		w := dt.(arrow.FixedWidthDataType).BitWidth() / 8
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * w)
		dst := buf.Bytes()
		pos := 0
		for _, p := range parts {
			if p.Len() == 0 {
				continue
			}
			d := p.Data()
			src := d.Buffers()[1].Bytes()[d.Offset()*w : (d.Offset()+d.Len())*w]
			pos += copy(dst[pos:], src)
		}
		bufs = []*memory.Buffer{valid, buf}
	case arrow.STRING:
		total := 0
		for _, p := range parts {
			s := p.(*array.String)
			if s.Len() > 0 {
				total += len(s.ValueBytes())
			}
		}
		obuf := memory.NewResizableBuffer(mem)
		obuf.Resize((n + 1) * 4)
		offs := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(obuf.Bytes()))), n+1)
		dbuf := memory.NewResizableBuffer(mem)
		dbuf.Resize(total)
		data := dbuf.Bytes()
		row, pos := 0, int32(0)
		for _, p := range parts {
			s := p.(*array.String)
			if s.Len() == 0 {
				continue
			}
			so := s.ValueOffsets()
			base := so[0]
			for i := 0; i < s.Len(); i++ {
				offs[row+i] = pos + so[i] - base
			}
			row += s.Len()
			pos += int32(copy(data[pos:], s.ValueBytes()[:so[s.Len()]-base]))
		}
		offs[n] = pos
		bufs = []*memory.Buffer{valid, obuf, dbuf}
	default:
		if valid != nil {
			valid.Release()
		}
		return nil, false
	}
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer d.Release()
	return array.MakeFromData(d), true
}
