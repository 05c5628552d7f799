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
	var o layerOpts
	var bo etlBronzeOpts
	cmd := &cobra.Command{
		Use:   "etl --lake DIR [INPUT...] [--ds D | --from A --to B] [--lookback N]",
		Short: "Load JSON event logs into the Parquet lake (bronze, silver, gold)",
		Long: `Runs bronze → silver → gold in one go: ingests INPUT (if given) into bronze,
then rebuilds silver and gold for the selected days (all by default; --ds or
--from/--to, widened by --lookback days for late events). The three layers of
the run are published together, atomically; a failed error-severity quality
check (exit 3) publishes nothing (a failed bronze gate publishes only the
quarantine, as etl bronze does). Each day is cleaned from the rows bronze has
just decoded, without reading bronze back. Each layer is also its own
subcommand.`,
		Args: cobra.ArbitraryArgs,
		RunE: etlAll(a, &o, &bo),
	}
	o.flags(cmd, true)
	bo.flags(cmd)
	for _, f := range etlCommands {
		cmd.AddCommand(f(a))
	}
	return cmd
}
