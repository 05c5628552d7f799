package main

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/secret"
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

// errorMessage is the final error as printed (after "churnctl: ") and put
// in the summary and the run record. After SIGINT/SIGTERM it names the
// signal rather than saying "context canceled"; a full disk or a read-only
// file system says what to do.
func errorMessage(ctx context.Context, err error, code int) string {
	return secret.Scrub(rawErrorMessage(ctx, err, code))
}

func rawErrorMessage(ctx context.Context, err error, code int) string {
	s := err.Error()
	var se signalError
	if (code == exitcode.SIGINT || code == exitcode.SIGTERM) && errors.As(context.Cause(ctx), &se) {
		if strings.Contains(s, se.Error()) {
			return s
		}
		detail := strings.TrimSuffix(strings.TrimSuffix(s, context.Canceled.Error()), ": ")
		if detail == "" {
			return se.Error()
		}
		return se.Error() + " (" + detail + ")"
	}
	switch {
	case exitcode.Code(err) == exitcode.Transient && exitcode.DiskFull(err):
		return s + " (out of disk space or quota: free space, then retry; exit 4)"
	case errors.Is(err, syscall.EROFS):
		return s + " (the file system is read-only: write somewhere writable; exit 2)"
	}
	return s
}
