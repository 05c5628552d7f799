package gold

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/silver"
)

// BenchmarkDay times silver.ProcessDay + UserDay on one day of about the
// size of a day of the 3.4 GB generated file (~125k events).
func BenchmarkDay(b *testing.B) {
	mem := memory.NewGoAllocator()
	evs := etltest.ByDay(etltest.Random(1, 2500, 1, day0, 500))[day0]
	in := etltest.Batch(mem, evs)
	defer in.Release()
	b.ReportMetric(float64(in.NumRows()), "rows/op")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := silver.ProcessDay(context.Background(), mem, day0, in, silver.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fud, err := UserDay(mem, day0, res.Events)
		if err != nil {
			b.Fatal(err)
		}
		fud.Release()
		res.Release()
	}
}
