package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/config"
)

func init() { register(newConfigCmd) }

func newConfigCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration of `churnctl run`",
	}
	var path string
	scratch := config.Default() // the flags show the built-in defaults
	show := &cobra.Command{
		Use:   "show [--config churnctl.yaml] [--KEY VALUE ...]",
		Short: "Print the effective config and each setting's source (default, file, env, flag), secrets masked",
		Long: `show prints the configuration that "churnctl run" would use: the built-in
defaults, then the YAML file (--config or CHURNCTL_CONFIG), then CHURNCTL_*
environment variables, then flags, with the DSN's password masked. Each
setting's line ends with a comment naming where its value came from:
"# default", "# file PATH", "# env CHURNCTL_…" or "# flag --…" (the output
is still YAML: it loads to the same values). Every setting is checked as
run checks it: a bad value exits 2 naming the key.`,
		Example: `  churnctl config show --config churnctl.example.yaml
  CHURNCTL_TRAIN_TREES=300 churnctl config show --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, src, err := config.Resolve(path, os.Environ())
			if err != nil {
				return err
			}
			for _, k := range config.ApplyChanged(cmd.Flags(), &scratch, &cfg) {
				src[k] = config.FromFlag
			}
			for _, w := range config.Deprecated(cmd.Flags()) {
				a.Log.Warn(w)
			}
			check := cfg
			if check.Lake == "" {
				// Shown as not set; every other setting is still checked.
				a.Log.Warn("lake is not set: run would exit 2 (config key lake, CHURNCTL_LAKE or --lake)")
				check.Lake = "."
			}
			if err := validateConfig(check); err != nil {
				return err
			}
			b, err := config.Annotated(cfg, src, path)
			if err != nil {
				return err
			}
			if _, err := a.Stdout.Write(b); err != nil {
				return err
			}
			a.Summary.Set("config", path)
			a.Summary.Set("settings", len(config.Settings(&cfg)))
			return nil
		},
	}
	show.Flags().StringVar(&path, "config", envOr("CHURNCTL_CONFIG", ""), "YAML config file (env CHURNCTL_CONFIG)")
	config.BindFlags(show.Flags(), &scratch)
	cmd.AddCommand(show)
	return cmd
}
