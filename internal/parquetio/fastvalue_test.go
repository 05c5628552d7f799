package parquetio

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// BenchmarkFill converts Arrow columns into parquet.Values, the step
// between a batch and parquet-go's column buffers, for a range of rows
// (fillFast) and for row references (fillFastRefs).
func BenchmarkFill(b *testing.B) {
	s := allTypes()
	batch := makeBatch(memory.NewGoAllocator(), s, 0, chunkRows)
	defer batch.Release()
	refs := make([]RowRef, chunkRows)
	for i := range refs {
		refs[i] = RowRef{Row: int32(i)}
	}
	vals := make([]parquet.Value, chunkRows)
	for _, name := range []string{"req_int64", "opt_int64", "req_utf8", "opt_utf8"} {
		ci := s.FieldIndices(name)[0]
		k, err := kindOfArrow(s.Field(ci).Type)
		if err != nil {
			b.Fatal(err)
		}
		def := 0
		if s.Field(ci).Nullable {
			def = 1
		}
		arr := batch.Column(ci)
		b.Run(fmt.Sprintf("range/%s", name), func(b *testing.B) {
			for b.Loop() {
				fillFast(vals, k, arr, 0, chunkRows, def, ci)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunkRows), "ns/value")
		})
		b.Run(fmt.Sprintf("refs/%s", name), func(b *testing.B) {
			arrs := []arrow.Array{arr}
			for b.Loop() {
				fillFastRefs(vals, k, arrs, refs, def, ci)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunkRows), "ns/value")
		})
	}
}
