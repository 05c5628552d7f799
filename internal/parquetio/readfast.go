package parquetio

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// fastKind reports whether readColumn reads columns of kind k straight from
// the decoded page buffers (typed slices, definition levels, dictionary
// indexes) instead of through []parquet.Value: about 3× less CPU on
// string and int columns. Booleans (bit-packed) keep the generic path.
func fastKind(k kind) bool { return k != kindBool }

// fastPage is the decoded state of the current page of a column read on
// the fast path.
type fastPage struct {
	defs    []byte // definition levels (nil: required column, no nulls)
	rows    int    // rows in the page
	row     int    // next row
	dense   int    // next non-null value
	data    encoding.Values
	dict    encoding.Values // dictionary values when the page holds indexes
	idx     []int32
	indexed bool
	nDense  int // number of non-null values (or indexes) in the page
}

// readColumnFast reads n values of one column into a new Arrow array.
func (r *fileReader) readColumnFast(c *columnCursor, k kind, n int) (arrow.Array, error) {
	b := array.NewBuilder(r.mem, k.arrowType())
	defer b.Release()
	b.Reserve(n)
	fp := &c.fast
	for n > 0 {
		if c.page == nil || fp.row >= fp.rows {
			if c.page != nil {
				parquet.Release(c.page)
				c.page = nil
			}
			p, err := c.pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, fmt.Errorf("column ended early")
				}
				return nil, err
			}
			c.page = p
			*fp = fastPage{defs: p.DefinitionLevels(), rows: int(p.NumRows()), data: p.Data()}
			if d := p.Dictionary(); d != nil {
				fp.indexed = true
				fp.dict = d.Page().Data()
				fp.idx = fp.data.Int32()
			}
			fp.nDense = fp.denseLen()
			if fp.defs != nil && len(fp.defs) != fp.rows {
				return nil, fmt.Errorf("page has %d definition levels for %d rows", len(fp.defs), fp.rows)
			}
		}
		m := min(n, fp.rows-fp.row)
		if err := appendFast(b, k, fp, m); err != nil {
			return nil, err
		}
		n -= m
	}
	return b.NewArray(), nil
}

// appendFast appends the next m rows of the page to b.
func appendFast(b array.Builder, k kind, fp *fastPage, m int) error {
	vals := fp.data
	if fp.indexed {
		vals = fp.dict
	}
	// dense returns the position in vals of the j-th non-null value.
	dense := func(j int) int {
		if fp.indexed {
			return int(fp.idx[j])
		}
		return j
	}
	var err error
	// each calls add(position) for present rows, null() for null rows.
	each := func(add func(int), null func()) {
		for i := 0; i < m; i++ {
			if fp.defs != nil && fp.defs[fp.row] == 0 {
				null()
			} else {
				if fp.dense >= fp.nDense {
					err = fmt.Errorf("page has fewer values than definition levels")
					return
				}
				add(dense(fp.dense))
				fp.dense++
			}
			fp.row++
		}
	}
	switch k {
	case kindInt64:
		v, bb := vals.Int64(), b.(*array.Int64Builder)
		each(func(p int) { bb.UnsafeAppend(v[p]) }, func() { bb.UnsafeAppendBoolToBitmap(false) })
	case kindTimestampMS:
		v, bb := vals.Int64(), b.(*array.TimestampBuilder)
		each(func(p int) { bb.UnsafeAppend(arrow.Timestamp(v[p])) }, func() { bb.UnsafeAppendBoolToBitmap(false) })
	case kindInt32:
		v, bb := vals.Int32(), b.(*array.Int32Builder)
		each(func(p int) { bb.UnsafeAppend(v[p]) }, func() { bb.UnsafeAppendBoolToBitmap(false) })
	case kindDate32:
		v, bb := vals.Int32(), b.(*array.Date32Builder)
		each(func(p int) { bb.UnsafeAppend(arrow.Date32(v[p])) }, func() { bb.UnsafeAppendBoolToBitmap(false) })
	case kindFloat64:
		v, bb := vals.Double(), b.(*array.Float64Builder)
		each(func(p int) { bb.UnsafeAppend(v[p]) }, func() { bb.UnsafeAppendBoolToBitmap(false) })
	case kindString, kindBinary:
		data, offs := vals.ByteArray()
		var bb *array.BinaryBuilder
		if sb, ok := b.(*array.StringBuilder); ok {
			bb = sb.BinaryBuilder
		} else {
			bb = b.(*array.BinaryBuilder)
		}
		// Reserve the value bytes of the m rows first, then append without
		// per-value growth checks.
		total, row, d := 0, fp.row, fp.dense
		for i := 0; i < m && d < fp.nDense; i++ {
			if fp.defs == nil || fp.defs[row] != 0 {
				p := dense(d)
				total += int(offs[p+1] - offs[p])
				d++
			}
			row++
		}
		bb.ReserveData(total)
		// The hottest loop of a read (most columns are strings): no closures.
		for i := 0; i < m; i++ {
			if fp.defs != nil && fp.defs[fp.row] == 0 {
				bb.AppendNull()
			} else {
				if fp.dense >= fp.nDense {
					return fmt.Errorf("page has fewer values than definition levels")
				}
				p := fp.dense
				if fp.indexed {
					p = int(fp.idx[p])
				}
				bb.UnsafeAppend(data[offs[p]:offs[p+1]])
				fp.dense++
			}
			fp.row++
		}
	default:
		return fmt.Errorf("parquetio: no fast path for kind %d", k)
	}
	return err
}

// denseLen is the number of non-null values (or indexes) in the page.
func (fp *fastPage) denseLen() int {
	if fp.indexed {
		return len(fp.idx)
	}
	switch fp.data.Kind() {
	case encoding.Int32:
		return len(fp.data.Int32())
	case encoding.Int64:
		return len(fp.data.Int64())
	case encoding.Double:
		return len(fp.data.Double())
	case encoding.ByteArray:
		_, offs := fp.data.ByteArray()
		return max(len(offs)-1, 0)
	}
	return 0
}
