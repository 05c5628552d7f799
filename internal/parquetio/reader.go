package parquetio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// DefaultBatchSize is the number of rows per record batch when Records is
// given a non-positive batch size.
const DefaultBatchSize = 64 * 1024

// File is an open Parquet file with a flat schema of supported types.
type File struct {
	path   string
	f      *os.File
	pf     *parquet.File
	schema *arrow.Schema
	kinds  []kind
}

// OpenFile opens a Parquet file and maps its schema to Arrow. Close it when
// done (after releasing any RecordReader made from it).
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("parquetio: open %s: %w", path, err)
	}
	s, kinds, err := arrowSchema(pf.Schema())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("parquetio: %s: %w", path, err)
	}
	return &File{path: path, f: f, pf: pf, schema: s, kinds: kinds}, nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Schema returns the file's Arrow schema.
func (f *File) Schema() *arrow.Schema { return f.schema }

// NumRows returns the number of rows in the file.
func (f *File) NumRows() int64 { return f.pf.NumRows() }

// NumRowGroups returns the number of row groups in the file.
func (f *File) NumRowGroups() int { return len(f.pf.RowGroups()) }

// Metadata returns the footer's key/value metadata for key.
func (f *File) Metadata(key string) (string, bool) { return f.pf.Lookup(key) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// projection resolves column names (nil: all) to column indexes.
func (f *File) projection(columns []string) ([]int, *arrow.Schema, error) {
	if columns == nil {
		idx := make([]int, f.schema.NumFields())
		for i := range idx {
			idx[i] = i
		}
		return idx, f.schema, nil
	}
	idx := make([]int, len(columns))
	fields := make([]arrow.Field, len(columns))
	for i, name := range columns {
		j := f.schema.FieldIndices(name)
		if len(j) != 1 {
			return nil, nil, fmt.Errorf("parquetio: %s: no column %q", f.path, name)
		}
		idx[i] = j[0]
		fields[i] = f.schema.Field(j[0])
	}
	return idx, arrow.NewSchema(fields, nil), nil
}

// Records returns a reader streaming the named columns (nil: all, in file
// order; else in the order given) in batches of at most batchSize rows
// (non-positive: DefaultBatchSize). Memory is bounded by one page per column
// plus one batch. The File must stay open until the reader is released.
func (f *File) Records(mem memory.Allocator, columns []string, batchSize int) (array.RecordReader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	idx, schema, err := f.projection(columns)
	if err != nil {
		return nil, err
	}
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	r := &fileReader{mem: mem, f: f, idx: idx, schema: schema, batch: batchSize}
	r.refs.Store(1)
	return r, nil
}

// fileReader streams a File row group by row group.
type fileReader struct {
	refs   atomic.Int64
	mem    memory.Allocator
	f      *File
	idx    []int
	schema *arrow.Schema
	batch  int

	rg      int               // next row group
	left    int64             // rows left in the current row group
	cols    []*columnCursor   // one per projected column, for the current row group
	cur     arrow.RecordBatch // last batch returned
	err     error
	scratch []parquet.Value
}

type columnCursor struct {
	pages parquet.Pages
	page  parquet.Page
	vr    parquet.ValueReader
	fast  fastPage
}

func (r *fileReader) Retain() { r.refs.Add(1) }

func (r *fileReader) Release() {
	if r.refs.Add(-1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.closeColumns()
	}
}

func (r *fileReader) closeColumns() {
	for _, c := range r.cols {
		if c.page != nil {
			parquet.Release(c.page)
		}
		c.pages.Close()
	}
	r.cols = nil
}

func (r *fileReader) Schema() *arrow.Schema          { return r.schema }
func (r *fileReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is the deprecated name of RecordBatch.
func (r *fileReader) Record() arrow.RecordBatch { return r.cur }
func (r *fileReader) Err() error                { return r.err }

func (r *fileReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	for r.left == 0 {
		r.closeColumns()
		groups := r.f.pf.RowGroups()
		if r.rg >= len(groups) {
			return false
		}
		g := groups[r.rg]
		r.rg++
		r.left = g.NumRows()
		chunks := g.ColumnChunks()
		for _, i := range r.idx {
			r.cols = append(r.cols, &columnCursor{pages: chunks[i].Pages()})
		}
	}
	n := int(min(int64(r.batch), r.left))
	arrs := make([]arrow.Array, len(r.idx))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for j, ci := range r.idx {
		a, err := r.readColumn(r.cols[j], r.f.kinds[ci], n)
		if err != nil {
			r.err = fmt.Errorf("parquetio: %s column %q: %w", r.f.path, r.f.schema.Field(ci).Name, err)
			return false
		}
		arrs[j] = a
	}
	r.left -= int64(n)
	r.cur = array.NewRecordBatch(r.schema, arrs, int64(n))
	return true
}

// readColumn reads n values of one column into a new Arrow array.
func (r *fileReader) readColumn(c *columnCursor, k kind, n int) (arrow.Array, error) {
	if fastKind(k) {
		return r.readColumnFast(c, k, n)
	}
	b := array.NewBuilder(r.mem, k.arrowType())
	defer b.Release()
	b.Reserve(n)
	if cap(r.scratch) < chunkRows {
		r.scratch = make([]parquet.Value, chunkRows)
	}
	for n > 0 {
		if c.vr == nil {
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
			c.vr = p.Values()
		}
		vals := r.scratch[:min(n, chunkRows)]
		m, err := c.vr.ReadValues(vals)
		appendValues(b, k, vals[:m])
		n -= m
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, err
			}
			c.vr = nil
		}
	}
	return b.NewArray(), nil
}

