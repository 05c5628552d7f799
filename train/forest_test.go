package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/train/synth"
)

func accuracy(p []float64, y []uint8) float64 {
	ok := 0
	for i, v := range p {
		if (v >= 0.5) == (y[i] == 1) {
			ok++
		}
	}
	return float64(ok) / float64(len(p))
}

func uniform(n, nf int, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	cols := make([][]float64, nf)
	for f := range cols {
		cols[f] = make([]float64, n)
		for i := range n {
			cols[f][i] = r.Float64()
		}
	}
	return cols
}

func names(nf int) []string {
	n := make([]string, nf)
	for i := range n {
		n[i] = string(rune('a' + i))
	}
	return n
}

// TestLearnsKnownFunctions: XOR (no single split helps: greedy trees must
// still find it) and a threshold, checked on fresh points.
func TestLearnsKnownFunctions(t *testing.T) {
	tests := []struct {
		name string
		nf   int
		f    func(x []float64) bool
		min  float64 // held-out accuracy
	}{
		{"xor", 2, func(x []float64) bool { return (x[0] > 0.5) != (x[1] > 0.5) }, 0.97},
		{"threshold", 3, func(x []float64) bool { return x[1] > 0.3 }, 0.99},
		{"xor with noise features", 6, func(x []float64) bool { return (x[0] > 0.5) != (x[1] > 0.5) }, 0.93},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func(n int, seed uint64) *Dataset {
				cols := uniform(n, tt.nf, seed)
				y := make([]uint8, n)
				x := make([]float64, tt.nf)
				for i := range n {
					for f := range tt.nf {
						x[f] = cols[f][i]
					}
					if tt.f(x) {
						y[i] = 1
					}
				}
				return &Dataset{Names: names(tt.nf), Cols: cols, Y: y}
			}
			tr, te := mk(2000, 1), mk(1000, 2)
			p := DefaultParams()
			p.Trees = 30
			m, err := Fit(context.Background(), tr, p, FitOptions{Seed: 7, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if acc := accuracy(m.PredictProba(te, 2), te.Y); acc < tt.min {
				t.Errorf("held-out accuracy = %.4f, want >= %.2f", acc, tt.min)
			}
		})
	}
}

