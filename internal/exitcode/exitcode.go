// Package exitcode holds the error kinds that churnctl maps to process exit
// codes. Library packages wrap one of these sentinels (fmt.Errorf("%w: ...",
// exitcode.ErrBadInput)); only cmd/churnctl turns them into numbers.
package exitcode

import (
	"context"
	"errors"
	"syscall"
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

var (
	// ErrUsage marks bad flags, arguments or configuration; the command's
	// usage is shown after the error.
	ErrUsage = errors.New("usage")
	// ErrConfig marks a setting that is well-formed but wrong for the
	// environment (a database that does not exist, a password it refuses):
	// exit 2 like ErrUsage, without the usage text. The message names the
	// setting to fix.
	ErrConfig = errors.New("bad configuration")
	// ErrBadInput marks input data that cannot be trusted or a failed quality gate.
	ErrBadInput = errors.New("bad input")
	// ErrTransient marks a failure that may succeed on retry (database down, lock busy).
	ErrTransient = errors.New("transient failure, a retry may succeed")
	// ErrRefused marks a gated action that was refused (for example a model promotion).
	ErrRefused = errors.New("refused")
	// ErrNothingToDo marks a run that found no new input; it maps to exit 99 only
	// when --skip-if-empty is set, else to 0.
	ErrNothingToDo = errors.New("nothing to do")
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
func DiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
