// Package evaluate computes binary-classification metrics from scores and
// labels: churn-class F1, precision, recall, accuracy, weighted F1, ROC-AUC,
// PR-AUC (average precision), log loss, Brier score, confusion matrix,
// calibration bins and bootstrap confidence intervals, and draws report
// charts as self-contained SVG.
//
// The numerics stand on gonum: the ROC curve is stat.ROC and its area
// integrate.Trapezoidal; log loss and Brier score are stat.Mean of the
// per-row losses; bootstrap resamples are row weights passed to the same
// functions, and their percentile intervals are stat.Quantile.
//
// Conventions: scores are probabilities of the positive class (churn = 1);
// labels are 0 or 1; a row is predicted positive when score >= threshold
// (scikit-learn's predict_proba >= t). Metric definitions follow
// scikit-learn 1.x (sklearn.metrics); undefined ratios (0/0) are 0, as
// scikit-learn's zero_division=0.
package evaluate
