package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/pgtest"
	"github.com/churnctl/churnctl/train/registry"
)

// runIn runs churnctl in-process with stdin and returns code, stdout, stderr.
func runIn(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// genFile writes a generated event log to dir/name and returns its path.
func genFile(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if code, _, stderr := runWith(t, context.Background(), append([]string{"generate", "--out", p}, args...)...); code != 0 {
		t.Fatalf("generate %v: exit %d: %s", args, code, stderr)
	}
	return p
}

// runRecords lists the run records in a lake.
func runRecords(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	return m
}

// TestDataOnStdoutSummaryOnStderr: with --out - stdout carries the data
// only, the same bytes for every GOMAXPROCS, and the summary is the last
// line of stderr; generate --out - | etl bronze - quarantines nothing.
func TestDataOnStdoutSummaryOnStderr(t *testing.T) {
	args := []string{"generate", "--users", "20", "--days", "3", "--seed", "7", "--out", "-"}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var outs []string
	var events float64
	for _, procs := range []int{1, 2, 4, 2} {
		runtime.GOMAXPROCS(procs)
		code, stdout, stderr := runWith(t, context.Background(), args...)
		if code != 0 {
			t.Fatalf("GOMAXPROCS=%d: exit %d: %s", procs, code, stderr)
		}
		outs = append(outs, stdout)
		sum := lastLine(t, stderr)
		if sum["command"] != "generate" || sum["status"] != "ok" {
			t.Fatalf("the last stderr line is not generate's summary: %v", sum)
		}
		events = sum["events"].(float64)
	}
	for i, o := range outs {
		if o != outs[0] {
			t.Fatalf("stdout of run %d differs from run 0 (GOMAXPROCS 1, 2, 4, 2): %d vs %d bytes", i, len(o), len(outs[0]))
		}
	}
	lines := strings.Split(strings.TrimSuffix(outs[0], "\n"), "\n")
	for i, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["ts"] == nil || ev["command"] != nil {
			t.Fatalf("stdout line %d is not an event: %q", i+1, l)
		}
	}
	if float64(len(lines)) != events {
		t.Errorf("stdout holds %d lines, the summary says %v events", len(lines), events)
	}

	// The round trip through a pipe: nothing but events reaches bronze.
	lakeDir := t.TempDir()
	code, stdout, stderr := runIn(t, context.Background(), strings.NewReader(outs[0]), "etl", "bronze", "--lake", lakeDir, "-")
	if code != 0 {
		t.Fatalf("etl bronze -: exit %d: %s", code, stderr)
	}
	sum := lastLine(t, stdout)
	if sum["rows_quarantined"] != 0.0 || sum["lines_read"] != events {
		t.Errorf("generate --out - | etl bronze -: %v lines read, %v quarantined; want %v and 0", sum["lines_read"], sum["rows_quarantined"], events)
	}
}

// fakeRegistry registers two versions of "churn" (1 champion, 2 challenger)
// and one of "other" under dir/models.
func fakeRegistry(t *testing.T, dir string) string {
	t.Helper()
	r := registry.Registry{Root: filepath.Join(dir, "models")}
	for i, n := range []string{"churn", "churn", "other"} {
		// Distinct bytes: identical model bytes reuse their version.
		body := []byte(fmt.Sprintf("not a model %d", i))
		if _, _, err := r.Register(n, map[string][]byte{registry.ModelFile: body}); err != nil {
			t.Fatal(err)
		}
	}
	return r.Root
}

