package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/featuretable"
)

func init() { register(newScoreCmd) }

type scoreOptions struct {
	model     string
	features  []string
	id        string
	registry  string
	out       string
	lake      string
	asOf      string
	threshold float64
	jobs      int
}

// scoreRow is one output row of `churnctl score`.
type scoreRow struct {
	UserID       string  `parquet:"user_id"`
	AsOf         string  `parquet:"as_of"`
	PChurn       float64 `parquet:"p_churn"`
	Predicted    bool    `parquet:"predicted"`
	Threshold    float64 `parquet:"threshold"`
	ModelVersion string  `parquet:"model_version"`
	RunID        string  `parquet:"run_id"`
}

func newScoreCmd(a *App) *cobra.Command {
	o := &scoreOptions{}
	cmd := &cobra.Command{
		Use:   "score --model NAME@champion --features PATH... (--out FILE | --lake DIR)",
		Short: "Score a feature table with a registered model and write churn probabilities to Parquet",
		Long: `score predicts the churn probability of every row of a feature table and
writes Parquet (zstd) with columns user_id, as_of (YYYY-MM-DD string), p_churn,
predicted (p_churn >= threshold), threshold, model_version and run_id.

The table's features must be exactly the model's (names and types; order may
differ): otherwise score refuses with exit 3 and names the differences. The
label column, if present, is ignored.

Output: --out FILE, or --lake DIR writes DIR/predictions/as_of=DATE/predictions.parquet
(plus _manifest.json), atomically.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runScore(cmd.Context(), a, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model reference (NAME@champion, NAME@VERSION, NAME or a file)")
	f.StringSliceVar(&o.features, "features", nil, "feature table files or directories")
	f.StringVar(&o.id, "id", "", "id column (default: the model's)")
	addRegistryFlag(cmd, &o.registry)
	f.StringVar(&o.out, "out", "", "output Parquet file")
	f.StringVar(&o.lake, "lake", "", "lake root: write DIR/predictions/as_of=DATE/predictions.parquet")
	f.StringVar(&o.asOf, "as-of", "", "as_of date for rows that carry none (YYYY-MM-DD)")
	f.Float64Var(&o.threshold, "threshold", -1, "override the model's decision threshold")
	f.IntVar(&o.jobs, "jobs", runtime.NumCPU(), "parallel prediction")
	return cmd
}

func runScore(ctx context.Context, a *App, o *scoreOptions) error {
	if o.model == "" || len(o.features) == 0 {
		return usageErrorf("--model and --features are required")
	}
	if (o.out == "") == (o.lake == "") {
		return usageErrorf("give one of --out FILE or --lake DIR")
	}
	if o.asOf != "" {
		if _, err := time.Parse(time.DateOnly, o.asOf); err != nil {
			return usageErrorf("--as-of %q: want YYYY-MM-DD", o.asOf)
		}
	}
	start := time.Now()
	m, v, t, _, p, err := scoreTable(o.registry, o.model, o.features, "", o.id, false, o.jobs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	thr := m.Threshold
	if o.threshold >= 0 {
		thr = o.threshold
	}
	ref := modelRef(v)
	rows := make([]scoreRow, len(p))
	var npos int
	for i := range p {
		asof := t.AsOf[i]
		if asof == "" {
			asof = o.asOf
		}
		rows[i] = scoreRow{UserID: t.IDs[i], AsOf: asof, PChurn: p[i], Predicted: p[i] >= thr, Threshold: thr, ModelVersion: ref, RunID: a.RunID}
		if rows[i].Predicted {
			npos++
		}
	}
	out := o.out
	if o.lake != "" {
		dates := map[string]bool{}
		for _, r := range rows {
			dates[r.AsOf] = true
		}
		if len(dates) != 1 || dates[""] {
			return usageErrorf("--lake needs one as_of date for all rows (found %d distinct; set --as-of or use --out)", len(dates))
		}
		out = filepath.Join(o.lake, "predictions", "as_of="+rows[0].AsOf, "predictions.parquet")
	}
	if err := writeScores(out, rows); err != nil {
		return err
	}
	if o.lake != "" {
		if err := writeScoreManifest(out, rows, ref, t, a.RunID); err != nil {
			return err
		}
	}
	a.Summary.Set("model", ref)
	a.Summary.Set("rows", len(rows))
	a.Summary.Set("predicted_churn", npos)
	a.Summary.Set("threshold", thr)
	a.Summary.Set("out", out)
	a.Log.Info("score done", "stage", "score", "model", ref, "rows_out", len(rows), "out", out, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// writeScores writes rows to path atomically (temp file in the same
// directory, then rename).
func writeScores(path string, rows []scoreRow) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".score-*.parquet")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := parquet.NewGenericWriter[scoreRow](tmp, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(65536))
	for lo := 0; lo < len(rows); lo += 65536 {
		if _, err := w.Write(rows[lo:min(lo+65536, len(rows))]); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeScoreManifest(out string, rows []scoreRow, ref string, t *featuretable.Table, runID string) error {
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	ver, _ := buildVersion()
	inputs := slices.Clone(t.Files)
	man := map[string]any{
		"rows": len(rows), "files": []map[string]any{{"name": filepath.Base(out), "rows": len(rows), "bytes": n, "sha256": hex.EncodeToString(h.Sum(nil))}},
		"inputs": inputs, "input_sha256": t.DataSHA256, "model": ref, "run_id": runID, "churnctl_version": ver,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("score manifest: %w", err)
	}
	path := filepath.Join(filepath.Dir(out), "_manifest.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
