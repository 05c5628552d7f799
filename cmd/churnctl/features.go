package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/features"
	"github.com/churnctl/churnctl/internal/config"
)

func init() { register(newFeaturesCmd) }

type featuresOptions struct {
	lake     string
	asOf     []string
	every    string
	from, to string
	horizon  config.Days
	window   config.Days
	out      string
	format   string
}

func newFeaturesCmd(a *App) *cobra.Command {
	o := &featuresOptions{}
	cmd := &cobra.Command{
		Use:   "features --lake DIR --as-of YYYY-MM-DD [--as-of ...] --horizon 30d",
		Short: "Leak-free per-user feature snapshots as of a cutoff, with churn labels from a later window",
		Long: `features builds, for each cutoff T (midnight UTC of --as-of), one row per user who has
events before T and has not churned before T, with features computed only from gold
fact_user_day partitions dt < T (count features over the window [T-W, T), default 30 days;
trends over fixed 7/14-day windows; tenure = T - registration) and the label churn = 1 iff
the user reaches "Cancellation Confirmation" in [T, T+H). Partitions dt >= T+H are never
read. When the lake's data ends before T+H, the snapshot is unlabeled (churn null), said in
the schema file, the summary and the log.

Output: DIR/features/as_of=YYYY-MM-DD/part-0.parquet (published atomically), with
features.schema.json (feature names, types, descriptions, category codes) beside it; or
--out PATH (features.schema.json goes in PATH's directory; with several cutoffs a
directory of PATH must contain {as_of}, e.g. out/{as_of}/features.csv). CSV has every column numeric
except user_id (bools 0/1, categories as integer codes, no as_of column) so pandas and
scikit-learn load it as is; Parquet and Arrow hold the categories' values as
(dictionary-encoded) strings.

Summary: users (distinct users over all snapshots), rows (rows over all
snapshots: a user is a row of each snapshot it is active before), positives
(churners of the labeled snapshots; null when none is labeled), snapshots
(per cutoff: as_of, rows, positives, null when unlabeled). It warns when one
feature alone separates the label with ROC-AUC above 0.95.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runFeatures(cmd, a, o) },
	}
	f := cmd.Flags()
	config.Var(f, &o.lake, "lake")
	f.StringArrayVar(&o.asOf, "as-of", nil, "cutoff date YYYY-MM-DD (repeatable)")
	f.StringVar(&o.every, "every", "", "cutoff spacing (e.g. 7d) from --from to --to inclusive")
	f.StringVar(&o.from, "from", "", "first cutoff with --every")
	f.StringVar(&o.to, "to", "", "last possible cutoff with --every")
	config.Var(f, &o.horizon, "features.horizon")
	config.Var(f, &o.window, "features.window")
	f.StringVar(&o.out, "out", "", `output file instead of the lake partition ({as_of} is replaced by the cutoff; with several cutoffs put it in a directory: out/{as_of}/f.csv; "-": one snapshot to stdout, without its schema file, and the summary line on stderr)`)
	f.StringVar(&o.format, "format", "parquet", "output format: parquet, csv or arrow (Arrow IPC file)")
	return cmd
}

// parseDays parses a positive span of days (30d, 4w or 30) with the
// settings' parser (config.ParseDays).
func parseDays(flag, s string) (int, error) {
	d, err := config.ParseDays(s)
	if err != nil || d < 1 {
		return 0, usageErrorf("--%s %q: want a positive number of days, like 30d or 4w", flag, s)
	}
	return int(d), nil
}

func (o *featuresOptions) cutoffs() ([]features.Date, error) {
	var out []features.Date
	for _, s := range o.asOf {
		d, _, err := dayFlag("as-of", s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if o.every == "" && o.from == "" && o.to == "" {
		if len(out) == 0 {
			return nil, usageErrorf("give --as-of, or --every with --from and --to")
		}
		return out, nil
	}
	if len(out) > 0 {
		return nil, usageErrorf("--as-of and --every/--from/--to are exclusive")
	}
	if o.every == "" || o.from == "" || o.to == "" {
		return nil, usageErrorf("--every, --from and --to go together")
	}
	step, err := parseDays("every", o.every)
	if err != nil {
		return nil, err
	}
	w, err := dayWindow("", o.from, o.to)
	if err != nil {
		return nil, err
	}
	for d := w.From; d <= w.To; d += features.Date(step) {
		out = append(out, d)
	}
	return out, nil
}

func runFeatures(cmd *cobra.Command, a *App, o *featuresOptions) error {
	if o.lake == "" {
		return usageErrorf("--lake is required")
	}
	cuts, err := o.cutoffs()
	if err != nil {
		return err
	}
	h, w := int(o.horizon), int(o.window)
	if h < 1 {
		return usageErrorf("--horizon %v: want a positive number of days, like 30d or 4w", o.horizon)
	}
	if w < 1 {
		return usageErrorf("--window %v: want a positive number of days, like 30d or 4w", o.window)
	}
	out := o.out
	if out == "-" {
		// One table on stdout (the summary goes to stderr): built in a
		// scratch file, then copied, so a failure writes nothing to stdout.
		// Its features.schema.json is not kept.
		if len(cuts) != 1 {
			return usageErrorf("--out - writes one snapshot to stdout: give one --as-of (got %d cutoffs)", len(cuts))
		}
		tmp, err := os.MkdirTemp("", "churnctl-features-")
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, "features."+o.format)
	}
	ver, _ := buildVersion()
	res, err := features.Run(cmd.Context(), features.RunConfig{
		Lake: o.lake, Cutoffs: cuts, HorizonDays: h, WindowDays: w, Out: out, Format: o.format,
		Version: ver, RunID: a.RunID, Log: a.Log,
	})
	if err == nil && o.out == "-" {
		for i := range res {
			if err = copyToStdout(a, res[i].Path); err != nil {
				break
			}
			res[i].Path = "-"
		}
	}
	// users are distinct users over all snapshots (a user is a row of
	// every snapshot it is active before); rows count the rows; positives
	// sum the labeled snapshots' (null when none is labeled).
	rows, positives, anyLabeled := 0, 0, false
	distinct := map[string]struct{}{}
	var snapshots []map[string]any
	var asOf, paths []string
	var labeled []bool
	warnings := []string{}
	var topAUC []map[string]any
	for _, r := range res {
		// the feature that alone separates churn best (either direction)
		best, bestAUC := "", 0.0
		for _, f := range r.AUCs {
			if v := max(f.AUC, 1-f.AUC); v > bestAUC {
				best, bestAUC = f.Feature, v
			}
		}
		if best != "" {
			topAUC = append(topAUC, map[string]any{"as_of": r.AsOf.String(), "feature": best, "roc_auc": math.Round(bestAUC*1000) / 1000})
		}
		rows += r.Users
		for _, id := range r.IDs {
			distinct[id] = struct{}{}
		}
		var pos any // null: an unlabeled snapshot has no positives to count
		if r.Labeled {
			positives += r.Positives
			anyLabeled = true
			pos = r.Positives
		}
		snapshots = append(snapshots, map[string]any{"as_of": r.AsOf.String(), "rows": r.Users, "positives": pos, "labeled": r.Labeled})
		asOf = append(asOf, r.AsOf.String())
		labeled = append(labeled, r.Labeled)
		paths = append(paths, r.Path)
		warnings = append(warnings, r.Warnings...)
	}
	a.Summary.Set("users", len(distinct))
	a.Summary.Set("rows", rows)
	if anyLabeled {
		a.Summary.Set("positives", positives)
	} else {
		a.Summary.Set("positives", nil)
	}
	a.Summary.Set("snapshots", snapshots)
	a.Summary.Set("features", len(features.Features()))
	if len(cuts) == 1 && len(res) == 1 {
		a.Summary.Set("as_of", asOf[0])
		a.Summary.Set("labeled", labeled[0])
		a.Summary.Set("path", paths[0])
	} else {
		a.Summary.Set("as_of", asOf)
		a.Summary.Set("labeled", labeled)
		a.Summary.Set("paths", paths)
	}
	a.Summary.Set("horizon_days", h)
	a.Summary.Set("window_days", w)
	if len(topAUC) > 0 {
		a.Summary.Set("top_feature_auc", topAUC)
	}
	a.Summary.Set("warnings", warnings)
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	return nil
}

// copyToStdout copies the file at path to the command's stdout.
func copyToStdout(a *App, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(a.Stdout, f); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}