// TestShellCompletion drives cobra's __complete (what the bash, zsh and
// fish scripts run on TAB): the candidates, one per line, then the
// directive ":N"; never a summary line, never a run record.
func TestShellCompletion(t *testing.T) {
	dir := t.TempDir()
	reg := fakeRegistry(t, dir)
	lakeDir := filepath.Join(dir, "lake")
	if err := os.MkdirAll(lakeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		want      []string // candidates (before any tab)
		notWant   []string
		directive string
	}{
		{"commands", []string{"__complete", ""}, []string{"run", "etl", "generate", "models", "completion", "version"}, []string{"testfail"}, ":4"},
		{"subcommands", []string{"__complete", "models", ""}, []string{"list", "show", "promote"}, nil, ":4"},
		{"flags before --lake", []string{"__complete", "etl", "bronze", "--"}, []string{"--lake", "--config", "--ds"}, nil, ":4"},
		{"flags", []string{"__complete", "etl", "bronze", "--lake", lakeDir, "--"}, []string{"--ds", "--max-invalid-ratio", "--log-format", "--skip-if-empty"}, nil, ":4"},
		{"--name from the registry", []string{"__complete", "train", "--registry", reg, "--name", ""}, []string{"churn", "other"}, nil, ":4"},
		{"--name prefix", []string{"__complete", "train", "--registry", reg, "--name", "o"}, []string{"other"}, []string{"churn"}, ":4"},
		{"--model refs", []string{"__complete", "score", "--registry", reg, "--model", "churn@"},
			[]string{"churn@champion", "churn@challenger", "churn@latest", "churn@1", "churn@2"}, []string{"other@1"}, ":4"},
		{"--model without descriptions", []string{"__completeNoDesc", "evaluate", "--registry", reg, "--model", "other"}, []string{"other@champion", "other@1"}, nil, ":4"},
		{"models show REF", []string{"__complete", "models", "show", "--registry", reg, ""}, []string{"churn@champion", "other@latest"}, nil, ":4"},
		{"models promote REF", []string{"__complete", "models", "promote", "--registry", reg, "churn@c"}, []string{"churn@champion", "churn@challenger"}, []string{"churn@1"}, ":4"},
		{"models list NAME", []string{"__complete", "models", "list", "--registry", reg, ""}, []string{"churn", "other"}, nil, ":4"},
		{"run --train.name from LAKE/models", []string{"__complete", "run", "--lake", dir, "--train.name", ""}, []string{"churn", "other"}, nil, ":4"},
		{"enum flag", []string{"__complete", "version", "--log-format", ""}, []string{"auto", "text", "json"}, nil, ":4"},
		{"input files", []string{"__complete", "etl", "bronze", "--lake", lakeDir, ""}, nil, nil, ":0"},
		{"--lake is a directory", []string{"__complete", "etl", "bronze", "--lake", ""}, nil, nil, ":16"},
		{"--config is YAML", []string{"__complete", "run", "--config", ""}, []string{"yaml", "yml"}, nil, ":8"},
		{"no model to complete: files", []string{"__complete", "score", "--registry", filepath.Join(dir, "none"), "--model", ""}, nil, nil, ":0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runWith(t, context.Background(), tt.args...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", tt.args, code, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if last := lines[len(lines)-1]; last != tt.directive {
				t.Errorf("%q: last line %q, want the directive %s; stdout:\n%s", tt.args, last, tt.directive, stdout)
			}
			var got []string
			for _, l := range lines[:len(lines)-1] {
				cand, _, _ := strings.Cut(l, "\t")
				got = append(got, cand)
				if tt.args[0] == "__completeNoDesc" && strings.Contains(l, "\t") {
					t.Errorf("__completeNoDesc printed a description: %q", l)
				}
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%q: candidates %q lack %q", tt.args, got, w)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(got, w) {
					t.Errorf("%q: candidates %q include %q", tt.args, got, w)
				}
			}
			if strings.Contains(stdout+stderr, `"command":`) {
				t.Errorf("%q printed a summary line:\nstdout:\n%s\nstderr:\n%s", tt.args, stdout, stderr)
			}
		})
	}
	for _, args := range [][]string{{"__complete", "etl", "--lake", lakeDir, ""}, {"completion", "bash"}, {"completion", "zsh"}} {
		code, stdout, _ := runWith(t, context.Background(), args...)
		if code != 0 || strings.Contains(stdout, `"command":`) {
			t.Errorf("%q: exit %d, or a summary in the script", args, code)
		}
	}
	if recs := runRecords(lakeDir); len(recs) != 0 {
		t.Errorf("completion wrote run records: %v", recs)
	}
}

func TestVersionFlag(t *testing.T) {
	ver, rev := buildVersion()
	for _, flag := range []string{"--version", "-v"} {
		code, stdout, stderr := runWith(t, context.Background(), flag)
		if code != 0 || stdout != versionLine(ver, rev)+"\n" {
			t.Errorf("churnctl %s: exit %d, stdout %q, stderr %q; want %q and no summary", flag, code, stdout, stderr, versionLine(ver, rev))
		}
	}
	_, stdout, _ := runWith(t, context.Background(), "version")
	if lines := strings.Split(stdout, "\n"); lines[0] != versionLine(ver, rev) {
		t.Errorf("churnctl version prints %q, --version %q", lines[0], versionLine(ver, rev))
	}
}

