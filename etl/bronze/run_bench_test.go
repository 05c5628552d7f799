package bronze

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// BenchmarkRunFile ingests $BRONZE_BENCH_FILE (skipped when unset).
func BenchmarkRunFile(b *testing.B) {
	path := os.Getenv("BRONZE_BENCH_FILE")
	if path == "" {
		b.Skip("BRONZE_BENCH_FILE not set")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	defer reportCPU(b, cpuTime(), int(st.Size()))
	for b.Loop() {
		dir := b.TempDir()
		workers, _ := strconv.Atoi(os.Getenv("BRONZE_BENCH_WORKERS"))
		if _, err := Run(context.Background(), Config{Lake: dir, Inputs: []string{path}, Force: true, Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}
}
