package sql

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/churnctl/churnctl/sql/lakefixture"
)

// BenchmarkParquetSource reads 50,000 fact_user_day rows and encodes them
// as binary COPY data, without a server: the client's share of a load.
func BenchmarkParquetSource(b *testing.B) {
	file := filepath.Join(b.TempDir(), "part-0.parquet")
	const n = 50_000
	if err := lakefixture.Write(file, lakefixture.FactUserDays("2026-01-01", 0, n, 1)); err != nil {
		b.Fatal(err)
	}
	tbl := TableByName("fact_user_day")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := newParquetSource(tbl, []string{file}, lakefixture.DayOf("2026-01-01"))
		if _, err := src.columns(); err != nil {
			b.Fatal(err)
		}
		nb, err := io.Copy(io.Discard, src)
		if err != nil || src.count != n {
			b.Fatal(err, src.count)
		}
		b.SetBytes(nb)
		src.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