// TestRunHelpIsTrue: run --help describes the pipeline run executes
// (README's table) and its settings' flags show the real defaults.
func TestRunHelpIsTrue(t *testing.T) {
	code, stdout, _ := runWith(t, context.Background(), "run", "--help")
	if code != 0 {
		t.Fatalf("run --help: exit %d", code)
	}
	for _, stale := range []string{"all but the latest labeled cutoff", "out of time", "(default 0d)", "(default 0s)"} {
		if strings.Contains(stdout, stale) {
			t.Errorf("run --help says %q", stale)
		}
	}
	for _, want := range []string{"holdout_users", "held-out users", "train_cutoffs", "promote", "(default 30d)", "(default 10m0s)", "--backfill"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
	// Every setting's flag shows its built-in default, on run and config show.
	def := config.Default()
	want := pflag.NewFlagSet("defaults", pflag.ContinueOnError)
	config.BindFlags(want, &def)
	a := newApp(nil, strings.NewReader(""), io.Discard, io.Discard)
	root := newRootCmd(a)
	for _, path := range [][]string{{"run"}, {"config", "show"}} {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range config.Settings(&def) {
			f := cmd.Flags().Lookup(s.Key)
			if f == nil {
				t.Errorf("%v has no flag --%s", path, s.Key)
				continue
			}
			if w := want.Lookup(s.Key).DefValue; f.DefValue != w {
				t.Errorf("%v --%s shows default %q, the real default is %q", path, s.Key, f.DefValue, w)
			}
		}
	}
}

// TestFinalErrorNamesTheSignal: after SIGTERM the last word is the signal,
// not "context canceled", in the error line and in the summary.
func TestFinalErrorNamesTheSignal(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "SIGTERM"}, {syscall.SIGINT, "SIGINT"}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(signalError{sig: tt.sig})
		_, stdout, stderr := runWith(t, ctx, "--log-format", "text", "testwait")
		if !strings.HasPrefix(stderr, "churnctl: interrupted by "+tt.name) || strings.Contains(stderr, "context canceled") {
			t.Errorf("%v: stderr %q, want churnctl: interrupted by %s", tt.sig, stderr, tt.name)
		}
		if e, _ := lastLine(t, stdout)["error"].(string); !strings.HasPrefix(e, "interrupted by "+tt.name) {
			t.Errorf("%v: summary error %q", tt.sig, e)
		}
	}
}

// TestFinalErrorUnderJSONLogs: with --log-format json every stderr line is
// a JSON record, the final error included; nothing is HTML-escaped.
func TestFinalErrorUnderJSONLogs(t *testing.T) {
	testFailErr = fmt.Errorf("%w: value > 1 & <none>", exitcode.ErrBadInput)
	code, stdout, stderr := runWith(t, context.Background(), "--log-format", "json", "testfail")
	if code != 3 {
		t.Fatalf("exit %d", code)
	}
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("stderr line is not JSON: %q", l)
		}
	}
	if last["level"] != "ERROR" || last["msg"] != "churnctl: bad input: value > 1 & <none>" || last["exit_code"] != 3.0 {
		t.Errorf("final error record %v", last)
	}
	for _, s := range []string{stdout, stderr} {
		if strings.Contains(s, `\u003e`) || strings.Contains(s, `\u0026`) || strings.Contains(s, `\u003c`) || !strings.Contains(s, "value > 1 & <none>") {
			t.Errorf("output escapes > & < or lacks the message:\n%s", s)
		}
	}
	// A usage error carries the usage line in the record.
	_, _, stderr = runWith(t, context.Background(), "--log-format", "json", "version", "--bogus")
	if err := json.Unmarshal([]byte(strings.TrimSpace(stderr)), &last); err != nil || last["usage"] != "churnctl version [flags]" || last["exit_code"] != 2.0 {
		t.Errorf("usage error under JSON logs: %q (%v)", stderr, err)
	}
	// Text logs keep the plain line.
	_, _, stderr = runWith(t, context.Background(), "--log-format", "text", "testfail")
	if stderr != "churnctl: bad input: value > 1 & <none>\n" {
		t.Errorf("text: stderr %q", stderr)
	}
}

