package parquetio

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestReadFastPageBoundaries reads files with many small pages (plain and
// dictionary) in batch sizes that cut pages anywhere; the typed fast path
// must return exactly what was written.
func TestReadFastPageBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []WriterOption
	}{
		{"plain small pages", []WriterOption{WithPageSize(512)}},
		{"dictionary small pages", []WriterOption{WithDictionary(), WithPageSize(256), WithRowGroupSize(700)}},
	} {
		for _, batch := range []int{1, 7, 333, 5000} {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			s := allTypes()
			want := makeBatch(mem, s, 0, 2000)
			path := filepath.Join(t.TempDir(), "x.parquet")
			writeFile(t, path, s, []arrow.RecordBatch{want}, tc.opts...)
			rr, err := ReadFiles(mem, []string{path}, nil, batch)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for rr.Next() {
				rec := rr.RecordBatch()
				exp := want.NewSlice(int64(got), int64(got)+rec.NumRows())
				if !array.RecordEqual(rec, exp) {
					t.Fatalf("%s batch %d: rows at %d differ", tc.name, batch, got)
				}
				exp.Release()
				got += int(rec.NumRows())
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			want.Release()
			if got != 2000 {
				t.Fatalf("%s batch %d: read %d rows", tc.name, batch, got)
			}
			mem.AssertSize(t, 0)
		}
	}
}
