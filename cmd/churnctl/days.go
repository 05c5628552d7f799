package main

import "github.com/churnctl/churnctl/internal/day"

// dayWindow parses a command's --ds, --from and --to: every command that
// selects days (run, etl and its layers, load, features' cutoffs) goes
// through day.ParseWindow, so the rules and messages are the same; a bad
// value is a usage error (exit 2).
func dayWindow(ds, from, to string) (day.Window, error) {
	w, err := day.ParseWindow(ds, from, to)
	if err != nil {
		return w, usageErrorf("%v", err)
	}
	return w, nil
}

// dayFlag parses a one-day flag (--as-of, --ingest-date) given as
// YYYY-MM-DD; ok is false when it was not given.
func dayFlag(flag, s string) (d day.Day, ok bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	if d, err = day.Parse(s); err != nil {
		return 0, false, usageErrorf("--%s %v", flag, err)
	}
	return d, true, nil
}
