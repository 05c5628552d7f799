// Package synth generates a deterministic synthetic churn feature table for
// tests and benchmarks: count-like and rate-like per-user features, about 22%
// positives, and a noisy but learnable, partly non-linear signal. It is the
// table of the forest's scikit-learn parity bench (scripts/gensynth,
// make bench-train) and of train's tests: a known signal at any size, where
// the real feature table (features/) needs an event log first.
package synth

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// Table is a generated feature table, column by column.
type Table struct {
	IDs   []string
	Names []string
	Cols  [][]float64
	Label []uint8
}

// Generate returns n rows of nf features (nf >= 12) from seed.
func Generate(n, nf int, seed uint64) *Table {
	if nf < 12 {
		panic("synth: need at least 12 features")
	}
	r := rand.New(rand.NewPCG(seed, 0xc407))
	t := &Table{IDs: make([]string, n), Names: make([]string, nf), Cols: make([][]float64, nf), Label: make([]uint8, n)}
	base := []string{"days_active", "sessions", "songs", "thumbs_up", "thumbs_down", "add_friend", "add_playlist",
		"errors", "help_visits", "downgrade_visits", "ads_seen", "paid"}
	for f := range nf {
		if f < len(base) {
			t.Names[f] = base[f]
		} else {
			t.Names[f] = fmt.Sprintf("x%02d", f)
		}
		t.Cols[f] = make([]float64, n)
	}
	poisson := func(lambda float64) float64 {
		// Knuth for small, normal approximation for large
		if lambda > 30 {
			return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64()))
		}
		l, k, p := math.Exp(-lambda), 0.0, 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	for i := range n {
		t.IDs[i] = strconv.Itoa(100000 + i)
		engage := r.NormFloat64()      // latent engagement
		frustration := r.NormFloat64() // latent dissatisfaction
		paid := 0.0
		if r.Float64() < 0.45+0.1*math.Tanh(engage) {
			paid = 1
		}
		days := math.Max(1, math.Round(60*sigmoid(0.8*engage+0.5*r.NormFloat64()-0.6*frustration)))
		sessions := poisson(days * 0.5 * math.Exp(0.3*engage))
		songs := poisson((sessions + 1) * 30 * math.Exp(0.2*engage))
		thumbsUp := poisson(songs * 0.05 * math.Exp(-0.2*frustration))
		thumbsDown := poisson(songs * 0.012 * math.Exp(0.5*frustration))
		friends := poisson(songs * 0.015 * math.Exp(0.3*engage))
		playlist := poisson(songs * 0.025)
		errs := poisson(sessions * 0.05)
		help := poisson(sessions*0.08 + 0.5*math.Max(0, frustration))
		down := poisson(paid * (0.3 + 1.2*math.Max(0, frustration)))
		ads := poisson((1 - paid) * songs * 0.07)
		vals := []float64{days, sessions, songs, thumbsUp, thumbsDown, friends, playlist, errs, help, down, ads, paid}
		for f, v := range vals {
			t.Cols[f][i] = v
		}
		for f := len(base); f < nf; f++ {
			switch f % 3 {
			case 0: // rate derived from informative counts, noisy
				t.Cols[f][i] = (thumbsDown + 1) / (thumbsUp + 1) * math.Exp(0.3*r.NormFloat64())
			case 1: // pure noise
				t.Cols[f][i] = math.Round(r.NormFloat64()*1000) / 1000
			default: // weakly related to engagement
				t.Cols[f][i] = math.Round((0.3*engage+r.NormFloat64())*100) / 100
			}
		}
		// churn: low engagement, frustration, short tenure, a non-linear
		// interaction between paid and downgrade visits
		z := -2.5 - 1.6*engage + 1.3*frustration + 0.9*math.Max(0, frustration)*frustration -
			0.025*(days-30) + 0.8*paid*math.Min(down, 3)*0.5 + 0.5*r.NormFloat64()
		if r.Float64() < sigmoid(2.2*z) {
			t.Label[i] = 1
		}
	}
	return t
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// WriteCSV writes the table with a header: user_id, the features, churn.
func (t *Table) WriteCSV(w io.Writer) error {
	buf := []byte("user_id")
	for _, n := range t.Names {
		buf = append(buf, ',')
		buf = append(buf, n...)
	}
	buf = append(buf, ",churn\n"...)
	for i := range t.IDs {
		buf = append(buf, t.IDs[i]...)
		for f := range t.Cols {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, t.Cols[f][i], 'g', -1, 64)
		}
		buf = append(buf, ',', '0'+t.Label[i], '\n')
		if len(buf) > 1<<16 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}
