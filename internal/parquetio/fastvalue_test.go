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
// (fillFast), for row references that are one run of consecutive rows
// (refs-run), and for references to every row in a scattered order
// (refs-scattered).
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
		for _, order := range []string{"run", "scattered"} {
			rows := refs
			if order == "scattered" {
				rows = make([]RowRef, len(refs))
				for i := range rows {
					rows[i] = RowRef{Row: int32(i * 1031 % chunkRows)} // 1031 is prime: a permutation
				}
			}
			b.Run(fmt.Sprintf("refs-%s/%s", order, name), func(b *testing.B) {
				f := newRefFiller(k, []arrow.Array{arr}, def, ci)
				spans := refSpans(rows)
				for b.Loop() {
					f.fill(vals, rows, spans)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunkRows), "ns/value")
			})
		}
	}
}

// TestRefFillerSpans checks refFiller, which converts runs of row
// references through fillFast and the rest one by one, against the
// portable path on references that mix long runs,
// short runs and single rows over several batches.
func TestRefFillerSpans(t *testing.T) {
	s := allTypes()
	mem := memory.NewGoAllocator()
	batches := []arrow.RecordBatch{makeBatch(mem, s, 0, 500), makeBatch(mem, s, 500, 300)}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	var refs []RowRef
	add := func(batch, lo, n int) {
		for r := lo; r < lo+n; r++ {
			refs = append(refs, RowRef{Batch: int32(batch), Row: int32(r)})
		}
	}
	add(0, 0, 100) // a run
	add(1, 7, 3)   // short runs and single rows in between
	add(0, 200, 1)
	add(1, 50, minRun-1)
	add(1, 50+minRun-1, 40) // continues the short run above
	add(0, 499, 1)
	add(1, 0, minRun) // exactly minRun
	add(0, 150, 1)
	for ci, f := range s.Fields() {
		k, err := kindOfArrow(f.Type)
		if err != nil {
			t.Fatal(err)
		}
		def := 0
		if f.Nullable {
			def = 1
		}
		arrs := []arrow.Array{batches[0].Column(ci), batches[1].Column(ci)}
		got := make([]parquet.Value, len(refs))
		newRefFiller(k, arrs, def, ci).fill(got, refs, refSpans(refs))
		for j, ref := range refs {
			want := make([]parquet.Value, 1)
			fillPortable(want, k, arrs[ref.Batch], int(ref.Row), byte(def), ci)
			if !parquet.Equal(got[j], want[0]) || got[j].DefinitionLevel() != want[0].DefinitionLevel() ||
				got[j].Column() != want[0].Column() || got[j].IsNull() != want[0].IsNull() {
				t.Fatalf("%s: ref %d (batch %d row %d): got %v, want %v", f.Name, j, ref.Batch, ref.Row, got[j], want[0])
			}
		}
	}
}

func TestRefSpans(t *testing.T) {
	var rows []RowRef
	for r := range 20 { // one run of 20
		rows = append(rows, RowRef{Batch: 0, Row: int32(r)})
	}
	rows = append(rows, RowRef{Batch: 1, Row: 0}, RowRef{Batch: 0, Row: 20}) // scattered
	for r := range minRun {                                                  // a run of exactly minRun in batch 1
		rows = append(rows, RowRef{Batch: 1, Row: int32(5 + r)})
	}
	rows = append(rows, RowRef{Batch: 1, Row: 3})
	got := refSpans(rows)
	want := []span{{0, 20, true}, {20, 22, false}, {22, 22 + minRun, true}, {22 + minRun, 23 + minRun, false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refSpans = %v, want %v", got, want)
	}
	if got := refSpans(nil); len(got) != 0 {
		t.Errorf("refSpans(nil) = %v", got)
	}
}