// TestStageLogHygiene runs the whole job on a small generated log with JSON
// logs: every "<stage> start" has an "<stage> end", one duration key
// (duration_ms), no "done"/"finish_ms", no empty "err".
func TestStageLogHygiene(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job")
	}
	dir := t.TempDir()
	in := genFile(t, dir, "events.json", "--users", "60", "--days", "60", "--seed", "3")
	code, _, stderr := runWith(t, context.Background(), "--log-format", "json", "run", "--lake", filepath.Join(dir, "lake"),
		"--inputs", in, "--train.trees", "5", "--train.folds", "2")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	ends := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		msg, _ := rec["msg"].(string)
		if strings.HasSuffix(msg, " done") || strings.HasSuffix(msg, " finished") {
			t.Errorf("%q: stages end with \"<stage> end\"", msg)
		}
		if strings.HasSuffix(msg, " end") {
			ends[msg] = true
			if _, ok := rec["duration_ms"]; !ok {
				t.Errorf("%q has no duration_ms: %s", msg, l)
			}
		}
		for k, v := range rec {
			if strings.HasSuffix(k, "_ms") && k != "duration_ms" {
				t.Errorf("%q: duration key %q beside duration_ms: %s", msg, k, l)
			}
			if k == "err" && v == "" {
				t.Errorf("%q: empty err: %s", msg, l)
			}
		}
	}
	for _, w := range []string{"bronze end", "silver end", "gold end", "features end", "train end", "evaluate end", "score end", "stage end"} {
		if !ends[w] {
			t.Errorf("no %q line among %v", w, ends)
		}
	}
}

func TestInputBytes(t *testing.T) {
	dir := t.TempDir()
	a := genFile(t, dir, "a.json", "--users", "5", "--days", "2")
	b := genFile(t, dir, "b.json.gz", "--users", "5", "--days", "2")
	fa, _ := os.Stat(a)
	fb, _ := os.Stat(b)
	if got := inputBytes([]string{dir}); got != fa.Size()+fb.Size() {
		t.Errorf("inputBytes(dir) = %d, want %d", got, fa.Size()+fb.Size())
	}
	if got := inputBytes([]string{a, "-"}); got != -1 {
		t.Errorf("inputBytes with stdin = %d, want -1 (unknown)", got)
	}
	// The bar bronze draws (on the stderr churnctl was given) shows the
	// percentage and the total.
	var buf bytes.Buffer
	bar := bronzeBar(&buf, 4_000_000)
	_ = bar.Set64(1_000_000)
	_ = bar.Finish()
	if out := buf.String(); !strings.Contains(out, "100%") || !strings.Contains(out, "4.0 MB") {
		t.Errorf("bronze's progress bar on its writer = %q, want a percentage and the total 4.0 MB", out)
	}
}

// TestLakeThatDoesNotExist: a command that reads a lake refuses a path that
// is not there (exit 3 naming it; 99 with --skip-if-empty) and creates
// nothing; etl still starts a new lake.
func TestLakeThatDoesNotExist(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo", "path")
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"load", "--lake", missing, "--dsn", "host=" + dir + " port=1 dbname=x"}, 3},
		{[]string{"--skip-if-empty", "load", "--lake", missing, "--dsn", "host=" + dir + " port=1 dbname=x"}, 99},
		{[]string{"features", "--lake", missing, "--as-of", "2018-10-31"}, 3},
		{[]string{"etl", "gold", "--lake", missing}, 3},
	} {
		code, stdout, stderr := runWith(t, context.Background(), tt.args...)
		if code != tt.want {
			t.Errorf("%q: exit %d, want %d\n%s", tt.args, code, tt.want, stderr)
		}
		if tt.want == 3 && !strings.Contains(stderr, missing) {
			t.Errorf("%q: stderr does not name %s: %s", tt.args, missing, stderr)
		}
		lastLine(t, stdout)
		if _, err := os.Stat(filepath.Join(dir, "typo")); err == nil {
			t.Fatalf("%q created %s", tt.args, missing)
		}
	}
	in := genFile(t, dir, "e.json", "--users", "5", "--days", "2")
	if code, _, stderr := runWith(t, context.Background(), "etl", "--lake", missing, in); code != 0 {
		t.Fatalf("etl into a new lake: exit %d: %s", code, stderr)
	}
}

