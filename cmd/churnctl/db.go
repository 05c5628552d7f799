package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/secret"
	"github.com/churnctl/churnctl/sql"
)

func init() { register(newDBCmd) }

// dbFlags are the connection flags of db and load.
type dbFlags struct {
	dsn              secret.DSN
	statementTimeout time.Duration
	lockTimeout      time.Duration
}

func (f *dbFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	config.Var(fs, &f.dsn, "load.dsn")
	config.Var(fs, &f.statementTimeout, "load.statement_timeout")
	config.Var(fs, &f.lockTimeout, "load.lock_timeout")
}

// connect resolves the DSN (--dsn, $CHURNCTL_DSN, PG* variables) and
// connects. It logs where it connects without the password.
func (f *dbFlags) connect(ctx context.Context, a *App) (*pgx.Conn, error) {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--statement-timeout", f.statementTimeout}, {"--lock-timeout", f.lockTimeout}} {
		if err := config.CheckTimeout(d.v); err != nil {
			return nil, usageErrorf("%s %v", d.flag, err)
		}
	}
	dsn := stageDSN(ctx, f.dsn)
	if dsn.IsZero() {
		dsn = secret.NewDSN(os.Getenv("CHURNCTL_DSN"))
	}
	cfg, err := sql.ParseConfig(sql.ConnOptions{DSN: dsn, StatementTimeout: f.statementTimeout, LockTimeout: f.lockTimeout})
	if err != nil {
		return nil, err
	}
	t := sql.TargetOf(cfg)
	a.Log.Info("connecting", "host", t.Host, "port", t.Port, "dbname", t.Database, "user", t.User)
	return sql.Connect(ctx, cfg)
}

func newDBCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the PostgreSQL warehouse schema (migrate, status)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newDBMigrateCmd(a), newDBStatusCmd(a))
	return cmd
}

func newDBMigrateCmd(a *App) *cobra.Command {
	var f dbFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded schema migrations (idempotent, serialised by an advisory lock)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			conn, err := f.connect(ctx, a)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			applied, err := sql.Migrate(ctx, conn, a.Log)
			a.Summary.Set("applied", int64(len(applied)))
			if err != nil {
				return err
			}
			for _, m := range applied {
				fmt.Fprintf(a.Stdout, "applied %04d_%s\n", m.Version, m.Name)
			}
			if len(applied) == 0 {
				fmt.Fprintln(a.Stdout, "schema is current")
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newDBStatusCmd(a *App) *cobra.Command {
	var f dbFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the applied and pending schema migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			conn, err := f.connect(ctx, a)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			applied, pending, err := sql.Status(ctx, conn)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS\tAPPLIED_AT")
			for _, m := range applied {
				fmt.Fprintf(tw, "%04d\t%s\tapplied\t%s\n", m.Version, m.Name, m.AppliedAt.UTC().Format(time.RFC3339))
			}
			for _, m := range pending {
				fmt.Fprintf(tw, "%04d\t%s\tpending\t-\n", m.Version, m.Name)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			versions := []int64{}
			for _, m := range applied {
				versions = append(versions, m.Version)
			}
			a.Summary.Set("applied", versions)
			a.Summary.Set("pending", int64(len(pending)))
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
