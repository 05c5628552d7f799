package silver

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// takeRows returns the rows refs of the batches ins (one schema), columns
// colIdx, in that order, as a new batch (fields as in ins). Supported
// column types are the ones of the events contract.
func takeRows(mem memory.Allocator, ins []arrow.RecordBatch, colIdx []int, refs []parquetio.RowRef) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(colIdx))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	fields := make([]arrow.Field, len(colIdx))
	parts := make([]arrow.Array, len(ins))
	for j, c := range colIdx {
		fields[j] = ins[0].Schema().Field(c)
		for i, in := range ins {
			parts[i] = in.Column(c)
		}
		a, err := takeArray(mem, parts, refs)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", fields[j].Name, err)
		}
		cols[j] = a
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(refs))), nil
}

func newBuf(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	return b
}

// takeValidity returns the validity bitmap of rows refs of parts (nil when
// no part has nulls) and the null count.
func takeValidity(mem memory.Allocator, parts []arrow.Array, refs []parquetio.RowRef) (*memory.Buffer, int) {
	nulls := false
	for _, p := range parts {
		nulls = nulls || p.NullN() > 0
	}
	if !nulls {
		return nil, 0
	}
	buf := newBuf(mem, int(bitutil.BytesForBits(int64(len(refs)))))
	bits := buf.Bytes()
	clear(bits)
	n := 0
	for k, r := range refs {
		if parts[r.Batch].IsValid(int(r.Row)) {
			bitutil.SetBit(bits, k)
		} else {
			n++
		}
	}
	return buf, n
}

func takeFixed[T any](mem memory.Allocator, parts []arrow.Array, vals [][]T, refs []parquetio.RowRef) arrow.Array {
	valid, nulls := takeValidity(mem, parts, refs)
	var zero T
	buf := newBuf(mem, len(refs)*int(unsafe.Sizeof(zero)))
	out := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), len(refs))
	for k, r := range refs {
		out[k] = vals[r.Batch][r.Row]
	}
	data := array.NewData(parts[0].DataType(), len(refs), []*memory.Buffer{valid, buf}, nil, nulls, 0)
	defer data.Release()
	if valid != nil {
		valid.Release()
	}
	buf.Release()
	return array.MakeFromData(data)
}

func takeString(mem memory.Allocator, parts []arrow.Array, refs []parquetio.RowRef) arrow.Array {
	valid, nulls := takeValidity(mem, parts, refs)
	offs := make([][]int32, len(parts))
	bytes := make([][]byte, len(parts))
	for i, p := range parts {
		s := p.(*array.String)
		offs[i], bytes[i] = s.ValueOffsets(), s.ValueBytes()
	}
	total := 0
	for _, r := range refs {
		o := offs[r.Batch]
		total += int(o[r.Row+1] - o[r.Row])
	}
	obuf := newBuf(mem, (len(refs)+1)*4)
	out := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(obuf.Bytes()))), len(refs)+1)
	dbuf := newBuf(mem, total)
	d := dbuf.Bytes()
	pos := int32(0)
	for k, r := range refs {
		out[k] = pos
		o := offs[r.Batch]
		base := o[0]
		pos += int32(copy(d[pos:], bytes[r.Batch][o[r.Row]-base:o[r.Row+1]-base]))
	}
	out[len(refs)] = pos
	data := array.NewData(parts[0].DataType(), len(refs), []*memory.Buffer{valid, obuf, dbuf}, nil, nulls, 0)
	defer data.Release()
	if valid != nil {
		valid.Release()
	}
	obuf.Release()
	dbuf.Release()
	return array.MakeFromData(data)
}

func valuesOf[T any, A arrow.Array](parts []arrow.Array, values func(A) []T) [][]T {
	out := make([][]T, len(parts))
	for i, p := range parts {
		out[i] = values(p.(A))
	}
	return out
}

func takeArray(mem memory.Allocator, parts []arrow.Array, refs []parquetio.RowRef) (arrow.Array, error) {
	switch parts[0].(type) {
	case *array.String:
		return takeString(mem, parts, refs), nil
	case *array.Int64:
		return takeFixed(mem, parts, valuesOf(parts, (*array.Int64).Int64Values), refs), nil
	case *array.Int32:
		return takeFixed(mem, parts, valuesOf(parts, (*array.Int32).Int32Values), refs), nil
	case *array.Float64:
		return takeFixed(mem, parts, valuesOf(parts, (*array.Float64).Float64Values), refs), nil
	case *array.Timestamp:
		return takeFixed(mem, parts, valuesOf(parts, (*array.Timestamp).TimestampValues), refs), nil
	case *array.Date32:
		return takeFixed(mem, parts, valuesOf(parts, (*array.Date32).Date32Values), refs), nil
	}
	return nil, fmt.Errorf("take: unsupported type %s", parts[0].DataType())
}

// appendStr appends s without the []byte(s) copy of StringBuilder.Append.
func appendStr(bld *array.StringBuilder, s string) {
	bld.BinaryBuilder.Append(unsafe.Slice(unsafe.StringData(s), len(s)))
}
