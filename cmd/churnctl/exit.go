package main

import (
	"context"
	"errors"
	"syscall"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// exitCode maps the error a command returned (and the reason the context was
// cancelled, if it was) to the process exit code. It is the only place that
// knows the numbers; packages wrap the sentinels in internal/exitcode.
func exitCode(ctx context.Context, err error, skipIfEmpty bool) int {
	if err == nil {
		return exitcode.OK
	}
	var se signalError
	if errors.As(context.Cause(ctx), &se) && (errors.Is(err, context.Canceled) || ctx.Err() != nil) {
		if se.sig == syscall.SIGTERM {
			return exitcode.SIGTERM
		}
		return exitcode.SIGINT
	}
	if errors.Is(err, exitcode.ErrNothingToDo) {
		if skipIfEmpty {
			return exitcode.NothingToDo
		}
		return exitcode.OK
	}
	return exitcode.Code(err)
}

// statusFor is the summary's status word for an exit code.
func statusFor(code int) string {
	switch code {
	case exitcode.OK:
		return "ok"
	case exitcode.NothingToDo:
		return "skipped"
	case exitcode.SIGINT, exitcode.SIGTERM:
		return "interrupted"
	case exitcode.Refused:
		return "refused"
	}
	return "error"
}
