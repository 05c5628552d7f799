package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/features/table"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/train"
	"github.com/churnctl/churnctl/train/registry"
)

func init() { register(newTrainCmd) }

type trainOptions struct {
	features     []string
	label, id    string
	registry     string
	lake         string
	name         string
	seed         int64
	jobs         int
	params       train.Params
	folds        int
	holdout      float64
	validateAsOf string
	minPrecision float64
	innerFolds   int
	searchBudget int
	search       string
	objective    string
	calibration  string
	oofOut       string
}

func newTrainCmd(a *App) *cobra.Command {
	o := &trainOptions{params: train.DefaultParams()}
	cmd := &cobra.Command{
		Use:   "train --features PATH... --name NAME",
		Short: "Train the random-forest churn model with cross-validation and register it",
		Long: `train fits churnctl's random forest (CART trees on quantile-binned features,
bootstrap bagging, per-split feature sampling, class weights) on a feature
table (Parquet or CSV files or directories) and registers the model as the
next version of NAME in the registry (as challenger; as champion too when the
name has none yet).

Before the final fit on all rows it cross-validates: stratified k-fold
(--folds, grouped by user when the same id appears under several cutoffs), or
out-of-time (--validate-as-of DATE: validate on the DATE snapshot, train on
earlier snapshots whose label window [as_of, as_of+horizon_days) ends by DATE;
horizon_days comes from features.schema.json, 0 when absent).

The decision threshold (max churn F1, or best recall at --min-precision) is
measured honestly by nested cross-validation: each outer fold is scored at
the threshold tuned on out-of-fold probabilities of its training rows only
(the other outer folds serve as inner folds; out-of-time validation and 2
folds use --inner-folds fresh folds of the training rows). That nested F1,
cv_f1_tuned, leads the summary with its bootstrap 95% interval; the
threshold tuned on the very out-of-fold probabilities it is scored on gives
cv_f1_tuned_optimistic, kept for comparison. The threshold stored in the
model is tuned the same way on all rows: on their out-of-fold probabilities.
--search-budget N tries N hyperparameter sets, scored on the folds only.

The forest's parameters follow scikit-learn's RandomForestClassifier.
The model file is byte-identical for the same input and --seed, whatever --jobs.

Probabilities are calibrated (--calibration platt, the default, or isotonic;
none keeps the forest's raw probability): the calibrator is fitted on the
out-of-fold probabilities, never on rows a forest that scored them saw, and
stored with the model, so that score's p_churn is a probability. The stored
threshold is the tuned one mapped through it (the same decisions). The
before/after Brier score and log loss are honest too: each row is
calibrated by a calibrator fitted without its fold.

Summary keys, in order: cv_f1_tuned (nested), cv_f1_tuned_ci95,
cv_precision_tuned, cv_recall_tuned, cv_f1_tuned_optimistic, cv_roc_auc,
cv_pr_auc, cv_f1, cv_precision, cv_recall (at 0.5), cv_top10_precision,
cv_top10_recall, cv_top10_lift (the top 10 % of users by probability),
cv_brier_raw, cv_brier, cv_log_loss_raw, cv_log_loss (before/after
calibration), calibration, threshold (on p_churn), fit_seconds, model, rows,
features, positives. metrics.json holds every figure (top 5/10/20 %, the
reliability curves).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTrain(cmd, a, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.features, "features", nil, "feature table files or directories (Parquet or CSV; repeatable)")
	f.StringVar(&o.label, "label", "churn", "label column (0/1)")
	f.StringVar(&o.id, "id", "user_id", "id column")
	addRegistryFlags(cmd, &o.registry, &o.lake)
	config.Var(f, &o.name, "train.name")
	config.Var(f, &o.seed, "train.seed")
	config.Var(f, &o.jobs, "train.jobs")
	p := &o.params
	config.Var(f, &p.Trees, "train.trees")
	config.Var(f, &p.MaxDepth, "train.max_depth")
	config.Var(f, &p.MinSamplesLeaf, "train.min_samples_leaf")
	config.Var(f, &p.MinSamplesSplit, "train.min_samples_split")
	config.Var(f, &p.MaxFeatures, "train.max_features")
	f.BoolVar(&p.Bootstrap, "bootstrap", p.Bootstrap, "bag rows for each tree (Poisson draw counts)")
	f.Float64Var(&p.MaxSamples, "max-samples", 0, "expected bag size: 0 all rows, a fraction in (0,1], or a count")
	f.StringVar(&p.Criterion, "criterion", p.Criterion, "split criterion: gini or entropy")
	config.Var(f, &p.ClassWeight, "train.class_weight")
	f.IntVar(&p.MaxBins, "max-bins", p.MaxBins, "quantile bins per feature for split search (2..256)")
	config.Var(f, &o.holdout, "train.holdout_users")
	config.Var(f, &o.folds, "train.folds")
	f.StringVar(&o.validateAsOf, "validate-as-of", "", "out-of-time validation: validate on the DATE snapshot, train on snapshots whose label window ends by DATE")
	f.Float64Var(&o.minPrecision, "min-precision", 0, "tune the threshold for the best recall at this precision (0: max F1)")
	f.IntVar(&o.innerFolds, "inner-folds", train.DefaultInnerFolds, "inner folds of the nested threshold with --validate-as-of or --folds 2 (otherwise the other outer folds are the inner folds)")
	f.IntVar(&o.searchBudget, "search-budget", 0, "hyperparameter sets to try on the folds (0: no search)")
	f.StringVar(&o.search, "search", "random", "search strategy: random (seeded) or grid")
	f.StringVar(&o.objective, "objective", "f1", "search objective: f1 (tuned churn F1) or pr_auc")
	f.StringVar(&o.oofOut, "oof-out", "", "also write every row's outer fold and out-of-fold probabilities (raw and cross-calibrated) to this CSV (for comparisons on the same folds)")
	config.Var(f, &o.calibration, "train.calibration")
	return cmd
}

func runTrain(cmd *cobra.Command, a *App, o *trainOptions) error {
	ctx := cmd.Context()
	if len(o.features) == 0 {
		return usageErrorf("--features is required")
	}
	if err := needRegistry(o.registry); err != nil {
		return err
	}
	if err := o.params.Validate(); err != nil {
		return err
	}
	if err := registry.ValidName(o.name); err != nil {
		return err
	}
	switch {
	case o.folds < 0 || o.folds == 1:
		return usageErrorf("--folds %d: want 0 (off) or at least 2", o.folds)
	case o.search != "random" && o.search != "grid":
		return usageErrorf("--search %q: want random or grid", o.search)
	case o.objective != "f1" && o.objective != "pr_auc":
		return usageErrorf("--objective %q: want f1 or pr_auc", o.objective)
	case o.minPrecision < 0 || o.minPrecision >= 1:
		return usageErrorf("--min-precision %g: want a value in [0,1)", o.minPrecision)
	case o.innerFolds < 2:
		return usageErrorf("--inner-folds %d: want at least 2", o.innerFolds)
	case o.oofOut != "" && o.folds == 0 && o.validateAsOf == "":
		return usageErrorf("--oof-out needs cross-validation (--folds or --validate-as-of)")
	}
	if err := train.CheckCalibrationMethod(o.calibration); err != nil {
		return usageErrorf("--calibration %q: want platt, isotonic or none", o.calibration)
	}
	start := time.Now()
	a.Log.Info("train start", "stage", "train", "features", o.features)
	t, err := table.Read(o.features, table.Options{Label: o.label, ID: o.id, RequireLabel: true,
		Split: table.UserSplit{Fraction: o.holdout, Keep: "train"}})
	if err != nil {
		return err
	}
	d := &train.Dataset{Names: t.Names(), Cols: t.Cols, Y: t.Label}
	if err := d.CheckFinite(); err != nil {
		return err
	}
	for _, f := range t.Features {
		if f.Type == "string" {
			return fmt.Errorf("%w: feature column %q is not numeric", exitcode.ErrBadInput, f.Name)
		}
	}
	cfg := train.Config{
		Params: o.params, Seed: uint64(o.seed), Jobs: o.jobs, Folds: o.folds, ValidateAsOf: o.validateAsOf, AsOf: t.AsOf, HorizonDays: t.HorizonDays,
		MinPrecision: o.minPrecision, InnerFolds: o.innerFolds, SearchBudget: o.searchBudget, Search: o.search, Objective: o.objective,
		Calibration: o.calibration, Log: a.Log,
	}
	if o.folds == 0 && o.validateAsOf == "" && o.calibration != train.CalibrationNone {
		a.Log.Warn("no cross-validation (--folds 0): no out-of-fold probabilities to calibrate on; the model is uncalibrated", "stage", "train")
	}
	if (o.folds > 0 || o.validateAsOf != "") && hasRepeats(t.IDs) {
		cfg.Groups = t.IDs
		a.Log.Info("ids repeat (stacked snapshots): folds are grouped by id", "stage", "train")
	}
	if a.ShowProgress() {
		fits := 1
		if o.folds > 0 || o.validateAsOf != "" {
			k, validated := o.folds, o.folds
			if o.validateAsOf != "" {
				k, validated = 2, 1
			}
			fits += validated*min(o.searchBudget, len(train.SearchGrid())) + train.NestedFits(k, validated, o.innerFolds)
		}
		bar := progressbar.NewOptions(fits*o.params.Trees, progressbar.OptionSetWriter(a.Stderr),
			progressbar.OptionSetDescription("trees"), progressbar.OptionClearOnFinish())
		defer bar.Finish()
		cfg.Progress = func() { _ = bar.Add(1) }
	}
	out, err := train.Run(ctx, d, cfg)
	if err != nil {
		return err
	}
	if o.oofOut != "" {
		if err := writeOOF(o.oofOut, t.IDs, t.AsOf, d.Y, out); err != nil {
			return err
		}
	}
	ver, _ := buildVersion()
	m := &train.Model{Forest: out.Forest, Header: train.Header{
		ChurnctlVersion: ver, Params: out.Params, Seed: uint64(o.seed), Label: o.label, ID: o.id,
		Threshold: out.Threshold, ThresholdRaw: out.ThresholdRaw, ThresholdRule: out.Rule, Calibration: out.Calibrator, Rows: t.Rows(), Positives: t.Positives(),
		DataSHA256: t.DataSHA256, CV: out.CV, OOB: out.OOB, Search: out.Search, Importance: map[string]float64{},
		TrainingRows: train.NewTrainingRows(t.IDs, t.AsOf),
	}}
	for i, f := range t.Features {
		m.Features = append(m.Features, train.FeatureSpec{Name: f.Name, Type: f.Type})
		m.Importance[f.Name] = out.Forest.Importance[i]
	}
	for _, f := range t.Files {
		m.Inputs = append(m.Inputs, train.InputFile{Name: f.Name, Bytes: f.Bytes, SHA256: f.SHA256})
	}
	var mb bytes.Buffer
	if _, err := m.WriteTo(&mb); err != nil {
		return err
	}
	metrics := map[string]any{"cv": out.CV, "oob": out.OOB, "fit_seconds": out.FitSeconds, "threshold": out.Threshold,
		"threshold_raw": out.ThresholdRaw, "threshold_rule": out.Rule, "calibration": out.Calibrator.Name(), "rows": t.Rows(), "positives": t.Positives(), "search": out.Search}
	meta := map[string]any{"created_at": time.Now().UTC().Format(time.RFC3339), "run_id": a.RunID, "churnctl_version": ver,
		"features_paths": o.features, "data_sha256": t.DataSHA256, "inputs": m.Inputs, "params": out.Params, "seed": uint64(o.seed),
		"label": o.label, "id": o.id, "jobs": o.jobs, "folds": o.folds, "validate_as_of": o.validateAsOf,
		"threshold": out.Threshold, "threshold_rule": out.Rule, "calibration": out.Calibrator.Name()}
	mj, _ := json.MarshalIndent(metrics, "", "  ")
	dj, _ := json.MarshalIndent(meta, "", "  ")
	v, reused, err := registry.Registry{Root: o.registry}.Register(o.name, map[string][]byte{
		registry.ModelFile: mb.Bytes(), "metrics.json": append(mj, '\n'), "metadata.json": append(dj, '\n'),
	})
	if err != nil {
		return err
	}
	if out.CV != nil { // the nested tuned F1 leads
		c := out.CV
		a.Summary.Set("cv_f1_tuned", c.F1Tuned)
		a.Summary.Set("cv_f1_tuned_ci95", c.F1TunedCI95)
		a.Summary.Set("cv_precision_tuned", c.PrecisionTuned)
		a.Summary.Set("cv_recall_tuned", c.RecallTuned)
		a.Summary.Set("cv_f1_tuned_optimistic", c.F1TunedOptimistic)
		a.Summary.Set("cv_roc_auc", c.ROCAUC)
		a.Summary.Set("cv_pr_auc", c.PRAUC)
		a.Summary.Set("cv_f1", c.F1)
		a.Summary.Set("cv_precision", c.Precision)
		a.Summary.Set("cv_recall", c.Recall)
		a.Summary.Set("cv_top10_precision", c.Top10Precision)
		a.Summary.Set("cv_top10_recall", c.Top10Recall)
		a.Summary.Set("cv_top10_lift", c.Top10Lift)
		a.Summary.Set("cv_brier_raw", c.BrierRaw)
		a.Summary.Set("cv_brier", c.Brier)
		a.Summary.Set("cv_log_loss_raw", c.LogLossRaw)
		a.Summary.Set("cv_log_loss", c.LogLoss)
	}
	a.Summary.Set("calibration", out.Calibrator.Name())
	a.Summary.Set("threshold", out.Threshold)
	a.Summary.Set("fit_seconds", round3(out.FitSeconds))
	a.Summary.Set("model", v.Ref())
	a.Summary.Set("rows", t.Rows())
	a.Summary.Set("features", len(t.Features))
	a.Summary.Set("positives", t.Positives())
	a.Summary.Set("reused_version", reused)
	if reused {
		a.Log.Info("the model is byte-identical to a registered version: reusing it", "stage", "train", "model", v.Ref())
	}
	a.Log.Info("train end", "stage", "train", "model", v.Ref(), "dir", v.Dir, "rows_in", t.Rows(),
		"duration_ms", time.Since(start).Milliseconds())
	return nil
}

// writeOOF writes id, as_of, fold (-1: not validated), churn, p_raw and
// p_calibrated per row, in table order (empty probabilities: not validated).
func writeOOF(path string, ids, asOf []string, y []uint8, out *train.Outcome) error {
	if out.OOF == nil {
		return usageErrorf("--oof-out needs cross-validation (--folds or --validate-as-of)")
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"id", "as_of", "fold", "churn", "p_raw", "p_calibrated"})
	f := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	for i := range out.OOF {
		a := ""
		if asOf != nil {
			a = asOf[i]
		}
		_ = w.Write([]string{ids[i], a, strconv.Itoa(out.Fold[i]), strconv.Itoa(int(y[i])), f(out.OOF[i]), f(out.OOFCalibrated[i])})
	}
	w.Flush()
	return writeFileAtomic(path, b.Bytes())
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func hasRepeats(ids []string) bool {
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			return true
		}
		seen[id] = struct{}{}
	}
	return false
}
