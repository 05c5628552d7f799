package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
)

// lakeUse is how a command uses the lake its --lake flag names.
type lakeUse int

const (
	// lakeReads: the command only reads the lake (load copies it into
	// PostgreSQL). It must exist, and the command writes no run record
	// into it.
	lakeReads lakeUse = iota
	// lakeWrites: the command publishes into a lake that must exist
	// (features and silver/gold are built from what is there); it writes
	// its run record into LAKE/runs/.
	lakeWrites
	// lakeCreates: the command may start a new lake (ingesting, scoring
	// into one); it writes its run record.
	lakeCreates
	// lakeOwn: the command handles the lake itself (run: the lake comes
	// from its config; config show: --lake is a setting, not a lake).
	lakeOwn
)

// lakeUses lists the commands that take --lake by command path. A command
// not listed only reads it (the safe default: no record, no new directory).
var lakeUses = map[string]lakeUse{
	"etl":         lakeCreates,
	"etl bronze":  lakeCreates,
	"score":       lakeCreates,
	"etl silver":  lakeWrites,
	"etl gold":    lakeWrites,
	"features":    lakeWrites,
	"load":        lakeReads,
	"run":         lakeOwn,
	"config show": lakeOwn,
}

// prepareLakes runs before every command (the root's PersistentPreRunE):
// it is the one place that makes sure a command reads a whole lake.
//
//   - Every lake the command names — by --lake, or as the lake that a
//     --features or --registry path lies in — is opened with lake.Open,
//     which completes (under the lake's lock) a commit that a crashed
//     writer left after its commit point, or fails. Without it, `load`
//     after an `etl` killed mid-publish loaded dim_user from the new run
//     and the facts from the old one.
//   - A --lake that does not exist is an error (exit 3 naming the path;
//     99 with --skip-if-empty) unless the command may create a lake.
//   - Only commands that write into the lake record their run in
//     LAKE/runs/; read-only ones (load, config show, models ...) leave the
//     lake as it was.
func (a *App) prepareLakes(cmd *cobra.Command) error {
	name := commandName(cmd)
	if isCompletion(cmd) {
		return nil
	}
	use := lakeUses[name]
	if use == lakeOwn {
		return nil
	}
	opened := map[string]bool{}
	open := func(root string) error {
		if opened[root] {
			return nil
		}
		opened[root] = true
		if _, err := lake.Open(root); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if f := cmd.Flags().Lookup("lake"); f != nil && f.Value.Type() == "string" && f.Value.String() != "" {
		dir := f.Value.String()
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist) && use == lakeCreates:
			// A new lake: nothing to recover.
		case errors.Is(err, fs.ErrNotExist):
			if a.skipIfEmpty {
				a.Log.Warn("the lake does not exist: nothing to do", "lake", dir)
				return fmt.Errorf("%w: lake %s does not exist", exitcode.ErrNothingToDo, dir)
			}
			return fmt.Errorf("%w: %s: lake %s does not exist (check --lake; a lake is created by churnctl etl or run)",
				exitcode.ErrBadInput, name, dir)
		case err != nil:
			return fmt.Errorf("%w: %s: lake %s: %v", exitcode.ErrBadInput, name, dir, err)
		case !fi.IsDir():
			return fmt.Errorf("%w: %s: lake %s is not a directory", exitcode.ErrBadInput, name, dir)
		default:
			if err := open(dir); err != nil {
				return err
			}
		}
		if use != lakeReads {
			a.RecordIn(dir)
		}
	}
	for _, flag := range []string{"features", "registry"} {
		for _, p := range flagValues(cmd, flag) {
			if root, ok := lake.Find(p); ok {
				if err := open(root); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// flagValues returns the values of a string or string-slice flag (none if
// the command has no such flag or it is empty).
func flagValues(cmd *cobra.Command, name string) []string {
	f := cmd.Flag(name)
	if f == nil {
		return nil
	}
	switch f.Value.Type() {
	case "string":
		if v := f.Value.String(); v != "" {
			return []string{v}
		}
	case "stringSlice", "stringArray":
		if sv, ok := f.Value.(interface{ GetSlice() []string }); ok {
			return sv.GetSlice()
		}
	}
	return nil
}
