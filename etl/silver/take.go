package silver

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeBatch returns the rows idx of b's columns cols, in that order, as a
// new batch (fields as in b). Supported column types are the ones of the
// events contract.
func takeBatch(mem memory.Allocator, b arrow.RecordBatch, colIdx []int, idx []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(colIdx))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	fields := make([]arrow.Field, len(colIdx))
	for j, c := range colIdx {
		fields[j] = b.Schema().Field(c)
		a, err := takeArray(mem, b.Column(c), idx)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", fields[j].Name, err)
		}
		cols[j] = a
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(idx))), nil
}

func newBuf(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	return b
}

// takeValidity returns the validity bitmap of a's rows idx (nil when a has
// no nulls) and the null count.
func takeValidity(mem memory.Allocator, a arrow.Array, idx []int32) (*memory.Buffer, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	buf := newBuf(mem, int(bitutil.BytesForBits(int64(len(idx)))))
	bits := buf.Bytes()
	clear(bits)
	nulls := 0
	for k, i := range idx {
		if a.IsValid(int(i)) {
			bitutil.SetBit(bits, k)
		} else {
			nulls++
		}
	}
	return buf, nulls
}

func takeFixed[T any](mem memory.Allocator, a arrow.Array, vals []T, idx []int32) arrow.Array {
	valid, nulls := takeValidity(mem, a, idx)
	var zero T
	buf := newBuf(mem, len(idx)*int(unsafe.Sizeof(zero)))
	out := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), len(idx))
	for k, i := range idx {
		out[k] = vals[i]
	}
	data := array.NewData(a.DataType(), len(idx), []*memory.Buffer{valid, buf}, nil, nulls, 0)
	defer data.Release()
	if valid != nil {
		valid.Release()
	}
	buf.Release()
	return array.MakeFromData(data)
}

func takeString(mem memory.Allocator, c *array.String, idx []int32) arrow.Array {
	valid, nulls := takeValidity(mem, c, idx)
	offs := c.ValueOffsets()
	base := offs[0]
	bytes := c.ValueBytes()
	total := 0
	for _, i := range idx {
		total += int(offs[i+1] - offs[i])
	}
	obuf := newBuf(mem, (len(idx)+1)*4)
	out := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(obuf.Bytes()))), len(idx)+1)
	dbuf := newBuf(mem, total)
	d := dbuf.Bytes()
	pos := int32(0)
	for k, i := range idx {
		out[k] = pos
		s, e := offs[i]-base, offs[i+1]-base
		pos += int32(copy(d[pos:], bytes[s:e]))
	}
	out[len(idx)] = pos
	data := array.NewData(c.DataType(), len(idx), []*memory.Buffer{valid, obuf, dbuf}, nil, nulls, 0)
	defer data.Release()
	if valid != nil {
		valid.Release()
	}
	obuf.Release()
	dbuf.Release()
	return array.MakeFromData(data)
}

func takeArray(mem memory.Allocator, a arrow.Array, idx []int32) (arrow.Array, error) {
	switch c := a.(type) {
	case *array.String:
		return takeString(mem, c, idx), nil
	case *array.Int64:
		return takeFixed(mem, a, c.Int64Values(), idx), nil
	case *array.Int32:
		return takeFixed(mem, a, c.Int32Values(), idx), nil
	case *array.Float64:
		return takeFixed(mem, a, c.Float64Values(), idx), nil
	case *array.Timestamp:
		return takeFixed(mem, a, c.TimestampValues(), idx), nil
	case *array.Date32:
		return takeFixed(mem, a, c.Date32Values(), idx), nil
	}
	return nil, fmt.Errorf("take: unsupported type %s", a.DataType())
}

// appendStr appends s without the []byte(s) copy of StringBuilder.Append.
func appendStr(bld *array.StringBuilder, s string) {
	bld.BinaryBuilder.Append(unsafe.Slice(unsafe.StringData(s), len(s)))
}
