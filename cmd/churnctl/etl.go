package main

import (
	"github.com/spf13/cobra"
)

func init() { register(newETLCmd) }

// etlCommands holds the constructors of the `etl` subcommands (bronze,
// silver, gold); each layer's file adds its own in init().
var etlCommands []func(*App) *cobra.Command

func registerETL(f func(*App) *cobra.Command) { etlCommands = append(etlCommands, f) }

func newETLCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etl",
		Short: "Load JSON event logs into the Parquet lake (bronze, silver, gold)",
		Args:  cobra.ArbitraryArgs,
	}
	for _, f := range etlCommands {
		cmd.AddCommand(f(a))
	}
	return cmd
}
