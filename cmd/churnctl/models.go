package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/features/table"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/train"
	"github.com/churnctl/churnctl/train/registry"
)

func init() { register(newModelsCmd) }

func newModelsCmd(a *App) *cobra.Command {
	var reg, lakeDir string
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, show and promote registered models",
		Long: `The registry keeps DIR/<name>/<version>/ (model.crf, metrics.json,
metadata.json) and DIR/<name>/aliases.json with the aliases champion and
challenger. train registers each new model as challenger (and as champion
when the name has none); promote makes a version champion only if it beats
the current champion on the same evaluation data by --min-gain.`,
		Args: cobra.NoArgs,
	}
	config.Var(cmd.PersistentFlags(), &reg, "registry")
	config.Var(cmd.PersistentFlags(), &lakeDir, "lake")
	cmd.AddCommand(newModelsListCmd(a, &reg), newModelsShowCmd(a, &reg), newModelsPromoteCmd(a, &reg))
	return cmd
}

type modelListRow struct {
	registry.Version
	CVF1      *float64 `json:"cv_f1,omitempty"`
	CVROCAUC  *float64 `json:"cv_roc_auc,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	CreatedAt string   `json:"created_at,omitempty"`
}

func newModelsListCmd(a *App, reg *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List model versions with their aliases and cross-validated figures",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needRegistry(*reg); err != nil {
				return err
			}
			r := registry.Registry{Root: *reg}
			names := args
			if len(names) == 0 {
				var err error
				if names, err = r.Names(); err != nil {
					return err
				}
			}
			var rows []modelListRow
			for _, n := range names {
				vs, err := r.Versions(n)
				if err != nil {
					return err
				}
				for _, v := range vs {
					row := modelListRow{Version: v}
					var met struct {
						CV *struct {
							F1     float64 `json:"cv_f1"`
							ROCAUC float64 `json:"cv_roc_auc"`
						} `json:"cv"`
						Threshold *float64 `json:"threshold"`
					}
					var meta struct {
						CreatedAt string `json:"created_at"`
					}
					if err := registry.ReadJSON(v, "metrics.json", &met); err != nil {
						return err
					}
					if err := registry.ReadJSON(v, "metadata.json", &meta); err != nil {
						return err
					}
					if met.CV != nil {
						row.CVF1, row.CVROCAUC = &met.CV.F1, &met.CV.ROCAUC
					}
					row.Threshold, row.CreatedAt = met.Threshold, meta.CreatedAt
					rows = append(rows, row)
				}
			}
			if asJSON || !a.StdoutTTY {
				for _, r := range rows {
					b, _ := marshalJSON(r)
					fmt.Fprintf(a.Stdout, "%s\n", b)
				}
			} else {
				tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MODEL\tALIASES\tCV F1\tCV ROC-AUC\tTHRESHOLD\tCREATED")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref(), strings.Join(r.Aliases, ","), fptr(r.CVF1), fptr(r.CVROCAUC), fptr(r.Threshold), r.CreatedAt)
				}
				tw.Flush()
			}
			a.Summary.Set("models", len(rows))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line even on a terminal")
	return cmd
}

func fptr(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

func newModelsShowCmd(a *App, reg *string) *cobra.Command {
	return &cobra.Command{
		Use:   "show REF",
		Short: "Show a model's header (params, features, threshold, data hash), metrics and metadata as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needRegistry(*reg); err != nil {
				return err
			}
			m, v, err := loadModel(*reg, args[0])
			if err != nil {
				return err
			}
			var metrics, meta any
			if err := registry.ReadJSON(v, "metrics.json", &metrics); err != nil {
				return err
			}
			if err := registry.ReadJSON(v, "metadata.json", &meta); err != nil {
				return err
			}
			// The training rows' ids are for membership tests, not for reading.
			h := map[string]any{}
			hb, err := json.Marshal(m.Header)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(hb, &h); err != nil {
				return err
			}
			if m.TrainingRows != nil {
				h["training_rows"] = m.TrainingRows.Summary()
			}
			out := map[string]any{"model": modelRef(v), "dir": v.Dir, "aliases": v.Aliases, "header": h, "metrics": metrics, "metadata": meta}
			b, err := marshalJSONIndent(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s\n", b)
			a.Summary.Set("model", modelRef(v))
			return nil
		},
	}
}

type promoteOptions struct {
	features  []string
	label, id string
	minGain   float64
	metric    string
	jobs      int
	holdout   float64
}

func newModelsPromoteCmd(a *App, reg *string) *cobra.Command {
	o := &promoteOptions{}
	cmd := &cobra.Command{
		Use:   "promote NAME[@VERSION|@challenger] --features PATH... [--min-gain G]",
		Short: "Make a model version champion if it beats the current champion on the same data",
		Long: `promote evaluates the candidate (default: NAME@challenger) and the current
champion on the same labelled feature table and makes the candidate champion
only if candidate - champion >= --min-gain on --metric (f1: churn F1 at each
model's own stored threshold; pr_auc; roc_auc). Otherwise it refuses with
exit code 5 and prints both figures. With no champion yet, the candidate is
promoted without comparison; so it is, with a warning and
champion_features_differ in the summary, when the champion was trained on
other features than the table's (a churnctl upgrade added some): it could
score neither this table nor the next snapshot.

Both models are judged only on the rows of --features that neither was
trained on (each model records its training rows); those left out are
counted in the summary (rows_excluded), and a table made only of training
rows exits 3. Summary: champion is the champion after the command
(previous_champion when this promotion replaced one).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runPromote(cmd.Context(), a, *reg, args[0], o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.features, "features", nil, "labelled evaluation table (files or directories)")
	f.StringVar(&o.label, "label", "", "label column (default: the models')")
	f.StringVar(&o.id, "id", "", "id column (default: the models')")
	config.Var(f, &o.minGain, "train.min_gain")
	f.StringVar(&o.metric, "metric", "f1", "comparison metric: f1, pr_auc or roc_auc")
	addHoldoutFlag(cmd, &o.holdout)
	f.IntVar(&o.jobs, "jobs", 0, "parallel prediction, 0: all cores")
	return cmd
}

// judged is one model of a promotion and its predictions on the table.
type judged struct {
	ref string
	m   *train.Model
	t   *table.Table
	d   *train.Dataset
	p   []float64
}

// refsOf names the models judged: "a" or "a or b".
func refsOf(js []*judged) string {
	var n []string
	for _, j := range js {
		n = append(n, j.ref)
	}
	return strings.Join(n, " or ")
}

func promoteMetric(metric string, m *train.Model, d *train.Dataset, p []float64) float64 {
	switch metric {
	case "pr_auc":
		return evaluate.AveragePrecision(p, d.Y)
	case "roc_auc":
		return evaluate.ROCAUC(p, d.Y)
	}
	return evaluate.ConfusionAt(p, d.Y, m.Threshold).F1()
}

func runPromote(ctx context.Context, a *App, reg, ref string, o *promoteOptions) error {
	switch o.metric {
	case "f1", "pr_auc", "roc_auc":
	default:
		return usageErrorf("--metric %q: want f1, pr_auc or roc_auc", o.metric)
	}
	if len(o.features) == 0 {
		return usageErrorf("--features is required (the evaluation data both models are compared on)")
	}
	if err := needRegistry(reg); err != nil {
		return err
	}
	if !strings.Contains(ref, "@") {
		ref += "@" + registry.Challenger
	}
	r := registry.Registry{Root: reg}
	cand, err := r.Resolve(ref)
	if err != nil {
		return err
	}
	if cand.Name == "" {
		return usageErrorf("promote takes a registered model (NAME@VERSION), not a path")
	}
	a.Summary.Set("candidate", cand.Ref())
	a.Summary.Set("metric", o.metric)
	champ, err := r.Resolve(cand.Name + "@" + registry.Champion)
	noChampion := errors.Is(err, registry.ErrNoAlias)
	if err != nil && !noChampion {
		return err
	}
	score := func(ref string) (*judged, error) {
		m, _, t, d, p, err := evaluateModel(reg, ref, o.features, o.label, o.id, o.jobs, holdoutSide(o.holdout))
		if err != nil {
			return nil, err
		}
		return &judged{ref, m, t, d, p}, nil
	}
	models := []*judged{}
	c, err := score(cand.Ref())
	if err != nil {
		return fmt.Errorf("candidate %s: %w", cand.Ref(), err)
	}
	models = append(models, c)
	same := !noChampion && champ.Version == cand.Version
	if !noChampion && !same {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := score(champ.Ref())
		switch {
		case errors.Is(err, errSchemaDiffers):
			// The champion was trained on other features (an older
			// churnctl): it can score neither this table nor the next
			// snapshot, so it cannot stay champion, and there is nothing
			// to compare the candidate with.
			a.Log.Warn("the champion's features differ from the table's: promoting the candidate without a comparison",
				"stage", "models", "champion", champ.Ref(), "candidate", cand.Ref(), "error", err.Error())
			a.Summary.Set("champion_features_differ", true)
			a.Summary.Set("previous_champion", champ.Ref())
			noChampion = true
		case err != nil:
			return fmt.Errorf("champion %s: %w", champ.Ref(), err)
		default:
			if h.t.Rows() != c.t.Rows() {
				return fmt.Errorf("%w: the evaluation table read %d rows for %s and %d for %s (different id or label columns?)",
					exitcode.ErrBadInput, c.t.Rows(), c.ref, h.t.Rows(), h.ref)
			}
			models = append(models, h)
		}
	}
	// Judge only on rows neither model was fitted on: a score on training
	// rows says nothing about new users.
	excluded := make([]bool, c.t.Rows())
	nExcluded := 0
	for _, j := range models {
		mask, n, known := trainingOverlap(j.m, j.t)
		if !known {
			a.Log.Warn("the model does not record the rows it was trained on (written by an older churnctl): cannot keep them out of the comparison",
				"stage", "models", "model", j.ref)
		}
		if n > 0 {
			a.Log.Warn("leaving out rows a model was trained on", "stage", "models", "model", j.ref, "training_rows", n, "rows_in", j.t.Rows())
		}
		for i, x := range mask {
			if x && !excluded[i] {
				excluded[i] = true
				nExcluded++
			}
		}
	}
	a.Summary.Set("rows_excluded", nExcluded)
	if nExcluded > 0 {
		var keep []int
		for i, x := range excluded {
			if !x {
				keep = append(keep, i)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("%w: all %d rows of --features were used to train %s: promote judges models only on rows neither was fitted on (hold users out with train --holdout-users and pass the same --holdout-users here)",
				exitcode.ErrBadInput, c.t.Rows(), refsOf(models))
		}
		for _, j := range models {
			j.d = j.d.Subset(keep)
			p := make([]float64, len(keep))
			for k, i := range keep {
				p[k] = j.p[i]
			}
			j.p = p
		}
		if err := twoClasses(c.d.Y); err != nil {
			return fmt.Errorf("the %d rows neither model was trained on: %w", len(keep), err)
		}
	}
	a.Summary.Set("rows", c.d.Rows())
	cs := promoteMetric(o.metric, c.m, c.d, c.p)
	a.Summary.Set("candidate_score", cs)
	if !noChampion {
		a.Summary.Set("champion", champ.Ref())
		if same {
			a.Log.Info("already champion", "model", cand.Ref())
			a.Summary.Set("promoted", false)
			return nil
		}
		h := models[1]
		hs := promoteMetric(o.metric, h.m, h.d, h.p)
		gain := cs - hs
		a.Summary.Set("champion_score", hs)
		a.Summary.Set("gain", gain)
		if gain < o.minGain {
			a.Summary.Set("promoted", false)
			return fmt.Errorf("%w: %s %s %.4f vs champion %s %.4f: gain %+.4f is below --min-gain %g",
				exitcode.ErrRefused, cand.Ref(), o.metric, cs, champ.Ref(), hs, gain, o.minGain)
		}
	}
	if err := r.SetAlias(cand.Name, registry.Champion, cand.Version); err != nil {
		return err
	}
	if !noChampion {
		a.Summary.Set("previous_champion", champ.Ref())
	}
	a.Summary.Set("champion", cand.Ref())
	a.Summary.Set("promoted", true)
	a.Log.Info("promoted", "stage", "models", "model", cand.Ref())
	return nil
}
