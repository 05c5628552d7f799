package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/secret"
)

// App is what every subcommand gets: the streams, the logger, the summary
// line and the global flags. Subcommands never touch os.Stdout/os.Stderr.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Log writes structured logs to Stderr (text on a terminal, else JSON).
	Log *slog.Logger
	// Summary is printed as the last stdout line when the command ends.
	Summary *Summary
	// RunID identifies this invocation in logs, run records and the summary.
	RunID string
	// StderrTTY reports whether stderr is a terminal (progress bars, colours).
	StderrTTY bool
	// StdoutTTY reports whether stdout is a terminal (tables vs JSON).
	StdoutTTY bool

	logFormat   string
	logLevel    string
	logJSON     bool // the logs are JSON lines
	errJSON     bool // --log-format json: the final error is a JSON log record too
	logReady    bool // setupLogging has run
	noProgress  bool
	skipIfEmpty bool
	nested      bool
	start       time.Time

	// dataOnStdout is set by a command whose stdout carries data (a file
	// stream such as generate --out -): its summary goes to stderr.
	dataOnStdout bool

	// record is this invocation's run record, written to
	// recordLake/runs/RUN_ID.json (when a lake is known and the command is
	// not a stage of `churnctl run`): once as "running" when the command
	// starts, so a killed run leaves a trace, and again when it ends.
	record     *runRecord
	recordLake string

	// configPath is --config of a subcommand with settings; cfg is the
	// configuration it resolved (defaults, file, environment), for the
	// settings it uses without a flag of their own (see settings.go).
	configPath string
	cfg        config.Config

	// args is the command line as given (for --resume, which re-reads it
	// after the failed run's).
	args []string
}

// RecordIn makes the run record of this invocation go to lakeDir/runs/.
// Commands that take --lake get it automatically; `run` calls it itself.
func (a *App) RecordIn(lakeDir string) {
	if a.nested || lakeDir == "" {
		return
	}
	a.recordLake = lakeDir
	a.record.Status = "running"
	if err := writeRunRecord(lakeDir, a.record); err != nil {
		a.Log.Warn("cannot write the run record", "lake", lakeDir, "err", err)
	}
}

// finishRecord completes and rewrites the run record, if there is one.
// msg is the error as the user saw it ("" when the command succeeded or
// had nothing to do).
func (a *App) finishRecord(status string, code int, msg string) {
	if a.recordLake == "" {
		return
	}
	r := a.record
	r.Status, r.ExitCode, r.Error = status, code, msg
	r.FinishedAt = time.Now().UTC()
	r.DurationMS = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	a.Summary.mu.Lock()
	for _, k := range a.Summary.keys {
		switch v := a.Summary.values[k].(type) {
		case int, int32, int64, float64, float32, uint64, string, bool:
			r.Counts[k] = v
		}
	}
	a.Summary.mu.Unlock()
	if werr := writeRunRecord(a.recordLake, r); werr != nil {
		a.Log.Warn("cannot write the run record", "lake", a.recordLake, "err", werr)
	}
}

// DataOnStdout tells the App that this command writes data to stdout, so
// the summary line goes to stderr instead (a flag --out with the value "-"
// says so without a call).
func (a *App) DataOnStdout() { a.dataOnStdout = true }

// summaryWriter is where the summary line goes: stdout, unless stdout
// carries the command's data.
func (a *App) summaryWriter(cmd *cobra.Command) io.Writer {
	if a.dataOnStdout {
		return a.Stderr
	}
	if cmd != nil {
		if f := cmd.Flags().Lookup("out"); f != nil && f.Value.String() == "-" {
			return a.Stderr
		}
	}
	return a.Stdout
}

// ShowProgress reports whether a progress bar may be drawn on Stderr.
func (a *App) ShowProgress() bool { return a.StderrTTY && !a.noProgress }

// SkipIfEmpty reports whether --skip-if-empty was given.
func (a *App) SkipIfEmpty() bool { return a.skipIfEmpty }

// commands holds the constructors of the top-level subcommands. Each
// subcommand file adds its own in init(), so adding a command never edits
// this file.
var commands []func(*App) *cobra.Command

func register(f func(*App) *cobra.Command) { commands = append(commands, f) }

// noSummary is a command annotation: the command prints no summary line
// (shell completion scripts, help).
const noSummary = "churnctl/no-summary"