// TestReadOnlyCommandsWriteNoRunRecord: only commands that write into the
// lake record their run there.
func TestReadOnlyCommandsWriteNoRunRecord(t *testing.T) {
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	in := genFile(t, dir, "e.json", "--users", "5", "--days", "2")
	if code, _, stderr := runWith(t, context.Background(), "etl", "--lake", lakeDir, in); code != 0 {
		t.Fatalf("etl: exit %d: %s", code, stderr)
	}
	before := runRecords(lakeDir)
	if len(before) != 1 {
		t.Fatalf("etl wrote %d run records, want 1", len(before))
	}
	reg := fakeRegistry(t, lakeDir)
	for _, args := range [][]string{
		{"config", "show", "--lake", lakeDir},
		{"load", "--lake", lakeDir, "--dsn", "host=" + dir + " port=1 dbname=x"},
		{"models", "list", "--registry", reg},
		{"version"},
	} {
		runWith(t, context.Background(), args...)
		if after := runRecords(lakeDir); len(after) != len(before) {
			t.Errorf("%q wrote a run record into the lake: %v", args, after)
		}
	}
}

// TestExitCodesForTheEnvironment: a full disk is transient (4), a
// read-only file system and sub-millisecond or negative timeouts are bad
// configuration (2), each named.
func TestExitCodesForTheEnvironment(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{&fs.PathError{Op: "write", Path: "/lake/x", Err: syscall.ENOSPC}, 4},
		{fmt.Errorf("lake: %w", &fs.PathError{Op: "write", Path: "/lake/x", Err: syscall.EDQUOT}), 4},
		{&fs.PathError{Op: "open", Path: "/lake/x", Err: syscall.EROFS}, 2},
	} {
		if got := exitCode(context.Background(), tt.err, false); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if _, err := os.Stat("/dev/full"); err == nil {
		code, _, stderr := runWith(t, context.Background(), "--log-format", "text", "generate", "--users", "50", "--days", "5", "--out", "/dev/full")
		if code != 4 || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "free space") {
			t.Errorf("generate --out /dev/full: exit %d, stderr %q; want 4 saying to free space", code, stderr)
		}
	}
	dead := "host=" + t.TempDir() + " port=1 dbname=x"
	for _, tt := range []struct {
		args []string
		name string
	}{
		{[]string{"db", "status", "--dsn", dead, "--statement-timeout", "1us"}, "--statement-timeout"},
		{[]string{"db", "migrate", "--dsn", dead, "--lock-timeout", "-1s"}, "--lock-timeout"},
		{[]string{"run", "--lake", t.TempDir(), "--inputs", "x", "--load.statement_timeout", "500us", "--dry-run"}, "load.statement_timeout"},
		{[]string{"run", "--lake", t.TempDir(), "--inputs", "x", "--load.lock_timeout", "-5s", "--dry-run"}, "load.lock_timeout"},
	} {
		code, _, stderr := runWith(t, context.Background(), tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.name) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %s", tt.args, code, stderr, tt.name)
		}
	}
}

// TestRunValidatesEveryStageFirst: a setting only a later stage uses is
// checked before the first stage runs, and by --dry-run.
func TestRunValidatesEveryStageFirst(t *testing.T) {
	sample, _ := filepath.Abs("../../testdata/sample")
	for _, tt := range []struct{ key, value string }{
		{"train.name", "a'b"},
		{"train.class_weight", "heavy"},
		{"train.max_features", "0"},
		{"train.folds", "1"},
		{"train.holdout_users", "1"},
		{"train.trees", "0"},
		{"features.horizon", "0d"},
		{"features.train_cutoffs", "0"},
		{"etl.max_invalid_ratio", "2"},
		{"score.model", "churn@best"},
		{"load.tables", "gold,nope"},
		{"load.dsn", "host=/tmp port=notanumber"},
	} {
		t.Run(tt.key, func(t *testing.T) {
			lakeDir := filepath.Join(t.TempDir(), "lake")
			for _, dry := range []bool{true, false} {
				args := []string{"--log-format", "text", "run", "--lake", lakeDir, "--inputs", sample, "--" + tt.key, tt.value, "--train.trees", "5"}
				if tt.key == "train.trees" {
					args = args[:len(args)-2]
				}
				if dry {
					args = append(args, "--dry-run")
				}
				code, _, stderr := runWith(t, context.Background(), args...)
				if code != 2 || !strings.Contains(stderr, tt.key) {
					t.Fatalf("run --%s %q (dry run %v): exit %d, want 2 naming the key; stderr:\n%s", tt.key, tt.value, dry, code, stderr)
				}
				if _, err := os.Stat(filepath.Join(lakeDir, "bronze")); err == nil {
					t.Fatalf("run --%s %q published etl before failing on the setting", tt.key, tt.value)
				}
			}
		})
	}
}

// signalAfter is a stderr writer that cancels the run with SIGTERM when a
// log line contains every one of match.
type signalAfter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	match  []string
	cancel context.CancelCauseFunc
	fired  bool
}

func (w *signalAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	line := string(p)
	hit := !w.fired
	for _, m := range w.match {
		hit = hit && strings.Contains(line, m)
	}
	if hit {
		w.fired = true
		w.cancel(signalError{sig: syscall.SIGTERM})
	}
	return len(p), nil
}

// TestSIGTERMAfterTheLastStageIsNotAnInterruption: everything finished, so
// the run is recorded (and exits) as complete.
func TestSIGTERMAfterTheLastStageIsNotAnInterruption(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole job")
	}
	dir := t.TempDir()
	in := genFile(t, dir, "events.json", "--users", "60", "--days", "60", "--seed", "3")
	lakeDir := filepath.Join(dir, "lake")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	errw := &signalAfter{match: []string{`"msg":"stage end"`, `"stage":"score"`}, cancel: cancel}
	var stdout bytes.Buffer
	code := run(ctx, []string{"--log-format", "json", "run", "--lake", lakeDir, "--inputs", in, "--train.trees", "5", "--train.folds", "2"},
		strings.NewReader(""), &stdout, errw)
	if !errw.fired {
		t.Fatalf("the score stage never ended: exit %d\n%s", code, errw.buf.String())
	}
	sum := lastLine(t, stdout.String())
	if code != 0 || sum["status"] != "ok" {
		t.Errorf("SIGTERM after the last stage: exit %d, summary %v; want 0 and ok", code, sum)
	}
	recs := runRecords(lakeDir)
	if len(recs) != 1 {
		t.Fatalf("run records %v", recs)
	}
	var rec runRecord
	b, _ := os.ReadFile(recs[0])
	if err := json.Unmarshal(b, &rec); err != nil || rec.Status != "ok" || rec.ExitCode != 0 {
		t.Errorf("run record: status %q exit %d (%v), want ok 0", rec.Status, rec.ExitCode, err)
	}
}

// TestDailyRunOnANewLakeSaysWhatToDo: a daily --ds run on an empty lake
// (the README's daily example, with churnctl.example.yaml's lookback of 2)
// has three days of history; it must say how to fill the history, and each
// way it names must then work.
func TestDailyRunOnANewLakeSaysWhatToDo(t *testing.T) {
	sample, _ := filepath.Abs("../../testdata/sample") // 2018-10-01 to 2018-12-03
	runArgs := func(lakeDir string, extra ...string) []string {
		return append([]string{"--log-format", "text", "run", "--lake", lakeDir, "--inputs", sample,
			"--etl.lookback", "2", "--train.trees", "5", "--train.folds", "2"}, extra...)
	}
	daily := filepath.Join(t.TempDir(), "lake")
	code, _, stderr := runWith(t, context.Background(), runArgs(daily, "--ds", "2018-11-05")...)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, stderr)
	}
	last := stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:]
	for _, w := range []string{"2018-11-03 to 2018-11-05", "at least 38 days of data", "a run without --ds", "--ds D --backfill", "38th day of the inputs"} {
		if !strings.Contains(last, w) {
			t.Errorf("the error does not say %q:\n%s", w, last)
		}
	}
	if testing.Short() {
		return
	}
	// The first way: a run without --ds, then the daily run works.
	for _, extra := range [][]string{nil, {"--ds", "2018-11-05"}} {
		if code, _, stderr := runWith(t, context.Background(), runArgs(daily, extra...)...); code != 0 {
			t.Fatalf("following the hint, run %q: exit %d\n%s", extra, code, stderr)
		}
	}
	// The second way: a backfill up to the 38th day (2018-11-07), not before.
	// Its one labeled cutoff has 60 of the sample's 100 users: a 45 %
	// holdout keeps churners on both sides (1 of the 5 is held out).
	for _, tt := range []struct {
		ds   string
		want int
	}{{"2018-11-06", 3}, {"2018-11-07", 0}} {
		l := filepath.Join(t.TempDir(), "lake")
		if code, _, stderr := runWith(t, context.Background(), runArgs(l, "--ds", tt.ds, "--backfill", "--holdout-users", "0.45")...); code != tt.want {
			t.Errorf("run --ds %s --backfill on a new lake: exit %d, want %d\n%s", tt.ds, code, tt.want, stderr)
		}
	}
}

