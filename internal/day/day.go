// Package day is churnctl's one calendar-day type and its one parser of
// day flags: a Day is a UTC calendar day counted from 1970-01-01 (Arrow
// date32, Parquet DATE), written YYYY-MM-DD; a Window is the days a command
// selects with --ds or --from/--to.
//
// Errors name the flag and are plain errors: the caller decides their kind
// (cmd/churnctl makes them usage errors, exit 2).
package day

import (
	"errors"
	"fmt"
	"time"
)

// Day is a UTC calendar day: days since 1970-01-01.
type Day int32

// MillisPerDay is the length of a day in Unix milliseconds.
const MillisPerDay = int64(24 * time.Hour / time.Millisecond)

// Parse parses YYYY-MM-DD.
func Parse(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q: want YYYY-MM-DD", s)
	}
	return Of(t), nil
}

// Of returns the UTC day of t.
func Of(t time.Time) Day { return OfMS(t.UnixMilli()) }

// OfMS returns the UTC day of a Unix millisecond timestamp.
func OfMS(ms int64) Day {
	d := ms / MillisPerDay
	if ms%MillisPerDay < 0 {
		d--
	}
	return Day(d)
}

// Time returns midnight UTC of d.
func (d Day) Time() time.Time { return time.UnixMilli(d.MS()).UTC() }

// MS returns midnight UTC of d in Unix milliseconds.
func (d Day) MS() int64 { return int64(d) * MillisPerDay }

// Add returns the day n days after d (before, for n < 0).
func (d Day) Add(n int) Day { return d + Day(n) }

// String formats d as YYYY-MM-DD.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Window is the days a command selects: --ds D (From = To = D) or
// --from A and/or --to B (inclusive). A bound that was not given is not
// set; a Window with neither selects every day.
type Window struct {
	From, To       Day
	HasFrom, HasTo bool
}

// All reports whether w selects every day.
func (w Window) All() bool { return !w.HasFrom && !w.HasTo }

// ParseWindow parses the --ds, --from and --to flags ("" when not given),
// which every command that selects days takes with the same rules and
// messages: YYYY-MM-DD days, --ds excludes --from/--to, --to not before
// --from.
func ParseWindow(ds, from, to string) (Window, error) {
	var w Window
	if ds != "" && (from != "" || to != "") {
		return w, errors.New("--ds and --from/--to exclude each other")
	}
	for _, f := range []struct {
		name, v string
		day     *Day
		has     *bool
	}{{"ds", ds, &w.From, &w.HasFrom}, {"from", from, &w.From, &w.HasFrom}, {"to", to, &w.To, &w.HasTo}} {
		if f.v == "" {
			continue
		}
		d, err := Parse(f.v)
		if err != nil {
			return Window{}, fmt.Errorf("--%s %w", f.name, err)
		}
		*f.day, *f.has = d, true
	}
	if ds != "" {
		w.To, w.HasTo = w.From, true
	}
	if w.HasFrom && w.HasTo && w.To < w.From {
		return Window{}, fmt.Errorf("--to %s is before --from %s", w.To, w.From)
	}
	return w, nil
}
