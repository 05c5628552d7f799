package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/etl/gold"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/slab"
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
	config.Var(f, &b.maxInvalidRatio, "etl.max_invalid_ratio")
	config.Var(f, &b.allowTruncated, "etl.allow_truncated")
	f.BoolVar(&b.force, "force", false, "bronze: re-ingest inputs already ingested (same content), replacing their rows")
	f.IntVar(&b.maxLineBytes, "max-line-bytes", 64*1024, "bronze: quarantine longer lines as line_too_long")
	config.Var(f, &b.memoryBudgetMiB, "etl.memory_budget")
}

// etlAll is the RunE of the `etl` parent: bronze → silver → gold in one
// go and in one lake transaction, so a run publishes all three layers or
// nothing. Silver cleans each bronze day as soon as its file is written,
// from the rows in memory (silver.Early), while bronze goes on decoding;
// gold is derived from silver's in-memory results. Neither layer is read
// back. When bronze's quality gate fails only its quarantine is published,
// as with `etl bronze`.
func etlAll(a *App, o *layerOpts, bo *etlBronzeOpts) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		w, err := o.window()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		rep := &quality.Report{}
		err = inTx(ctx, a, o.lake, rep, func(tx *lake.Tx) error {
			l := lake.New(o.lake)
			// Silver and gold recycle their day-sized buffers instead of
			// faulting in fresh memory for every day.
			mem := slab.New(64 << 20)
			g := gold.NewBuilder(gold.Config{Lake: l, Tx: tx, Log: a.Log, Report: rep, Mem: mem})
			defer g.Release()
			scfg := silver.Config{Lake: l, Tx: tx, Window: w, Workers: o.workers, ReadStaged: true, Mem: mem,
				Options: silver.Options{AnonymousUserIDs: o.anonymousSet()}, Log: a.Log, Report: rep, Sink: g}
			if len(args) > 0 {
				early := silver.NewEarly(scfg)
				bst, err := runBronzeStage(cmd, a, o, bo, w, args, tx, early.Offer)
				switch {
				case err == nil:
					scfg.Early = early
				case errors.Is(err, exitcode.ErrNothingToDo) && !goldCurrent(o.lake):
					// Nothing new for bronze is nothing to do only if silver
					// and gold already hold what bronze has (a run of `etl
					// bronze` alone, or an older churnctl, left them behind).
					_ = early.Close()
					a.Log.Info("bronze has nothing new but silver/gold are behind it; rebuilding them", "stage", "etl")
				case bst.Staged:
					// Bronze's quality gate failed: publish its quarantine only.
					_ = early.Close()
					for _, t := range []string{silver.TableEvents, silver.TableAnonymous, silver.TableSessionParts,
						silver.TableLevelHistory, gold.TableFactUserDay} {
						if uerr := tx.Unstage(t); uerr != nil {
							return errors.Join(err, uerr)
						}
					}
					return publishAnyway{err}
				default:
					_ = early.Close()
					return err
				}
			}
			st, err := silver.Run(ctx, scfg)
			setSilverSummary(a, st)
			if err != nil {
				return err
			}
			start := time.Now()
			gst, err := g.Finish(ctx)
			setGoldSummary(a, gst)
			a.Log.Info("gold end", "stage", "gold", "rows_out", gst.UserDays, "dim_user_rows", gst.DimUserRows,
				"duration_ms", time.Since(start).Milliseconds())
			return err
		})
		var pa publishAnyway
		if len(args) > 0 && (err == nil || errors.As(err, &pa)) {
			a.Summary.Set("published", true)
		}
		return err
	}
}

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

// runBronzeStage stages the inputs into bronze in tx through the `etl
// bronze` code path, keeping the events of the window's days (widened by
// --lookback, so late events of those days are ingested too).
func runBronzeStage(cmd *cobra.Command, a *App, o *layerOpts, bo *etlBronzeOpts, w silver.Window, inputs []string,
	tx *lake.Tx, onEvents func(ctx context.Context, f bronze.Flush) error) (bronze.Stats, error) {
	// Bronze bounds its buffers tightly; silver works on up to three days
	// beside it. The soft limit keeps the GC goal near the live heap, which
	// grows a little with a day's size (about 170 MB at 1 GB of input, 250 MB
	// at 11.8 GB: silver's day builders, gold's user-days, Parquet writers).
	// At 768 MiB the goal was twice the live heap and peak RSS rose 1.53x from
	// 1 GB to 11.8 GB (418 -> 640 MiB); at the budget + 352 MiB (448 MiB with
	// the default budget) it is about 1.2x (395 -> 496 MiB measured) for 2.6 %
	// more CPU. `make bench-scale` holds the bar.
	opts := bronzeOptions{lake: o.lake, maxInvalidRatio: bo.maxInvalidRatio, allowTruncated: bo.allowTruncated,
		force: bo.force, maxLineBytes: bo.maxLineBytes, memoryBudgetMiB: bo.memoryBudgetMiB,
		tx: tx, onEvents: onEvents, memLimit: int64(bo.memoryBudgetMiB)<<20 + 352<<20}
	if w.From != 0 {
		opts.from = silver.DayString(w.From - int64(w.Lookback)*silver.DayMillis)
	}
	if w.To != 0 {
		opts.to = silver.DayString(w.To)
	}
	return runBronze(cmd, a, &opts, inputs)
}
