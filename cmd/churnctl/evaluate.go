package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/features/table"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/sql"
	"github.com/churnctl/churnctl/train"
	"github.com/churnctl/churnctl/train/registry"
)

func init() { register(newEvaluateCmd) }

type evaluateOptions struct {
	model     string
	features  []string
	label, id string
	registry  string
	lake      string
	report    string
	json      bool
	bootstrap int
	seed      uint64
	jobs      int
	holdout   float64
	dataset   string
	noRecord  bool
	// allowTrainingRows lets evaluate score rows the model was fitted on;
	// the evaluation is then labelled dataset "training" everywhere.
	allowTrainingRows bool
}

// datasetTraining names an evaluation that includes rows the model was
// fitted on (--allow-training-rows): its figures are optimistic.
const datasetTraining = "training"

// evaluation is evaluate's JSON output (stable schema).
type evaluation struct {
	Model    string   `json:"model"`
	Features []string `json:"features"`
	// Dataset names the evaluated rows: holdout (users train
	// --holdout-users left out), eval, training (rows the model was fitted
	// on, only with --allow-training-rows) or --dataset.
	Dataset string `json:"dataset"`
	// TrainingRows counts the evaluated rows the model was fitted on (null:
	// the model does not record its training rows).
	TrainingRows *int `json:"training_rows"`
	evaluate.Report
	// Probability calibration: the model's method and the raw forest
	// probabilities' figures, beside the calibrated ones (brier, log_loss,
	// calibration: p_churn's) in Report.
	CalibrationMethod     string                    `json:"calibration_method"`
	BrierRaw              float64                   `json:"brier_raw"`
	LogLossRaw            float64                   `json:"log_loss_raw"`
	CalibrationRaw        []evaluate.CalibrationBin `json:"calibration_raw"`
	ImpurityImportance    map[string]float64        `json:"impurity_importance"`
	PermutationImportance map[string]float64        `json:"permutation_importance,omitempty"`
}

