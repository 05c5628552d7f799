package features

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/day"
)

// synthGold makes a gold lake shaped like the ~3.4 GB generated dataset's
// (32,000 users over ~70 days, ~25% of users active on a given day) straight
// as fact_user_day rows, without events: for benchmarks only.
func synthGold(mem memory.Allocator, users, days int, pActive float64) *MemSource {
	r := rand.New(rand.NewPCG(42, 42))
	src := &MemSource{Fact: map[Date][]arrow.RecordBatch{}}
	d0 := DateOf(day0)
	ids := make([]string, users)
	for u := range ids {
		ids[u] = fmt.Sprint(1000000 + u*7)
	}
	for d := range days {
		dt := d0 + Date(d)
		b := array.NewRecordBuilder(mem, factSchema())
		for _, id := range ids {
			if r.Float64() >= pActive {
				continue
			}
			n := int64(5 + r.IntN(40))
			b.Field(0).(*array.StringBuilder).Append(id)
			b.Field(1).(*array.Date32Builder).Append(arrow.Date32(dt))
			b.Field(2).(*array.Int64Builder).Append(n)
			b.Field(3).(*array.Int64Builder).Append(int64(1 + r.IntN(3)))
			songs := n * 8 / 10
			for k := range goldPageCols {
				v := int64(r.IntN(4))
				if k == 0 {
					v = songs
				}
				if goldPageCols[k] == "n_cancellation_confirmation" {
					v = 0
					if r.IntN(2000) == 0 {
						v = 1
					}
				}
				b.Field(4 + k).(*array.Int64Builder).Append(v)
			}
			f := 4 + len(goldPageCols)
			b.Field(f).(*array.Int64Builder).Append(songs)
			b.Field(f + 1).(*array.Float64Builder).Append(float64(songs) * 240.5)
			na := int(songs) * 9 / 10
			b.Field(f + 2).(*array.Int64Builder).Append(int64(na))
			sk := make([]byte, 8*na)
			for x := range na {
				binary.LittleEndian.PutUint64(sk[8*x:], uint64(x)*0x9e3779b97f4a7c15+uint64(r.IntN(1000)))
			}
			b.Field(f + 3).(*array.BinaryBuilder).Append(sk)
			b.Field(f + 4).(*array.Int64Builder).Append(n / 2)
			b.Field(f + 5).(*array.StringBuilder).Append([]string{"free", "paid"}[r.IntN(2)])
			ts := dt.MS() + r.Int64N(msPerDay/2)
			b.Field(f + 6).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
			b.Field(f + 7).(*array.TimestampBuilder).Append(arrow.Timestamp(ts + r.Int64N(msPerDay/2)))
		}
		src.Fact[dt] = []arrow.RecordBatch{b.NewRecordBatch()}
		b.Release()
	}
	b := array.NewRecordBuilder(mem, dimSchema())
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(d0.MS() - msPerDay))
		b.Field(2).AppendNull()
		b.Field(3).(*array.BooleanBuilder).Append(true)
		b.Field(4).(*array.StringBuilder).Append("free")
		b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(d0.MS() - 30*msPerDay))
		b.Field(6).(*array.StringBuilder).Append("F")
		b.Field(7).(*array.StringBuilder).Append("Bakersfield, CA")
		b.Field(8).(*array.StringBuilder).Append(agents[0])
		b.Field(9).AppendNull()
		b.Field(10).AppendNull()
	}
	src.Users = []arrow.RecordBatch{b.NewRecordBatch()}
	src.Last, src.HasLast = d0+Date(days-1), true
	return src
}

// BenchmarkFeaturesLake: Parquet gold → one snapshot written as Parquet, on a
// synthetic lake of the generated dataset's shape. CHURNCTL_BENCH_LAKE points
// it at a real lake instead (CHURNCTL_BENCH_ASOF picks the cutoff).
func BenchmarkFeaturesLake(b *testing.B) {
	mem := memory.NewGoAllocator()
	lake := os.Getenv("CHURNCTL_BENCH_LAKE")
	asOf := DateOf(day0) + 40
	if lake == "" {
		lake = b.TempDir()
		src := synthGold(mem, 32000, 70, 0.15)
		writeLake(b, lake, src)
		src.release()
	}
	if s := os.Getenv("CHURNCTL_BENCH_ASOF"); s != "" {
		var err error
		if asOf, err = day.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "f.parquet")
	b.ResetTimer()
	for b.Loop() {
		res, err := Run(context.Background(), RunConfig{Lake: lake, Cutoffs: []Date{asOf}, HorizonDays: 30, Out: out, Mem: mem})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res[0].Users), "users")
	}
}

// BenchmarkCompute: the fold and feature computation alone, on in-memory
// gold batches of the generated dataset's shape (no Parquet).
func BenchmarkCompute(b *testing.B) {
	mem := memory.NewGoAllocator()
	src := synthGold(mem, 32000, 70, 0.1)
	defer src.release()
	asOf := DateOf(day0) + 40
	b.ResetTimer()
	for b.Loop() {
		s, err := Compute(context.Background(), src, Config{AsOf: asOf, HorizonDays: 30})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(s.UserIDs)), "users")
	}
}
