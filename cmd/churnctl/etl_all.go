package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/etl/gold"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
)

// etlBronzeOpts are the bronze flags of the `etl` parent (same meaning as
// in `etl bronze`).
type etlBronzeOpts struct {
	maxInvalidRatio float64
	allowTruncated  bool
	force           bool
	maxLineBytes    int
	memoryBudgetMiB int
}

func (b *etlBronzeOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Float64Var(&b.maxInvalidRatio, "max-invalid-ratio", 0.01, "bronze: fail (exit 3) when more than this fraction of lines is quarantined")
	f.BoolVar(&b.allowTruncated, "allow-truncated", false, "bronze: publish what a truncated or corrupt gzip input yielded instead of failing")
	f.BoolVar(&b.force, "force", false, "bronze: re-ingest inputs already ingested (same content), replacing their rows")
	f.IntVar(&b.maxLineBytes, "max-line-bytes", 64*1024, "bronze: quarantine longer lines as line_too_long")
	f.IntVar(&b.memoryBudgetMiB, "memory-budget", 96, "bronze: MiB of decoded rows buffered before writing")
}

// etlAll is the RunE of the `etl` parent: bronze → silver → gold in one go.
// Bronze publishes first (its own transaction); silver and gold then share
// one lake transaction (gold is derived from silver's in-memory results,
// silver is not read back), so either both layers of the run are published
// or neither.
func etlAll(a *App, o *layerOpts, bo *etlBronzeOpts) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		w, err := o.window()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if len(args) > 0 {
			if err := runBronzeStage(cmd, a, o, bo, w, args); err != nil {
				// Nothing new for bronze is nothing to do only if silver and
				// gold already hold what bronze has (a run killed between the
				// bronze and the silver/gold commits left them behind).
				if !errors.Is(err, exitcode.ErrNothingToDo) || goldCurrent(o.lake) {
					return err
				}
				a.Log.Info("bronze has nothing new but silver/gold are behind it; rebuilding them", "stage", "etl")
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// Bronze bounds the heap tightly for its streaming; silver
				// holds two days at a time: keep RSS under 1 GiB.
				debug.SetMemoryLimit(768 << 20)
			}
		}
		rep := &quality.Report{}
		return inTx(ctx, a, o.lake, rep, func(tx *lake.Tx) error {
			l := lake.New(o.lake)
			g := gold.NewBuilder(gold.Config{Lake: l, Tx: tx, Log: a.Log, Report: rep})
			defer g.Release()
			st, err := silver.Run(ctx, silver.Config{Lake: l, Tx: tx, Window: w, Workers: o.workers,
				Options: silver.Options{AnonymousUserIDs: o.anonymousSet()}, Log: a.Log, Report: rep, Sink: g})
			setSilverSummary(a, st)
			if err != nil {
				return err
			}
			start := time.Now()
			gst, err := g.Finish(ctx)
			setGoldSummary(a, gst)
			a.Log.Info("gold end", "stage", "gold", "rows_out", gst.UserDays, "dim_user_rows", gst.DimUserRows,
				"finish_ms", time.Since(start).Milliseconds())
			return err
		})
	}
}

// runBronzeStage ingests the inputs into bronze through the `etl bronze`
// code path, keeping the events of the window's days (widened by
// --lookback, so late events of those days are ingested too).
// goldCurrent reports whether gold was published after the newest bronze
// partition (both are lake commits, so their manifests' times order them).
func goldCurrent(root string) bool {
	g, err := os.Stat(filepath.Join(root, "gold", "_manifest.json"))
	if err != nil {
		return false
	}
	ms, _ := filepath.Glob(filepath.Join(root, "bronze", "events", "*", lake.ManifestName))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().After(g.ModTime()) {
			return false
		}
	}
	return true
}

func runBronzeStage(cmd *cobra.Command, a *App, o *layerOpts, bo *etlBronzeOpts, w silver.Window, inputs []string) error {
	opts := bronzeOptions{lake: o.lake, maxInvalidRatio: bo.maxInvalidRatio, allowTruncated: bo.allowTruncated,
		force: bo.force, maxLineBytes: bo.maxLineBytes, memoryBudgetMiB: bo.memoryBudgetMiB}
	if w.From != 0 {
		opts.from = silver.DayString(w.From - int64(w.Lookback)*silver.DayMillis)
	}
	if w.To != 0 {
		opts.to = silver.DayString(w.To)
	}
	return runBronze(cmd, a, &opts, inputs)
}
