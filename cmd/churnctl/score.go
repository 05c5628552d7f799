package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/features/table"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
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
	top       string // "K%": contact the top K % of each as_of's users
	budget    int    // contact the top N users of each as_of
	lakeGiven bool   // --lake on the command line (not from the env or file)
}

// scoreRow is one output row of `churnctl score` (AsOf "" when unknown);
// it is written as a prediction.
type scoreRow struct {
	UserID       string  `parquet:"user_id"`
	AsOf         string  `parquet:"as_of"`
	PChurn       float64 `parquet:"p_churn"`
	Predicted    bool    `parquet:"predicted"`
	Threshold    float64 `parquet:"threshold"`
	Rank         int32   `parquet:"rank"`
	Contact      bool    `parquet:"contact"`
	ModelVersion string  `parquet:"model_version"`
	RunID        string  `parquet:"run_id"`
}

// prediction is a row of the predictions Parquet (schema root "prediction"):
// as_of is a DATE like the features' (null when unknown, only with --out).
type prediction struct {
	UserID       string  `parquet:"user_id"`
	AsOf         *int32  `parquet:"as_of,date"` // days since 1970-01-01
	PChurn       float64 `parquet:"p_churn"`
	Predicted    bool    `parquet:"predicted"`
	Threshold    float64 `parquet:"threshold"`
	Rank         int32   `parquet:"rank"`    // 1 = the most likely churner of its as_of
	Contact      bool    `parquet:"contact"` // within --top / --budget
	ModelVersion string  `parquet:"model_version,dict"`
	RunID        string  `parquet:"run_id,dict"`
}

// predictionSchema is prediction's Parquet schema, named for what it holds.
var predictionSchema = parquet.NewSchema("prediction", parquet.SchemaOf(prediction{}))

