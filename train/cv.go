package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/internal/errkind"
)

// StratifiedFolds assigns each row to one of k folds so that every fold has
// about the same share of positives. With groups (one key per row, e.g. the
// user id when snapshots from several cutoffs are stacked), all rows of a
// group land in the same fold; a group counts as positive when any of its
// rows is. The assignment depends only on y, groups, k and seed.
func StratifiedFolds(y []uint8, groups []string, k int, seed uint64) ([]int, error) {
	n := len(y)
	if k < 2 {
		return nil, fmt.Errorf("%w: folds %d: want at least 2", errkind.Usage, k)
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
				errkind.BadInput, k, len(cls[c]), map[int]string{0: "negatives", 1: "positives"}[c], groups != nil)
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

// tuneThreshold picks the decision threshold on scored rows: max churn F1,
// or with minPrecision > 0 the highest recall at precision >= minPrecision
// (0.5 when that precision is never reached). It returns the threshold, the
// F1 there, the rule's name and whether the rule was met.
func tuneThreshold(s []float64, l []uint8, minPrecision float64) (thr, f1 float64, rule string, ok bool) {
	thr, f1, ok = evaluate.BestF1Threshold(s, l, minPrecision)
	rule = "max_f1"
	if minPrecision > 0 {
		rule = fmt.Sprintf("min_precision=%g", minPrecision)
	}
	if !ok {
		thr, f1 = 0.5, evaluate.ConfusionAt(s, l, 0.5).F1()
		rule += " (not reached: 0.5)"
	}
	return thr, f1, rule, ok
}

// DefaultInnerFolds is the number of inner folds of a nested threshold when
// the outer folds cannot serve as inner folds (out-of-time validation, or 2
// outer folds).
const DefaultInnerFolds = 5

// Nested is the outcome of NestedCV: the outer out-of-fold probabilities and,
// per outer fold, the threshold tuned without that fold.
type Nested struct {
	OOF []float64 // outer out-of-fold probability per row (NaN: not validated)
	// Thresholds[f] is outer fold f's threshold (NaN for folds not
	// validated), tuned on out-of-fold probabilities of f's training rows
	// only: the inner folds.
	Thresholds []float64
	// InnerFolds is the number of inner folds (the smallest used, when the
	// rarer class of some fold's training rows allowed fewer than asked).
	InnerFolds int
	// Untuned counts the outer folds scored at 0.5: their training rows
	// hold fewer than 2 churners or stayers (groups), too few for inner folds.
	Untuned int
}

// NestedCV cross-validates as CrossValidate and also tunes, for each
// validated outer fold f, a decision threshold on inner out-of-fold
// probabilities of f's training rows, so that no label of fold f (and no
// model trained on it) touches the threshold f is scored with.
//
// With k >= 3 outer folds and every fold validated, the inner folds of f are
// the other outer folds: inner model (f, g) trains on the folds other than f
// and g and predicts fold g for f's threshold and fold f for g's, so k(k-1)/2
// extra fits serve all k thresholds. Otherwise (out-of-time: only given, or k
// = 2) the training rows of f are split into innerFolds stratified folds
// (groups kept together; DefaultInnerFolds when innerFolds < 2; fewer when
// the training rows hold fewer churners or stayers).
func NestedCV(ctx context.Context, d *Dataset, fold, only []int, groups []string, innerFolds int, minPrecision float64, p Params, o FitOptions) (*Nested, error) {
	oof, err := CrossValidate(ctx, d, fold, only, p, o)
	if err != nil {
		return nil, err
	}
	k := slices.Max(fold) + 1
	nc := &Nested{OOF: oof, Thresholds: make([]float64, k)}
	for f := range nc.Thresholds {
		nc.Thresholds[f] = math.NaN()
	}
	byFold := make([][]int, k)
	for i, v := range fold {
		if v >= 0 {
			byFold[v] = append(byFold[v], i)
		}
	}
	validated := func(f int) bool { return len(byFold[f]) > 0 && (only == nil || slices.Contains(only, f)) }
	if only == nil && k >= 3 {
		nc.InnerFolds = k - 1
		// inner[f][g]: probabilities of fold g's rows from the model trained
		// without folds f and g
		inner := make([][][]float64, k)
		for f := range inner {
			inner[f] = make([][]float64, k)
		}
		for f := range k {
			for g := f + 1; g < k; g++ {
				var tr []int
				for h := range k {
					if h != f && h != g {
						tr = append(tr, byFold[h]...)
					}
				}
				slices.Sort(tr)
				po := o
				po.Seed = treeSeed(o.Seed^0x1e57ed, f*k+g)
				po.NoOOB = true
				m, err := Fit(ctx, d.Subset(tr), p, po)
				if err != nil {
					return nil, fmt.Errorf("inner folds %d and %d: %w", f+1, g+1, err)
				}
				inner[f][g] = m.PredictProba(d.Subset(byFold[g]), o.Jobs)
				inner[g][f] = m.PredictProba(d.Subset(byFold[f]), o.Jobs)
			}
		}
		for f := range k {
			if !validated(f) {
				continue
			}
			var s []float64
			var l []uint8
			for g := range k {
				if g == f {
					continue
				}
				s = append(s, inner[f][g]...)
				for _, i := range byFold[g] {
					l = append(l, d.Y[i])
				}
			}
			nc.Thresholds[f], _, _, _ = tuneThreshold(s, l, minPrecision)
		}
		return nc, nil
	}
	if innerFolds < 2 {
		innerFolds = DefaultInnerFolds
	}
	for f := range k {
		if !validated(f) {
			continue
		}
		var tr []int
		for i, v := range fold {
			if v >= 0 && v != f {
				tr = append(tr, i)
			}
		}
		sub := d.Subset(tr)
		var sg []string
		if groups != nil {
			sg = make([]string, len(tr))
			for j, i := range tr {
				sg[j] = groups[i]
			}
		}
		seed := treeSeed(o.Seed^0x1e57ed, f)
		// as many inner folds as asked for, or as the rarer class allows
		var ifold []int
		kk := innerFolds
		for ; kk >= 2; kk-- {
			if ifold, err = StratifiedFolds(sub.Y, sg, kk, seed); err == nil {
				break
			}
			if !errors.Is(err, errkind.BadInput) {
				return nil, err
			}
		}
		if kk < 2 { // fewer than 2 churners or stayers to train on
			nc.Thresholds[f] = 0.5
			nc.Untuned++
			continue
		}
		if nc.InnerFolds == 0 || kk < nc.InnerFolds {
			nc.InnerFolds = kk
		}
		io := o
		io.Seed = seed
		ioof, err := CrossValidate(ctx, sub, ifold, nil, p, io)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		nc.Thresholds[f], _, _, _ = tuneThreshold(ioof, sub.Y, minPrecision)
	}
	return nc, nil
}

// NestedFits is the number of forests NestedCV fits for k outer folds (only
// the validated ones when validated < k), for a progress bar.
func NestedFits(k, validated, innerFolds int) int {
	if validated == k && k >= 3 {
		return k + k*(k-1)/2
	}
	if innerFolds < 2 {
		innerFolds = DefaultInnerFolds
	}
	return validated * (1 + innerFolds)
}

// CVMetrics are the cross-validated, out-of-fold figures train reports.
type CVMetrics struct {
	Folds int `json:"folds"`
	Rows  int `json:"rows"` // rows that were validated
	// At threshold 0.5.
	F1        float64 `json:"cv_f1"`
	Precision float64 `json:"cv_precision"`
	Recall    float64 `json:"cv_recall"`
	ROCAUC    float64 `json:"cv_roc_auc"`
	PRAUC     float64 `json:"cv_pr_auc"`
	// The headline: churn F1 at a threshold tuned by nested cross-validation
	// (each outer fold scored at the threshold its inner folds chose), with
	// its bootstrap 95% interval over rows, and precision and recall of the
	// same decisions. InnerFolds is 0 in models written before format 2,
	// whose cv_f1_tuned is the optimistic figure (moved to
	// F1TunedOptimistic on reading).
	F1Tuned        float64    `json:"cv_f1_tuned"`
	F1TunedCI95    [2]float64 `json:"cv_f1_tuned_ci95"`
	PrecisionTuned float64    `json:"cv_precision_tuned"`
	RecallTuned    float64    `json:"cv_recall_tuned"`
	InnerFolds     int        `json:"inner_folds"`
	UntunedFolds   int        `json:"untuned_folds,omitempty"` // outer folds scored at 0.5: too few churners to tune on
	FoldThresholds []float64  `json:"fold_thresholds,omitempty"`
	// F1TunedOptimistic is the F1 at the threshold tuned on the very
	// out-of-fold probabilities it is scored on: optimistic, kept for
	// comparison. Threshold is that threshold, the one stored in the model
	// (tuned the same way on all rows: on the out-of-fold probabilities of
	// models that did not see them).
	F1TunedOptimistic float64 `json:"cv_f1_tuned_optimistic"`
	Threshold         float64 `json:"threshold"`
	ThreshRule        string  `json:"threshold_rule"`
	// ThresholdRaw is Threshold on the raw probability scale, where it was
	// tuned (absent: Threshold is raw, the model is uncalibrated).
	ThresholdRaw float64 `json:"threshold_raw,omitempty"`
	// Capacity: precision, recall and lift among the top 5, 10 and 20 % of
	// validated rows by out-of-fold probability (evaluate.Top; ties in row
	// order).
	Top5Precision  float64 `json:"cv_top5_precision"`
	Top5Recall     float64 `json:"cv_top5_recall"`
	Top5Lift       float64 `json:"cv_top5_lift"`
	Top10Precision float64 `json:"cv_top10_precision"`
	Top10Recall    float64 `json:"cv_top10_recall"`
	Top10Lift      float64 `json:"cv_top10_lift"`
	Top20Precision float64 `json:"cv_top20_precision"`
	Top20Recall    float64 `json:"cv_top20_recall"`
	Top20Lift      float64 `json:"cv_top20_lift"`
	// Probability quality of the out-of-fold probabilities, raw (the
	// forest's) and calibrated by Calibration (platt, isotonic or none)
	// cross-fitted: each row calibrated by a calibrator fitted without its
	// fold (CrossCalibrate), so the after figures are honest too. With
	// "none" (or in models before format 3, which have no figures: 0) the
	// after figures equal the raw ones.
	Calibration    string                    `json:"calibration,omitempty"`
	BrierRaw       float64                   `json:"cv_brier_raw"`
	LogLossRaw     float64                   `json:"cv_log_loss_raw"`
	Brier          float64                   `json:"cv_brier"`
	LogLoss        float64                   `json:"cv_log_loss"`
	ReliabilityRaw []evaluate.CalibrationBin `json:"reliability_raw,omitempty"`
	Reliability    []evaluate.CalibrationBin `json:"reliability,omitempty"`
}

// ReliabilityBins is the number of equal-width bins of the reliability
// curves.
const ReliabilityBins = 10

// Calibrated sets the probability-quality figures from raw out-of-fold
// probabilities and their cross-fitted calibrated values (NaN rows
// skipped).
func (m *CVMetrics) Calibrated(method string, raw, cal []float64, y []uint8) {
	s, l := validatedRows(raw, y)
	c, _ := validatedRows(cal, y)
	m.Calibration = method
	m.BrierRaw, m.LogLossRaw = evaluate.Brier(s, l), evaluate.LogLoss(s, l)
	m.Brier, m.LogLoss = evaluate.Brier(c, l), evaluate.LogLoss(c, l)
	m.ReliabilityRaw = evaluate.Calibration(s, l, ReliabilityBins)
	m.Reliability = evaluate.Calibration(c, l, ReliabilityBins)
}

// Score computes the CV figures from out-of-fold probabilities (NaN rows are
// skipped) and tunes the decision threshold on them: max churn F1, or with
// minPrecision > 0 the highest recall at precision >= minPrecision. The
// tuned F1 it reports is the optimistic one (F1TunedOptimistic; F1Tuned
// holds the same until Nested replaces it). Precision and recall are
// reported at 0.5, as cv_f1.
func Score(oof []float64, y []uint8, minPrecision float64) CVMetrics {
	s, l := validatedRows(oof, y)
	c := evaluate.ConfusionAt(s, l, 0.5)
	m := CVMetrics{Rows: len(s), F1: c.F1(), Precision: c.Precision(), Recall: c.Recall(),
		ROCAUC: evaluate.ROCAUC(s, l), PRAUC: evaluate.AveragePrecision(s, l)}
	if math.IsNaN(m.ROCAUC) { // one class only among validated rows
		m.ROCAUC = 0
	}
	if math.IsNaN(m.PRAUC) {
		m.PRAUC = 0
	}
	m.Threshold, m.F1TunedOptimistic, m.ThreshRule, _ = tuneThreshold(s, l, minPrecision)
	m.F1Tuned = m.F1TunedOptimistic
	top := evaluate.Top(s, l, evaluate.LiftPcts)
	m.Top5Precision, m.Top5Recall, m.Top5Lift = top[0].Precision, top[0].Recall, top[0].Lift
	m.Top10Precision, m.Top10Recall, m.Top10Lift = top[1].Precision, top[1].Recall, top[1].Lift
	m.Top20Precision, m.Top20Recall, m.Top20Lift = top[2].Precision, top[2].Recall, top[2].Lift
	m.Calibrated(CalibrationNone, oof, oof, y)
	return m
}

func validatedRows(oof []float64, y []uint8) (s []float64, l []uint8) {
	for i, p := range oof {
		if !math.IsNaN(p) {
			s = append(s, p)
			l = append(l, y[i])
		}
	}
	return s, l
}

// NestedBootstrap is the number of bootstrap resamples of the nested F1's
// interval.
const NestedBootstrap = 1000

// Nested sets the headline tuned figures from a nested cross-validation:
// each validated row is predicted churn when its outer out-of-fold
// probability reaches its fold's threshold; F1, precision and recall are
// pooled over all validated rows, and the F1's 95% interval is a percentile
// bootstrap over rows (NestedBootstrap resamples from seed).
func (m *CVMetrics) Nested(nc *Nested, fold []int, y []uint8, seed uint64) {
	var pred []bool
	var l []uint8
	for i, p := range nc.OOF {
		if math.IsNaN(p) {
			continue
		}
		pred = append(pred, p >= nc.Thresholds[fold[i]])
		l = append(l, y[i])
	}
	c := evaluate.ConfusionOf(pred, l)
	m.F1Tuned, m.PrecisionTuned, m.RecallTuned = c.F1(), c.Precision(), c.Recall()
	m.F1TunedCI95 = evaluate.F1Interval(pred, l, NestedBootstrap, seed)
	m.InnerFolds, m.UntunedFolds = nc.InnerFolds, nc.Untuned
	m.FoldThresholds = nil
	for _, t := range nc.Thresholds {
		if !math.IsNaN(t) {
			m.FoldThresholds = append(m.FoldThresholds, t)
		}
	}
}
