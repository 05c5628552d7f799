package features

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// Formats of a written snapshot table.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"
	FormatArrow   = "arrow"
)

// RunConfig is one `churnctl features` invocation.
type RunConfig struct {
	Lake        string
	Cutoffs     []Date
	HorizonDays int
	WindowDays  int
	// Out is the output file; "" publishes into the lake at
	// DIR/features/as_of=YYYY-MM-DD/part-0.<format>. features.schema.json
	// is written in its directory. With several cutoffs a directory of it
	// must contain "{as_of}" (out/{as_of}/features.csv).
	Out     string
	Format  string
	Version string // churnctl version, recorded in the manifest
	RunID   string // names the lake transaction (and the manifest's run_id)
	Log     *slog.Logger
	Mem     memory.Allocator
	// Source overrides the lake's gold tables (tests); nil reads Lake.
	Source Source
}

// Result describes one written snapshot.
type Result struct {
	AsOf  Date
	Users int // rows: one per user
	// IDs are the snapshot's user ids (one per row).
	IDs []string
	// Positives counts churn = 1 rows; meaningless (0) when !Labeled.
	Positives int
	Labeled   bool
	LastDay   Date
	Warnings  []string
	Path      string
	AUCs      []FeatureAUC
}

// Run computes and writes a snapshot per cutoff.
func Run(ctx context.Context, cfg RunConfig) ([]Result, error) {
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Format == "" {
		cfg.Format = FormatParquet
	}
	switch cfg.Format {
	case FormatParquet, FormatCSV, FormatArrow:
	default:
		return nil, fmt.Errorf("%w: --format %q: want parquet, csv or arrow", errkind.Usage, cfg.Format)
	}
	if len(cfg.Cutoffs) == 0 {
		return nil, fmt.Errorf("%w: no cutoff (--as-of or --every/--from/--to)", errkind.Usage)
	}
	if cfg.Out != "" && len(cfg.Cutoffs) > 1 && !strings.Contains(filepath.Dir(cfg.Out), "{as_of}") {
		// each snapshot's features.schema.json (its as_of, labeled) goes
		// beside its table, so the tables need a directory each
		return nil, fmt.Errorf("%w: --out %q with %d cutoffs: put {as_of} in a directory of the path (e.g. out/{as_of}/features.csv), each snapshot gets its own features.schema.json beside it", errkind.Usage, cfg.Out, len(cfg.Cutoffs))
	}
	src := cfg.Source
	if src == nil {
		if cfg.Lake == "" {
			return nil, fmt.Errorf("%w: --lake is required", errkind.Usage)
		}
		src = &LakeSource{Root: cfg.Lake, Mem: cfg.Mem}
	}
	if _, err := src.Days(ctx); err != nil {
		return nil, err
	}
	if len(cfg.Cutoffs) > 1 {
		// several cutoffs decode each partition once
		cs := newCachedSource(src)
		defer cs.Release()
		src = cs
	}
	var tx *lake.Tx
	if cfg.Out == "" {
		if cfg.Lake == "" {
			return nil, fmt.Errorf("%w: --lake is required to publish into the lake (or give --out)", errkind.Usage)
		}
		runID := cfg.RunID
		if runID == "" {
			runID = "features"
		}
		var err error
		if tx, err = lake.New(cfg.Lake).Begin(runID); err != nil {
			return nil, err
		}
		tx.Version = cfg.Version
		defer tx.Abort()
	}
	var out []Result
	for _, T := range cfg.Cutoffs {
		start := time.Now()
		cfg.Log.Info("features start", "stage", "features", "as_of", T.String(), "horizon_days", cfg.HorizonDays, "window_days", cmpOr(cfg.WindowDays, DefaultWindowDays))
		snap, err := Compute(ctx, src, Config{AsOf: T, HorizonDays: cfg.HorizonDays, WindowDays: cfg.WindowDays, Log: cfg.Log})
		if err != nil {
			return out, err
		}
		r := Result{AsOf: T, Users: len(snap.UserIDs), IDs: snap.UserIDs, Labeled: snap.Labeled, LastDay: snap.LastDay}
		// the audit reads the snapshot while it is written out
		var sus []FeatureAUC
		audited := make(chan struct{})
		go func() {
			defer close(audited)
			sus, r.AUCs = Audit(snap)
		}()
		var werr error
		r.Path, werr = write(ctx, cfg, tx, snap)
		<-audited
		if werr != nil {
			return out, werr
		}
		if snap.Labeled {
			r.Positives = snap.Positives()
			r.Warnings = warningsFor(snap, sus)
			for _, w := range r.Warnings {
				cfg.Log.Warn("features: "+w, "stage", "features", "as_of", T.String())
			}
		} else {
			r.Warnings = append(r.Warnings, fmt.Sprintf("as_of %s: unlabeled: the lake's data ends %s, before the label window [%s, %s) does; churn is null", T, snap.LastDay, T, T+Date(cfg.HorizonDays)))
		}
		if len(snap.UserIDs) == 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("as_of %s: no user has events before the cutoff", T))
		}
		cfg.Log.Info("features end", "stage", "features", "as_of", T.String(), "rows_out", r.Users, "positives", r.Positives,
			"labeled", r.Labeled, "inputs", len(snap.Inputs), "path", r.Path, "duration_ms", time.Since(start).Milliseconds())
		out = append(out, r)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("features: publish: %w", err)
		}
	}
	return out, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// WriteTable writes the snapshot table in format to w.
