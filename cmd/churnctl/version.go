package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time by the Makefile: -X main.version=... -X main.revision=...
var (
	version  = ""
	revision = ""
)

func init() { register(newVersionCmd) }

// buildVersion returns the module version and git revision of this binary.
func buildVersion() (ver, rev string) {
	ver, rev = version, revision
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

// versionLine is what `churnctl version` and `churnctl --version` print.
func versionLine(ver, rev string) string {
	return fmt.Sprintf("churnctl %s (revision %s, %s, %s/%s)", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and git revision of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ver, rev := buildVersion()
			fmt.Fprintln(a.Stdout, versionLine(ver, rev))
			a.Summary.Set("version", ver)
			a.Summary.Set("revision", rev)
			return nil
		},
	}
}
