package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/sql"
)

func init() { register(newLoadCmd) }

func newLoadCmd(a *App) *cobra.Command {
	var (
		f             dbFlags
		lake, ds      string
		from, to      string
		tables        []string
		allPartitions bool
		migrate       bool
		noMigrate     bool
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load the lake into PostgreSQL (binary COPY, idempotent upserts, one transaction per table and day)",
		Long: `load copies the lake's gold tables, feature snapshots, predictions, model
registry and run records into the warehouse (schema churn). It first applies
the embedded migrations the database lacks, as db migrate does (under its
advisory lock, so concurrent loads apply each once); with --migrate=false a
schema that is not current exits 2 naming db migrate. Each table and day is
one transaction: COPY into a staging table,
remove the day's rows the lake no longer has, upsert the rest, check the row
count against the lake, commit. Loading a day twice leaves the same rows; a
failed or killed load leaves the previous rows.

Exit 3 when the lake's columns do not match the table or the counts differ;
exit 4 when the database is unreachable, a lock or statement timed out, or
the connection was lost (a retry may succeed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if lake == "" {
				return usageErrorf("--lake is required")
			}
			if _, err := dayWindow(ds, from, to); err != nil {
				return err
			}
			if ds != "" {
				from, to = ds, ds
			}
			if from == "" && to == "" && !allPartitions {
				a.Log.Info("no --ds or --from/--to: loading every partition in the lake")
			}
			var groups []string
			for _, g := range tables {
				if g = strings.TrimSpace(g); g != "" && !slices.Contains(groups, g) {
					groups = append(groups, g)
				}
			}
			if noMigrate {
				if cmd.Flags().Changed("migrate") {
					return usageErrorf("--no-migrate and --migrate exclude each other")
				}
				a.Log.Warn("--no-migrate is deprecated: use --migrate=false", "stage", "load")
				migrate = false
			}
			ctx := cmd.Context()
			conn, err := f.connect(ctx, a)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			st, err := sql.Load(ctx, conn, sql.LoadOptions{
				Lake: lake, From: from, To: to, Groups: groups, Log: a.Log, Migrate: migrate,
				OnUnit: func(u sql.UnitStats) { a.Summary.Add("units", 1) },
			})
			if st != nil {
				a.Summary.Set("migrations_applied", len(st.Migrations))
				var total int64
				// In table order, so the summary line's keys are the same every run.
				for _, t := range slices.Sorted(maps.Keys(st.Rows)) {
					a.Summary.Set("rows_"+t, st.Rows[t])
					total += st.Rows[t]
				}
				a.Summary.Set("rows", total)
				if err == nil {
					for _, u := range st.Units {
						part := u.Partition
						if part == "" {
							part = "-"
						}
						fmt.Fprintf(a.Stdout, "%s\t%s\t%d rows\t%d removed\t%d ms\n", u.Table, part, u.Rows, u.Removed, u.DurationMS)
					}
				}
			}
			if err == nil && st != nil && len(st.Units) == 0 {
				return fmt.Errorf("%w: nothing to load in %s for the selected days and tables", exitcode.ErrNothingToDo, lake)
			}
			return err
		},
	}
	f.add(cmd)
	fs := cmd.Flags()
	config.Var(fs, &lake, "lake")
	fs.StringVar(&ds, "ds", "", "load one day's partitions (YYYY-MM-DD)")
	fs.StringVar(&from, "from", "", "first day to load (YYYY-MM-DD, inclusive)")
	fs.StringVar(&to, "to", "", "last day to load (YYYY-MM-DD, inclusive)")
	config.Var(fs, &tables, "load.tables")
	fs.BoolVar(&allPartitions, "all", false, "load every partition (the default without --ds/--from/--to; silences the log line)")
	config.Var(fs, &migrate, "load.migrate")
	fs.BoolVar(&noMigrate, "no-migrate", false, "deprecated: use --migrate=false")
	_ = fs.MarkHidden("no-migrate")
	return cmd
}
