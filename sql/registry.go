package sql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/secret"
)

// The model registry and run records are JSON written by other stages; the
// loader reads the fields below and ignores the rest.
//
// DIR/models/<name>/<version>/model.json (or metadata.json):
//
//	{"name": "rf", "version": "3", "created_at": "RFC 3339",
//	 "params": {...}, "threshold": 0.42, "alias": "champion", "run_id": "...",
//	 "metrics": <metrics>}
//
// name and version default to the directory names, created_at to the file's
// modification time. DIR/models/<name>/<version>/metrics.json (or the
// "metrics" field) is one of
//
//	{"auc": 0.9, "f1": 0.8}                          dataset "training"
//	{"cv": {"auc": 0.9}, "holdout": {"auc": 0.88}}   per dataset
//	[{"metric": "auc", "value": 0.9, "dataset": "cv", "evaluated_at": "RFC 3339"}]
//
// with evaluated_at defaulting to the model's created_at and a list row's
// dataset to "unknown": every metric row names its dataset. A JSON null is
// no figure and loads no row (not a 0). Aliases may also
// come from DIR/models/<name>/aliases.json: {"champion": "3"}.
//
// DIR/runs/*.json: {"run_id", "command", "args": [...], "status",
// "exit_code", "counts": {...}, "started_at", "finished_at", "duration_ms",
// "version"}; run_id defaults to the file name, started_at to finished_at
// minus duration_ms or the file's modification time, and without "counts"
// the other top-level numbers are the counts.

// EvaluationsFile, in a model version's directory, is the list of its
// evaluations ([{"metric","value","dataset","evaluated_at"}]) that
// `churnctl evaluate` appends to; they load into churn.model_metric.
const EvaluationsFile = "evaluations.json"

// DatasetTraining is the dataset of a metrics.json's top-level numbers: the
// training run's own figures (rows, positives, threshold, fit_seconds).
const DatasetTraining = "training"

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

type modelMeta struct {
	Name      string          `json:"name"`
	Version   json.RawMessage `json:"version"`
	CreatedAt *time.Time      `json:"created_at"`
	Params    json.RawMessage `json:"params"`
	Threshold *float64        `json:"threshold"`
	Alias     string          `json:"alias"`
	Aliases   []string        `json:"aliases"`
	RunID     string          `json:"run_id"`
	Metrics   json.RawMessage `json:"metrics"`
}

type metricRow struct {
	Metric      string     `json:"metric"`
	Value       *float64   `json:"value"`
	Dataset     string     `json:"dataset"`
	EvaluatedAt *time.Time `json:"evaluated_at"`
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w: %s: %v", errkind.BadInput, path, err)
	}
	return true, nil
}

func modTime(path string) time.Time {
	if st, err := os.Stat(path); err == nil {
		return st.ModTime().UTC().Truncate(time.Microsecond)
	}
	return time.Unix(0, 0).UTC()
}

func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw)) // a number
}

// parseMetrics flattens the accepted metrics layouts.
func parseMetrics(raw json.RawMessage, at time.Time, where string) ([]metricRow, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var out []metricRow
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%w: %s: metrics: %v", errkind.BadInput, where, err)
		}
	} else {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%w: %s: metrics: %v", errkind.BadInput, where, err)
		}
		for k, v := range m {
			if isNull(v) {
				continue // not computed: no figure, not 0
			}
			var f float64
			if json.Unmarshal(v, &f) == nil {
				out = append(out, metricRow{Metric: k, Value: &f, Dataset: DatasetTraining})
				continue
			}
			var sub map[string]json.RawMessage
			if json.Unmarshal(v, &sub) != nil {
				continue // strings, arrays (confusion matrices, curves): not a metric value
			}
			for mk, mv := range sub {
				var f float64
				if !isNull(mv) && json.Unmarshal(mv, &f) == nil {
					out = append(out, metricRow{Metric: mk, Value: &f, Dataset: k})
				}
			}
		}
	}
	kept := out[:0]
	for _, r := range out {
		if r.Metric == "" || r.Value == nil {
			continue
		}
		if r.EvaluatedAt == nil {
			t := at
			r.EvaluatedAt = &t
		}
		if r.Dataset == "" {
			r.Dataset = "unknown"
		}
		kept = append(kept, r)
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].Dataset != kept[j].Dataset {
			return kept[i].Dataset < kept[j].Dataset
		}
		return kept[i].Metric < kept[j].Metric
	})
	return kept, nil
}

