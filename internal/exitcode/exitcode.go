// Package exitcode is churnctl's exit-code contract: it maps the error kinds
// of internal/errkind, which the libraries wrap, to process exit codes. Only
// cmd/churnctl imports it.
package exitcode

import (
	"context"
	"errors"
	"syscall"

	"github.com/churnctl/churnctl/internal/errkind"
)

// The exit-code contract. Schedulers (cron, Airflow) rely on these numbers.
const (
	OK          = 0   // done
	Failure     = 1   // unexpected failure
	Usage       = 2   // bad flags, arguments or configuration
	BadInput    = 3   // bad input data, failed quality gate
	Transient   = 4   // database down, lock busy: a retry may succeed
	Refused     = 5   // a gated action (model promotion) was refused
	NothingToDo = 99  // no new input and --skip-if-empty
	SIGINT      = 130 // stopped cleanly after SIGINT
	SIGTERM     = 143 // stopped cleanly after SIGTERM
)

// The error kinds, as cmd/churnctl spells them: internal/errkind's, which
// the libraries wrap (they do not import this package).
var (
	ErrUsage       = errkind.Usage
	ErrConfig      = errkind.Config
	ErrBadInput    = errkind.BadInput
	ErrTransient   = errkind.Transient
	ErrRefused     = errkind.Refused
	ErrNothingToDo = errkind.NothingToDo
)

// Code returns the exit code for err. A nil error is OK; context.Canceled is
// reported as Failure here, the caller knows which signal (if any) caused it.
//
// Besides the sentinels, file-system errors that no code path wraps keep
// their promise to the scheduler: a full disk or quota (ENOSPC, EDQUOT) is
// Transient (a retry after space is freed succeeds), a read-only file
// system (EROFS) is Usage (point the output somewhere writable).
func Code(err error) int {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, ErrUsage), errors.Is(err, ErrConfig):
		return Usage
	case errors.Is(err, ErrBadInput):
		return BadInput
	case errors.Is(err, ErrTransient):
		return Transient
	case errors.Is(err, ErrRefused):
		return Refused
	case errors.Is(err, ErrNothingToDo):
		return NothingToDo
	case errors.Is(err, context.Canceled):
		return Failure
	case DiskFull(err):
		return Transient
	case errors.Is(err, syscall.EROFS):
		return Usage
	}
	return Failure
}

// DiskFull reports whether err is a full disk or an exhausted quota.
func DiskFull(err error) bool { return errkind.DiskFull(err) }