// The crash tests run the test binary as churnctl (TestETLHelperProcess);
// CHURNCTL_TEST_CRASH_AT=STEP makes its etl kill itself (SIGKILL) at that
// step of the lake commit.
func init() {
	if step := os.Getenv("CHURNCTL_TEST_CRASH_AT"); step != "" && os.Getenv("CHURNCTL_ETL_HELPER") == "1" {
		commitHook = func(s string) {
			if s == step {
				_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
}

// copyTree copies a directory tree (files as files, hard links as copies).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashedLake builds a lake (etl of one log, features, a model), then runs
// etl on a second log in a child process killed right after the commit
// point. It returns the crashed lake, a reference lake where the second etl
// completed, and the snapshot date.
func crashedLake(t *testing.T) (crashed, ref, asOf string) {
	t.Helper()
	dir := t.TempDir()
	// The two halves of one log: the second etl adds days and rebuilds
	// what spans the split.
	genFile(t, dir, "events.json", "--users", "150", "--days", "60", "--seed", "1", "--files", "2")
	in1, in2 := filepath.Join(dir, "events-00001-of-00002.json"), filepath.Join(dir, "events-00002-of-00002.json")
	asOf = "2018-10-15"
	crashed, ref = filepath.Join(dir, "crashed"), filepath.Join(dir, "ref")
	for _, l := range []string{crashed, ref} {
		for _, args := range [][]string{
			{"etl", "--lake", l, in1},
			{"features", "--lake", l, "--as-of", asOf, "--horizon", "14d"},
			{"train", "--holdout-users", "0", "--features", filepath.Join(l, "features", "as_of="+asOf), "--registry", filepath.Join(l, "models"), "--trees", "5", "--folds", "0"},
		} {
			if code, _, stderr := runWith(t, context.Background(), args...); code != 0 {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
		}
	}
	if code, _, stderr := runWith(t, context.Background(), "etl", "--lake", ref, in2); code != 0 {
		t.Fatalf("reference etl: exit %d: %s", code, stderr)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestETLHelperProcess$", "--", "etl", "--lake", crashed, in2)
	cmd.Env = append(os.Environ(), "CHURNCTL_ETL_HELPER=1", "CHURNCTL_TEST_CRASH_AT=journal")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the etl child was not killed at its commit point: %v\n%s", err, stderr.String())
	}
	if j, _ := filepath.Glob(filepath.Join(crashed, ".tmp", "*", "COMMIT")); len(j) != 1 {
		t.Fatalf("no pending commit journal after the crash: %v", j)
	}
	if len(diffSnap(snapshot(t, crashed, "gold"), snapshot(t, ref, "gold"))) == 0 {
		t.Fatal("the crashed lake already equals the completed one: the crash came too late to test anything")
	}
	return crashed, ref, asOf
}

// TestReadersCompleteAPendingCommit: etl killed after its commit point;
// then every command that reads the lake first completes the commit, so it
// reads (and leaves) the lake the finished etl would have: never gold from
// one run beside silver from another.
func TestReadersCompleteAPendingCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	crashed, ref, asOf := crashedLake(t)
	want := snapshot(t, ref, "bronze", "silver", "gold")
	for _, tt := range []struct {
		name string
		args func(l string) []string
	}{
		{"features", func(l string) []string { return []string{"features", "--lake", l, "--as-of", "2018-10-28"} }},
		{"features --out", func(l string) []string {
			return []string{"features", "--lake", l, "--as-of", "2018-10-28", "--out", filepath.Join(l, "..", "f.parquet")}
		}},
		{"train", func(l string) []string {
			return []string{"train", "--holdout-users", "0", "--features", filepath.Join(l, "features", "as_of="+asOf), "--registry", filepath.Join(l, "models"), "--trees", "5", "--folds", "0"}
		}},
		{"score", func(l string) []string {
			return []string{"score", "--registry", filepath.Join(l, "models"), "--model", "churn@champion",
				"--features", filepath.Join(l, "features", "as_of="+asOf), "--out", filepath.Join(l, "..", "p.parquet")}
		}},
		{"models list", func(l string) []string { return []string{"models", "list", "--registry", filepath.Join(l, "models")} }},
		{"models show", func(l string) []string {
			return []string{"models", "show", "churn@champion", "--registry", filepath.Join(l, "models")}
		}},
		{"evaluate", func(l string) []string {
			return []string{"evaluate", "--holdout-users", "0", "--registry", filepath.Join(l, "models"), "--model", "churn@champion",
				"--features", filepath.Join(l, "features", "as_of="+asOf), "--allow-training-rows", "--bootstrap", "0", "--no-record"}
		}},
		{"run --dry-run", func(l string) []string {
			return []string{"run", "--lake", l, "--inputs", filepath.Join(filepath.Dir(crashed), "events-00002-of-00002.json"), "--dry-run"}
		}},
		{"etl silver", func(l string) []string { return []string{"etl", "silver", "--lake", l, "--ds", "2018-10-05"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := filepath.Join(t.TempDir(), "lake")
			copyTree(t, crashed, l)
			if code, _, stderr := runWith(t, context.Background(), tt.args(l)...); code != 0 {
				t.Fatalf("%s on the crashed lake: exit %d: %s", tt.name, code, stderr)
			}
			if d := diffSnap(want, snapshot(t, l, "bronze", "silver", "gold")); len(d) > 0 {
				t.Errorf("%s did not complete the pending commit: %v differ from the completed lake", tt.name, d)
			}
			if j, _ := filepath.Glob(filepath.Join(l, ".tmp", "*", "COMMIT")); len(j) != 0 {
				t.Errorf("%s left the journal %v", tt.name, j)
			}
		})
	}
	// features reads what the completed etl published.
	l := filepath.Join(t.TempDir(), "lake")
	copyTree(t, crashed, l)
	for _, root := range []string{l, ref} {
		if code, _, stderr := runWith(t, context.Background(), "features", "--lake", root, "--as-of", "2018-10-28"); code != 0 {
			t.Fatalf("features: exit %d: %s", code, stderr)
		}
	}
	if d := diffSnap(snapshot(t, ref, "features/as_of=2018-10-28"), snapshot(t, l, "features/as_of=2018-10-28")); len(d) > 0 {
		t.Errorf("features after the crash differ from features on the completed lake: %v", d)
	}
}

// TestIntegrationLoadCompletesAPendingCommit: load after an etl killed
// past its commit point loads the completed lake, the rows a load of the
// finished etl loads, not dim_user of one run beside the facts of another.
func TestIntegrationLoadCompletesAPendingCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and PostgreSQL")
	}
	crashedDSN, refDSN := pgtest.New(t), pgtest.New(t)
	crashed, ref, _ := crashedLake(t)
	counts := func(dsn, lakeDir string) map[string]int64 {
		t.Helper()
		for _, args := range [][]string{{"db", "migrate", "--dsn", dsn}, {"load", "--dsn", dsn, "--lake", lakeDir, "--tables", "gold"}} {
			if code, _, stderr := runWith(t, context.Background(), args...); code != 0 {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
		}
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		out := map[string]int64{}
		for _, tb := range []string{"dim_user", "fact_user_day", "fact_session"} {
			var n int64
			if err := conn.QueryRow(context.Background(), "select count(*) from churn."+tb).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[tb] = n
		}
		return out
	}
	want := counts(refDSN, ref)
	if got := counts(crashedDSN, crashed); !maps.Equal(got, want) {
		t.Errorf("load after the crash loaded %v rows, a load of the completed lake %v", got, want)
	}
	if d := diffSnap(snapshot(t, ref, "gold"), snapshot(t, crashed, "gold")); len(d) > 0 {
		t.Errorf("load did not complete the pending commit: %v", d)
	}
}