func newScoreCmd(a *App) *cobra.Command {
	o := &scoreOptions{}
	cmd := &cobra.Command{
		Use:   "score --model NAME@champion --features PATH... (--out FILE | --lake DIR)",
		Short: "Score a feature table with a registered model and write churn probabilities to Parquet",
		Long: `score predicts the churn probability of every row of a feature table and
writes Parquet (zstd, schema root "prediction") with columns user_id, as_of
(DATE, as in the features), p_churn (calibrated when the model is: see train
--calibration), predicted (p_churn >= threshold), threshold, rank, contact,
model_version and run_id.

rank orders each as_of's users from the most likely churner (1) down: by
p_churn, then the forest's raw probability (calibration never reorders, but
an isotonic step gives many users one p_churn), then user id, so it is the
same on every run. --top K% or --budget N flags exactly the first
ceil(K % of the users) or N users of each as_of with contact = true: the
list a retention team with that capacity contacts. The summary then has
contacted and expected_churners (the sum of p_churn over them).

The table's features must be exactly the model's (names and types; order may
differ): otherwise score refuses with exit 3 and names the differences. The
label column, if present, is ignored.

Output: --out FILE, or --lake DIR writes DIR/predictions/as_of=DATE/part-0.parquet
(plus _manifest.json), one partition per as_of date, published atomically
through the lake's transaction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.lakeGiven = cmd.Flags().Changed("lake")
			return runScore(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	config.Var(f, &o.model, "score.model")
	f.StringArrayVar(&o.features, "features", nil, "feature table files or directories")
	f.StringVar(&o.id, "id", "", "id column (default: the model's)")
	config.Var(f, &o.registry, "registry")
	f.StringVar(&o.out, "out", "", `output Parquet file ("-" for stdout: the summary line then goes to stderr)`)
	config.Var(f, &o.lake, "lake")
	f.StringVar(&o.asOf, "as-of", "", "as_of date for rows that carry none (YYYY-MM-DD)")
	f.Float64Var(&o.threshold, "threshold", -1, "override the model's decision threshold")
	f.IntVar(&o.jobs, "jobs", 0, "parallel prediction, 0: all cores")
	config.Var(f, &o.top, "score.top")
	config.Var(f, &o.budget, "score.budget")
	return cmd
}

// parseTopPct parses --top: K% or K, a share of users in (0, 100].
func parseTopPct(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || !(v > 0 && v <= 100) {
		return 0, fmt.Errorf("%q: want a share of users K%% with 0 < K <= 100 (e.g. 10%%)", s)
	}
	return v, nil
}

// rankRows sets rank (per as_of: p_churn descending, then raw probability
// descending, then user id) and contact (the first pct % or budget ranks of
// each as_of; neither when both are 0), and returns the contacted rows and
// the sum of their p_churn.
func rankRows(rows []scoreRow, raw []float64, pct float64, budget int) (contacted int, expected float64) {
	byDate := map[string][]int{}
	for i, r := range rows {
		byDate[r.AsOf] = append(byDate[r.AsOf], i)
	}
	for _, d := range slices.Sorted(maps.Keys(byDate)) {
		idx := byDate[d]
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Or(cmp.Compare(rows[b].PChurn, rows[a].PChurn), cmp.Compare(raw[b], raw[a]), cmp.Compare(rows[a].UserID, rows[b].UserID), cmp.Compare(a, b))
		})
		k := 0
		switch {
		case budget > 0:
			k = min(budget, len(idx))
		case pct > 0:
			k = evaluate.TopCount(len(idx), pct)
		}
		for r, i := range idx {
			rows[i].Rank = int32(r + 1)
			if r < k {
				rows[i].Contact = true
				contacted++
				expected += rows[i].PChurn
			}
		}
	}
	return contacted, expected
}

func runScore(ctx context.Context, a *App, o *scoreOptions) error {
	if len(o.features) == 0 {
		return usageErrorf("--features is required")
	}
	if (o.out == "") == (o.lake == "") && (o.out == "" || o.lakeGiven) {
		return usageErrorf("give one of --out FILE or --lake DIR")
	}
	if o.out != "" {
		o.lake = "" // a lake from the env or config file only locates the registry
	}
	if err := needRegistry(o.registry); err != nil {
		return err
	}
	if o.model == "" {
		o.model = a.championOf()
	}
	if _, _, err := dayFlag("as-of", o.asOf); err != nil {
		return err
	}
	var pct float64
	if o.top != "" {
		var err error
		if pct, err = parseTopPct(o.top); err != nil {
			return usageErrorf("--top %v", err)
		}
	}
	switch {
	case o.budget < 0:
		return usageErrorf("--budget %d: want a number of users, 0 for none", o.budget)
	case o.budget > 0 && pct > 0:
		return usageErrorf("give one of --top K%% or --budget N, not both")
	}
	start := time.Now()
	m, v, t, _, p, raw, err := scoreTableRaw(o.registry, o.model, o.features, "", o.id, false, o.jobs, table.UserSplit{})
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
	contacted, expected := rankRows(rows, raw, pct, o.budget)
	out := o.out
	if o.lake != "" {
		var err error
		if out, err = publishScores(o.lake, rows, ref, t, a.RunID); err != nil {
			return err
		}
	} else if out == "-" {
		// Parquet on stdout (the summary goes to stderr): encoded whole
		// first, so a failure writes nothing rather than half a file.
		var buf bytes.Buffer
		if err := encodeScores(&buf, rows); err != nil {
			return err
		}
		if _, err := a.Stdout.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("score: write stdout: %w", err)
		}
	} else if err := writeScores(out, rows); err != nil {
		return err
	}
	a.Summary.Set("model", ref)
	a.Summary.Set("rows", len(rows))
	a.Summary.Set("predicted_churn", npos)
	a.Summary.Set("threshold", thr)
	a.Summary.Set("calibration", m.Calibration.Name())
	a.Summary.Set("contacted", contacted)
	a.Summary.Set("expected_churners", expected)
	a.Summary.Set("out", out)
	a.Log.Info("score end", "stage", "score", "model", ref, "rows_out", len(rows), "out", out, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// encodeScores writes rows as Parquet predictions (zstd, 64Ki-row row
// groups).
func encodeScores(out io.Writer, rows []scoreRow) error {
	w := parquet.NewGenericWriter[prediction](out, predictionSchema, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(65536))
	buf := make([]prediction, 0, min(len(rows), 4096))
	days := map[string]*int32{}
	for lo := 0; lo < len(rows); lo += cap(buf) {
		buf = buf[:0]
		for _, r := range rows[lo:min(lo+cap(buf), len(rows))] {
			d, ok := days[r.AsOf]
			if !ok && r.AsOf != "" {
				t, err := time.Parse(time.DateOnly, r.AsOf)
				if err != nil {
					return fmt.Errorf("%w: as_of %q is not a date YYYY-MM-DD", exitcode.ErrBadInput, r.AsOf)
				}
				n := int32(t.Unix() / 86400)
				d = &n
				days[r.AsOf] = d
			}
			buf = append(buf, prediction{UserID: r.UserID, AsOf: d, PChurn: r.PChurn, Predicted: r.Predicted,
				Threshold: r.Threshold, Rank: r.Rank, Contact: r.Contact, ModelVersion: r.ModelVersion, RunID: r.RunID})
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.Close()
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
	if err := encodeScores(tmp, rows); err != nil {
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

// publishScores writes one predictions/as_of=DATE partition per as_of date
// through a lake transaction (staged, manifest, atomic publish) and returns
// the partition directories, comma separated.
func publishScores(root string, rows []scoreRow, ref string, t *table.Table, runID string) (string, error) {
	byDate := map[string][]scoreRow{}
	for _, r := range rows {
		if r.AsOf == "" {
			return "", usageErrorf("--lake needs an as_of date on every row (the table has none: set --as-of, or use --out)")
		}
		if _, err := time.Parse(time.DateOnly, r.AsOf); err != nil {
			return "", fmt.Errorf("%w: as_of %q is not a date YYYY-MM-DD", exitcode.ErrBadInput, r.AsOf)
		}
		byDate[r.AsOf] = append(byDate[r.AsOf], r)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tx, err := lake.New(root).Begin(runID)
	if err != nil {
		return "", err
	}
	defer tx.Abort()
	ver, _ := buildVersion()
	var inputs []lake.Input
	for _, f := range t.Files {
		inputs = append(inputs, lake.Input{Path: f.Name, Hash: "sha256:" + f.SHA256, Bytes: f.Bytes})
	}
	dates := slices.Sorted(maps.Keys(byDate))
	var parts []string
	for _, d := range dates {
		part := lake.KeyAsOf + "=" + d
		sf, err := tx.Create(lake.Predictions, part, "part-0.parquet")
		if err != nil {
			return "", err
		}
		if err := encodeScores(sf, byDate[d]); err != nil {
			sf.Close()
			return "", err
		}
		sf.SetRows(int64(len(byDate[d])))
		if err := sf.Close(); err != nil {
			return "", err
		}
		extra, _ := json.Marshal(map[string]string{"model": ref})
		if err := tx.SetManifest(lake.Predictions, part, lake.Manifest{Inputs: inputs, Version: ver, RunID: runID, Extra: extra}); err != nil {
			return "", err
		}
		parts = append(parts, filepath.Join(root, lake.Predictions, part))
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	return strings.Join(parts, ","), nil
}