func appendValues(b array.Builder, k kind, vals []parquet.Value) {
	for _, v := range vals {
		if v.IsNull() {
			b.AppendNull()
			continue
		}
		switch k {
		case kindInt32:
			b.(*array.Int32Builder).Append(v.Int32())
		case kindDate32:
			b.(*array.Date32Builder).Append(arrow.Date32(v.Int32()))
		case kindInt64:
			b.(*array.Int64Builder).Append(v.Int64())
		case kindTimestampMS:
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.Int64()))
		case kindFloat64:
			b.(*array.Float64Builder).Append(v.Double())
		case kindBool:
			b.(*array.BooleanBuilder).Append(v.Boolean())
		case kindString:
			b.(*array.StringBuilder).BinaryBuilder.Append(v.ByteArray())
		case kindBinary:
			b.(*array.BinaryBuilder).Append(v.ByteArray())
		}
	}
}

// ReadFiles streams the named columns of several files, one after the other
// in the order given, as one RecordReader. Every file must have the same
// projected schema as the first. Files are opened lazily and closed as soon
// as they are read.
func ReadFiles(mem memory.Allocator, paths []string, columns []string, batchSize int) (array.RecordReader, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("parquetio: no files")
	}
	f, err := OpenFile(paths[0])
	if err != nil {
		return nil, err
	}
	_, schema, err := f.projection(columns)
	if err != nil {
		f.Close()
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	m := &multiReader{mem: mem, paths: paths, columns: columns, batch: batchSize, schema: schema, next: f}
	m.refs.Store(1)
	return m, nil
}

// ReadGlob is ReadFiles over the files matching pattern (filepath.Glob
// syntax), in sorted order. No match is an error wrapping os.ErrNotExist.
func ReadGlob(mem memory.Allocator, pattern string, columns []string, batchSize int) (array.RecordReader, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("parquetio: glob %q: %w", pattern, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("parquetio: no file matches %q: %w", pattern, os.ErrNotExist)
	}
	slices.Sort(paths)
	return ReadFiles(mem, paths, columns, batchSize)
}

type multiReader struct {
	refs    atomic.Int64
	mem     memory.Allocator
	paths   []string
	columns []string
	batch   int
	schema  *arrow.Schema

	i    int   // index of the next path to open
	next *File // already-opened paths[0]
	f    *File
	rr   array.RecordReader
	err  error
}

func (m *multiReader) Retain() { m.refs.Add(1) }
func (m *multiReader) Release() {
	if m.refs.Add(-1) == 0 {
		m.closeCurrent()
		if m.next != nil {
			m.next.Close()
			m.next = nil
		}
	}
}
func (m *multiReader) closeCurrent() {
	if m.rr != nil {
		m.rr.Release()
		m.rr = nil
	}
	if m.f != nil {
		m.f.Close()
		m.f = nil
	}
}
func (m *multiReader) Schema() *arrow.Schema { return m.schema }
func (m *multiReader) RecordBatch() arrow.RecordBatch {
	if m.rr == nil {
		return nil
	}
	return m.rr.RecordBatch()
}

// Record is the deprecated name of RecordBatch.
func (m *multiReader) Record() arrow.RecordBatch { return m.RecordBatch() }
func (m *multiReader) Err() error                { return m.err }

func (m *multiReader) Next() bool {
	for m.err == nil {
		if m.rr != nil {
			if m.rr.Next() {
				return true
			}
			if err := m.rr.Err(); err != nil {
				m.err = err
				return false
			}
			m.closeCurrent()
		}
		if m.i >= len(m.paths) {
			return false
		}
		f := m.next
		m.next = nil
		if f == nil {
			var err error
			if f, err = OpenFile(m.paths[m.i]); err != nil {
				m.err = err
				return false
			}
		}
		m.i++
		m.f = f
		rr, err := f.Records(m.mem, m.columns, m.batch)
		if err != nil {
			m.err = err
			return false
		}
		if !rr.Schema().Equal(m.schema) {
			rr.Release()
			m.err = fmt.Errorf("parquetio: %s: schema %s differs from %s's", f.path, rr.Schema(), m.paths[0])
			return false
		}
		m.rr = rr
	}
	return false
}
