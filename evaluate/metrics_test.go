package evaluate

import (
	"math"
	"math/rand/v2"
	"testing"
)

const tol = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tol || (math.IsNaN(a) && math.IsNaN(b)) }

// Example A is scikit-learn's documentation example for roc_auc_score and
// average_precision_score (y_true = [0, 0, 1, 1], y_scores = [0.1, 0.4,
// 0.35, 0.8]): ROC-AUC 0.75, average precision 0.8333...
var (
	aScores = []float64{0.1, 0.4, 0.35, 0.8}
	aLabels = []uint8{0, 0, 1, 1}
)

// Example B, by hand: 3 churners, 7 stayers; at threshold 0.5 TP 2, FN 1,
// FP 1, TN 6. Churn F1 = 2·2/(2·2+1+1) = 2/3; stay F1 = 2·6/(2·6+1+1) = 6/7;
// weighted F1 = (3·2/3 + 7·6/7)/10 = 0.8; accuracy 8/10.
var (
	bScores = []float64{0.9, 0.7, 0.2, 0.6, 0.1, 0.1, 0.3, 0.4, 0.05, 0.15}
	bLabels = []uint8{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
)

func TestMetricsHandComputed(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"A roc_auc (sklearn docs)", ROCAUC(aScores, aLabels), 0.75},
		{"A average precision (sklearn docs; 0.5·1 + 0.5·2/3)", AveragePrecision(aScores, aLabels), 5.0 / 6},
		{"A log loss -(ln .9+ln .6+ln .35+ln .8)/4", LogLoss(aScores, aLabels), -(math.Log(0.9) + math.Log(0.6) + math.Log(0.35) + math.Log(0.8)) / 4},
		{"A Brier (.01+.16+.4225+.04)/4", Brier(aScores, aLabels), 0.158125},
		{"B F1", ConfusionAt(bScores, bLabels, 0.5).F1(), 2.0 / 3},
		{"B precision", ConfusionAt(bScores, bLabels, 0.5).Precision(), 2.0 / 3},
		{"B recall", ConfusionAt(bScores, bLabels, 0.5).Recall(), 2.0 / 3},
		{"B accuracy", ConfusionAt(bScores, bLabels, 0.5).Accuracy(), 0.8},
		{"B weighted F1", ConfusionAt(bScores, bLabels, 0.5).WeightedF1(), 0.8},
		// B's ROC-AUC by counting (churner, stayer) pairs ranked right: 0.9
		// and 0.7 beat all 7 stayers, 0.2 beats 0.1, 0.1, 0.05 and 0.15: 18/21.
		{"B roc_auc pair count 18/21", ROCAUC(bScores, bLabels), 18.0 / 21},
		{"all tied roc_auc", ROCAUC([]float64{.5, .5, .5, .5}, []uint8{0, 1, 0, 1}), 0.5},
		{"all tied average precision", AveragePrecision([]float64{.5, .5, .5, .5}, []uint8{0, 1, 0, 1}), 0.5},
		{"one class roc_auc is NaN", ROCAUC([]float64{.1, .2}, []uint8{1, 1}), math.NaN()},
		{"no positives: F1 0 (zero_division=0)", ConfusionAt([]float64{.9}, []uint8{0}, 0.5).F1(), 0},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want) {
			t.Errorf("%s = %.12g, want %.12g", tt.name, tt.got, tt.want)
		}
	}
	if c := ConfusionAt(bScores, bLabels, 0.5); c != (Confusion{TP: 2, FP: 1, TN: 6, FN: 1}) {
		t.Errorf("ConfusionAt(B, 0.5) = %+v, want TP 2 FP 1 TN 6 FN 1", c)
	}
}

// TestBestF1Threshold on example A: thresholds 0.8, 0.4, 0.35, 0.1 give F1
// 2/3, 1/2, 4/5, 2/3; at precision 1 only 0.8 qualifies (recall 1/2).
func TestBestF1Threshold(t *testing.T) {
	tests := []struct {
		minP    float64
		thr, f1 float64
		ok      bool
	}{
		{0, 0.35, 0.8, true},
		{1, 0.8, 2.0 / 3, true},
		{0.7, 0.8, 2.0 / 3, true},
		{0.6, 0.35, 0.8, true},
	}
	for _, tt := range tests {
		thr, f1, ok := BestF1Threshold(aScores, aLabels, tt.minP)
		if !near(thr, tt.thr) || !near(f1, tt.f1) || ok != tt.ok {
			t.Errorf("BestF1Threshold(A, %v) = %v, %v, %v; want %v, %v, %v", tt.minP, thr, f1, ok, tt.thr, tt.f1, tt.ok)
		}
	}
	if _, _, ok := BestF1Threshold([]float64{0.9, 0.8}, []uint8{0, 1}, 0.99); ok {
		t.Error("BestF1Threshold: precision 0.99 is unreachable, want ok = false")
	}
}