func loadModels(ctx context.Context, conn *pgx.Conn, o LoadOptions, st *LoadStats) error {
	root := filepath.Join(o.Lake, "models")
	names, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		o.Log.Info("nothing to load: no model registry", "stage", "load", "table", "model", "dir", root)
		st.Skipped = append(st.Skipped, "model", "model_metric")
		return nil
	}
	if err != nil {
		return err
	}
	var models, metrics [][]any
	for _, ne := range names {
		if !ne.IsDir() || strings.HasPrefix(ne.Name(), ".") || strings.HasPrefix(ne.Name(), "_") {
			continue
		}
		ndir := filepath.Join(root, ne.Name())
		aliases := map[string]string{}
		if _, err := readJSON(filepath.Join(ndir, "aliases.json"), &aliases); err != nil {
			return err
		}
		versions, err := os.ReadDir(ndir)
		if err != nil {
			return err
		}
		for _, ve := range versions {
			if !ve.IsDir() || strings.HasPrefix(ve.Name(), ".") || strings.HasPrefix(ve.Name(), "_") {
				continue
			}
			vdir := filepath.Join(ndir, ve.Name())
			var meta modelMeta
			metaFile := ""
			for _, f := range []string{"model.json", "metadata.json", "meta.json"} {
				ok, err := readJSON(filepath.Join(vdir, f), &meta)
				if err != nil {
					return err
				}
				if ok {
					metaFile = filepath.Join(vdir, f)
					break
				}
			}
			if metaFile == "" {
				o.Log.Warn("model version without model.json or metadata.json: skipped", "stage", "load", "dir", vdir)
				continue
			}
			name, version := meta.Name, jsonString(meta.Version)
			if name == "" {
				name = ne.Name()
			}
			if version == "" {
				version = ve.Name()
			}
			created := modTime(metaFile)
			if meta.CreatedAt != nil {
				created = meta.CreatedAt.UTC()
			}
			params := []byte(meta.Params)
			if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
				params = []byte("{}")
			}
			alias := meta.Alias
			if alias == "" && len(meta.Aliases) > 0 {
				alias = meta.Aliases[0]
			}
			for a, v := range aliases {
				if v == version && aliasRank(a) < aliasRank(alias) {
					alias = a
				}
			}
			var thr, al, run any
			if meta.Threshold != nil {
				thr = *meta.Threshold
			}
			if alias != "" {
				al = alias
			}
			if meta.RunID != "" {
				run = meta.RunID
			}
			models = append(models, []any{name, version, created, params, thr, al, run})
			mraw := meta.Metrics
			if b, err := os.ReadFile(filepath.Join(vdir, "metrics.json")); err == nil {
				mraw = b
				// train writes the tuned threshold into metrics.json.
				var top struct {
					Threshold *float64 `json:"threshold"`
				}
				if json.Unmarshal(b, &top) == nil && top.Threshold != nil && thr == nil {
					thr = *top.Threshold
				}
			}
			ms, err := parseMetrics(mraw, created, vdir)
			if err != nil {
				return err
			}
			// evaluate appends every evaluation of the version here.
			if b, err := os.ReadFile(filepath.Join(vdir, EvaluationsFile)); err == nil {
				es, err := parseMetrics(b, created, filepath.Join(vdir, EvaluationsFile))
				if err != nil {
					return err
				}
				ms = append(ms, es...)
			}
			for _, m := range ms {
				metrics = append(metrics, []any{name, version, m.Metric, *m.Value, m.EvaluatedAt.UTC(), m.Dataset})
			}
		}
	}
	units := []unit{
		{table: "model", key: []string{"name", "version"}, cols: []string{"name", "version", "created_at", "params", "threshold", "alias", "run_id"},
			src: pgx.CopyFromRows(models), want: int64(len(models)), scope: scopeKeys},
		{table: "model_metric", key: []string{"name", "version", "metric", "dataset", "evaluated_at"},
			cols: []string{"name", "version", "metric", "value", "evaluated_at", "dataset"},
			src:  pgx.CopyFromRows(metrics), want: int64(len(metrics)), scope: scopeKeys},
	}
	return runUnits(ctx, conn, units, o, st)
}

// aliasRank orders the aliases a version may have: champion first, then
// challenger, then others by name; "" (none) last.
func aliasRank(a string) string {
	switch a {
	case "":
		return "\xff"
	case "champion":
		return "0"
	case "challenger":
		return "1"
	}
	return "2" + a
}

