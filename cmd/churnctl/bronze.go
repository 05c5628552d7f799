package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/lake"
)

func init() { registerETL(newBronzeCmd) }

type bronzeOptions struct {
	lake            string
	ds, from, to    string
	maxInvalidRatio float64
	allowTruncated  bool
	force           bool
	maxLineBytes    int
	ingestDate      string
	workers         int
	memoryBudgetMiB int

	// Set by etl (all layers in one transaction): see bronze.Config.
	tx       *lake.Tx
	onEvents func(ctx context.Context, f bronze.Flush) error
	memLimit int64 // GOMEMLIMIT default (0: derived from the budget)
}

func newBronzeCmd(a *App) *cobra.Command {
	var o bronzeOptions
	cmd := &cobra.Command{
		Use:   "bronze --lake DIR INPUT...",
		Short: "Ingest JSON event logs into typed, validated bronze Parquet",
		Long: `bronze reads Sparkify/eventsim JSON event logs (one object per line; files plain
or gzip, globs, "-" for stdin, and directories: recursively, their *.json, *.jsonl
and *.ndjson files, plain or .gz, links followed, other files listed as skipped)
and writes
DIR/bronze/events/dt=YYYY-MM-DD/*.parquet (dt = event day, UTC) plus
DIR/bronze/quarantine/dt=YYYY-MM-DD/*.parquet (dt = ingest day) for lines that
fail a rule: malformed_json, missing_field, wrong_type, ts_out_of_range,
invalid_utf8, line_too_long, negative_length, nul_character (a \u0000 in a
string: PostgreSQL cannot store it). Every line is accounted for:
lines_read = rows_written + rows_quarantined (+ rows_filtered with a day filter).

The run is published atomically (a killed run leaves the lake as it was).
Inputs whose content was ingested before are skipped unless --force, which
replaces that earlier run's rows. Re-running the same inputs writes identical
bytes.

Exit 3 when more than --max-invalid-ratio of the lines are quarantined, or
when a gzip input is truncated or corrupt (unless --allow-truncated): the
quarantine is still published, the events are not; or when an input is
missing or unreadable (before writing anything).`,
		Example: `  churnctl etl bronze --lake /data/lake logs/
  churnctl etl bronze --lake /data/lake --ds 2018-10-05 'logs/*.json.gz'
  zcat events.json.gz | churnctl etl bronze --lake /data/lake -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := runBronze(cmd, a, &o, args)
			return err
		},
	}
	f := cmd.Flags()
	config.Var(f, &o.lake, "lake")
	f.StringVar(&o.ds, "ds", "", "keep only the events of this day (YYYY-MM-DD, UTC)")
	f.StringVar(&o.from, "from", "", "keep only events on or after this day (YYYY-MM-DD)")
	f.StringVar(&o.to, "to", "", "keep only events on or before this day (YYYY-MM-DD)")
	config.Var(f, &o.maxInvalidRatio, "etl.max_invalid_ratio")
	config.Var(f, &o.allowTruncated, "etl.allow_truncated")
	f.BoolVar(&o.force, "force", false, "re-ingest inputs already ingested (same content), replacing their rows")
	f.IntVar(&o.maxLineBytes, "max-line-bytes", 64*1024, "quarantine longer lines as line_too_long")
	f.StringVar(&o.ingestDate, "ingest-date", "", "quarantine partition day (default today, UTC)")
	f.IntVar(&o.workers, "workers", 0, "decode/write goroutines (default: number of CPUs)")
	config.Var(f, &o.memoryBudgetMiB, "etl.memory_budget")
	return cmd
}

func runBronze(cmd *cobra.Command, a *App, o *bronzeOptions, args []string) (bronze.Stats, error) {
	st, err := bronzeStage(cmd, a, o, args)
	if err != nil {
		return st, fmt.Errorf("etl bronze: %w", err)
	}
	return st, nil
}

func bronzeStage(cmd *cobra.Command, a *App, o *bronzeOptions, args []string) (bronze.Stats, error) {
	var st bronze.Stats
	ctx := cmd.Context()
	if o.lake == "" {
		return st, usageErrorf("--lake is required")
	}
	w, err := dayWindow(o.ds, o.from, o.to)
	if err != nil {
		return st, err
	}
	var from, to, ingest time.Time
	if w.HasFrom {
		from = w.From.Time()
	}
	if w.HasTo {
		to = w.To.Time()
	}
	if d, ok, err := dayFlag("ingest-date", o.ingestDate); err != nil {
		return st, err
	} else if ok {
		ingest = d.Time()
	}
	if o.maxInvalidRatio < 0 || o.maxInvalidRatio > 1 {
		return st, usageErrorf("--max-invalid-ratio %g: want 0..1", o.maxInvalidRatio)
	}
	if o.maxLineBytes < 256 {
		return st, usageErrorf("--max-line-bytes %d: want at least 256", o.maxLineBytes)
	}
	// Keep the heap (and RSS) bounded whatever the input size, unless the
	// user set GOMEMLIMIT.
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := int64(o.memoryBudgetMiB)<<20 + 288<<20
		if o.memLimit > 0 {
			limit = o.memLimit
		}
		debug.SetMemoryLimit(limit)
	}
	ver, _ := buildVersion()
	cfg := bronze.Config{
		Lake: o.lake, Inputs: args, Stdin: a.Stdin, From: from, To: to,
		MaxInvalidRatio: o.maxInvalidRatio, AllowTruncated: o.allowTruncated, Force: o.force,
		MaxLineBytes: o.maxLineBytes, IngestDate: ingest, Version: ver, RunID: a.RunID,
		Workers: o.workers, MemoryBudget: int64(o.memoryBudgetMiB) << 20, Log: a.Log.With("stage", "bronze"),
		Tx: o.tx, OnEvents: o.onEvents,
	}
	if d, err := time.ParseDuration(os.Getenv("CHURNCTL_TEST_COMMIT_DELAY")); err == nil && d > 0 {
		cfg.CommitHook = func(string) { time.Sleep(d) } // kill-at-any-moment tests
	}
	if a.ShowProgress() {
		bar := bronzeBar(a.Stderr, inputBytes(args))
		defer bar.Finish()
		cfg.Progress = func(n int64) { _ = bar.Set64(n) }
	}
	start := time.Now()
	cfg.Log.Info("bronze start", "inputs", len(args), "lake", o.lake)
	st, err = bronze.Run(ctx, cfg)
	a.Summary.Set("lines_read", st.LinesRead)
	a.Summary.Set("rows_written", st.RowsWritten)
	a.Summary.Set("rows_quarantined", st.RowsQuarantined)
	if st.RowsFiltered > 0 {
		a.Summary.Set("rows_filtered", st.RowsFiltered)
	}
	a.Summary.Set("empty_lines", st.EmptyLines)
	a.Summary.Set("files_read", st.FilesRead)
	a.Summary.Set("skipped_inputs", st.SkippedInputs)
	if len(st.Skipped) > 0 {
		a.Summary.Set("skipped", st.Skipped)
	}
	if len(st.Warnings) > 0 {
		a.Summary.Set("input_warnings", st.Warnings)
	}
	a.Summary.Set("partitions", st.Partitions)
	a.Summary.Set("quarantine_partitions", st.QuarantineParts)
	a.Summary.Set("bytes_read", st.BytesRead)
	if st.JSONBytes != st.BytesRead {
		a.Summary.Set("json_bytes", st.JSONBytes)
	}
	if len(st.ByRule) > 0 {
		a.Summary.Set("quarantine_by_rule", st.ByRule)
	}
	a.Summary.Set("schema_drift", nonNil(st.SchemaDrift))
	if st.IngestRunID != "" {
		a.Summary.Set("ingest_run_id", st.IngestRunID)
	}
	a.Summary.Set("published", st.Published)
	d := time.Since(start)
	if secs := d.Seconds(); secs > 0 && st.JSONBytes > 0 {
		a.Summary.Set("mb_per_s", float64(int(float64(st.JSONBytes)/secs/1e6*10))/10)
	}
	attrs := []any{"rows_in", st.LinesRead, "rows_out", st.RowsWritten, "rows_quarantined", st.RowsQuarantined, "duration_ms", d.Milliseconds()}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	cfg.Log.Info("bronze end", attrs...)
	return st, err
}

func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// bronzeBar is bronze's progress bar on w: bytes read of total (the
// inputs' size, so it shows a percentage; -1 when unknown: a spinner).
// progressbar.DefaultBytes with the writer churnctl was given, not
// os.Stderr.
func bronzeBar(w io.Writer, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetDescription("bronze"),
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(10),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\n") }),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// inputBytes is the total size of the inputs, for the progress bar's
// total and percentage; -1 (unknown) when one is stdin, a pipe or cannot be
// listed.
func inputBytes(args []string) int64 {
	ins, err := bronze.ResolveInputs(args)
	if err != nil {
		return -1
	}
	var n int64
	for _, in := range ins {
		if in.Name == "-" {
			return -1
		}
		if in.Size == 0 { // a pipe or device is listed without a size
			if fi, err := os.Stat(in.Name); err != nil || !fi.Mode().IsRegular() {
				return -1
			}
		}
		n += in.Size
	}
	return n
}
