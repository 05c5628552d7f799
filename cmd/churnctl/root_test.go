package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// runCLI runs the real command tree with the given args and returns the exit
// code, stdout and stderr.
func runWith(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// lastLine returns the summary line: the last line of stdout, decoded.
func lastLine(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	var m map[string]any
	if err := json.Unmarshal([]byte(last), &m); err != nil {
		t.Fatalf("last stdout line is not JSON: %q (%v)", last, err)
	}
	return m
}

func TestExitCodesAndSummary(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStatus string
		wantUsage  bool
	}{
		{"version", []string{"version"}, 0, "ok", false},
		{"unknown command", []string{"no-such-command"}, 2, "error", true},
		{"unknown subcommand", []string{"models", "no-such-command"}, 2, "error", true},
		{"unknown subcommand with args", []string{"config", "no-such-command", "x"}, 2, "error", true},
		{"unknown db subcommand", []string{"db", "no-such-command"}, 2, "error", true},
		{"unknown flag", []string{"version", "--no-such-flag"}, 2, "error", true},
		{"extra argument", []string{"version", "extra"}, 2, "error", true},
		{"bad log level", []string{"--log-level", "loud", "version"}, 2, "error", true},
		{"bad log format", []string{"--log-format", "xml", "version"}, 2, "error", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runWith(t, context.Background(), tt.args...)
			if code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr)
			}
			m := lastLine(t, stdout)
			if m["status"] != tt.wantStatus {
				t.Errorf("summary status = %v, want %s", m["status"], tt.wantStatus)
			}
			for _, k := range []string{"command", "run_id", "duration_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("summary lacks %q: %v", k, m)
				}
			}
			if code != 0 {
				if m["exit_code"] != float64(code) {
					t.Errorf("summary exit_code = %v, want %d", m["exit_code"], code)
				}
				if !strings.HasPrefix(stderr, "churnctl: ") {
					t.Errorf("stderr does not start with the error: %q", stderr)
				}
			}
			if got := strings.Contains(stderr, "Usage:"); got != tt.wantUsage {
				t.Errorf("usage shown = %v, want %v; stderr:\n%s", got, tt.wantUsage, stderr)
			}
		})
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	code, stdout, _ := runWith(t, context.Background(), "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, sub := range []string{"version", "completion", "etl", "generate", "features", "train", "evaluate", "score", "models", "load", "db", "run", "config"} {
		if !strings.Contains(stdout, "  "+sub+" ") {
			t.Errorf("--help does not list %q:\n%s", sub, stdout)
		}
	}
}

func TestSubcommandHelpHasNoSummary(t *testing.T) {
	code, stdout, _ := runWith(t, context.Background(), "version", "--help")
	if code != 0 || strings.Contains(stdout, `"command":`) || !strings.Contains(stdout, "Usage:") {
		t.Errorf("version --help: exit %d, stdout:\n%s", code, stdout)
	}
}

func TestCompletionHasNoSummary(t *testing.T) {
	code, stdout, _ := runWith(t, context.Background(), "completion", "bash")
	if code != 0 {
		t.Fatalf("completion exit %d", code)
	}
	if strings.Contains(stdout, `"command":`) {
		t.Errorf("completion script carries a summary line")
	}
}

func TestLogFormat(t *testing.T) {
	// Not a terminal: JSON logs on stderr, nothing but results on stdout.
	code, _, stderr := runWith(t, context.Background(), "--log-level", "debug", "testlog")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(stderr, "\n", 2)[0]), &m); err != nil {
		t.Fatalf("log line is not JSON: %q", stderr)
	}
	if m["msg"] != "hello" || m["run_id"] == nil {
		t.Errorf("log line = %v", m)
	}
	_, _, stderr = runWith(t, context.Background(), "--log-format", "text", "--log-level", "debug", "testlog")
	if !strings.Contains(stderr, "msg=hello") {
		t.Errorf("text log = %q", stderr)
	}
}

func TestErrorKindsMapToCodes(t *testing.T) {
	tests := []struct {
		err         error
		skipIfEmpty bool
		want        int
	}{
		{nil, false, 0},
		{errors.New("boom"), false, 1},
		{fmt.Errorf("%w: x", exitcode.ErrUsage), false, 2},
		{fmt.Errorf("etl: %w: bad.json line 3", exitcode.ErrBadInput), false, 3},
		{fmt.Errorf("load: %w", exitcode.ErrTransient), false, 4},
		{fmt.Errorf("promote: %w", exitcode.ErrRefused), false, 5},
		{exitcode.ErrNothingToDo, false, 0},
		{exitcode.ErrNothingToDo, true, 99},
	}
	for _, tt := range tests {
		code, stdout, _ := runWith(t, context.Background(), testFailArgs(tt.err, tt.skipIfEmpty)...)
		if code != tt.want {
			t.Errorf("error %v (skip-if-empty %v) exits %d, want %d", tt.err, tt.skipIfEmpty, code, tt.want)
		}
		lastLine(t, stdout)
	}
}

func TestSignalsExit130And143(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(signalError{sig: tt.sig})
		code, stdout, _ := runWith(t, ctx, "testwait")
		if code != tt.want {
			t.Errorf("%v: exit %d, want %d", tt.sig, code, tt.want)
		}
		if m := lastLine(t, stdout); m["status"] != "interrupted" {
			t.Errorf("%v: status %v", tt.sig, m["status"])
		}
	}
}

var testFailErr error

func testFailArgs(err error, skip bool) []string {
	testFailErr = err
	if skip {
		return []string{"--skip-if-empty", "testfail"}
	}
	return []string{"testfail"}
}

// Test-only commands that exercise the conventions without a real stage.
func init() {
	register(func(a *App) *cobra.Command {
		return &cobra.Command{Use: "testfail", Hidden: true, RunE: func(*cobra.Command, []string) error { return testFailErr }}
	})
	register(func(a *App) *cobra.Command {
		return &cobra.Command{Use: "testlog", Hidden: true, RunE: func(*cobra.Command, []string) error {
			a.Log.Debug("hello")
			return nil
		}}
	})
	register(func(a *App) *cobra.Command {
		return &cobra.Command{Use: "testwait", Hidden: true, RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			return cmd.Context().Err()
		}}
	})
}
