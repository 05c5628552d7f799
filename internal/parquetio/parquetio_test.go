package parquetio

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqparquet "github.com/apache/arrow-go/v18/parquet"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	pqsnappy "github.com/parquet-go/parquet-go/compress/snappy"
)

// allTypes is one column per supported type, required and nullable.
func allTypes() *arrow.Schema {
	types := []arrow.DataType{
		arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64,
		arrow.FixedWidthTypes.Boolean, arrow.BinaryTypes.String, arrow.BinaryTypes.Binary,
		arrow.FixedWidthTypes.Timestamp_ms, arrow.FixedWidthTypes.Date32,
	}
	var fields []arrow.Field
	for _, t := range types {
		fields = append(fields,
			arrow.Field{Name: "req_" + t.Name(), Type: t},
			arrow.Field{Name: "opt_" + t.Name(), Type: t, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// makeBatch builds n rows starting at row base; nullable columns are null
// on every third row.
func makeBatch(mem memory.Allocator, s *arrow.Schema, base, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	for i := range n {
		r := base + i
		for c, f := range s.Fields() {
			fb := b.Field(c)
			if f.Nullable && r%3 == 0 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int32Builder:
				fb.Append(int32(r*7 - 1000))
			case *array.Int64Builder:
				fb.Append(int64(r)*1_000_000_007 - 5)
			case *array.Float64Builder:
				fb.Append(float64(r) / 3)
			case *array.BooleanBuilder:
				fb.Append(r%2 == 0)
			case *array.StringBuilder:
				fb.Append([]string{"", "Home", "NextSong", "Beyonc\u00c3\u00a9", `Mozilla "quoted"`}[r%5] + fmt.Sprint(r%4))
			case *array.BinaryBuilder:
				fb.Append([]byte{byte(r), 0, 0xff, byte(r >> 8)}[:r%5])
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(1538352000000 + int64(r)*61_000))
			case *array.Date32Builder:
				fb.Append(arrow.Date32(17805 + r%60))
			}
		}
	}
	return b.NewRecordBatch()
}

func writeFile(t *testing.T, path string, s *arrow.Schema, batches []arrow.RecordBatch, opts ...WriterOption) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		opts []WriterOption
		rows []int // batch sizes
	}{
		{"defaults", nil, []int{1000}},
		{"small row groups", []WriterOption{WithRowGroupSize(300)}, []int{250, 1, 499, 250}},
		{"dictionary all, parallel", []WriterOption{WithDictionary(), WithParallelColumns(true), WithRowGroupSize(512)}, []int{700, 300}},
		{"dictionary named", []WriterOption{WithDictionary("req_utf8", "opt_utf8")}, []int{1000}},
		{"delta", []WriterOption{WithDeltaEncoding("req_int64", "opt_int32", "req_timestamp", "opt_date32"), WithoutBounds("req_utf8", "opt_int64")}, []int{600, 400}},
		{"fast snappy", []WriterOption{WithCompression(Snappy{}), WithDictionary("req_utf8")}, []int{1000, 24}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			s := allTypes()
			var batches []arrow.RecordBatch
			total := 0
			for _, n := range tt.rows {
				batches = append(batches, makeBatch(mem, s, total, n))
				total += n
			}
			defer func() {
				for _, b := range batches {
					b.Release()
				}
			}()
			path := filepath.Join(t.TempDir(), "x.parquet")
			opts := append([]WriterOption{WithMetadata("k", "v")}, tt.opts...)
			writeFile(t, path, s, batches, opts...)

			want := makeBatch(mem, s, 0, total)
			defer want.Release()

			// Our reader.
			f, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if !f.Schema().Equal(s) {
				t.Fatalf("Schema() = %s, want %s", f.Schema(), s)
			}
			if f.NumRows() != int64(total) {
				t.Fatalf("NumRows() = %d, want %d", f.NumRows(), total)
			}
			if v, ok := f.Metadata("k"); !ok || v != "v" {
				t.Errorf("Metadata(k) = %q, %v; want v, true", v, ok)
			}
			rr, err := f.Records(mem, nil, 97)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for rr.Next() {
				rec := rr.RecordBatch()
				exp := want.NewSlice(int64(got), int64(got)+rec.NumRows())
				if !array.RecordEqual(rec, exp) {
					t.Errorf("batch at row %d differs:\n got %v\nwant %v", got, rec, exp)
				}
				exp.Release()
				got += int(rec.NumRows())
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			if got != total {
				t.Fatalf("read %d rows, want %d", got, total)
			}

			// Independent reader: arrow-go's parquet/file.
			checkIndependent(t, path, want)
		})
	}
}

