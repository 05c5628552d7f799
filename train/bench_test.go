package train

import (
	"context"
	"testing"

	"github.com/churnctl/churnctl/internal/synth"
)

// BenchmarkFit grows 100 trees on the synthetic 32,000 × 31 table
// (scripts/bench_train.sh compares the same fit with scikit-learn).
func BenchmarkFit(b *testing.B) {
	s := synth.Generate(32000, 31, 1)
	d := &Dataset{Names: s.Names, Cols: s.Cols, Y: s.Label}
	p := DefaultParams()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Fit(context.Background(), d, p, FitOptions{Seed: 42, Jobs: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredict(b *testing.B) {
	s := synth.Generate(32000, 31, 1)
	d := &Dataset{Names: s.Names, Cols: s.Cols, Y: s.Label}
	f, err := Fit(context.Background(), d, DefaultParams(), FitOptions{Seed: 42, Jobs: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		f.PredictProba(d, 2)
	}
}
