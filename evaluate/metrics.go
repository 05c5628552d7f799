package evaluate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat"
)

// Confusion is a 2×2 confusion matrix at a threshold.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
}

// ConfusionAt counts predictions score >= thr against labels.
func ConfusionAt(scores []float64, labels []uint8, thr float64) Confusion {
	var c Confusion
	for i, s := range scores {
		pred := s >= thr
		switch {
		case pred && labels[i] == 1:
			c.TP++
		case pred:
			c.FP++
		case labels[i] == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Precision of the positive class: TP / (TP + FP).
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall of the positive class: TP / (TP + FN).
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 of the positive (churn) class: 2TP / (2TP + FP + FN).
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// Accuracy: (TP + TN) / n.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.TP+c.TN+c.FP+c.FN) }

// F1Negative is the F1 of class 0: 2TN / (2TN + FN + FP).
func (c Confusion) F1Negative() float64 { return ratio(2*c.TN, 2*c.TN+c.FP+c.FN) }

// WeightedF1 is the support-weighted mean of both classes' F1, as
// scikit-learn's f1_score(average="weighted") and Spark ML's
// MulticlassClassificationEvaluator default metric "f1".
func (c Confusion) WeightedF1() float64 {
	pos, neg := c.TP+c.FN, c.TN+c.FP
	n := pos + neg
	if n == 0 {
		return 0
	}
	return (float64(pos)*c.F1() + float64(neg)*c.F1Negative()) / float64(n)
}

// order returns row indices sorted by descending score (ties keep row order).
func order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// CurvePoint is one threshold of a ROC or PR curve.
type CurvePoint struct {
	Threshold float64 `json:"threshold"`
	X         float64 `json:"x"` // ROC: false positive rate; PR: recall
	Y         float64 `json:"y"` // ROC: true positive rate; PR: precision
}

// cumulative walks distinct score thresholds from high to low and calls fn
// with the threshold and the TP and FP counts at score >= threshold.
func cumulative(scores []float64, labels []uint8, fn func(thr float64, tp, fp int)) {
	idx := order(scores)
	tp, fp := 0, 0
	for k, i := range idx {
		if labels[i] == 1 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && scores[idx[k+1]] == scores[i] {
			continue
		}
		fn(scores[i], tp, fp)
	}
}

func count(labels []uint8) (pos, neg int) {
	for _, y := range labels {
		if y == 1 {
			pos++
		}
	}
	return pos, len(labels) - pos
}

// ROC returns the ROC curve from (0,0) to (1,1), one point per distinct
// score (stat.ROC).
func ROC(scores []float64, labels []uint8) []CurvePoint {
	r := sortRows(scores, labels)
	tpr, fpr, thr := stat.ROC(nil, r.y, r.cls, nil)
	pts := make([]CurvePoint, len(tpr))
	for i := range tpr {
		pts[i] = CurvePoint{thr[i], fpr[i], tpr[i]}
	}
	return pts
}

// ROCAUC is the area under the ROC curve (stat.ROC, integrated by
// integrate.Trapezoidal over distinct thresholds, so ties count one half), as
// sklearn.metrics.roc_auc_score. It is NaN when labels hold one class only.
func ROCAUC(scores []float64, labels []uint8) float64 {
	auc, _ := sortRows(scores, labels).areas(nil)
	return auc
}

// rows are scores sorted ascending with their labels, as stat.ROC wants
// them; per-row values in the same order are row-weighted by areas.
type rows struct {
	y   []float64
	cls []bool
}

func sortRows(scores []float64, labels []uint8) rows {
	r := rows{y: slices.Clone(scores), cls: make([]bool, len(labels))}
	for i, l := range labels {
		r.cls[i] = l == 1
	}
	stat.SortWeightedLabeled(r.y, r.cls, nil)
	return r
}

// areas returns ROC-AUC and average precision of the rows weighted by w
// (nil: all 1; a bootstrap resample's counts): NaN when a class has no
// weight (average precision only needs positives).
func (r rows) areas(w []float64) (rocAUC, ap float64) {
	var pos, neg float64
	for i, c := range r.cls {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if c {
			pos += wi
		} else {
			neg += wi
		}
	}
	if pos == 0 {
		return math.NaN(), math.NaN()
	}
	tpr, fpr, _ := stat.ROC(nil, r.y, r.cls, w)
	rocAUC = math.NaN()
	if neg > 0 {
		rocAUC = integrate.Trapezoidal(fpr, tpr)
	} else {
		clear(fpr) // no negatives: stat.ROC's rates are 0/0
	}
	// average precision: sum over thresholds of the recall gained times the
	// precision there (counts recovered from the rates)
	for k := 1; k < len(tpr); k++ {
		if d := tpr[k] - tpr[k-1]; d > 0 {
			tp, fp := tpr[k]*pos, fpr[k]*neg
			ap += d * tp / (tp + fp)
		}
	}
	return rocAUC, ap
}

// PR returns the precision-recall curve, one point per distinct score, from
// the highest threshold down.
func PR(scores []float64, labels []uint8) []CurvePoint {
	pos, _ := count(labels)
	var pts []CurvePoint
	cumulative(scores, labels, func(thr float64, tp, fp int) {
		pts = append(pts, CurvePoint{thr, ratio(tp, pos), ratio(tp, tp+fp)})
	})
	return pts
}

// AveragePrecision is PR-AUC as sklearn.metrics.average_precision_score:
// sum over distinct thresholds of (R_k - R_{k-1}) * P_k, no interpolation,
// from the same stat.ROC pass as ROCAUC. It is NaN without positives.
func AveragePrecision(scores []float64, labels []uint8) float64 {
	_, ap := sortRows(scores, labels).areas(nil)
	return ap
}

// logLossEps clips probabilities to [eps, 1-eps] in LogLoss
// (sklearn.metrics.log_loss before 1.5 used the same clip).
const logLossEps = 1e-15

// rowLogLoss is one row's negative log-likelihood.
func rowLogLoss(p float64, y uint8) float64 {
	p = math.Min(math.Max(p, logLossEps), 1-logLossEps)
	if y == 1 {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}

// rowBrier is one row's squared error.
func rowBrier(p float64, y uint8) float64 {
	d := p - float64(y)
	return d * d
}

// perRow applies fn to every (score, label).
func perRow(scores []float64, labels []uint8, fn func(float64, uint8) float64) []float64 {
	v := make([]float64, len(scores))
	for i, p := range scores {
		v[i] = fn(p, labels[i])
	}
	return v
}

// LogLoss is the mean negative log-likelihood (stat.Mean of the per-row
// losses), probabilities clipped to [1e-15, 1-1e-15].
func LogLoss(scores []float64, labels []uint8) float64 {
	return stat.Mean(perRow(scores, labels, rowLogLoss), nil)
}

// Brier is the mean squared difference between probability and label
// (sklearn.metrics.brier_score_loss).
func Brier(scores []float64, labels []uint8) float64 {
	return stat.Mean(perRow(scores, labels, rowBrier), nil)
}

// CalibrationBin is one bin of a reliability diagram.
type CalibrationBin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Count     int     `json:"count"`
	MeanScore float64 `json:"mean_score"`
	Observed  float64 `json:"observed_rate"`
}

// Calibration cuts [0,1] into n equal-width bins (the last one closed) and
// reports the mean score and observed positive rate of each non-empty bin.
func Calibration(scores []float64, labels []uint8, n int) []CalibrationBin {
	sum := make([]float64, n)
	pos := make([]int, n)
	cnt := make([]int, n)
	for i, p := range scores {
		b := min(max(int(p*float64(n)), 0), n-1)
		sum[b] += p
		pos[b] += int(labels[i])
		cnt[b]++
	}
	var out []CalibrationBin
	for b := range n {
		if cnt[b] == 0 {
			continue
		}
		out = append(out, CalibrationBin{float64(b) / float64(n), float64(b+1) / float64(n), cnt[b],
			sum[b] / float64(cnt[b]), float64(pos[b]) / float64(cnt[b])})
	}
	return out
}

// BestF1Threshold returns the threshold (one of the scores) that maximises
// churn-class F1, and that F1. With minPrecision > 0 it instead returns the
// threshold with the highest recall among those whose precision is at least
// minPrecision (ok = false when none reaches it). Ties go to the higher
// threshold.
func BestF1Threshold(scores []float64, labels []uint8, minPrecision float64) (thr, f1 float64, ok bool) {
	pos, _ := count(labels)
	bestRecall := -1.0
	cumulative(scores, labels, func(t float64, tp, fp int) {
		c := Confusion{TP: tp, FP: fp, FN: pos - tp}
		if minPrecision > 0 {
			if c.Precision() >= minPrecision && c.Recall() > bestRecall {
				bestRecall, thr, f1, ok = c.Recall(), t, c.F1(), true
			}
			return
		}
		if v := c.F1(); v > f1 || !ok {
			thr, f1, ok = t, v, true
		}
	})
	return thr, f1, ok
}

// Report is the full set of figures for one scored table, with a stable
// JSON schema.
type Report struct {
	Rows       int       `json:"rows"`
	Positives  int       `json:"positives"`
	BaseRate   float64   `json:"base_rate"`
	Threshold  float64   `json:"threshold"`
	F1         float64   `json:"f1"`
	Precision  float64   `json:"precision"`
	Recall     float64   `json:"recall"`
	Accuracy   float64   `json:"accuracy"`
	WeightedF1 float64   `json:"weighted_f1"`
	ROCAUC     float64   `json:"roc_auc"`
	PRAUC      float64   `json:"pr_auc"`
	LogLoss    float64   `json:"log_loss"`
	Brier      float64   `json:"brier"`
	Confusion  Confusion `json:"confusion"`
	// CI95 holds bootstrap 95% percentile intervals [lo, hi] per metric name
	// (f1, precision, recall, accuracy, weighted_f1, roc_auc, pr_auc, log_loss, brier).
	CI95        map[string][2]float64 `json:"ci95,omitempty"`
	Bootstrap   int                   `json:"bootstrap_resamples"`
	Calibration []CalibrationBin      `json:"calibration"`
	// Lift is precision, recall and lift among the top LiftPcts % of rows
	// by score (Top).
	Lift []TopShare `json:"lift"`
}

// Compute fills a Report at threshold thr; with boot > 0 it adds bootstrap
// 95% intervals from boot resamples drawn with seed.
func Compute(scores []float64, labels []uint8, thr float64, boot int, seed uint64) Report {
	r := point(scores, labels, thr)
	r.Calibration = Calibration(scores, labels, 10)
	r.Lift = Top(scores, labels, LiftPcts)
	if boot > 0 {
		r.Bootstrap = boot
		r.CI95 = bootstrapCI(scores, labels, thr, boot, seed)
	}
	return r
}

func point(scores []float64, labels []uint8, thr float64) Report {
	c := ConfusionAt(scores, labels, thr)
	pos, _ := count(labels)
	return Report{
		Rows: len(labels), Positives: pos, BaseRate: ratio(pos, len(labels)), Threshold: thr,
		F1: c.F1(), Precision: c.Precision(), Recall: c.Recall(), Accuracy: c.Accuracy(), WeightedF1: c.WeightedF1(),
		ROCAUC: ROCAUC(scores, labels), PRAUC: AveragePrecision(scores, labels),
		LogLoss: LogLoss(scores, labels), Brier: Brier(scores, labels), Confusion: c,
	}
}

func bootstrapCI(scores []float64, labels []uint8, thr float64, boot int, seed uint64) map[string][2]float64 {
	r := rand.New(rand.NewPCG(seed, 0xb007))
	n := len(scores)
	rs := newResampler(scores, labels)
	w := make([]float64, n)
	names := []string{"f1", "precision", "recall", "accuracy", "weighted_f1", "roc_auc", "pr_auc", "log_loss", "brier"}
	vals := make([][]float64, len(names))
	for range boot {
		clear(w)
		for range n {
			w[r.IntN(n)]++
		}
		p := rs.weighted(w, thr)
		for k, v := range []float64{p.F1, p.Precision, p.Recall, p.Accuracy, p.WeightedF1, p.ROCAUC, p.PRAUC, p.LogLoss, p.Brier} {
			if !math.IsNaN(v) {
				vals[k] = append(vals[k], v)
			}
		}
	}
	out := map[string][2]float64{}
	for k, name := range names {
		if ci, ok := percentileCI(vals[k]); ok {
			out[name] = ci
		}
	}
	return out
}

// percentileCI is the bootstrap 95% percentile interval of v (sorted in
// place): stat.Quantile at 0.025 and 0.975, linearly interpolating the
// empirical distribution function (stat.LinInterp). ok is false for no values.
func percentileCI(v []float64) (ci [2]float64, ok bool) {
	if len(v) == 0 {
		return ci, false
	}
	slices.Sort(v)
	return [2]float64{stat.Quantile(0.025, stat.LinInterp, v, nil), stat.Quantile(0.975, stat.LinInterp, v, nil)}, true
}

// resampler holds a scored table in ascending score order with its per-row
// losses, so that a bootstrap resample is only a weight per row.
type resampler struct {
	rows
	ll, br []float64
}

func newResampler(scores []float64, labels []uint8) *resampler {
	rs := &resampler{rows: sortRows(scores, labels)}
	rs.ll, rs.br = make([]float64, len(scores)), make([]float64, len(scores))
	for i, p := range rs.y {
		var y uint8
		if rs.cls[i] {
			y = 1
		}
		rs.ll[i], rs.br[i] = rowLogLoss(p, y), rowBrier(p, y)
	}
	return rs
}

// weighted computes the point metrics of a resample in which the i-th row
// in ascending score order appears w[i] times. Same definitions as the
// unweighted functions (tested to agree).
func (rs *resampler) weighted(w []float64, thr float64) Report {
	var c Confusion
	var pos int
	for i, k := range w {
		if k == 0 {
			continue
		}
		n := int(k)
		pr := rs.y[i] >= thr
		switch {
		case pr && rs.cls[i]:
			c.TP += n
		case pr:
			c.FP += n
		case rs.cls[i]:
			c.FN += n
		default:
			c.TN += n
		}
		if rs.cls[i] {
			pos += n
		}
	}
	rep := Report{Rows: c.TP + c.FP + c.TN + c.FN, Positives: pos, Threshold: thr, F1: c.F1(), Precision: c.Precision(),
		Recall: c.Recall(), Accuracy: c.Accuracy(), WeightedF1: c.WeightedF1(), Confusion: c,
		LogLoss: stat.Mean(rs.ll, w), Brier: stat.Mean(rs.br, w)}
	rep.ROCAUC, rep.PRAUC = rs.areas(w)
	return rep
}

// ConfusionOf counts decisions (true: predicted churn) against labels.
func ConfusionOf(pred []bool, labels []uint8) Confusion {
	var c Confusion
	for i, p := range pred {
		switch {
		case p && labels[i] == 1:
			c.TP++
		case p:
			c.FP++
		case labels[i] == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// F1Interval is the bootstrap 95% percentile interval of the churn F1 of
// fixed decisions (pred) against labels: boot resamples of the rows drawn
// with replacement from seed; [0, 0] without rows or resamples.
func F1Interval(pred []bool, labels []uint8, boot int, seed uint64) [2]float64 {
	n := len(pred)
	if n == 0 || boot <= 0 {
		return [2]float64{}
	}
	// a resample only needs the counts of the four (decision, label) cells
	kind := make([]uint8, n) // 0 TP, 1 FP, 2 FN, 3 TN
	for i, p := range pred {
		switch {
		case p && labels[i] == 1:
			kind[i] = 0
		case p:
			kind[i] = 1
		case labels[i] == 1:
			kind[i] = 2
		default:
			kind[i] = 3
		}
	}
	r := rand.New(rand.NewPCG(seed, 0xf1b0))
	vals := make([]float64, boot)
	for b := range vals {
		var cnt [4]int
		for range n {
			cnt[kind[r.IntN(n)]]++
		}
		vals[b] = Confusion{TP: cnt[0], FP: cnt[1], FN: cnt[2], TN: cnt[3]}.F1()
	}
	ci, _ := percentileCI(vals)
	return ci
}