// checkIndependent reads path with arrow-go's low-level parquet reader and
// compares every value and logical type with want.
func checkIndependent(t *testing.T, path string, want arrow.RecordBatch) {
	t.Helper()
	r, err := pqfile.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow-go open: %v", err)
	}
	defer r.Close()
	sc := r.MetaData().Schema
	if sc.NumColumns() != int(want.NumCols()) {
		t.Fatalf("arrow-go sees %d columns, want %d", sc.NumColumns(), want.NumCols())
	}
	if r.NumRows() != want.NumRows() {
		t.Fatalf("arrow-go sees %d rows, want %d", r.NumRows(), want.NumRows())
	}
	for c := range sc.NumColumns() {
		col := sc.Column(c)
		f := want.Schema().Field(c)
		if col.Name() != f.Name {
			t.Errorf("column %d named %q, want %q", c, col.Name(), f.Name)
		}
		if (col.MaxDefinitionLevel() == 1) != f.Nullable {
			t.Errorf("column %s: max def level %d, nullable %v", f.Name, col.MaxDefinitionLevel(), f.Nullable)
		}
		lt := col.LogicalType()
		switch f.Type.ID() {
		case arrow.TIMESTAMP:
			ts, ok := lt.(interface {
				IsAdjustedToUTC() bool
				TimeUnit() pqschema.TimeUnitType
			})
			if !ok || !ts.IsAdjustedToUTC() || ts.TimeUnit() != pqschema.TimeUnitMillis {
				t.Errorf("column %s: logical type %s, want TIMESTAMP(MILLIS, UTC)", f.Name, lt)
			}
		case arrow.DATE32:
			if _, ok := lt.(pqschema.DateLogicalType); !ok {
				t.Errorf("column %s: logical type %s, want DATE", f.Name, lt)
			}
		case arrow.STRING:
			if _, ok := lt.(pqschema.StringLogicalType); !ok {
				t.Errorf("column %s: logical type %s, want STRING", f.Name, lt)
			}
		}
		var vals []any
		for g := range r.NumRowGroups() {
			rg := r.RowGroup(g)
			n := rg.NumRows()
			cr, err := rg.Column(c)
			if err != nil {
				t.Fatal(err)
			}
			def := make([]int16, n)
			var dense []any
			var read int64
			switch cr := cr.(type) {
			case *pqfile.Int32ColumnChunkReader:
				v := make([]int32, n)
				read, _, err = cr.ReadBatch(n, v, def, nil)
				for _, x := range v {
					dense = append(dense, int64(x))
				}
			case *pqfile.Int64ColumnChunkReader:
				v := make([]int64, n)
				read, _, err = cr.ReadBatch(n, v, def, nil)
				for _, x := range v {
					dense = append(dense, x)
				}
			case *pqfile.Float64ColumnChunkReader:
				v := make([]float64, n)
				read, _, err = cr.ReadBatch(n, v, def, nil)
				for _, x := range v {
					dense = append(dense, x)
				}
			case *pqfile.BooleanColumnChunkReader:
				v := make([]bool, n)
				read, _, err = cr.ReadBatch(n, v, def, nil)
				for _, x := range v {
					dense = append(dense, x)
				}
			case *pqfile.ByteArrayColumnChunkReader:
				v := make([]pqparquet.ByteArray, n)
				read, _, err = cr.ReadBatch(n, v, def, nil)
				for _, x := range v {
					dense = append(dense, string(x))
				}
			default:
				t.Fatalf("column %s: unexpected reader %T", f.Name, cr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if read != n {
				t.Fatalf("column %s row group %d: read %d of %d", f.Name, g, read, n)
			}
			k := 0
			for i := range n {
				if col.MaxDefinitionLevel() == 1 && def[i] == 0 {
					vals = append(vals, nil)
					continue
				}
				vals = append(vals, dense[k])
				k++
			}
		}
		arr := want.Column(c)
		for i, got := range vals {
			var exp any
			if !arr.IsNull(i) {
				switch a := arr.(type) {
				case *array.Int32:
					exp = int64(a.Value(i))
				case *array.Date32:
					exp = int64(a.Value(i))
				case *array.Int64:
					exp = a.Value(i)
				case *array.Timestamp:
					exp = int64(a.Value(i))
				case *array.Float64:
					exp = a.Value(i)
				case *array.Boolean:
					exp = a.Value(i)
				case *array.String:
					exp = a.Value(i)
				case *array.Binary:
					exp = string(a.Value(i))
				}
			}
			if got != exp {
				t.Fatalf("arrow-go column %s row %d = %#v, want %#v", f.Name, i, got, exp)
			}
		}
	}
}

func TestProjectionAndGlob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := allTypes()
	dir := t.TempDir()
	for i, name := range []string{"a.parquet", "b.parquet"} { // b (rows 0..99) written first, read second
		b := makeBatch(mem, s, 100*(1-i), 100) // a: rows 100..199, b: rows 0..99
		writeFile(t, filepath.Join(dir, name), s, []arrow.RecordBatch{b}, WithRowGroupSize(40))
		b.Release()
	}
	rr, err := ReadGlob(mem, filepath.Join(dir, "*.parquet"), []string{"opt_utf8", "req_int64"}, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if got := rr.Schema().String(); rr.Schema().NumFields() != 2 || rr.Schema().Field(0).Name != "opt_utf8" {
		t.Fatalf("projected schema %s", got)
	}
	var got []int64
	for rr.Next() {
		a := rr.RecordBatch().Column(1).(*array.Int64)
		got = append(got, a.Int64Values()...)
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 || got[0] != 100*1_000_000_007-5 || got[100] != -5 { // sorted: a then b
		t.Fatalf("glob read %d rows, first %d, 101st %d", len(got), got[0], got[100])
	}

	if _, err := ReadGlob(mem, filepath.Join(dir, "nope*"), nil, 0); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("ReadGlob(no match) = %v, want ErrNotExist", err)
	}
	f, err := OpenFile(filepath.Join(dir, "a.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Records(mem, []string{"nope"}, 0); err == nil {
		t.Errorf("Records(unknown column) = nil error")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestWriterRejects(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	bad := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Uint8}}, nil)
	if _, err := NewWriter(&bytes.Buffer{}, bad); err == nil {
		t.Error("NewWriter(uint8) = nil error")
	}
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	w, err := NewWriter(&bytes.Buffer{}, s)
	if err != nil {
		t.Fatal(err)
	}
	// A nullable batch with a null, into a required column.
	ns := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, ns)
	b.Field(0).AppendNull()
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	if err := w.Write(rec); err == nil {
		t.Error("Write(nullable batch into required column) = nil error")
	}
}