func newEvaluateCmd(a *App) *cobra.Command {
	o := &evaluateOptions{}
	cmd := &cobra.Command{
		Use:   "evaluate --model REF --features PATH...",
		Short: "Evaluate a model on a labelled feature table (F1, ROC-AUC, PR-AUC, calibration, report)",
		Long: `evaluate scores a labelled feature table with a model and reports the churn
class F1 at the model's stored threshold (the headline), precision, recall,
accuracy, weighted F1 (Spark's default "f1", for comparison with published
numbers), ROC-AUC, PR-AUC (average precision), log loss, Brier score, the
confusion matrix, the base rate, and bootstrap 95% intervals.

Output: a table on a terminal, else (or with --json) one JSON document with a
stable schema. --report DIR also writes report.md, metrics.json and ROC, PR,
calibration and feature-importance charts (SVG), and report.html, the same
report as one self-contained page with the charts inlined.

evaluate refuses (exit 3) a table holding rows the model was fitted on (the
model records its training rows: train/FORMAT.md): such scores say nothing
about new users. --allow-training-rows scores them anyway and labels the
evaluation dataset "training" in the summary, the JSON, the report and the
metric history (churn.model_metric); promote never judges on such rows.

REF: NAME (its champion), NAME@champion, NAME@challenger, NAME@VERSION, or a
model file path.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runEvaluate(cmd.Context(), a, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model reference (NAME, NAME@champion, NAME@challenger, NAME@VERSION or a file; default: the champion of train.name)")
	f.StringArrayVar(&o.features, "features", nil, "labelled feature table files or directories")
	f.StringVar(&o.label, "label", "", "label column (default: the model's)")
	f.StringVar(&o.id, "id", "", "id column (default: the model's)")
	addRegistryFlags(cmd, &o.registry, &o.lake)
	f.StringVar(&o.report, "report", "", "write report.md, metrics.json and charts into this directory")
	f.BoolVar(&o.json, "json", false, "print JSON even on a terminal")
	f.IntVar(&o.bootstrap, "bootstrap", 500, "bootstrap resamples for the 95% intervals (0: none)")
	f.Uint64Var(&o.seed, "seed", 42, "bootstrap and permutation seed")
	addHoldoutFlag(cmd, &o.holdout)
	f.StringVar(&o.dataset, "dataset", "", "name of the evaluation data in the registry's metric history (default: holdout with --holdout-users, else eval)")
	f.BoolVar(&o.noRecord, "no-record", false, "do not append this evaluation to the model version's evaluations.json")
	f.BoolVar(&o.allowTrainingRows, "allow-training-rows", false, "score rows the model was fitted on too (the evaluation is labelled dataset \"training\")")
	f.IntVar(&o.jobs, "jobs", 0, "parallel prediction, 0: all cores")
	return cmd
}

// addHoldoutFlag adds --holdout-users to evaluate and promote: judge only
// the users that `train --holdout-users` with the same share left out.
func addHoldoutFlag(cmd *cobra.Command, dst *float64) {
	config.Var(cmd.Flags(), dst, "train.holdout_users")
}

// holdoutSide selects the held-out users, or every row when share is 0.
func holdoutSide(share float64) table.UserSplit {
	return table.UserSplit{Fraction: share, Keep: "holdout"}
}

// scoreTable loads a model and a feature table and predicts p_churn (the
// calibrated probability).
func scoreTable(reg, ref string, paths []string, label, id string, needLabel bool, jobs int, split table.UserSplit) (*train.Model, registry.Version, *table.Table, *train.Dataset, []float64, error) {
	m, v, t, d, p, _, err := scoreTableRaw(reg, ref, paths, label, id, needLabel, jobs, split)
	return m, v, t, d, p, err
}

// scoreTableRaw is scoreTable that also returns the forest's raw
// probabilities (the same slice as p for an uncalibrated model).
func scoreTableRaw(reg, ref string, paths []string, label, id string, needLabel bool, jobs int, split table.UserSplit) (*train.Model, registry.Version, *table.Table, *train.Dataset, []float64, []float64, error) {
	m, v, err := loadModel(reg, ref)
	if err != nil {
		return nil, v, nil, nil, nil, nil, err
	}
	if label == "" {
		label = m.Label
	}
	if id == "" {
		id = m.ID
	}
	t, err := table.Read(paths, table.Options{Label: label, ID: id, RequireLabel: needLabel, IgnoreLabel: !needLabel, Split: split})
	if err != nil {
		return nil, v, nil, nil, nil, nil, err
	}
	d, err := alignFeatures(m, t)
	if err != nil {
		return nil, v, nil, nil, nil, nil, err
	}
	if err := d.CheckFinite(); err != nil {
		return nil, v, nil, nil, nil, nil, err
	}
	raw := m.Forest.PredictProba(d, jobs)
	p := raw
	if m.Calibration != nil {
		p = m.Calibration.ApplyAll(raw)
	}
	return m, v, t, d, p, raw, nil
}

func evaluateModel(reg, ref string, paths []string, label, id string, jobs int, split table.UserSplit) (*train.Model, registry.Version, *table.Table, *train.Dataset, []float64, error) {
	m, v, t, d, p, err := scoreTable(reg, ref, paths, label, id, true, jobs, split)
	if err != nil {
		return nil, v, nil, nil, nil, err
	}
	if err := twoClasses(d.Y); err != nil {
		return nil, v, nil, nil, nil, err
	}
	return m, v, t, d, p, nil
}

// twoClasses refuses labels of one class only.
func twoClasses(y []uint8) error {
	pos := 0
	for _, v := range y {
		pos += int(v)
	}
	if pos == 0 || pos == len(y) {
		return fmt.Errorf("%w: the evaluation table has one class only (%d of %d rows positive): ROC-AUC and F1 are undefined",
			exitcode.ErrBadInput, pos, len(y))
	}
	return nil
}

// trainingOverlap marks the rows of t the model was fitted on; known is
// false for a model that does not record its training rows.
func trainingOverlap(m *train.Model, t *table.Table) (mask []bool, n int, known bool) {
	if m.TrainingRows == nil {
		return make([]bool, t.Rows()), 0, false
	}
	mask, n = m.TrainingRows.Overlap(t.IDs, t.AsOf)
	return mask, n, true
}

// datasetName is the dataset an evaluation is recorded under.
func datasetName(o *evaluateOptions, trainingRows int) string {
	switch {
	case trainingRows > 0:
		return datasetTraining
	case o.dataset != "":
		return o.dataset
	case o.holdout > 0:
		return "holdout"
	}
	return "eval"
}

func runEvaluate(ctx context.Context, a *App, o *evaluateOptions) error {
	if len(o.features) == 0 {
		return usageErrorf("--features is required")
	}
	if err := needRegistry(o.registry); err != nil {
		return err
	}
	if o.model == "" {
		o.model = a.championOf()
	}
	start := time.Now()
	m, v, t, d, p, err := evaluateModel(o.registry, o.model, o.features, o.label, o.id, o.jobs, holdoutSide(o.holdout))
	if err != nil {
		return err
	}
	_, overlap, known := trainingOverlap(m, t)
	var trainingRows *int
	if known {
		trainingRows = &overlap
	} else {
		a.Log.Warn("the model does not record the rows it was trained on (written by an older churnctl): cannot tell whether these rows are new to it",
			"stage", "evaluate", "model", modelRef(v))
	}
	if overlap > 0 && !o.allowTrainingRows {
		how := "evaluate rows it never saw (the users `train --holdout-users` left out: pass the same --holdout-users here)"
		if o.holdout > 0 {
			how = "evaluate rows it never saw (is --holdout-users the share train used?)"
		}
		return fmt.Errorf("%w: %d of %d evaluation rows are rows %s was trained on (same %s and as_of): a score on them says nothing about new users; %s, or pass --allow-training-rows to score them anyway (recorded as dataset %q)",
			exitcode.ErrBadInput, overlap, t.Rows(), modelRef(v), t.IDName, how, datasetTraining)
	}
	dataset := datasetName(o, overlap)
	if overlap > 0 {
		a.Log.Warn("evaluating on rows the model was trained on (--allow-training-rows): recorded as dataset training",
			"stage", "evaluate", "training_rows", overlap, "rows_in", t.Rows())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep := evaluate.Compute(p, d.Y, m.Threshold, o.bootstrap, o.seed)
	ev := evaluation{Model: modelRef(v), Features: o.features, Dataset: dataset, TrainingRows: trainingRows, Report: rep, ImpurityImportance: m.Importance,
		CalibrationMethod: m.Calibration.Name(), BrierRaw: rep.Brier, LogLossRaw: rep.LogLoss, CalibrationRaw: rep.Calibration}
	if m.Calibration != nil { // the forest's own probabilities, for the before/after
		raw := m.Forest.PredictProba(d, o.jobs)
		ev.BrierRaw, ev.LogLossRaw = evaluate.Brier(raw, d.Y), evaluate.LogLoss(raw, d.Y)
		ev.CalibrationRaw = evaluate.Calibration(raw, d.Y, train.ReliabilityBins)
	}
	if o.report != "" {
		pd := d
		if d.Rows() > permRows { // a seeded sample keeps the report quick
			pd = d.Subset(sampleRows(d.Rows(), permRows, o.seed))
		}
		pi, err := m.Forest.PermutationImportance(ctx, pd, o.seed, 1, o.jobs)
		if err != nil {
			return err
		}
		ev.PermutationImportance = map[string]float64{}
		for i, n := range d.Names {
			ev.PermutationImportance[n] = pi[i]
		}
		if err := writeReport(o.report, &ev, m, d, p, pi); err != nil {
			return err
		}
	}
	if o.json || !a.StdoutTTY {
		b, err := marshalJSONIndent(ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "%s\n", b)
	} else {
		printEvaluation(a.Stdout, &ev)
	}
	for _, kv := range []struct {
		k string
		v any
	}{{"model", ev.Model}, {"dataset", dataset}, {"training_rows", trainingRows}, {"rows", rep.Rows}, {"positives", rep.Positives}, {"threshold", rep.Threshold},
		{"f1", rep.F1}, {"precision", rep.Precision}, {"recall", rep.Recall}, {"accuracy", rep.Accuracy},
		{"weighted_f1", rep.WeightedF1}, {"roc_auc", rep.ROCAUC}, {"pr_auc", rep.PRAUC},
		{"calibration", ev.CalibrationMethod}, {"brier_raw", ev.BrierRaw}, {"brier", rep.Brier}, {"log_loss_raw", ev.LogLossRaw}, {"log_loss", rep.LogLoss},
		{"top10_precision", rep.Lift[1].Precision}, {"top10_recall", rep.Lift[1].Recall}, {"top10_lift", rep.Lift[1].Lift}} {
		a.Summary.Set(kv.k, kv.v)
	}
	if o.report != "" {
		a.Summary.Set("report", filepath.Join(o.report, "report.md"))
	}
	if v.File == "" && v.Dir != "" && !o.noRecord {
		if err := recordEvaluation(v.Dir, dataset, &ev, time.Now().UTC()); err != nil {
			return err
		}
	}
	a.Log.Info("evaluate end", "stage", "evaluate", "model", ev.Model, "rows_in", rep.Rows, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// recordEvaluation appends the headline metrics of an evaluation to the
// version's evaluations.json (metric history for churn.model_metric).
func recordEvaluation(dir, dataset string, ev *evaluation, at time.Time) error {
	rep := &ev.Report
	type row struct {
		Metric      string    `json:"metric"`
		Value       float64   `json:"value"`
		Dataset     string    `json:"dataset"`
		EvaluatedAt time.Time `json:"evaluated_at"`
	}
	path := filepath.Join(dir, sql.EvaluationsFile)
	var rows []row
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &rows); err != nil {
			return fmt.Errorf("evaluate: %s: %w", path, err)
		}
	}
	metrics := []struct {
		k string
		v float64
	}{{"f1", rep.F1}, {"precision", rep.Precision}, {"recall", rep.Recall}, {"accuracy", rep.Accuracy},
		{"weighted_f1", rep.WeightedF1}, {"roc_auc", rep.ROCAUC}, {"pr_auc", rep.PRAUC}, {"log_loss", rep.LogLoss},
		{"brier", rep.Brier}, {"rows", float64(rep.Rows)}, {"brier_raw", ev.BrierRaw}, {"log_loss_raw", ev.LogLossRaw}}
	for _, t := range rep.Lift {
		k := fmt.Sprintf("top%g_", t.Pct)
		metrics = append(metrics, []struct {
			k string
			v float64
		}{{k + "precision", t.Precision}, {k + "recall", t.Recall}, {k + "lift", t.Lift}}...)
	}
	for _, m := range metrics {
		if !math.IsNaN(m.v) && !math.IsInf(m.v, 0) {
			rows = append(rows, row{Metric: m.k, Value: m.v, Dataset: dataset, EvaluatedAt: at})
		}
	}
	b, err := marshalJSONIndent(rows)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func ci(r *evaluate.Report, k string) string {
	c, ok := r.CI95[k]
	if !ok {
		return ""
	}
	return fmt.Sprintf("[%.4f, %.4f]", c[0], c[1])
}

func metricRows(r *evaluate.Report) [][3]string {
	f := func(x float64) string { return fmt.Sprintf("%.4f", x) }
	return [][3]string{
		{"churn F1", f(r.F1), ci(r, "f1")},
		{"precision", f(r.Precision), ci(r, "precision")},
		{"recall", f(r.Recall), ci(r, "recall")},
		{"accuracy", f(r.Accuracy), ci(r, "accuracy")},
		{"weighted F1", f(r.WeightedF1), ci(r, "weighted_f1")},
		{"ROC-AUC", f(r.ROCAUC), ci(r, "roc_auc")},
		{"PR-AUC", f(r.PRAUC), ci(r, "pr_auc")},
		{"log loss", f(r.LogLoss), ci(r, "log_loss")},
		{"Brier", f(r.Brier), ci(r, "brier")},
	}
}

// liftRows are the capacity table's rows: contacting the top k % of users.
func liftRows(r *evaluate.Report) [][]string {
	var out [][]string
	for _, t := range r.Lift {
		out = append(out, []string{fmt.Sprintf("top %g %%", t.Pct), fmt.Sprint(t.Rows), fmt.Sprint(t.Churners),
			fmt.Sprintf("%.4f", t.Precision), fmt.Sprintf("%.4f", t.Recall), fmt.Sprintf("%.2f", t.Lift)})
	}
	return out
}

func printEvaluation(w io.Writer, ev *evaluation) {
	r := &ev.Report
	fmt.Fprintf(w, "model %s on %d rows (dataset %s), base rate %.4f, threshold %.4f\n\n", ev.Model, r.Rows, ev.Dataset, r.BaseRate, r.Threshold)
	if ev.TrainingRows != nil && *ev.TrainingRows > 0 {
		fmt.Fprintf(w, "WARNING: %d of these rows were used to fit the model: these figures are optimistic\n\n", *ev.TrainingRows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\t95% CI")
	for _, row := range metricRows(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", row[0], row[1], row[2])
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncalibration %s: Brier %.4f → %.4f, log loss %.4f → %.4f (raw forest → p_churn)\n",
		ev.CalibrationMethod, ev.BrierRaw, r.Brier, ev.LogLossRaw, r.LogLoss)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "top users\tcontacted\tchurners\tprecision\trecall\tlift")
	for _, row := range liftRows(r) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	c := r.Confusion
	fmt.Fprintf(w, "\nconfusion      pred churn  pred stay\nactual churn   %10d %10d\nactual stay    %10d %10d\n", c.TP, c.FN, c.FP, c.TN)
}

// writeReport writes report.md (charts linked), report.html (one
// self-contained page, charts inlined), metrics.json and the SVG charts.
func writeReport(dir string, ev *evaluation, m *train.Model, d *train.Dataset, p []float64, perm []float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := &ev.Report
	f4 := func(x float64) string { return fmt.Sprintf("%.4f", x) }
	doc := &evaluate.Doc{Title: "Churn model evaluation: " + ev.Model}
	doc.Para(fmt.Sprintf("Data: %s — %d rows, %d churners (base rate %.4f). Decision threshold %.4f (%s).",
		strings.Join(ev.Features, ", "), r.Rows, r.Positives, r.BaseRate, r.Threshold, m.ThresholdRule))
	ds := "Dataset: **" + ev.Dataset + "**"
	switch {
	case ev.TrainingRows == nil:
		ds += " (the model does not record its training rows: whether they overlap these is unknown)."
	case *ev.TrainingRows > 0:
		ds += fmt.Sprintf(" — %d of these %d rows were used to fit the model: the figures below are optimistic and say nothing about new users.", *ev.TrainingRows, r.Rows)
	default:
		ds += " — none of these rows was used to fit the model."
	}
	doc.Para(ds)
	t := [][]string{{"metric", "value", fmt.Sprintf("bootstrap 95%% CI (%d resamples)", r.Bootstrap)}}
	for _, row := range metricRows(r) {
		t = append(t, row[:])
	}
	doc.Table(t)
	c := r.Confusion
	doc.Table([][]string{{"", "predicted churn", "predicted stay"},
		{"actual churn", fmt.Sprint(c.TP), fmt.Sprint(c.FN)}, {"actual stay", fmt.Sprint(c.FP), fmt.Sprint(c.TN)}})
	if c := m.CV; c != nil {
		tuned := fmt.Sprintf("%.4f at the nested tuned threshold (95%% CI [%.4f, %.4f], %d inner folds), %.4f optimistic (threshold tuned on the rows it scores)",
			c.F1Tuned, c.F1TunedCI95[0], c.F1TunedCI95[1], c.InnerFolds, c.F1TunedOptimistic)
		if c.InnerFolds == 0 { // model format 1: no nested figure
			tuned = fmt.Sprintf("%.4f optimistic (threshold tuned on the rows it scores; the model predates the nested figure)", c.F1TunedOptimistic)
		}
		doc.Para(fmt.Sprintf("Training cross-validation (%d folds, out-of-fold): churn F1 %s; %.4f at 0.5; ROC-AUC %.4f; PR-AUC %.4f.",
			c.Folds, tuned, c.F1, c.ROCAUC, c.PRAUC))
		if c.Calibration != "" { // format 3
			doc.Para(fmt.Sprintf("Training cross-validation, top 10 %% of users: precision %.4f, recall %.4f, lift %.2f. Calibration %s: Brier %.4f → %.4f, log loss %.4f → %.4f (each row calibrated without its fold).",
				c.Top10Precision, c.Top10Recall, c.Top10Lift, c.Calibration, c.BrierRaw, c.Brier, c.LogLossRaw, c.LogLoss))
		}
	}
	doc.Heading("Ranking")
	doc.Chart("roc.svg", evaluate.ROCChart(p, d.Y))
	doc.Chart("pr.svg", evaluate.PRChart(p, d.Y))
	doc.Heading("Capacity: contacting the top users")
	doc.Para(fmt.Sprintf("Users ranked by p_churn; lift is the precision over the base rate (%.4f): how many times more churners the contacted users hold than as many users picked at random.", r.BaseRate))
	lt := [][]string{{"top users", "contacted", "churners", "precision", "recall", "lift"}}
	doc.Table(append(lt, liftRows(r)...))
	doc.Heading("Calibration")
	if ev.CalibrationMethod == train.CalibrationNone {
		doc.Para("The model is not calibrated (calibration none, or a model written before churnctl calibrated): p_churn is the forest's raw probability.")
		doc.Chart("calibration.svg", evaluate.CalibrationChart(evaluate.CalibrationCurve{Name: "model", Bins: r.Calibration}))
	} else {
		doc.Para(fmt.Sprintf("p_churn is the forest's raw probability calibrated by **%s** (fitted on the training cross-validation's out-of-fold probabilities). On these rows: Brier score %.4f raw → %.4f calibrated, log loss %.4f → %.4f.",
			ev.CalibrationMethod, ev.BrierRaw, r.Brier, ev.LogLossRaw, r.LogLoss))
		doc.Chart("calibration.svg", evaluate.CalibrationChart(evaluate.CalibrationCurve{Name: "raw forest", Bins: ev.CalibrationRaw},
			evaluate.CalibrationCurve{Name: "calibrated (" + ev.CalibrationMethod + ")", Bins: r.Calibration}))
	}
	cal := [][]string{{"predicted", "rows", "mean score", "observed rate"}}
	for _, b := range r.Calibration {
		cal = append(cal, []string{fmt.Sprintf("%.1f–%.1f", b.Lo, b.Hi), fmt.Sprint(b.Count), f4(b.MeanScore), f4(b.Observed)})
	}
	doc.Table(cal)
	if ev.CalibrationMethod != train.CalibrationNone {
		raw := [][]string{{"raw forest probability", "rows", "mean score", "observed rate"}}
		for _, b := range ev.CalibrationRaw {
			raw = append(raw, []string{fmt.Sprintf("%.1f–%.1f", b.Lo, b.Hi), fmt.Sprint(b.Count), f4(b.MeanScore), f4(b.Observed)})
		}
		doc.Table(raw)
	}
	doc.Heading("Feature importance")
	doc.Chart("importance.svg", evaluate.ImportanceChart("Impurity importance (training)", d.Names, m.Forest.Importance, 20))
	doc.Chart("permutation_importance.svg", evaluate.ImportanceChart("Permutation importance (ROC-AUC drop, this data)", d.Names, perm, 20))
	if math.IsNaN(r.ROCAUC) {
		doc.Para("ROC-AUC is undefined (one class).")
	}
	if err := evaluate.WriteCharts(dir, doc.Charts()); err != nil {
		return err
	}
	b, err := marshalJSONIndent(ev)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(doc.HTML()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(doc.Markdown()), 0o644)
}

// permRows caps the rows used for permutation importance.
const permRows = 5000

// sampleRows returns k distinct row indices out of n, sorted, from seed.
func sampleRows(n, k int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x5a3b1e))
	p := r.Perm(n)[:k]
	slices.Sort(p)
	return p
}
