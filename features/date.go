package features

import (
	"fmt"
	"time"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// Date is a UTC calendar day, counted in days since 1970-01-01 (Arrow date32).
type Date int32

const (
	msPerDay = int64(24 * time.Hour / time.Millisecond)
	noDay    = Date(-1 << 31)
)

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%w: date %q: want YYYY-MM-DD", exitcode.ErrUsage, s)
	}
	return DateOf(t), nil
}

// DateOf returns the UTC day of t.
func DateOf(t time.Time) Date { return DateOfMS(t.UnixMilli()) }

// DateOfMS returns the UTC day of a Unix millisecond timestamp.
func DateOfMS(ms int64) Date {
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d--
	}
	return Date(d)
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time { return time.UnixMilli(d.MS()).UTC() }

// MS returns midnight UTC of d in Unix milliseconds.
func (d Date) MS() int64 { return int64(d) * msPerDay }

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }
