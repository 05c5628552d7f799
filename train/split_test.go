package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// scanBinsFloats is scanBins (gini) written with gonum's vector functions,
// kept as the reference the comment on scanBins measures against. buf holds
// 11 scratch vectors of at least hi-lo+1 elements (reused across calls, as
// the builder would).
func scanBinsFloats(minLeaf int32, h []float64, hc []int32, lo, hi int, n int32, buf *[11][]float64) (int, float64, bool) {
	m := hi - lo + 1
	v := func(i int) []float64 { return buf[i][:m] }
	h0, h1 := v(0), v(1)
	for c := lo; c <= hi; c++ {
		h0[c-lo], h1[c-lo] = h[c<<1], h[c<<1|1]
	}
	l0 := floats.CumSum(v(2), h0)
	l1 := floats.CumSum(v(3), h1)
	r0 := floats.ScaleTo(v(4), -1, l0)
	floats.AddConst(l0[m-1], r0)
	r1 := floats.ScaleTo(v(5), -1, l1)
	floats.AddConst(l1[m-1], r1)
	ln := floats.AddTo(v(6), l0, l1)
	rn := floats.AddTo(v(7), r0, r1)
	sl := floats.MulTo(v(8), l0, l0)
	floats.Add(sl, floats.MulTo(v(10), l1, l1))
	sr := floats.MulTo(v(9), r0, r0)
	floats.Add(sr, floats.MulTo(v(10), r1, r1))
	floats.Div(sl, ln)
	floats.Div(sr, rn)
	floats.Add(sl, sr)
	var lc int32
	for c := lo; c < hi; c++ {
		lc += hc[c]
		if hc[c] == 0 || lc < minLeaf || n-lc < minLeaf || ln[c-lo] <= 0 || rn[c-lo] <= 0 {
			sl[c-lo] = math.Inf(-1)
		}
	}
	i := floats.MaxIdx(sl[:m-1])
	if math.IsInf(sl[i], -1) {
		return 0, 0, false
	}
	return lo + i, sl[i], true
}

// randomHistogram is a node histogram over nb bins with some empty bins.
func randomHistogram(r *rand.Rand, nb int) (h []float64, hc []int32, n int32) {
	h = make([]float64, 2*nb)
	hc = make([]int32, nb)
	for c := range nb {
		if r.IntN(5) == 0 {
			continue
		}
		k := 1 + r.IntN(40)
		hc[c] = int32(k)
		n += int32(k)
		for range k {
			h[c<<1|r.IntN(2)] += 1 + r.Float64()
		}
	}
	hc[0], hc[nb-1] = max(hc[0], 1), max(hc[nb-1], 1)
	h[0] += 1
	h[(nb-1)<<1|1] += 1
	return h, hc, n
}

// TestScanBinsMatchesFloats: the hand-written scan and the gonum one agree.
func TestScanBinsMatchesFloats(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for k := range 200 {
		nb := 2 + r.IntN(255)
		h, hc, n := randomHistogram(r, nb)
		p := DefaultParams()
		p.MinSamplesLeaf = 1 + r.IntN(30)
		b := &builder{p: p}
		gb, gs, gok := b.scanBins(h, hc, 0, nb-1, n)
		wb, ws, wok := scanBinsFloats(int32(p.MinSamplesLeaf), h, hc, 0, nb-1, n, newScanBuf())
		if gok != wok || (gok && (gb != wb || math.Abs(gs-ws) > 1e-9*math.Abs(ws))) {
			t.Fatalf("case %d (%d bins, leaf %d): scanBins = %d, %v, %v; floats version = %d, %v, %v", k, nb, p.MinSamplesLeaf, gb, gs, gok, wb, ws, wok)
		}
	}
}

// TestBinEdgesQuantile: each edge sits just above stat.Quantile's
// count-weighted empirical quantile of the distinct values.
func TestBinEdgesQuantile(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := make([]float64, 5000)
	for i := range c {
		c[i] = math.Round(r.ExpFloat64()*300) / 3 // skewed, many ties
	}
	const maxBins = 64
	distinct, counts := distinctCounts(c)
	var want []float64
	for q := 1; q < maxBins; q++ {
		v := stat.Quantile(float64(q)/maxBins, stat.Empirical, distinct, counts)
		j, _ := slices.BinarySearch(distinct, v)
		if j+1 < len(distinct) {
			if m := midpoint(distinct[j], distinct[j+1]); len(want) == 0 || m > want[len(want)-1] {
				want = append(want, m)
			}
		}
	}
	if got := binEdges(c, maxBins); !slices.Equal(got, want) {
		t.Errorf("binEdges = %v\nwant (stat.Quantile) %v", got, want)
	}
}

func newScanBuf() *[11][]float64 {
	var buf [11][]float64
	for i := range buf {
		buf[i] = make([]float64, 256)
	}
	return &buf
}
