// Package errkind names the kinds of failure churnctl's libraries report.
// A library wraps one kind with its context (file, line, table, day):
//
//	fmt.Errorf("%w: silver: read %s: %v", errkind.BadInput, path, err)
//
// and callers test the kind with errors.Is, never the message. Only
// cmd/churnctl maps kinds to process exit codes (internal/exitcode); this
// package knows nothing of them.
package errkind

import (
	"context"
	"errors"
	"syscall"
)

var (
	// Usage marks bad flags, arguments or configuration: the caller's
	// mistake, shown with the command's usage.
	Usage = errors.New("usage")
	// Config marks a setting that is well-formed but wrong for the
	// environment (a database that does not exist, a password it refuses).
	// The message names the setting to fix.
	Config = errors.New("bad configuration")
	// BadInput marks input data that cannot be trusted, or a failed
	// quality gate.
	BadInput = errors.New("bad input")
	// Transient marks a failure that may succeed on retry (database down,
	// lock busy).
	Transient = errors.New("transient failure, a retry may succeed")
	// Refused marks a gated action that was refused (a model promotion that
	// did not beat the champion).
	Refused = errors.New("refused")
	// NothingToDo marks a call that found no new input: not a failure.
	NothingToDo = errors.New("nothing to do")
)

// Cancelled reports whether err is a cancellation: its context was
// cancelled (a signal) or ran out of time.
func Cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// DiskFull reports whether err is a full disk or an exhausted quota, which
// no code path wraps: a retry after space is freed succeeds.
func DiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
