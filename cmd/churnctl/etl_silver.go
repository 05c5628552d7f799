package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/etl/gold"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/lake"
)

func init() {
	registerETL(newETLSilverCmd)
	registerETL(newETLGoldCmd)
}

// layerOpts are the flags shared by `etl`, `etl silver` and `etl gold`.
type layerOpts struct {
	lake      string
	ds        string
	from, to  string
	lookback  int
	anonymous []string
	workers   int
}

func (o *layerOpts) flags(cmd *cobra.Command, anonymous bool) {
	f := cmd.Flags()
	config.Var(f, &o.lake, "lake")
	f.StringVar(&o.ds, "ds", "", "rebuild only this day (YYYY-MM-DD, UTC)")
	f.StringVar(&o.from, "from", "", "rebuild days from this one (YYYY-MM-DD)")
	f.StringVar(&o.to, "to", "", "rebuild days up to this one, inclusive (YYYY-MM-DD)")
	config.Var(f, &o.lookback, "etl.lookback")
	f.IntVar(&o.workers, "workers", 3, "days read back from bronze and processed at once (3 keeps both cores busy while a day waits on I/O; about 200 MiB each); etl with inputs cleans each new day in the bronze writer that wrote it")
	if anonymous {
		config.Var(f, &o.anonymous, "etl.anonymous_user_ids")
	}
}

// window validates the day flags.
func (o *layerOpts) window() (silver.Window, error) {
	if o.lake == "" {
		return silver.Window{}, usageErrorf("--lake is required")
	}
	if o.lookback < 0 {
		return silver.Window{}, usageErrorf("--lookback must be >= 0")
	}
	days, err := dayWindow(o.ds, o.from, o.to)
	if err != nil {
		return silver.Window{}, err
	}
	w := silver.Window{Lookback: o.lookback}
	if days.HasFrom {
		w.From = days.From.MS()
	}
	if days.HasTo {
		w.To = days.To.MS()
	}
	w.All = o.ds == "" && w.From == 0 && w.To == 0
	return w, nil
}

func (o *layerOpts) anonymousSet() map[string]bool {
	m := map[string]bool{}
	for _, id := range o.anonymous {
		if id = strings.TrimSpace(id); id != "" {
			m[id] = true
		}
	}
	return m
}

// reportChecks puts the quality report in the log and the summary and
// returns the error of failed error-severity checks.
func reportChecks(a *App, rep *quality.Report) error {
	rep.Log(a.Log)
	names := rep.Names()
	if names == nil {
		names = []string{}
	}
	a.Summary.Set("checks_run", names)
	failed := rep.Failed(quality.Error)
	warned := rep.Failed(quality.Warn)
	if failed == nil {
		failed = []string{}
	}
	if warned == nil {
		warned = []string{}
	}
	a.Summary.Set("checks_failed", failed)
	a.Summary.Set("checks_warned", warned)
	return rep.Err()
}

func setSilverSummary(a *App, st silver.Stats) {
	a.Summary.Set("days", len(st.Days))
	if len(st.Days) > 0 {
		a.Summary.Set("first_day", silver.DayString(st.Days[0]))
		a.Summary.Set("last_day", silver.DayString(st.Days[len(st.Days)-1]))
	}
	a.Summary.Set("bronze_rows", st.BronzeRows)
	a.Summary.Set("user_rows", st.UserRows)
	a.Summary.Set("anonymous_rows", st.AnonymousRows)
	a.Summary.Set("duplicates_removed", st.DuplicatesRemoved)
	a.Summary.Set("key_conflicts", st.KeyConflicts)
	a.Summary.Set("non_monotonic_items", st.NonMonotonic)
	a.Summary.Set("sessions", st.SessionsBuilt)
	a.Summary.Set("sessions_split", st.SessionsSplit)
	a.Summary.Set("sessions_crossing_midnight", st.CrossingMidnight)
}

