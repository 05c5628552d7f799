// Package train is churnctl's random forest for a binary churn label:
// CART trees on quantile-binned features, bootstrap bagging, per-split
// feature sampling, class weights, out-of-bag probabilities, impurity and
// permutation importances; stratified (optionally grouped) k-fold and
// out-of-time validation, seeded hyperparameter search, decision-threshold
// tuning; and the versioned model file (FORMAT.md).
//
// Semantics follow scikit-learn's RandomForestClassifier: max_features sqrt
// by default, drawn without replacement at each split (constant features
// count, but at least one non-constant feature is examined); bootstrap of
// max_samples rows with replacement, the draw count acting as a row weight;
// class_weight balanced (n / (2 n_c) on all rows) or balanced_subsample (on
// each bootstrap sample); min_samples_leaf and min_samples_split count rows;
// gini or entropy; predict_proba is the mean over trees of each leaf's
// weighted class-1 fraction.
//
// The one deliberate difference is the split search: each feature is cut
// once into at most MaxBins (256) quantile bins, as LightGBM and
// scikit-learn's HistGradientBoosting do, and a node's candidate splits are
// the bin edges. A feature with at most MaxBins distinct values keeps every
// distinct value, with thresholds halfway between neighbours, exactly like
// the exact splitter. Histograms make a node's split search linear in its
// rows.
//
// Reproducibility: tree t draws from a PCG seeded with SplitMix64(seed, t),
// so a forest depends on the seed only, never on Jobs or scheduling; model
// bytes are identical for the same data and seed.
//
// Errors: bad parameters wrap exitcode.ErrUsage; NaN/Inf values (named by
// column and row), a single-class label and unreadable model files wrap
// exitcode.ErrBadInput.
package train
