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
// Arrow column is converted to parquet values in small chunks. Output bytes
// depend only on the batches written and the options: same input, same file.
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
	inGroup int64
	rows    int64
	closed  bool
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
// names and types, in order. rec may be released as soon as Write returns.
func (w *Writer) Write(rec arrow.RecordBatch) error {
	if w.closed {
		return fmt.Errorf("parquetio: write after close")
	}
	if err := w.checkSchema(rec.Schema()); err != nil {
		return err
	}
	n := rec.NumRows()
	for off := int64(0); off < n; {
		m := min(n-off, w.cfg.rowGroupSize-w.inGroup)
		if err := w.writeRange(rec, int(off), int(off+m)); err != nil {
			return err
		}
		off += m
		w.inGroup += m
		w.rows += m
		if w.inGroup == w.cfg.rowGroupSize {
			if err := w.pw.Flush(); err != nil {
				return fmt.Errorf("parquetio: flush row group: %w", err)
			}
			w.inGroup = 0
		}
	}
	return nil
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
			return err
		}
	}
	for len(rows) > 0 {
		m := min(int64(len(rows)), w.cfg.rowGroupSize-w.inGroup)
		part := rows[:m]
		// Every column converts the same rows: cut each chunk into spans once.
		spans := make([][]span, 0, (len(part)+chunkRows-1)/chunkRows)
		for start := 0; start < len(part); start += chunkRows {
			spans = append(spans, refSpans(part[start:min(start+chunkRows, len(part))]))
		}
		for ci := range w.cols {
			if err := w.writeColumnRefs(ci, recs, part, spans); err != nil {
				return err
			}
		}
		rows = rows[m:]
		w.inGroup += m
		w.rows += m
		if w.inGroup == w.cfg.rowGroupSize {
			if err := w.pw.Flush(); err != nil {
				return fmt.Errorf("parquetio: flush row group: %w", err)
			}
			w.inGroup = 0
		}
	}
	return nil
}

// writeColumnRefs is writeColumn over referenced rows.
func (w *Writer) writeColumnRefs(ci int, recs []arrow.RecordBatch, rows []RowRef, spans [][]span) error {
	col := w.cols[ci]
	nullable := w.schema.Field(ci).Nullable
	var def byte
	if nullable {
		def = 1
	}
	buf := w.scratchOf(ci)
	arrs := make([]arrow.Array, len(recs))
	for i, r := range recs {
		arrs[i] = r.Column(ci)
		if !nullable && arrs[i].NullN() > 0 {
			return fmt.Errorf("parquetio: null in required column %q", w.schema.Field(ci).Name)
		}
	}
	k := w.kinds[ci]
	used := min(len(rows), chunkRows) // the values to clear at the end
	var f *refFiller
	if fastValues {
		f = newRefFiller(k, arrs, int(def), ci)
	}
	for start := 0; start < len(rows); start += chunkRows {
		part := rows[start:min(start+chunkRows, len(rows))]
		vals := buf[:len(part)]
		if fastValues {
			f.fill(vals, part, spans[start/chunkRows])
		} else {
			for j, ref := range part {
				fillPortable(vals[j:j+1], k, arrs[ref.Batch], int(ref.Row), def, ci)
			}
		}
		if _, err := col.WriteRowValues(vals); err != nil {
			return fmt.Errorf("parquetio: column %q: %w", w.schema.Field(ci).Name, err)
		}
	}
	// Each chunk overwrites the last one's values: the references to the
	// batches' buffers need dropping only once, at the end.
	clear(buf[:used])
	return nil
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

func (w *Writer) writeRange(rec arrow.RecordBatch, lo, hi int) error {
	if !w.cfg.parallel || len(w.cols) < 2 {
		for i := range w.cols {
			if err := w.writeColumn(i, rec.Column(i), lo, hi); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(w.cols))
	var wg sync.WaitGroup
	for i := range w.cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.writeColumn(i, rec.Column(i), lo, hi)
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

// writeColumn converts rows [lo, hi) of one column to parquet values and
// hands them to its column writer.
func (w *Writer) writeColumn(ci int, arr arrow.Array, lo, hi int) error {
	col := w.cols[ci]
	nullable := w.schema.Field(ci).Nullable
	var def byte
	if nullable {
		def = 1
	}
	buf := w.scratchOf(ci)
	k := w.kinds[ci]
	if !nullable && arr.NullN() > 0 {
		return fmt.Errorf("parquetio: null in required column %q", w.schema.Field(ci).Name)
	}
	used := min(hi-lo, chunkRows) // the values to clear at the end
	for start := lo; start < hi; start += chunkRows {
		end := min(start+chunkRows, hi)
		vals := buf[:end-start]
		if fastValues {
			fillFast(vals, k, arr, start, end, int(def), ci)
		} else {
			fillPortable(vals, k, arr, start, def, ci)
		}
		if _, err := col.WriteRowValues(vals); err != nil {
			return fmt.Errorf("parquetio: column %q: %w", w.schema.Field(ci).Name, err)
		}
	}
	clear(buf[:used]) // drop references to the batch's buffers, once
	return nil
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