func setGoldSummary(a *App, st gold.Stats) {
	a.Summary.Set("user_days", st.UserDays)
	a.Summary.Set("fact_sessions", st.Sessions)
	a.Summary.Set("users", st.Users)
	a.Summary.Set("dim_user_rows", st.DimUserRows)
	a.Summary.Set("gold_days", st.Days)
}

// publishAnyway is an error after which inTx still publishes what is
// staged (bronze's failed quality gate publishes its quarantine), then
// fails the run with it.
type publishAnyway struct{ err error }

func (p publishAnyway) Error() string { return p.err.Error() }
func (p publishAnyway) Unwrap() error { return p.err }

// commitHook, if set, is the Hook of the lake transactions of etl, etl
// silver and etl gold (crash tests kill the process at a commit step).
var commitHook func(step string)

// inTx runs f in a lake transaction and commits it unless f or the quality
// report failed (then the lake keeps its previous state); after a
// publishAnyway error it commits what is staged and returns the error.
func inTx(ctx context.Context, a *App, dir string, rep *quality.Report, f func(tx *lake.Tx) error) error {
	l := lake.New(dir)
	tx, err := l.Begin(a.RunID)
	if err != nil {
		return err
	}
	ver, _ := buildVersion()
	tx.Version = ver
	tx.Hook = commitHook
	err = f(tx)
	var pa publishAnyway
	if errors.As(err, &pa) {
		if cerr := tx.Commit(); cerr != nil {
			return errors.Join(err, cerr)
		}
		return err
	}
	if err == nil {
		err = ctx.Err()
	}
	if qerr := reportChecks(a, rep); err == nil {
		err = qerr
	}
	if err != nil {
		return errors.Join(err, tx.Abort())
	}
	n := len(tx.Partitions())
	a.Summary.Set("published_partitions", n)
	start := time.Now()
	if err := tx.Commit(); err != nil {
		return err
	}
	a.Log.Info("published", "partitions", n, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

func newETLSilverCmd(a *App) *cobra.Command {
	var o layerOpts
	cmd := &cobra.Command{
		Use:   "silver --lake DIR [--ds D | --from A --to B] [--lookback N]",
		Short: "Bronze → silver: split anonymous traffic, deduplicate, sort, sessionize, level history",
		Long: `Rebuilds silver/events, silver/anonymous_events, silver/session_parts,
silver/sessions and silver/level_history for the selected bronze days (all by
default), publishing them atomically. Quality checks with severity error fail
the run with exit 3 and publish nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := o.window()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rep := &quality.Report{}
			return inTx(ctx, a, o.lake, rep, func(tx *lake.Tx) error {
				st, err := silver.Run(ctx, silver.Config{Lake: lake.New(o.lake), Tx: tx, Window: w, Workers: o.workers,
					Options: silver.Options{AnonymousUserIDs: o.anonymousSet()}, Log: a.Log, Report: rep})
				setSilverSummary(a, st)
				return err
			})
		},
	}
	o.flags(cmd, true)
	return cmd
}

func newETLGoldCmd(a *App) *cobra.Command {
	var o layerOpts
	cmd := &cobra.Command{
		Use:   "gold --lake DIR [--ds D | --from A --to B] [--lookback N]",
		Short: "Silver → gold: fact_user_day, fact_session, SCD2 dim_user, dim_date, dim_page",
		Long: `Rebuilds gold/fact_user_day of the selected silver days (all by default),
gold/fact_session of those days and the day before, and the dimensions
(dim_user from the whole silver level history), publishing them atomically.
The event time range covered is in gold/_manifest.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := o.window()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rep := &quality.Report{}
			return inTx(ctx, a, o.lake, rep, func(tx *lake.Tx) error {
				st, err := gold.Run(ctx, gold.Config{Lake: lake.New(o.lake), Tx: tx, Window: w, Workers: o.workers, Log: a.Log, Report: rep})
				setGoldSummary(a, st)
				return err
			})
		},
	}
	o.flags(cmd, false)
	return cmd
}