// TestThresholdExact: one tree on all rows with all features finds the
// split halfway between the neighbouring values, as scikit-learn does.
func TestThresholdExact(t *testing.T) {
	x := []float64{1, 2, 3, 4, 10, 11, 12}
	y := []uint8{0, 0, 0, 0, 1, 1, 1}
	d := &Dataset{Names: []string{"x"}, Cols: [][]float64{x}, Y: y}
	p := DefaultParams()
	p.Trees, p.Bootstrap, p.ClassWeight, p.MinSamplesLeaf = 1, false, "none", 1
	m, err := Fit(context.Background(), d, p, FitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr := m.Trees[0]
	if len(tr.Feature) != 3 || tr.Feature[0] != 0 || tr.Threshold[0] != 7 {
		t.Fatalf("tree = %+v, want one split x <= 7 and two leaves", tr)
	}
	got := m.PredictProba(&Dataset{Cols: [][]float64{{6.99, 7, 7.01}}}, 1)
	if want := []float64{0, 0, 1}; !equal(got, want) {
		t.Errorf("PredictProba(6.99, 7, 7.01) = %v, want %v", got, want)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTiesAndConstants: heavily tied values split only between distinct
// values; a constant feature is never used and gets zero importance.
func TestTiesAndConstants(t *testing.T) {
	n := 300
	x := make([]float64, n)
	c := make([]float64, n)
	y := make([]uint8, n)
	for i := range n {
		x[i] = float64(i % 3) // 0,1,2 repeated
		c[i] = 5
		if x[i] == 2 {
			y[i] = 1
		}
	}
	d := &Dataset{Names: []string{"const", "x"}, Cols: [][]float64{c, x}, Y: y}
	p := DefaultParams()
	p.Trees, p.MaxFeatures = 10, "1"
	m, err := Fit(context.Background(), d, p, FitOptions{Seed: 3, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for ti, tr := range m.Trees {
		for i, f := range tr.Feature {
			if f == 0 {
				t.Fatalf("tree %d node %d splits on the constant feature", ti, i)
			}
			if f == 1 && tr.Threshold[i] != 0.5 && tr.Threshold[i] != 1.5 {
				t.Errorf("tree %d node %d threshold %v, want 0.5 or 1.5", ti, i, tr.Threshold[i])
			}
		}
	}
	if m.Importance[0] != 0 || m.Importance[1] != 1 {
		t.Errorf("importance = %v, want [0 1]", m.Importance)
	}
	if acc := accuracy(m.PredictProba(d, 1), y); acc != 1 {
		t.Errorf("training accuracy = %v, want 1", acc)
	}
}

func TestFitRejects(t *testing.T) {
	nan := []float64{1, 2, math.NaN(), 4}
	tests := []struct {
		name    string
		d       *Dataset
		wantErr string
	}{
		{"one class", &Dataset{Names: []string{"a"}, Cols: [][]float64{{1, 2, 3}}, Y: []uint8{1, 1, 1}}, "one class"},
		{"nan", &Dataset{Names: []string{"a", "songs"}, Cols: [][]float64{{1, 2, 3, 4}, nan}, Y: []uint8{0, 1, 0, 1}}, `column "songs" row 3`},
		{"inf", &Dataset{Names: []string{"a"}, Cols: [][]float64{{1, math.Inf(1)}}, Y: []uint8{0, 1}}, `column "a" row 2`},
		{"empty", &Dataset{Names: []string{"a"}, Cols: [][]float64{{}}, Y: []uint8{}}, "empty"},
		{"bad label", &Dataset{Names: []string{"a"}, Cols: [][]float64{{1, 2}}, Y: []uint8{0, 2}}, "label 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fit(context.Background(), tt.d, DefaultParams(), FitOptions{})
			if !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Fit error = %v, want ErrBadInput containing %q", err, tt.wantErr)
			}
		})
	}
}

func synthData(n int) *Dataset {
	s := synth.Generate(n, 14, 5)
	return &Dataset{Names: s.Names, Cols: s.Cols, Y: s.Label}
}

func modelBytes(t *testing.T, f *Forest, names []string) []byte {
	t.Helper()
	m := &Model{Forest: f, Header: Header{Params: DefaultParams(), Importance: map[string]float64{}}}
	for i, n := range names {
		m.Features = append(m.Features, FeatureSpec{Name: n, Type: "float64"})
		m.Importance[n] = f.Importance[i]
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDeterministicAcrossJobs: the same seed gives the same bytes with 1, 2
// and 4 workers, for every class-weight mode; another seed differs.
func TestDeterministicAcrossJobs(t *testing.T) {
	d := synthData(1500)
	for _, cw := range []string{"none", "balanced", "balanced_subsample"} {
		p := DefaultParams()
		p.Trees, p.ClassWeight = 12, cw
		var first []byte
		for _, jobs := range []int{1, 2, 4} {
			f, err := Fit(context.Background(), d, p, FitOptions{Seed: 11, Jobs: jobs})
			if err != nil {
				t.Fatal(err)
			}
			b := modelBytes(t, f, d.Names)
			if first == nil {
				first = b
			} else if !bytes.Equal(first, b) {
				t.Errorf("class weight %s: model bytes differ between jobs 1 and %d", cw, jobs)
			}
		}
		f, _ := Fit(context.Background(), d, p, FitOptions{Seed: 12, Jobs: 2})
		if bytes.Equal(first, modelBytes(t, f, d.Names)) {
			t.Errorf("class weight %s: seeds 11 and 12 give the same model", cw)
		}
	}
}

func TestModelRoundTrip(t *testing.T) {
	d := synthData(800)
	p := DefaultParams()
	p.Trees = 5
	f, err := Fit(context.Background(), d, p, FitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := modelBytes(t, f, d.Names)
	m, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Forest.PredictProba(d, 2), f.PredictProba(d, 2); !equal(got, want) {
		t.Error("loaded model predicts differently")
	}
	bad := bytes.Clone(b)
	bad[len(bad)/2] ^= 1
	if _, err := Read(bytes.NewReader(bad)); !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Read(corrupted) error = %v, want checksum error", err)
	}
	if _, err := Read(bytes.NewReader(b[:100])); !errors.Is(err, exitcode.ErrBadInput) {
		t.Errorf("Read(truncated) error = %v, want ErrBadInput", err)
	}
}

func TestBinEdges(t *testing.T) {
	few := []float64{3, 1, 2, 2, 1}
	if got, want := binEdges(few, 256), []float64{1.5, 2.5}; !equal(got, want) {
		t.Errorf("binEdges(%v) = %v, want %v", few, got, want)
	}
	many := uniform(10000, 1, 9)[0]
	e := binEdges(many, 256)
	if len(e) > 255 || len(e) < 200 {
		t.Errorf("binEdges(10000 distinct) has %d edges, want 200..255", len(e))
	}
	for i := 1; i < len(e); i++ {
		if e[i] <= e[i-1] {
			t.Fatalf("edges not increasing at %d: %v <= %v", i, e[i], e[i-1])
		}
	}
}

func TestStratifiedFolds(t *testing.T) {
	y := make([]uint8, 1000)
	for i := range 230 {
		y[i*4] = 1
	}
	fold, err := StratifiedFolds(y, nil, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pos, n [5]int
	for i, f := range fold {
		n[f]++
		pos[f] += int(y[i])
	}
	for f := range 5 {
		if pos[f] != 46 || n[f] != 200 {
			t.Errorf("fold %d: %d rows, %d positives; want 200 and 46", f, n[f], pos[f])
		}
	}
	// grouped: a user's rows share a fold
	groups := make([]string, 1000)
	for i := range groups {
		groups[i] = string(rune('A' + i%40))
	}
	fold, err = StratifiedFolds(y, groups, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, g := range groups {
		if f, ok := seen[g]; ok && f != fold[i] {
			t.Fatalf("group %s in folds %d and %d", g, f, fold[i])
		}
		seen[g] = fold[i]
	}
	if _, err := StratifiedFolds([]uint8{0, 0, 0, 1}, nil, 2, 1); !errors.Is(err, exitcode.ErrBadInput) {
		t.Errorf("StratifiedFolds(1 positive, 2 folds) error = %v, want ErrBadInput", err)
	}
}

// TestRunTunesThreshold: the optimistic tuned threshold's out-of-fold F1 is
// at least the F1 at 0.5 (it is the maximum over thresholds, 0.5's
// neighbourhood included).
func TestRunTunesThreshold(t *testing.T) {
	d := synthData(2000)
	p := DefaultParams()
	p.Trees = 20
	out, err := Run(context.Background(), d, Config{Params: p, Seed: 1, Folds: 3, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := out.CV
	if c.F1TunedOptimistic < c.F1 || c.ROCAUC < 0.8 || out.Threshold != c.Threshold || out.Forest == nil {
		t.Errorf("cv = %+v, threshold %v: want optimistic tuned F1 >= F1 and ROC-AUC >= 0.8", c, out.Threshold)
	}
}

// TestRunOutOfTimeAndSearch: --validate-as-of validates only the given
// snapshot, trained on earlier ones; a search records its trials and keeps
// the best one's parameters.
func TestRunOutOfTimeAndSearch(t *testing.T) {
	d := synthData(1200)
	asOf := make([]string, d.Rows())
	for i := range asOf {
		asOf[i] = []string{"2018-10-01", "2018-11-01", "2018-12-01"}[i%3]
	}
	p := DefaultParams()
	p.Trees = 10
	out, err := Run(context.Background(), d, Config{Params: p, Seed: 1, Jobs: 2, ValidateAsOf: "2018-11-01", AsOf: asOf,
		SearchBudget: 3, Search: "random", Objective: "pr_auc"})
	if err != nil {
		t.Fatal(err)
	}
	if out.CV.Rows != 400 || out.CV.Folds != 0 {
		t.Errorf("out-of-time: %d rows validated (folds %d), want 400 (the 2018-11-01 rows)", out.CV.Rows, out.CV.Folds)
	}
	if len(out.Search) != 3 {
		t.Fatalf("search trials = %d, want 3", len(out.Search))
	}
	best := out.Search[0]
	for _, tr := range out.Search[1:] {
		if tr.Score > best.Score {
			best = tr
		}
	}
	if out.Params.MaxFeatures != best.MaxFeatures || out.Params.MinSamplesLeaf != best.MinSamplesLeaf || out.Params.Criterion != best.Criterion {
		t.Errorf("chosen params %+v, best trial %+v", out.Params, best)
	}
	if _, err := Run(context.Background(), d, Config{Params: p, ValidateAsOf: "2018-10-01", AsOf: asOf}); !errors.Is(err, exitcode.ErrBadInput) {
		t.Errorf("validate-as-of the first snapshot (nothing earlier): error = %v, want ErrBadInput", err)
	}
}

// TestOutOfTimeEmbargo: with a 30-day label window, snapshots less than 30
// days before the validation cutoff are not trained on.
func TestOutOfTimeEmbargo(t *testing.T) {
	d := synthData(900)
	asOf := make([]string, d.Rows())
	for i := range asOf {
		asOf[i] = []string{"2018-10-01", "2018-10-20", "2018-11-01"}[i%3]
	}
	c := Config{ValidateAsOf: "2018-11-01", AsOf: asOf, HorizonDays: 30}
	fold, only, err := c.folds(d)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fold {
		want := map[string]int{"2018-10-01": 1, "2018-10-20": -1, "2018-11-01": 0}[asOf[i]]
		if f != want {
			t.Fatalf("row %d as_of %s: fold %d, want %d", i, asOf[i], f, want)
		}
	}
	if len(only) != 1 || only[0] != 0 {
		t.Errorf("validated folds = %v, want [0]", only)
	}
	c.HorizonDays = 45
	if _, _, err := c.folds(d); !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), "embargoed") {
		t.Errorf("45-day window leaves nothing to train on: error = %v", err)
	}
}