func TestCalibration(t *testing.T) {
	got := Calibration([]float64{0.05, 0.15, 0.95, 1.0}, []uint8{0, 1, 1, 1}, 10)
	want := []CalibrationBin{{0, 0.1, 1, 0.05, 0}, {0.1, 0.2, 1, 0.15, 1}, {0.9, 1, 2, 0.975, 1}}
	if len(got) != len(want) {
		t.Fatalf("Calibration = %+v, want %+v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Count != w.Count || !near(g.Lo, w.Lo) || !near(g.Hi, w.Hi) || !near(g.MeanScore, w.MeanScore) || !near(g.Observed, w.Observed) {
			t.Errorf("bin %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestWeightedMatchesExpanded: the bootstrap's count-weighted metrics equal
// the plain metrics on the explicitly resampled rows.
func TestWeightedMatchesExpanded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 300
	s := make([]float64, n)
	l := make([]uint8, n)
	for i := range n {
		s[i] = math.Round(r.Float64()*20) / 20 // many ties
		if r.Float64() < s[i] {
			l[i] = 1
		}
	}
	rs := newResampler(s, l) // rows in ascending score order
	w := make([]float64, n)
	var es []float64
	var el []uint8
	for i := range n {
		w[i] = float64(r.IntN(3))
		for range int(w[i]) {
			es = append(es, rs.y[i])
			el = append(el, map[bool]uint8{false: 0, true: 1}[rs.cls[i]])
		}
	}
	got := rs.weighted(w, 0.5)
	want := point(es, el, 0.5)
	for _, c := range []struct {
		name string
		g, w float64
	}{{"f1", got.F1, want.F1}, {"weighted_f1", got.WeightedF1, want.WeightedF1}, {"roc_auc", got.ROCAUC, want.ROCAUC},
		{"pr_auc", got.PRAUC, want.PRAUC}, {"log_loss", got.LogLoss, want.LogLoss}, {"brier", got.Brier, want.Brier}} {
		if !near(c.g, c.w) {
			t.Errorf("weighted %s = %.12g, expanded %.12g", c.name, c.g, c.w)
		}
	}
}

func TestBootstrapCI(t *testing.T) {
	r := Compute(bScores, bLabels, 0.5, 200, 1)
	for _, k := range []string{"f1", "roc_auc", "pr_auc", "brier"} {
		ci, ok := r.CI95[k]
		if !ok || ci[0] > ci[1] {
			t.Errorf("CI95[%s] = %v, %v; want lo <= hi", k, ci, ok)
		}
	}
	if ci := r.CI95["f1"]; ci[0] > r.F1 || ci[1] < r.F1 {
		t.Errorf("f1 %v outside its interval %v", r.F1, ci)
	}
}

func TestTop(t *testing.T) {
	// 10 rows, 3 churners; by descending score: c, s, c, s, s, c, s, s, s, s.
	scores := []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05}
	labels := []uint8{1, 0, 1, 0, 0, 1, 0, 0, 0, 0}
	got := Top(scores, labels, []float64{10, 20, 35, 100})
	want := []TopShare{
		{Pct: 10, Rows: 1, Churners: 1, Precision: 1, Recall: 1.0 / 3, Lift: 1 / 0.3},
		{Pct: 20, Rows: 2, Churners: 1, Precision: 0.5, Recall: 1.0 / 3, Lift: 0.5 / 0.3},
		{Pct: 35, Rows: 4, Churners: 2, Precision: 0.5, Recall: 2.0 / 3, Lift: 0.5 / 0.3}, // ceil(3.5)
		{Pct: 100, Rows: 10, Churners: 3, Precision: 0.3, Recall: 1, Lift: 1},
	}
	const tol = 1e-12
	for i, w := range want {
		g := got[i]
		if g.Rows != w.Rows || g.Churners != w.Churners || math.Abs(g.Precision-w.Precision) > tol ||
			math.Abs(g.Recall-w.Recall) > tol || math.Abs(g.Lift-w.Lift) > tol {
			t.Errorf("Top(%v%%) = %+v, want %+v", w.Pct, g, w)
		}
	}
	for _, c := range []struct {
		n    int
		pct  float64
		want int
	}{{70, 10, 7}, {45, 10, 5}, {100, 7, 7}, {3, 5, 1}, {0, 10, 0}, {10, 0, 0}, {10, 150, 10}} {
		if got := TopCount(c.n, c.pct); got != c.want {
			t.Errorf("TopCount(%d, %v) = %d, want %d", c.n, c.pct, got, c.want)
		}
	}
}
