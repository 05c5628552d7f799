package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/churnctl/churnctl/internal/config"
)

// Every subcommand flag that is a setting (--lake, --min-samples-leaf,
// --dsn, ...) is bound from the declaration table (config.Var): the same
// name, type, default and help as on run. Such a command also takes
// --config FILE (default $CHURNCTL_CONFIG), and applySettings fills the
// flags not given from CHURNCTL_* variables and the file, so every command
// resolves a setting as run does: flag > env > file > default.

// hasSettings reports whether cmd has a flag bound to a setting (its own
// or inherited from a parent's persistent flags).
func hasSettings(cmd *cobra.Command) bool {
	found := false
	visit := func(f *pflag.Flag) {
		if len(f.Annotations[config.AnnotationSetting]) > 0 {
			found = true
		}
	}
	cmd.LocalFlags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return found
}

// addConfigFlags gives every command with settings, but run and config
// show (which resolve the whole configuration themselves), --config.
func addConfigFlags(a *App, c *cobra.Command) {
	for _, sub := range c.Commands() {
		addConfigFlags(a, sub)
	}
	switch commandName(c) {
	case "run", "config show":
		return
	}
	if c.Runnable() && hasSettings(c) && c.Flags().Lookup("config") == nil {
		c.Flags().StringVar(&a.configPath, "config", envOr("CHURNCTL_CONFIG", ""), "YAML config file: its settings apply to this command's flags of the same name (env CHURNCTL_CONFIG)")
	}
}

// applySettings runs before every command: it resolves the configuration
// (file and environment) and sets the command's setting flags that were not
// given. A stage of `run` (--nested) takes every setting on its command line
// from the run, which resolved them already.
func (a *App) applySettings(cmd *cobra.Command) error {
	switch commandName(cmd) {
	case "run", "config show":
		return nil
	}
	if !hasSettings(cmd) {
		return nil
	}
	if a.nested {
		a.cfg = config.Default()
		resolveRegistry(cmd)
		return nil
	}
	cfg, src, err := config.Resolve(a.configPath, os.Environ())
	if err != nil {
		return err
	}
	a.cfg = cfg
	config.Apply(cmd.Flags(), &cfg, src)
	for _, w := range config.Deprecated(cmd.Flags()) {
		a.Log.Warn(w, "stage", commandName(cmd))
	}
	resolveRegistry(cmd)
	return nil
}
