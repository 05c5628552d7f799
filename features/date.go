package features

import (
	"time"

	"github.com/churnctl/churnctl/internal/day"
)

// Date is a UTC calendar day, counted in days since 1970-01-01 (Arrow
// date32): churnctl's one day type, day.Day.
type Date = day.Day

const (
	msPerDay = day.MillisPerDay
	noDay    = Date(-1 << 31)
)

// DateOf returns the UTC day of t.
func DateOf(t time.Time) Date { return day.Of(t) }

// DateOfMS returns the UTC day of a Unix millisecond timestamp.
func DateOfMS(ms int64) Date { return day.OfMS(ms) }