func runUnits(ctx context.Context, conn *pgx.Conn, units []unit, o LoadOptions, st *LoadStats) error {
	for _, u := range units {
		start := time.Now()
		if u.want == 0 {
			u.cols = nil
		}
		us, err := u.run(ctx, conn)
		if err != nil {
			return fmt.Errorf("load churn.%s: %w", u.table, err)
		}
		us.DurationMS = time.Since(start).Milliseconds()
		st.add(us)
		o.Log.Info("loaded", "stage", "load", "table", u.table, "rows_in", u.want, "duration_ms", us.DurationMS)
		if o.OnUnit != nil {
			o.OnUnit(us)
		}
	}
	return nil
}

type runRecord struct {
	RunID      string          `json:"run_id"`
	Command    string          `json:"command"`
	Args       []string        `json:"args"`
	Status     string          `json:"status"`
	ExitCode   *int            `json:"exit_code"`
	Counts     json.RawMessage `json:"counts"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	DurationMS *int64          `json:"duration_ms"`
	Version    string          `json:"version"`
}

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	// A keyword/value password: quoted (backslash escapes inside) or up to
	// the next unescaped space; a URL query value up to '&'.
	kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s&\\]|\\.)*)`)
)

// RedactArg removes passwords from a command-line argument (DSNs as URLs or
// keyword/value strings) and every secret the process knows. churnctl's
// run records hold no password already; this guards records written by
// other tools or older versions.
func RedactArg(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}"+secret.Mask+"@")
	s = kvPassword.ReplaceAllString(s, "${1}"+secret.Mask)
	return secret.Scrub(s)
}

func loadRuns(ctx context.Context, conn *pgx.Conn, o LoadOptions, st *LoadStats) error {
	dir := filepath.Join(o.Lake, "runs")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		o.Log.Info("nothing to load: no run records", "stage", "load", "table", "run", "dir", dir)
		st.Skipped = append(st.Skipped, "run")
		return nil
	}
	sort.Strings(files)
	var rows [][]any
	seen := map[string]string{}
	for _, f := range files {
		var r runRecord
		if _, err := readJSON(f, &r); err != nil {
			return err
		}
		if r.RunID == "" {
			r.RunID = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		if prev, ok := seen[r.RunID]; ok {
			return fmt.Errorf("%w: run %s is in both %s and %s", errkind.BadInput, r.RunID, prev, f)
		}
		seen[r.RunID] = f
		if r.Command == "" || r.Status == "" {
			return fmt.Errorf("%w: %s: a run record needs command and status", errkind.BadInput, f)
		}
		counts := []byte(r.Counts)
		if len(bytes.TrimSpace(counts)) == 0 || string(bytes.TrimSpace(counts)) == "null" {
			var all map[string]json.RawMessage
			_, _ = readJSON(f, &all)
			c := map[string]float64{}
			for k, v := range all {
				var x float64
				if k != "exit_code" && k != "duration_ms" && json.Unmarshal(v, &x) == nil {
					c[k] = x
				}
			}
			counts, _ = json.Marshal(c)
		}
		args := make([]string, len(r.Args))
		for i, a := range r.Args {
			args[i] = RedactArg(a)
		}
		argsJSON, _ := json.Marshal(args)
		var started time.Time
		switch {
		case r.StartedAt != nil:
			started = r.StartedAt.UTC()
		case r.FinishedAt != nil && r.DurationMS != nil:
			started = r.FinishedAt.Add(-time.Duration(*r.DurationMS) * time.Millisecond).UTC()
		default:
			started = modTime(f)
		}
		var exit, fin, dur, ver any
		if r.ExitCode != nil {
			exit = int32(*r.ExitCode)
		}
		if r.FinishedAt != nil {
			fin = r.FinishedAt.UTC()
		}
		if r.DurationMS != nil {
			dur = *r.DurationMS
		}
		if r.Version != "" {
			ver = r.Version
		}
		rows = append(rows, []any{r.RunID, r.Command, argsJSON, r.Status, exit, counts, started, fin, dur, ver})
	}
	u := unit{table: "run", key: []string{"run_id"},
		cols: []string{"run_id", "command", "args", "status", "exit_code", "counts", "started_at", "finished_at", "duration_ms", "version"},
		src:  pgx.CopyFromRows(rows), want: int64(len(rows)), scope: scopeKeys}
	return runUnits(ctx, conn, []unit{u}, o, st)
}
