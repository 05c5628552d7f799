package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/internal/exitcode"
)

// StratifiedFolds assigns each row to one of k folds so that every fold has
// about the same share of positives. With groups (one key per row, e.g. the
// user id when snapshots from several cutoffs are stacked), all rows of a
// group land in the same fold; a group counts as positive when any of its
// rows is. The assignment depends only on y, groups, k and seed.
func StratifiedFolds(y []uint8, groups []string, k int, seed uint64) ([]int, error) {
	n := len(y)
	if k < 2 {
		return nil, fmt.Errorf("%w: folds %d: want at least 2", exitcode.ErrUsage, k)
	}
	// units are rows, or groups of rows
	var unitOf []int
	var unitY []uint8
	if groups != nil {
		id := map[string]int{}
		unitOf = make([]int, n)
		for i, g := range groups {
			u, ok := id[g]
			if !ok {
				u = len(unitY)
				id[g] = u
				unitY = append(unitY, 0)
			}
			unitOf[i] = u
			unitY[u] |= y[i]
		}
	} else {
		unitY = y
	}
	var cls [2][]int
	for u, v := range unitY {
		cls[v] = append(cls[v], u)
	}
	for c := range 2 {
		if len(cls[c]) < k {
			return nil, fmt.Errorf("%w: %d folds but only %d %s (by group: %v); use fewer folds",
				exitcode.ErrBadInput, k, len(cls[c]), map[int]string{0: "negatives", 1: "positives"}[c], groups != nil)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0xf01d))
	unitFold := make([]int, len(unitY))
	// deal positives then negatives round-robin, continuing the rotation, so
	// fold sizes differ by at most one in each class
	next := 0
	for c := 1; c >= 0; c-- {
		u := cls[c]
		r.Shuffle(len(u), func(i, j int) { u[i], u[j] = u[j], u[i] })
		for _, x := range u {
			unitFold[x] = next % k
			next++
		}
	}
	if unitOf == nil {
		return unitFold, nil
	}
	fold := make([]int, n)
	for i, u := range unitOf {
		fold[i] = unitFold[u]
	}
	return fold, nil
}

// CrossValidate fits one forest per fold on the other folds and returns the
// out-of-fold probability of every row (rows with fold < 0 are never
// validated and get NaN). With only, only those folds are validated (an
// out-of-time split validates fold 0 and only trains on fold 1).
func CrossValidate(ctx context.Context, d *Dataset, fold []int, only []int, p Params, o FitOptions) ([]float64, error) {
	k := slices.Max(fold) + 1
	oof := make([]float64, d.Rows())
	for i := range oof {
		oof[i] = math.NaN()
	}
	for f := range k {
		var tr, te []int
		for i, v := range fold {
			switch {
			case v == f:
				te = append(te, i)
			case v >= 0:
				tr = append(tr, i)
			}
		}
		if len(te) == 0 || (only != nil && !slices.Contains(only, f)) {
			continue
		}
		fo := o
		fo.Seed = o.Seed + uint64(f)*1_000_003
		fo.NoOOB = true
		m, err := Fit(ctx, d.Subset(tr), p, fo)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		pr := m.PredictProba(d.Subset(te), o.Jobs)
		for j, i := range te {
			oof[i] = pr[j]
		}
	}
	return oof, nil
}

// CVMetrics are the cross-validated, out-of-fold figures train reports.
type CVMetrics struct {
	Folds      int     `json:"folds"`
	Rows       int     `json:"rows"` // rows that were validated
	F1         float64 `json:"cv_f1"`
	F1Tuned    float64 `json:"cv_f1_tuned"`
	Precision  float64 `json:"cv_precision"`
	Recall     float64 `json:"cv_recall"`
	ROCAUC     float64 `json:"cv_roc_auc"`
	PRAUC      float64 `json:"cv_pr_auc"`
	Threshold  float64 `json:"threshold"`
	ThreshRule string  `json:"threshold_rule"`
}

// Score computes the CV figures from out-of-fold probabilities (NaN rows are
// skipped) and tunes the decision threshold: max churn F1, or with
// minPrecision > 0 the highest recall at precision >= minPrecision. Precision
// and recall are reported at 0.5, as cv_f1.
func Score(oof []float64, y []uint8, minPrecision float64) CVMetrics {
	var s []float64
	var l []uint8
	for i, p := range oof {
		if !math.IsNaN(p) {
			s = append(s, p)
			l = append(l, y[i])
		}
	}
	c := evaluate.ConfusionAt(s, l, 0.5)
	m := CVMetrics{Rows: len(s), F1: c.F1(), Precision: c.Precision(), Recall: c.Recall(),
		ROCAUC: evaluate.ROCAUC(s, l), PRAUC: evaluate.AveragePrecision(s, l)}
	if math.IsNaN(m.ROCAUC) { // one class only among validated rows
		m.ROCAUC = 0
	}
	if math.IsNaN(m.PRAUC) {
		m.PRAUC = 0
	}
	thr, f1, ok := evaluate.BestF1Threshold(s, l, minPrecision)
	m.ThreshRule = "max_f1"
	if minPrecision > 0 {
		m.ThreshRule = fmt.Sprintf("min_precision=%g", minPrecision)
	}
	if !ok {
		thr, f1 = 0.5, m.F1
		m.ThreshRule += " (not reached: 0.5)"
	}
	m.Threshold, m.F1Tuned = thr, f1
	return m
}
