package train

import (
	"context"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/churnctl/churnctl/train/synth"
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

// BenchmarkBinEdges cuts every column of the synthetic 32,000 × 31 table.
func BenchmarkBinEdges(b *testing.B) {
	s := synth.Generate(32000, 31, 1)
	b.Run("cumsum+search", func(b *testing.B) {
		for b.Loop() {
			for _, c := range s.Cols {
				binEdges(c, 256)
			}
		}
	})
	b.Run("stat.Quantile", func(b *testing.B) {
		for b.Loop() {
			for _, c := range s.Cols {
				distinct, counts := distinctCounts(c)
				if len(distinct) <= 256 {
					continue
				}
				for q := 1; q < 256; q++ {
					stat.Quantile(float64(q)/256, stat.Empirical, distinct, counts)
				}
			}
		}
	})
}

// BenchmarkScanBins compares the split scan with its gonum/floats version
// on 256-bin histograms (scanBins' comment quotes the figures).
func BenchmarkScanBins(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h, hc, n := randomHistogram(r, 256)
	bl := &builder{p: DefaultParams()}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			bl.scanBins(h, hc, 0, 255, n)
		}
	})
	b.Run("floats", func(b *testing.B) {
		buf := newScanBuf()
		for b.Loop() {
			scanBinsFloats(1, h, hc, 0, 255, n, buf)
		}
	})
}
