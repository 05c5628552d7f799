package silver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// benchDay returns one day of bronze events as several batches:
// $SILVER_BENCH_DAY's Parquet files (a bronze partition directory, e.g.
// LAKE/bronze/events/dt=2018-10-15) in 8,192-row batches if set, else a
// random day in the eventsim shape.
func benchDay(b *testing.B, mem memory.Allocator) (int64, []arrow.RecordBatch) {
	dir := os.Getenv("SILVER_BENCH_DAY")
	if dir == "" {
		day := etltest.ByDay(etltest.Random(1, 3000, 1, day0, 0))[day0]
		one := etltest.Batch(mem, day)
		defer one.Release()
		var parts []arrow.RecordBatch
		for lo := int64(0); lo < one.NumRows(); lo += 8192 {
			parts = append(parts, one.NewSlice(lo, min(lo+8192, one.NumRows())))
		}
		return day0, parts
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("SILVER_BENCH_DAY=%s: no Parquet files (%v)", dir, err)
	}
	rr, err := parquetio.ReadFiles(mem, paths, nil, 8192)
	if err != nil {
		b.Fatal(err)
	}
	defer rr.Release()
	var parts []arrow.RecordBatch
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		parts = append(parts, rec)
	}
	if err := rr.Err(); err != nil {
		b.Fatal(err)
	}
	ts := parts[0].Column(parts[0].Schema().FieldIndices(ColTS)[0]).(interface{ Value(int) arrow.Timestamp }).Value(0)
	return etltest.DayOf(int64(ts)), parts
}

// BenchmarkProcessDay measures silver's per-day work (dedup, user order,
// sessions, level history) on one day of bronze rows.
func BenchmarkProcessDay(b *testing.B) {
	mem := memory.NewGoAllocator()
	day, parts := benchDay(b, mem)
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	var rows int64
	for _, p := range parts {
		rows += p.NumRows()
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := ProcessDayBatches(context.Background(), mem, day, parts, Options{})
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*rows), "ns/row")
}
