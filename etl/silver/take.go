package silver

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeBatch returns the rows idx of b, in that order, as a new batch with b's
// schema. Supported column types are the ones of the events contract.
func takeBatch(mem memory.Allocator, b arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, b.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		c, err := takeArray(mem, b.Column(j), idx)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", b.Schema().Field(j).Name, err)
		}
		cols[j] = c
	}
	return array.NewRecordBatch(b.Schema(), cols, int64(len(idx))), nil
}

func takeArray(mem memory.Allocator, a arrow.Array, idx []int32) (arrow.Array, error) {
	hasNulls := a.NullN() > 0
	switch c := a.(type) {
	case *array.String:
		bld := array.NewStringBuilder(mem)
		defer bld.Release()
		takeStrings(bld, c, idx)
		return bld.NewArray(), nil
	case *array.Int64:
		bld := array.NewInt64Builder(mem)
		defer bld.Release()
		bld.Reserve(len(idx))
		v := c.Int64Values()
		for _, i := range idx {
			if hasNulls && c.IsNull(int(i)) {
				bld.UnsafeAppendBoolToBitmap(false)
			} else {
				bld.UnsafeAppend(v[i])
			}
		}
		return bld.NewArray(), nil
	case *array.Int32:
		bld := array.NewInt32Builder(mem)
		defer bld.Release()
		bld.Reserve(len(idx))
		v := c.Int32Values()
		for _, i := range idx {
			if hasNulls && c.IsNull(int(i)) {
				bld.UnsafeAppendBoolToBitmap(false)
			} else {
				bld.UnsafeAppend(v[i])
			}
		}
		return bld.NewArray(), nil
	case *array.Float64:
		bld := array.NewFloat64Builder(mem)
		defer bld.Release()
		bld.Reserve(len(idx))
		v := c.Float64Values()
		for _, i := range idx {
			if hasNulls && c.IsNull(int(i)) {
				bld.UnsafeAppendBoolToBitmap(false)
			} else {
				bld.UnsafeAppend(v[i])
			}
		}
		return bld.NewArray(), nil
	case *array.Timestamp:
		bld := array.NewTimestampBuilder(mem, c.DataType().(*arrow.TimestampType))
		defer bld.Release()
		bld.Reserve(len(idx))
		v := c.TimestampValues()
		for _, i := range idx {
			if hasNulls && c.IsNull(int(i)) {
				bld.UnsafeAppendBoolToBitmap(false)
			} else {
				bld.UnsafeAppend(v[i])
			}
		}
		return bld.NewArray(), nil
	case *array.Boolean:
		bld := array.NewBooleanBuilder(mem)
		defer bld.Release()
		bld.Reserve(len(idx))
		for _, i := range idx {
			if hasNulls && c.IsNull(int(i)) {
				bld.UnsafeAppendBoolToBitmap(false)
			} else {
				bld.UnsafeAppend(c.Value(int(i)))
			}
		}
		return bld.NewArray(), nil
	}
	return nil, fmt.Errorf("take: unsupported type %s", a.DataType())
}

func takeStrings(bld *array.StringBuilder, c *array.String, idx []int32) {
	hasNulls := c.NullN() > 0
	total := 0
	for _, i := range idx {
		total += c.ValueLen(int(i))
	}
	bld.Reserve(len(idx))
	bld.ReserveData(total)
	for _, i := range idx {
		if hasNulls && c.IsNull(int(i)) {
			bld.AppendNull()
		} else {
			appendStr(bld, c.Value(int(i)))
		}
	}
}

// appendStr appends s without the []byte(s) copy of StringBuilder.Append.
func appendStr(bld *array.StringBuilder, s string) {
	bld.BinaryBuilder.Append(unsafe.Slice(unsafe.StringData(s), len(s)))
}