func newRootCmd(a *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "churnctl",
		Short: "Churn analytics for music-streaming event logs, in one binary",
		Long: `churnctl turns Sparkify/eventsim JSON event logs into a Parquet lake
(bronze, silver, gold), leak-free per-user feature snapshots, a random-forest
churn model with honest cross-validated metrics, churn scores, and PostgreSQL
tables loaded with COPY.

Exit codes: 0 ok, 1 unexpected failure (a bug), 2 bad flags, arguments or
config (a refused database password, a missing database, a read-only file
system too), 3 bad input or failed quality gate (a --lake that does not exist
too), 4 transient (database down, lock busy, disk full: a retry may succeed),
5 refused (gated promotion), 99 nothing to do with --skip-if-empty, 130/143
after SIGINT/SIGTERM.

The last line of stdout is always a one-line JSON summary of the run. When
stdout carries data (--out -), the summary is the last line of stderr instead,
so the data stream holds nothing else.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{noSummary: "true"},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupLogging(); err != nil {
				return err
			}
			a.record.Command = commandName(cmd)
			if err := a.applySettings(cmd); err != nil {
				return err
			}
			return a.prepareLakes(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
		Args: cobra.ArbitraryArgs,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.logFormat, "log-format", envOr("CHURNCTL_LOG_FORMAT", "auto"), "log format on stderr: auto (text on a terminal, else json), text, json")
	pf.StringVar(&a.logLevel, "log-level", envOr("CHURNCTL_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	pf.BoolVar(&a.noProgress, "no-progress", false, "never draw progress bars (they are only drawn when stderr is a terminal)")
	pf.StringVar(&a.RunID, "run-id", a.RunID, "run id for logs, records and outputs (default: a new one)")
	_ = pf.MarkHidden("run-id")
	pf.BoolVar(&a.nested, "nested", false, "a stage of `churnctl run`: leave printing the error to the run")
	_ = pf.MarkHidden("nested")
	pf.BoolVar(&a.skipIfEmpty, "skip-if-empty", false, "exit 99 instead of 0 when there is no new input (Airflow marks the task skipped)")
	ver, rev := buildVersion()
	root.Version = ver
	root.SetVersionTemplate(versionLine(ver, rev) + "\n")
	root.Flags().BoolP("version", "v", false, "print the version and git revision, like `churnctl version` (no summary line)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	})
	root.CompletionOptions.HiddenDefaultCmd = false

	for _, f := range commands {
		root.AddCommand(f(a))
	}
	// Streams first: the completion command captures its writer when created.
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" || c.Name() == "help" {
			markNoSummary(c)
		}
	}
	groupCommands(root)
	wrapArgs(root)
	addConfigFlags(a, root)
	addExamples(root)
	addCompletions(root)
	return root
}

// commandName is the command's path without the program name ("etl bronze").
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// isCompletion reports whether cmd is shell completion: cobra's hidden
// __complete / __completeNoDesc (what the completion scripts call on TAB)
// or a `completion SHELL` script. They print no summary and write no run
// record: their stdout is read by the shell.
func isCompletion(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd, "completion":
			return c.Parent() != nil && c.Parent().Parent() == nil
		}
	}
	return false
}

func markNoSummary(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[noSummary] = "true"
	for _, sub := range c.Commands() {
		markNoSummary(sub)
	}
}

// groupCommands makes every command that only groups subcommands (config,
// models) print its help when called alone, and refuse an unknown
// subcommand with a usage error (exit 2), as the root does: left to cobra,
// "churnctl models bogus" printed the help and exited 0.
func groupCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupCommands(sub)
	}
	if c.Parent() == nil || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return cmd.Help()
	}
}

// wrapArgs makes every positional-argument error a usage error (exit 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// usageErrorf returns an error that exits 2 and shows the command's usage.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", exitcode.ErrUsage, fmt.Sprintf(format, args...))
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *App) setupLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch a.logFormat {
	case "auto":
		a.logJSON = !a.StderrTTY
	case "text":
		a.logJSON = false
	case "json":
		a.logJSON = true
	default:
		return usageErrorf("--log-format %q: want auto, text or json", a.logFormat)
	}
	a.errJSON = a.logFormat == "json"
	if a.logJSON {
		h = slog.NewJSONHandler(a.Stderr, opts)
	} else {
		h = slog.NewTextHandler(a.Stderr, opts)
	}
	// No secret reaches stderr through a log line, whatever an attribute
	// holds (an error quoting a connection string, an argument list).
	a.Log = slog.New(secret.Handler(h)).With("run_id", a.RunID)
	a.logReady = true
	return nil
}

func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// newApp is the App of one invocation with the given arguments and streams.
func newApp(args []string, stdin io.Reader, stdout, stderr io.Writer) *App {
	now := time.Now()
	a := &App{
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Summary:   &Summary{},
		RunID:     newRunID(now),
		StderrTTY: isTerminal(stderr),
		StdoutTTY: isTerminal(stdout),
		start:     now,
		args:      args,
	}
	a.Log = slog.New(secret.Handler(slog.NewJSONHandler(stderr, nil)))
	ver, _ := buildVersion()
	a.record = &runRecord{RunID: a.RunID, Args: redactArgs(args), Counts: map[string]any{}, StartedAt: now.UTC(), Version: ver}
	return a
}

// run is the whole program: arguments and streams in, exit code out. Tests
// call it directly; main only adds the signal context and os.Exit.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(args, stdin, stdout, stderr)
	now := a.start
	root := newRootCmd(a)
	root.SetArgs(args)

	cmd, err := root.ExecuteContextC(ctx)
	code := exitCode(ctx, err, a.skipIfEmpty)
	if cmd != nil && isCompletion(cmd) {
		// The shell reads stdout: no summary, no run record, and an error
		// in plain text on stderr.
		if err != nil {
			fmt.Fprintf(stderr, "churnctl: %v\n", err)
		}
		return code
	}
	// --help and --version print help or the version, not a run: no summary line.
	helped := false
	if cmd != nil {
		for _, name := range []string{"help", "version"} {
			if h := cmd.Flags().Lookup(name); h != nil && h.Changed && h.Value.Type() == "bool" {
				helped = true
			}
		}
	}
	if !a.logReady {
		// The command never started (an unknown command or flag): still
		// honour --log-format for the error line if it was parsed.
		_ = a.setupLogging()
	}
	msg := ""
	if err != nil && !errors.Is(err, exitcode.ErrNothingToDo) {
		msg = errorMessage(ctx, err, code)
		if !a.nested {
			a.printError(cmd, err, msg, code)
		}
	}
	if !helped && (cmd == nil || cmd.Annotations[noSummary] == "" || (err != nil && cmd == root)) {
		name := "churnctl"
		if cmd != nil {
			name = commandName(cmd)
		}
		var extra [][2]any
		extra = append(extra, [2]any{"run_id", a.RunID})
		if code != exitcode.OK {
			extra = append(extra, [2]any{"exit_code", code})
		}
		if msg != "" {
			extra = append(extra, [2]any{"error", msg})
		}
		status := statusFor(code)
		if errors.Is(err, exitcode.ErrNothingToDo) {
			status = "skipped"
		}
		a.record.Command = name
		a.finishRecord(status, code, msg)
		_ = a.Summary.write(a.summaryWriter(cmd), name, status, extra, time.Since(now).Milliseconds())
	}
	return code
}

// printError prints the final error once on stderr: "churnctl: MSG" (and
// the usage after a usage error); under --log-format json a JSON log record
// with the same message, the exit code and the usage line instead, so a log
// collector parses every stderr line. (--log-format auto keeps the plain
// line, the convention people and scripts read, even when the logs are
// JSON because stderr is not a terminal.)
func (a *App) printError(cmd *cobra.Command, err error, msg string, code int) {
	usage := errors.Is(err, exitcode.ErrUsage) && cmd != nil
	if a.errJSON {
		attrs := []any{"exit_code", code}
		if cmd != nil {
			attrs = append(attrs, "command", commandName(cmd))
		}
		if usage {
			attrs = append(attrs, "usage", cmd.UseLine(), "help", cmd.CommandPath()+" --help")
		}
		a.Log.Error("churnctl: "+msg, attrs...)
		return
	}
	fmt.Fprintf(a.Stderr, "churnctl: %s\n", msg)
	if usage {
		fmt.Fprintln(a.Stderr)
		fmt.Fprint(a.Stderr, cmd.UsageString())
	}
}