func TestDeterministic(t *testing.T) {
	mem := memory.NewGoAllocator()
	s := allTypes()
	b := makeBatch(mem, s, 0, 5000)
	defer b.Release()
	var out [2]bytes.Buffer
	for i := range out {
		w, err := NewWriter(&out[i], s, WithDictionary(), WithParallelColumns(i == 1), WithRowGroupSize(2000))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Error("same batch written twice (serial, parallel) gave different bytes")
	}
}

// TestFastValuesMatchPortable checks that the mirrored-layout value path
// writes the same bytes as parquet-go's public constructors.
func TestFastValuesMatchPortable(t *testing.T) {
	if !fastValues {
		t.Fatal("parquet.Value layout check failed: parquet-go changed, the slow path is in use")
	}
	mem := memory.NewGoAllocator()
	s := allTypes()
	b := makeBatch(mem, s, 0, 3000)
	defer b.Release()
	var out [2]bytes.Buffer
	for i := range out {
		fastValues = i == 0
		w, err := NewWriter(&out[i], s, WithDictionary("opt_utf8"), WithRowGroupSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fastValues = true
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Error("fast and portable value paths wrote different files")
	}
}

// TestWriteRows writes a permutation of two batches and reads it back.
func TestWriteRows(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			defer func() { fastValues = true }()
			fastValues = fast
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			s := allTypes()
			a := makeBatch(mem, s, 0, 50)
			defer a.Release()
			bb := makeBatch(mem, s, 50, 50)
			b := bb.NewSlice(10, 50) // rows 60..99, with an offset
			bb.Release()
			defer b.Release()
			// Interleave: row i of the result is row 99-i of the concatenation a(0..49)+b(60..99) minus the gap.
			var refs []RowRef
			for i := 39; i >= 0; i-- {
				refs = append(refs, RowRef{1, int32(i)})
			}
			for i := 49; i >= 0; i-- {
				refs = append(refs, RowRef{0, int32(i)})
			}
			path := filepath.Join(t.TempDir(), "p.parquet")
			var buf bytes.Buffer
			w, err := NewWriter(&buf, s, WithRowGroupSize(30), WithDictionary("opt_utf8"))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRows([]arrow.RecordBatch{a, b}, refs); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, buf.Bytes(), 0o644)
			// Expected: rows 99..60 then 49..0 of makeBatch.
			full := makeBatch(mem, s, 0, 100)
			defer full.Release()
			var parts []arrow.RecordBatch
			for i := 99; i >= 60; i-- {
				parts = append(parts, full.NewSlice(int64(i), int64(i+1)))
			}
			for i := 49; i >= 0; i-- {
				parts = append(parts, full.NewSlice(int64(i), int64(i+1)))
			}
			want := concat(t, mem, s, parts)
			defer want.Release()
			for _, p := range parts {
				p.Release()
			}
			checkIndependent(t, path, want)
		})
	}
}

