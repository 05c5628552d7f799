// Package parquetio converts between Arrow record batches and Parquet files
// for flat schemas, using parquet-go (never arrow-go's pqarrow, which pulls
// gRPC into the binary).
//
// Supported Arrow types, each nullable or not (arrow.Field.Nullable maps to
// an OPTIONAL Parquet column): Int32, Int64, Float64, Boolean, String,
// Binary, Timestamp(ms, UTC) and Date32. They are written with standard
// logical types (STRING, DATE, TIMESTAMP(MILLIS, isAdjustedToUTC=true)) so
// DuckDB, Spark, pandas and arrow-go read the files unchanged.
//
// Writing goes through parquet-go's column writers (no reflection): each
// Arrow column is converted to parquet values in chunks of chunkRows rows
// counted from each row group's start. Output bytes depend only on the
// sequence of rows written and the options, not on how they were split
// into Write and WriteRows calls: same rows, same file.
package parquetio

import (
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// DefaultRowGroupSize is the default number of rows per row group: large
// enough for efficient scans, small enough to bound reader memory.
const DefaultRowGroupSize = 256 * 1024

// chunkRows is how many values are converted and handed to a column writer
// at a time (bounds the scratch buffer).
const chunkRows = 4096

type writerConfig struct {
	codec        compress.Codec
	rowGroupSize int64
	dictAll      bool
	dict         map[string]bool
	kv           [][2]string
	parallel     bool
	pageSize     int
	noBounds     []string
	delta        map[string]bool
}

// WriterOption configures a Writer.
type WriterOption func(*writerConfig)

// WithCompression sets the codec (default: zstd at its fastest level).
func WithCompression(c compress.Codec) WriterOption {
	return func(c2 *writerConfig) { c2.codec = c }
}

// WithRowGroupSize sets the number of rows per row group (default
// DefaultRowGroupSize). Non-positive values keep the default.
func WithRowGroupSize(rows int64) WriterOption {
	return func(c *writerConfig) {
		if rows > 0 {
			c.rowGroupSize = rows
		}
	}
}

// WithDictionary dictionary-encodes the named string/binary columns. With no
// names, every string and binary column is dictionary encoded. parquet-go
// falls back to plain encoding when a dictionary grows too large.
func WithDictionary(columns ...string) WriterOption {
	return func(c *writerConfig) {
		if len(columns) == 0 {
			c.dictAll = true
			return
		}
		for _, n := range columns {
			c.dict[n] = true
		}
	}
}

// WithMetadata adds a key/value pair to the file footer.
func WithMetadata(key, value string) WriterOption {
	return func(c *writerConfig) { c.kv = append(c.kv, [2]string{key, value}) }
}

// WithParallelColumns encodes the columns of each batch on several
// goroutines (one per column, bounded by GOMAXPROCS by the runtime). Output
// bytes are the same as without it.
func WithParallelColumns(on bool) WriterOption {
	return func(c *writerConfig) { c.parallel = on }
}

// WithPageSize sets the target uncompressed page size in bytes (default
// parquet-go's 256 KiB).
func WithPageSize(bytes int) WriterOption {
	return func(c *writerConfig) {
		if bytes > 0 {
			c.pageSize = bytes
		}
	}
}

// WithDeltaEncoding writes the named integer, timestamp or date columns
// with DELTA_BINARY_PACKED (small and cheap to compress for sorted or
// slowly changing values such as event times and line numbers).
func WithDeltaEncoding(columns ...string) WriterOption {
	return func(c *writerConfig) {
		for _, n := range columns {
			c.delta[n] = true
		}
	}
}

// WithoutBounds skips the min/max statistics of the named columns (page
// and column chunk bounds). Computing them costs string comparisons on
// every page; skip them for columns nobody filters on (free text, blobs).
func WithoutBounds(columns ...string) WriterOption {
	return func(c *writerConfig) { c.noBounds = append(c.noBounds, columns...) }
}

// Writer writes Arrow record batches of one schema to a Parquet file.
// It is not safe for concurrent use.
type Writer struct {
	pw      *parquet.GenericWriter[any]
	schema  *arrow.Schema
	kinds   []kind
	cols    []*parquet.ColumnWriter
	scratch [][]parquet.Value
	cfg     writerConfig
	inGroup int64 // rows of the current row group, pending ones included
	rows    int64
	closed  bool
	// pend rows of the current chunk are converted in the scratch buffers
	// but not yet handed to the column writers; held are the batches
	// they point into (retained).
	pend int
	held []arrow.RecordBatch
}

// NewWriter returns a Writer producing a Parquet file with the given flat
// schema on w. Close must be called to write the footer; it does not close w.
func NewWriter(w io.Writer, schema *arrow.Schema, opts ...WriterOption) (*Writer, error) {
	cfg := writerConfig{
		codec:        &zstd.Codec{Level: zstd.SpeedFastest},
		rowGroupSize: DefaultRowGroupSize,
		dict:         map[string]bool{},
		delta:        map[string]bool{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	ps, kinds, err := parquetSchema(schema, func(name string) bool { return cfg.dictAll || cfg.dict[name] }, cfg.delta)
	if err != nil {
		return nil, err
	}
	popts := []parquet.WriterOption{
		ps,
		parquet.Compression(cfg.codec),
		parquet.CreatedBy("churnctl", "", ""),
		// Min/max go in the column index (page index) and the column chunk
		// statistics, where readers prune; repeating them in every data
		// page header only costs a second bounds pass per page.
		parquet.DataPageStatistics(false),
	}
	if cfg.pageSize > 0 {
		popts = append(popts, parquet.PageBufferSize(cfg.pageSize))
	}
	for _, name := range cfg.noBounds {
		popts = append(popts, parquet.SkipPageBounds(name), parquet.SkipPageStatistics(name))
	}
	for _, kv := range cfg.kv {
		popts = append(popts, parquet.KeyValueMetadata(kv[0], kv[1]))
	}
	pw := parquet.NewGenericWriter[any](w, popts...)
	wr := &Writer{pw: pw, schema: schema, kinds: kinds, cfg: cfg, cols: pw.ColumnWriters()}
	if len(wr.cols) != len(kinds) {
		return nil, fmt.Errorf("parquetio: writer has %d columns, schema %d", len(wr.cols), len(kinds))
	}
	wr.scratch = make([][]parquet.Value, len(kinds))
	return wr, nil
}

// Schema returns the Arrow schema the writer accepts.
func (w *Writer) Schema() *arrow.Schema { return w.schema }

// NumRows returns the number of rows written so far.
func (w *Writer) NumRows() int64 { return w.rows }

// Write appends the rows of rec. rec's schema must have the writer's field
// names and types, in order. rec may be released as soon as Write returns
// (the writer retains what it still needs).
func (w *Writer) Write(rec arrow.RecordBatch) error {
	if w.closed {
		return fmt.Errorf("parquetio: write after close")
	}
	if err := w.checkSchema(rec.Schema()); err != nil {
		return w.fail(err)
	}
	recs := []arrow.RecordBatch{rec}
	n := int(rec.NumRows())
	return w.feed(recs, n, func(ci int, k kind, def int) colFill {
		arr := rec.Column(ci)
		return func(vals []parquet.Value, lo int) {
			if fastValues {
				fillFast(vals, k, arr, lo, lo+len(vals), def, ci)
			} else {
				fillPortable(vals, k, arr, lo, byte(def), ci)
			}
		}
	})
}

// RowRef addresses row Row of batch Batch in a WriteRows call.
type RowRef struct {
	Batch, Row int32
}

// WriteRows appends the referenced rows of recs, in the order of rows
// (a sorted or filtered view written without first copying the rows into
// a new batch). Every batch must have the writer's schema.
func (w *Writer) WriteRows(recs []arrow.RecordBatch, rows []RowRef) error {
	if w.closed {
		return fmt.Errorf("parquetio: write after close")
	}
	for _, r := range recs {
		if err := w.checkSchema(r.Schema()); err != nil {
			return w.fail(err)
		}
	}
	// Every column converts the same rows: cut each segment into spans
	// once (see feed's plan: segments start at these offsets).
	var spans map[int][]span
	if fastValues {
		spans = map[int][]span{}
		w.planSegs(len(rows), func(sg seg) { spans[sg.src] = refSpans(rows[sg.src : sg.src+sg.n]) })
	}
	return w.feed(recs, len(rows), func(ci int, k kind, def int) colFill {
		arrs := make([]arrow.Array, len(recs))
		for i, r := range recs {
			arrs[i] = r.Column(ci)
		}
		var f *refFiller
		if fastValues {
			f = newRefFiller(k, arrs, def, ci)
		}
		return func(vals []parquet.Value, lo int) {
			part := rows[lo : lo+len(vals)]
			if fastValues {
				f.fill(vals, part, spans[lo])
				return
			}
			for j, ref := range part {
				fillPortable(vals[j:j+1], k, arrs[ref.Batch], int(ref.Row), byte(def), ci)
			}
		}
	})
}

// colFill converts the rows [lo, lo+len(vals)) of a write (batch rows or
// row references) of one column into vals.
type colFill func(vals []parquet.Value, lo int)

// seg is a stretch of a write's rows that goes into one chunk: rows [src,
// src+n) at offset dst of the chunk, which it completes when done.
type seg struct {
	src, dst, n int
	done        bool
	group       bool // the chunk also completes the row group
}

// feed appends n rows of recs to the file. Values are handed to the
// column writers in chunks of chunkRows rows counted from the start of
// each row group (the last chunk of a group is shorter), whatever the
// Write and WriteRows calls the rows came in: parquet-go decides page
// boundaries after each chunk it is handed, so this makes the file depend
// on the sequence of rows only. A chunk not complete when the call ends
// stays converted in the scratch buffers, and recs are retained until it
// is written.
func (w *Writer) feed(recs []arrow.RecordBatch, n int, fill func(ci int, k kind, def int) colFill) error {
	if n == 0 {
		return nil
	}
	// Plan the chunks once for every column.
	var segs []seg
	w.planSegs(n, func(sg seg) { segs = append(segs, sg) })
	// Columns are independent between row group flushes: run each
	// stretch of segments up to a flush per column (in parallel with
	// WithParallelColumns), then flush.
	fills := make([]colFill, len(w.cols))
	defs := make([]int, len(w.cols))
	for ci := range w.cols {
		if w.schema.Field(ci).Nullable {
			defs[ci] = 1
		} else {
			for _, r := range recs {
				if r.Column(ci).NullN() > 0 {
					return w.fail(fmt.Errorf("parquetio: null in required column %q", w.schema.Field(ci).Name))
				}
			}
		}
		fills[ci] = fill(ci, w.kinds[ci], defs[ci])
	}
	for len(segs) > 0 {
		m := len(segs)
		for i, sg := range segs {
			if sg.group {
				m = i + 1
				break
			}
		}
		run := segs[:m]
		segs = segs[m:]
		if err := w.eachColumn(func(ci int) error { return w.writeSegs(ci, fills[ci], run) }); err != nil {
			return w.fail(err)
		}
		for _, sg := range run {
			w.rows += int64(sg.n)
			w.inGroup += int64(sg.n)
			w.pend = sg.dst + sg.n
			if sg.done {
				w.pend = 0
				w.releaseHeld() // the chunk is written: its batches are no longer needed
			}
		}
		if run[len(run)-1].group {
			if err := w.pw.Flush(); err != nil {
				return w.fail(fmt.Errorf("parquetio: flush row group: %w", err))
			}
			w.inGroup = 0
		}
	}
	if w.pend > 0 {
		for _, r := range recs {
			r.Retain()
			w.held = append(w.held, r)
		}
	}
	return nil
}

// planSegs cuts the next n rows into the segments of feed, in order.
func (w *Writer) planSegs(n int, f func(seg)) {
	pend, inGroup := w.pend, w.inGroup
	for src := 0; src < n; {
		chunkStart := inGroup - int64(pend)
		cl := int(min(int64(chunkRows), w.cfg.rowGroupSize-chunkStart))
		k := min(n-src, cl-pend)
		sg := seg{src: src, dst: pend, n: k, done: pend+k == cl}
		src += k
		pend += k
		inGroup += int64(k)
		if sg.done {
			pend = 0
			if inGroup == w.cfg.rowGroupSize {
				sg.group = true
				inGroup = 0
			}
		}
		f(sg)
	}
}

// eachColumn runs f for every column, on goroutines with
// WithParallelColumns; it returns the first error.
func (w *Writer) eachColumn(f func(ci int) error) error {
	if !w.cfg.parallel || len(w.cols) < 2 {
		for ci := range w.cols {
			if err := f(ci); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(w.cols))
	var wg sync.WaitGroup
	for ci := range w.cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[ci] = f(ci)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSegs converts column ci's rows of segs into its scratch buffer and
// hands every completed chunk to its column writer.
func (w *Writer) writeSegs(ci int, fill colFill, segs []seg) error {
	buf := w.scratchOf(ci)
	used := 0
	for _, sg := range segs {
		fill(buf[sg.dst:sg.dst+sg.n], sg.src)
		used = max(used, sg.dst+sg.n)
		if sg.done {
			if _, err := w.cols[ci].WriteRowValues(buf[:sg.dst+sg.n]); err != nil {
				return fmt.Errorf("parquetio: column %q: %w", w.schema.Field(ci).Name, err)
			}
		}
	}
	// Drop references to the batches' buffers, once, but those of the
	// pending chunk.
	if last := segs[len(segs)-1]; last.done {
		clear(buf[:used])
	} else {
		clear(buf[last.dst+last.n : used])
	}
	return nil
}

// releaseHeld releases the batches retained for a pending chunk.
func (w *Writer) releaseHeld() {
	for _, r := range w.held {
		r.Release()
	}
	w.held = w.held[:0]
}

// fail releases what the writer holds and returns err: a writer that
// failed is not usable.
func (w *Writer) fail(err error) error {
	w.releaseHeld()
	w.pend = 0
	return err
}

func (w *Writer) checkSchema(s *arrow.Schema) error {
	if s == w.schema {
		return nil
	}
	if s.NumFields() != w.schema.NumFields() {
		return fmt.Errorf("parquetio: batch has %d columns, writer %d", s.NumFields(), w.schema.NumFields())
	}
	for i, f := range s.Fields() {
		g := w.schema.Field(i)
		if f.Name != g.Name || !arrow.TypeEqual(f.Type, g.Type) || (f.Nullable && !g.Nullable) {
			return fmt.Errorf("parquetio: batch column %d is %s %s, writer wants %s %s", i, f.Name, f.Type, g.Name, g.Type)
		}
	}
	return nil
}

// scratchPool recycles the conversion buffers of closed writers: a fresh
// buffer is 96 KiB per column that Go zeroes, for every file written.
var scratchPool = sync.Pool{New: func() any {
	b := make([]parquet.Value, chunkRows)
	return &b
}}

// scratchOf returns column ci's conversion buffer (chunkRows values).
func (w *Writer) scratchOf(ci int) []parquet.Value {
	if w.scratch[ci] == nil {
		w.scratch[ci] = *scratchPool.Get().(*[]parquet.Value)
	}
	return w.scratch[ci]
}

// fillPortable converts rows [start, start+len(vals)) of arr with the
// public parquet-go constructors.
func fillPortable(vals []parquet.Value, k kind, arr arrow.Array, start int, def byte, ci int) {
	{
		for j := range vals {
			r := start + j
			if arr.IsNull(r) {
				vals[j] = parquet.NullValue().Level(0, 0, ci)
				continue
			}
			var v parquet.Value
			switch k {
			case kindInt32:
				v = parquet.Int32Value(arr.(*array.Int32).Value(r))
			case kindDate32:
				v = parquet.Int32Value(int32(arr.(*array.Date32).Value(r)))
			case kindInt64:
				v = parquet.Int64Value(arr.(*array.Int64).Value(r))
			case kindTimestampMS:
				v = parquet.Int64Value(int64(arr.(*array.Timestamp).Value(r)))
			case kindFloat64:
				v = parquet.DoubleValue(arr.(*array.Float64).Value(r))
			case kindBool:
				v = parquet.BooleanValue(arr.(*array.Boolean).Value(r))
			case kindString:
				s := arr.(*array.String).Value(r)
				v = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			case kindBinary:
				v = parquet.ByteArrayValue(arr.(*array.Binary).Value(r))
			}
			vals[j] = v.Level(0, int(def), ci)
		}
	}
}

// Close flushes the last row group and writes the footer. It does not close
// the underlying io.Writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.pend > 0 {
		for ci := range w.cols {
			if _, err := w.cols[ci].WriteRowValues(w.scratch[ci][:w.pend]); err != nil {
				w.fail(nil)
				return fmt.Errorf("parquetio: column %q: %w", w.schema.Field(ci).Name, err)
			}
			clear(w.scratch[ci][:w.pend])
		}
		w.pend = 0
	}
	w.releaseHeld()
	for i, b := range w.scratch {
		if b != nil {
			scratchPool.Put(&b) // cleared after every write
			w.scratch[i] = nil
		}
	}
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("parquetio: close: %w", err)
	}
	return nil
}