func WriteTable(w io.Writer, s *Snapshot, format string, mem memory.Allocator) error {
	switch format {
	case FormatCSV:
		return s.WriteCSV(w)
	case FormatArrow:
		return s.WriteArrow(w, mem)
	}
	rec := s.Record(mem)
	defer rec.Release()
	pw, err := parquetio.NewWriter(w, rec.Schema(), parquetio.WithDictionary(CategoryColumns()...))
	if err != nil {
		return err
	}
	if err := pw.Write(rec); err != nil {
		pw.Close()
		return err
	}
	return pw.Close()
}

func ext(format string) string {
	if format == FormatArrow {
		return "arrow"
	}
	return format
}

// PartitionDir is where a cutoff's snapshot is published in a lake.
func PartitionDir(lake string, asOf Date) string {
	return filepath.Join(lake, "features", "as_of="+asOf.String())
}

func write(ctx context.Context, cfg RunConfig, tx *lake.Tx, s *Snapshot) (string, error) {
	var table bytes.Buffer
	if err := WriteTable(&table, s, cfg.Format, cfg.Mem); err != nil {
		return "", fmt.Errorf("features: write %s: %w", cfg.Format, err)
	}
	schema, err := MarshalSchema(s)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if cfg.Out != "" {
		path := strings.ReplaceAll(cfg.Out, "{as_of}", s.AsOf.String())
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := writeFileAtomic(filepath.Join(dir, SchemaFileName), schema); err != nil {
			return "", err
		}
		return path, writeFileAtomic(path, table.Bytes())
	}
	name := "part-0." + ext(cfg.Format)
	part := lake.KeyAsOf + "=" + s.AsOf.String()
	for _, f := range []struct {
		name string
		data []byte
		rows int64
	}{{name, table.Bytes(), int64(len(s.UserIDs))}, {SchemaFileName, schema, 0}} {
		sf, err := tx.Create(lake.Features, part, f.name)
		if err != nil {
			return "", err
		}
		if _, err := sf.Write(f.data); err != nil {
			sf.Close()
			return "", err
		}
		sf.SetRows(f.rows)
		if err := sf.Close(); err != nil {
			return "", err
		}
	}
	if err := tx.SetManifest(lake.Features, part, manifest(cfg, s)); err != nil {
		return "", err
	}
	return filepath.Join(PartitionDir(cfg.Lake, s.AsOf), name), nil
}

// manifest lists the gold partitions read (with the hash of each one's
// manifest, which names its files' hashes) and the snapshot's parameters.
func manifest(cfg RunConfig, s *Snapshot) lake.Manifest {
	var inputs []lake.Input
	add := func(rel string) {
		in := lake.Input{Path: rel}
		if b, err := os.ReadFile(filepath.Join(cfg.Lake, filepath.FromSlash(rel), lake.ManifestName)); err == nil {
			sum := sha256.Sum256(b)
			in.Hash, in.Bytes = "sha256:"+hex.EncodeToString(sum[:]), int64(len(b))
		}
		inputs = append(inputs, in)
	}
	for _, d := range s.Inputs {
		add("gold/fact_user_day/dt=" + d.String())
	}
	if s.AttrInputs > 0 {
		add("silver/level_history")
	} else {
		add("gold/dim_user")
	}
	stats := map[string]int64{
		"users": int64(len(s.UserIDs)), "labeled": 0,
		"features": int64(len(featureDefs)), "horizon_days": int64(s.HorizonDays), "window_days": int64(s.WindowDays),
	}
	if s.Labeled {
		// an unlabeled snapshot has no positives to count, not zero
		stats["labeled"], stats["positives"] = 1, int64(s.Positives())
	}
	extra, _ := json.Marshal(map[string]any{"as_of": s.AsOf.String(), "labeled": s.Labeled, "last_data_day": s.LastDay.String()})
	return lake.Manifest{Inputs: inputs, Version: cfg.Version, Stats: stats, Extra: extra}
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
