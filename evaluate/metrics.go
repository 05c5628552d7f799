// Package evaluate computes binary-classification metrics from scores and
// labels: churn-class F1, precision, recall, accuracy, weighted F1, ROC-AUC,
// PR-AUC (average precision), log loss, Brier score, confusion matrix,
// calibration bins and bootstrap confidence intervals, and draws report
// charts with gonum/plot.
//
// Conventions: scores are probabilities of the positive class (churn = 1);
// labels are 0 or 1; a row is predicted positive when score >= threshold
// (scikit-learn's predict_proba >= t). Metric definitions follow
// scikit-learn 1.x (sklearn.metrics); undefined ratios (0/0) are 0, as
// scikit-learn's zero_division=0.
package evaluate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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

// ROC returns the ROC curve from (0,0) to (1,1), one point per distinct score.
func ROC(scores []float64, labels []uint8) []CurvePoint {
	pos, neg := count(labels)
	pts := []CurvePoint{{Threshold: math.Inf(1)}}
	cumulative(scores, labels, func(thr float64, tp, fp int) {
		pts = append(pts, CurvePoint{thr, ratio(fp, neg), ratio(tp, pos)})
	})
	return pts
}

// ROCAUC is the area under the ROC curve by the trapezoid rule over distinct
// thresholds (ties count one half), as sklearn.metrics.roc_auc_score. It is
// NaN when labels hold one class only.
func ROCAUC(scores []float64, labels []uint8) float64 {
	pos, neg := count(labels)
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	var area float64
	ptp, pfp := 0, 0
	cumulative(scores, labels, func(_ float64, tp, fp int) {
		area += float64(fp-pfp) * float64(tp+ptp) / 2
		ptp, pfp = tp, fp
	})
	return area / (float64(pos) * float64(neg))
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
// sum over distinct thresholds of (R_k - R_{k-1}) * P_k, no interpolation.
// It is NaN without positives.
func AveragePrecision(scores []float64, labels []uint8) float64 {
	pos, _ := count(labels)
	if pos == 0 {
		return math.NaN()
	}
	var ap, prevR float64
	cumulative(scores, labels, func(_ float64, tp, fp int) {
		r := float64(tp) / float64(pos)
		ap += (r - prevR) * float64(tp) / float64(tp+fp)
		prevR = r
	})
	return ap
}

// LogLoss is the mean negative log-likelihood, probabilities clipped to
// [eps, 1-eps] with eps = 1e-15 (sklearn.metrics.log_loss before 1.5 used the
// same clip).
func LogLoss(scores []float64, labels []uint8) float64 {
	const eps = 1e-15
	var s float64
	for i, p := range scores {
		p = math.Min(math.Max(p, eps), 1-eps)
		if labels[i] == 1 {
			s -= math.Log(p)
		} else {
			s -= math.Log(1 - p)
		}
	}
	return s / float64(len(scores))
}

// Brier is the mean squared difference between probability and label.
func Brier(scores []float64, labels []uint8) float64 {
	var s float64
	for i, p := range scores {
		d := p - float64(labels[i])
		s += d * d
	}
	return s / float64(len(scores))
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
}

// Compute fills a Report at threshold thr; with boot > 0 it adds bootstrap
// 95% intervals from boot resamples drawn with seed.
func Compute(scores []float64, labels []uint8, thr float64, boot int, seed uint64) Report {
	r := point(scores, labels, thr)
	r.Calibration = Calibration(scores, labels, 10)
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
	idx := order(scores) // sorted once; a resample is a count per row
	w := make([]int, n)
	names := []string{"f1", "precision", "recall", "accuracy", "weighted_f1", "roc_auc", "pr_auc", "log_loss", "brier"}
	vals := make([][]float64, len(names))
	for range boot {
		clear(w)
		for range n {
			w[r.IntN(n)]++
		}
		p := weighted(idx, scores, labels, w, thr)
		for k, v := range []float64{p.F1, p.Precision, p.Recall, p.Accuracy, p.WeightedF1, p.ROCAUC, p.PRAUC, p.LogLoss, p.Brier} {
			if !math.IsNaN(v) {
				vals[k] = append(vals[k], v)
			}
		}
	}
	out := map[string][2]float64{}
	for k, name := range names {
		v := vals[k]
		if len(v) == 0 {
			continue
		}
		slices.Sort(v)
		out[name] = [2]float64{quantile(v, 0.025), quantile(v, 0.975)}
	}
	return out
}

// weighted computes the point metrics of a resample in which row i appears
// w[i] times; idx orders rows by descending score. Same definitions as the
// unweighted functions (tested to agree).
func weighted(idx []int, scores []float64, labels []uint8, w []int, thr float64) Report {
	var c Confusion
	var pos, neg int
	var ll, br float64
	const eps = 1e-15
	for i, k := range w {
		if k == 0 {
			continue
		}
		p, y := scores[i], labels[i]
		pr := p >= thr
		switch {
		case pr && y == 1:
			c.TP += k
		case pr:
			c.FP += k
		case y == 1:
			c.FN += k
		default:
			c.TN += k
		}
		q := math.Min(math.Max(p, eps), 1-eps)
		d := p - float64(y)
		if y == 1 {
			pos += k
			ll -= float64(k) * math.Log(q)
		} else {
			neg += k
			ll -= float64(k) * math.Log(1-q)
		}
		br += float64(k) * d * d
	}
	n := pos + neg
	rep := Report{Rows: n, Positives: pos, Threshold: thr, F1: c.F1(), Precision: c.Precision(), Recall: c.Recall(),
		Accuracy: c.Accuracy(), WeightedF1: c.WeightedF1(), LogLoss: ll / float64(n), Brier: br / float64(n), Confusion: c,
		ROCAUC: math.NaN(), PRAUC: math.NaN()}
	if pos == 0 {
		return rep
	}
	var tp, fp, ptp, pfp int
	var area, ap, prevR float64
	for j, i := range idx {
		if k := w[i]; k > 0 {
			if labels[i] == 1 {
				tp += k
			} else {
				fp += k
			}
		}
		if j+1 < len(idx) && scores[idx[j+1]] == scores[i] {
			continue
		}
		if tp == ptp && fp == pfp {
			continue
		}
		area += float64(fp-pfp) * float64(tp+ptp) / 2
		rr := float64(tp) / float64(pos)
		ap += (rr - prevR) * float64(tp) / float64(tp+fp)
		prevR = rr
		ptp, pfp = tp, fp
	}
	rep.PRAUC = ap
	if neg > 0 {
		rep.ROCAUC = area / (float64(pos) * float64(neg))
	}
	return rep
}

// quantile of sorted v by linear interpolation (numpy's default).
func quantile(v []float64, q float64) float64 {
	h := q * float64(len(v)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(v)-1)
	return v[lo] + (h-float64(lo))*(v[hi]-v[lo])
}
