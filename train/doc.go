// Package train is churnctl's random forest for a binary churn label:
// CART trees on quantile-binned features, Poisson bagging, per-split
// feature sampling, class weights, out-of-bag probabilities, impurity and
// permutation importances; stratified (optionally grouped) k-fold and
// out-of-time validation, seeded hyperparameter search, decision-threshold
// tuning; probability calibration (Platt or isotonic, fitted on out-of-fold
// probabilities: Calibrator); and the versioned model file (FORMAT.md).
//
// Semantics follow scikit-learn's RandomForestClassifier: max_features sqrt
// by default, drawn without replacement at each split (constant features
// count, but at least one non-constant feature is examined); a row's draw
// count acts as a row weight; class_weight balanced (n / (2 n_c) on all rows) or balanced_subsample (on
// each bootstrap sample); min_samples_leaf and min_samples_split count rows;
// gini or entropy; predict_proba is the mean over trees of each leaf's
// weighted class-1 fraction.
//
// Two deliberate differences. Bagging is Poisson: each row's count in a
// tree's sample is an independent Poisson(λ) draw (gonum's distuv.Poisson
// through sampleuv.IIDer), λ = 1 for max_samples 0, where scikit-learn draws
// n rows with replacement (Binomial(n, 1/n) counts, whose limit Poisson(1)
// is); independent counts let a shard of rows draw its part of a sample
// without the others. And the split search: each feature is cut once into at
// most MaxBins (256) bins at count-weighted empirical quantiles (as
// stat.Quantile defines them), as LightGBM and scikit-learn's
// HistGradientBoosting do, and a node's candidate splits are the bin edges.
// A feature with at most MaxBins distinct values keeps every distinct value,
// with thresholds halfway between neighbours, exactly like the exact
// splitter. Histograms make a node's split search linear in its rows.
//
// gonum: distuv/sampleuv draw the bags, floats does the vector sums,
// optimize (BFGS) fits Platt's sigmoid,
// evaluate (stat.ROC, integrate.Trapezoidal) scores. Two hot loops stay
// hand-written, each with its measured reason beside it: the bin-edge search
// (binEdges) and the histogram split scan (scanBins).
//
// Reproducibility: tree t draws from a PCG seeded with SplitMix64(seed, t),
// so a forest depends on the seed only, never on Jobs or scheduling; model
// bytes are identical for the same data and seed.
//
// Errors: bad parameters wrap errkind.Usage; NaN/Inf values (named by
// column and row), a single-class label and unreadable model files wrap
// errkind.BadInput.
package train