// concat builds one batch from several (test helper, row by row).
func concat(t *testing.T, mem memory.Allocator, s *arrow.Schema, parts []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.parquet")
	os.WriteFile(path, buf.Bytes(), 0o644)
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := f.Records(mem, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal("no batch")
	}
	rec := rr.RecordBatch()
	rec.Retain()
	return rec
}

// TestSnappyCodec: Snappy's blocks decode with parquet-go's own snappy
// codec and the other way round (same format, another encoder).
func TestSnappyCodec(t *testing.T) {
	src := bytes.Repeat([]byte("NextSong Logged In GET 200 paid "), 4096)
	src = append(src, []byte("a tail that does not repeat 0123456789")...)
	enc, err := Snappy{}.Encode(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) >= len(src)/4 {
		t.Errorf("encoded %d bytes of %d: not compressed", len(enc), len(src))
	}
	dec, err := (&pqsnappy.Codec{}).Decode(nil, enc)
	if err != nil || !bytes.Equal(dec, src) {
		t.Fatalf("parquet-go decode of ours: %v (equal %v)", err, bytes.Equal(dec, src))
	}
	theirs, _ := (&pqsnappy.Codec{}).Encode(nil, src)
	dec, err = Snappy{}.Decode(make([]byte, 3), theirs)
	if err != nil || !bytes.Equal(dec, src) {
		t.Fatalf("our decode of parquet-go's: %v", err)
	}
	if _, err := (Snappy{}).Decode(nil, []byte{0xff, 0xff, 0xff}); err == nil {
		t.Error("garbage decoded without error")
	}
}

// TestBytesIndependentOfCalls writes the same rows as one Write, as many
// Writes of uneven slices, and as WriteRows calls over several batches, with
// small pages and a row group size that is not a multiple of the chunk
// size, serial and parallel: every file must have the same bytes (parquet-go
// cuts pages after each chunk of values it is handed, so the chunks must not
// depend on the calls). This is what lets a day written piece by piece be
// the same file as the day written at once. The checked allocator shows the
// batches retained for a pending chunk are released.
func TestBytesIndependentOfCalls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := allTypes()
	const n = 3*chunkRows + 1234
	full := makeBatch(mem, s, 0, n)
	defer full.Release()
	opts := func(parallel bool) []WriterOption {
		return []WriterOption{WithDictionary("opt_utf8"), WithRowGroupSize(10_000), WithPageSize(4096), WithParallelColumns(parallel)}
	}
	write := func(parallel bool, f func(w *Writer) error) []byte {
		t.Helper()
		var buf bytes.Buffer
		w, err := NewWriter(&buf, s, opts(parallel)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := f(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	want := write(false, func(w *Writer) error { return w.Write(full) })
	cuts := []int{1, 7, chunkRows - 3, 5, chunkRows, 1, 2 * chunkRows, 999}
	for _, parallel := range []bool{false, true} {
		got := write(parallel, func(w *Writer) error {
			for lo, i := 0, 0; lo < n; i++ {
				hi := min(n, lo+cuts[i%len(cuts)])
				b := full.NewSlice(int64(lo), int64(hi))
				err := w.Write(b)
				b.Release() // the writer must have retained what it still needs
				if err != nil {
					return err
				}
				lo = hi
			}
			return nil
		})
		if !bytes.Equal(got, want) {
			t.Errorf("parallel=%v: many Writes gave other bytes than one Write", parallel)
		}
		got = write(parallel, func(w *Writer) error {
			// Two batches, rows taken alternately in runs of uneven length.
			a := full.NewSlice(0, n/2)
			b := full.NewSlice(n/2, n)
			defer a.Release()
			defer b.Release()
			var refs []RowRef
			for r := 0; r < n; r++ {
				if r < n/2 {
					refs = append(refs, RowRef{0, int32(r)})
				} else {
					refs = append(refs, RowRef{1, int32(r - n/2)})
				}
			}
			for lo, i := 0, 3; lo < n; i++ {
				hi := min(n, lo+cuts[i%len(cuts)])
				if err := w.WriteRows([]arrow.RecordBatch{a, b}, refs[lo:hi]); err != nil {
					return err
				}
				lo = hi
			}
			return nil
		})
		if !bytes.Equal(got, want) {
			t.Errorf("parallel=%v: WriteRows pieces gave other bytes than one Write", parallel)
		}
	}
}
