// Package e2e drives the real churnctl binary through whole runs on the
// bundled sample: the way cron and Airflow use it.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/parquetio"
	"github.com/churnctl/churnctl/internal/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "churnctl-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "churnctl")
	build := exec.Command("go", "build", "-o", binary, "../cmd/churnctl")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building churnctl:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	miniotest.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

func sample(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../testdata/sample/events.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
	summary        map[string]any
}

// churnctl runs the binary to completion with a clean environment.
func churnctl(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("churnctl %v: %v", args, err)
	}
	r.summary = lastJSON(t, r.stdout)
	return r
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHURNCTL_") && !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

func lastJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last stdout line is not a JSON summary: %q", lines[len(lines)-1])
	}
	return m
}

func runArgs(lakeDir string, extra ...string) []string {
	return append([]string{"run", "--lake", lakeDir, "--inputs", "SAMPLE", "--train.trees", "30", "--train.folds", "3"}, extra...)
}

func withSample(t *testing.T, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "SAMPLE" {
			a = sample(t)
		}
		out[i] = a
	}
	return out
}

func TestRunWholeJobThenCurrent(t *testing.T) {
	lakeDir := t.TempDir()
	r := churnctl(t, withSample(t, runArgs(lakeDir))...)
	if r.code != 0 || r.summary["status"] != "ok" {
		t.Fatalf("first run: exit %d, summary %v\nstderr:\n%s", r.code, r.summary, tail(r.stderr))
	}
	for _, stage := range []string{"etl", "features", "train", "evaluate", "score"} {
		if !strings.Contains(r.stdout, `"stage":"`+stage+`"`) {
			t.Errorf("stage %s did not run:\n%s", stage, r.stdout)
		}
	}
	preds, _ := filepath.Glob(filepath.Join(lakeDir, "predictions", "as_of=*", "*.parquet"))
	if len(preds) == 0 {
		t.Fatalf("no predictions written")
	}
	recs, _ := filepath.Glob(filepath.Join(lakeDir, "runs", "*.json"))
	if len(recs) != 1 {
		t.Fatalf("run records = %d, want 1", len(recs))
	}

	// Everything is current now: nothing runs; with --skip-if-empty, exit 99.
	r = churnctl(t, withSample(t, runArgs(lakeDir))...)
	if r.code != 0 || r.summary["stages_run"] != float64(0) {
		t.Fatalf("second run: exit %d, summary %v\n%s", r.code, r.summary, tail(r.stderr))
	}
	r = churnctl(t, withSample(t, runArgs(lakeDir, "--skip-if-empty"))...)
	if r.code != 99 || r.summary["status"] != "skipped" {
		t.Fatalf("--skip-if-empty on a current lake: exit %d, summary %v", r.code, r.summary)
	}
}

// running is a churnctl process started by startRun.
type running struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer // stdout, complete once done is closed
	done chan struct{} // closed when the process has exited
	code int           // exit code, valid once done is closed
	log  string        // stderr, complete once done is closed
}

// startRun starts a run and returns once its stderr logs the start of stage.
func startRun(t *testing.T, args []string, stage string) *running {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--log-format", "json"}, args...)...)
	cmd.Env = cleanEnv()
	r := &running{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = r.out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	scanned := make(chan string, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), `"msg":"stage start"`) && strings.Contains(sc.Text(), `"stage":"`+stage+`"`) {
				once = true
				close(seen)
			}
		}
		scanned <- log.String()
	}()
	go func() {
		r.log = <-scanned // all of stderr read before Wait closes the pipe
		_ = cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	select {
	case <-seen:
	case <-r.done:
		t.Fatalf("churnctl exited (%d) before stage %s started", r.code, stage)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("stage %s never started", stage)
	}
	return r
}

func waitExit(t *testing.T, r *running) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(2 * time.Minute):
		r.cmd.Process.Kill()
		t.Fatal("churnctl did not exit")
	}
	return -1
}

func TestKilledRunResumesToTheSameOutputs(t *testing.T) {
	whole := t.TempDir()
	if r := churnctl(t, withSample(t, runArgs(whole))...); r.code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", r.code, tail(r.stderr))
	}

	killed := t.TempDir()
	run := startRun(t, withSample(t, runArgs(killed)), "train")
	if err := run.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitExit(t, run)
	r := churnctl(t, withSample(t, runArgs(killed, "--resume"))...)
	if r.code != 0 {
		t.Fatalf("resumed run: exit %d\n%s", r.code, tail(r.stderr))
	}
	if strings.Contains(r.stdout, `"stage":"etl"`) {
		t.Errorf("resume re-ran etl, which had finished:\n%s", r.stdout)
	}
	for _, pattern := range []string{
		"gold/fact_user_day/*/*.parquet", "features/*/*.parquet", "features/*/features.schema.json", "models/churn/*/model.crf",
	} {
		compareFiles(t, whole, killed, pattern)
	}
	compareRows(t, whole, killed, "predictions/*/*.parquet", "run_id")
}

// compareFiles checks that two lakes hold byte-identical files for pattern.
func compareFiles(t *testing.T, a, b, pattern string) {
	t.Helper()
	fa, _ := filepath.Glob(filepath.Join(a, pattern))
	fb, _ := filepath.Glob(filepath.Join(b, pattern))
	if len(fa) == 0 || len(fa) != len(fb) {
		t.Errorf("%s: %d files vs %d", pattern, len(fa), len(fb))
		return
	}
	for i := range fa {
		ba, _ := os.ReadFile(fa[i])
		bb, _ := os.ReadFile(fb[i])
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s differs from %s", fb[i], fa[i])
		}
	}
}

// compareRows checks that two lakes hold the same Parquet rows for pattern,
// ignoring the named columns (such as the run id).
func compareRows(t *testing.T, a, b, pattern string, ignore ...string) {
	t.Helper()
	dump := func(root string) string {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		var sb strings.Builder
		for _, f := range files {
			sb.WriteString(dumpParquet(t, f, ignore))
		}
		return sb.String()
	}
	da, db := dump(a), dump(b)
	if da == "" || da != db {
		t.Errorf("%s: rows differ (or none):\n%.400s\nvs\n%.400s", pattern, da, db)
	}
}

func dumpParquet(t *testing.T, path string, ignore []string) string {
	t.Helper()
	f, err := parquetio.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cols []string
	for _, fld := range f.Schema().Fields() {
		skip := false
		for _, ig := range ignore {
			skip = skip || fld.Name == ig
		}
		if !skip {
			cols = append(cols, fld.Name)
		}
	}
	rr, err := f.Records(memory.DefaultAllocator, cols, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var sb strings.Builder
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumCols()); i++ {
			fmt.Fprintf(&sb, "%s=%v\n", rec.ColumnName(i), rec.Column(i))
		}
	}
	return sb.String()
}

func TestOverlappingRunsSecondExits4(t *testing.T) {
	lakeDir := t.TempDir()
	first := startRun(t, withSample(t, runArgs(lakeDir)), "features")
	r := churnctl(t, withSample(t, runArgs(lakeDir))...)
	if r.code != 4 || !strings.Contains(r.stderr, "another churnctl run holds") {
		t.Errorf("overlapping run: exit %d, stderr %q", r.code, r.stderr)
	}
	if code := waitExit(t, first); code != 0 {
		t.Errorf("first run: exit %d", code)
	}
}

func TestSignalsStopCleanly(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			lakeDir := t.TempDir()
			run := startRun(t, withSample(t, runArgs(lakeDir)), "train")
			run.cmd.Process.Signal(tt.sig)
			if code := waitExit(t, run); code != tt.want {
				t.Fatalf("exit %d, want %d", code, tt.want)
			}
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[tt.sig]
			if s := lastJSON(t, run.out.String()); s["status"] != "interrupted" || !strings.HasPrefix(fmt.Sprint(s["error"]), "interrupted by "+name) {
				t.Errorf("summary %v, want status interrupted and an error naming %s", s, name)
			}
			// The final error line (a JSON record under --log-format json)
			// names the signal, not "context canceled".
			if e := lastJSON(t, run.log); !strings.HasPrefix(fmt.Sprint(e["msg"]), "churnctl: interrupted by "+name) || e["level"] != "ERROR" {
				t.Errorf("final stderr record %v, want churnctl: interrupted by %s", e, name)
			}
			if tmp, _ := filepath.Glob(filepath.Join(lakeDir, ".tmp", "*")); len(tmp) > 0 {
				t.Errorf("staging left behind: %v", tmp)
			}
			// The interrupted run resumes to completion.
			if r := churnctl(t, withSample(t, runArgs(lakeDir, "--resume"))...); r.code != 0 {
				t.Errorf("resume after %v: exit %d\n%s", tt.sig, r.code, tail(r.stderr))
			}
		})
	}
}

func TestExitCodeContract(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badKey, []byte("lake: "+dir+"\ntrain:\n  treez: 3\n"), 0o644)
	malformed, _ := filepath.Abs("../testdata/malformed/malformed_json.jsonl")
	tests := []struct {
		name     string
		args     []string
		want     int
		inStderr string
	}{
		{"bad config key", []string{"run", "--config", badKey, "--inputs", "x"}, 2, "treez"},
		{"bad flag value", []string{"run", "--lake", dir, "--inputs", "x", "--train.trees", "many"}, 2, "train.trees"},
		{"bad date", []string{"run", "--lake", dir, "--inputs", "x", "--ds", "yesterday"}, 2, "--ds"},
		{"missing input", []string{"run", "--lake", filepath.Join(dir, "l1"), "--inputs", filepath.Join(dir, "nope.json")}, 3, "nope.json"},
		{"bad input data", []string{"run", "--lake", filepath.Join(dir, "l2"), "--inputs", malformed}, 3, "invalid"},
		{"database down", append(withSample(t, runArgs(filepath.Join(dir, "l3"))), "--load.dsn", "host="+dir+" port=1 user=x dbname=y connect_timeout=2"), 4, "retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := churnctl(t, tt.args...)
			if r.code != tt.want {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, tt.want, tail(r.stderr))
			}
			if !strings.Contains(r.stderr, tt.inStderr) {
				t.Errorf("stderr does not mention %q:\n%s", tt.inStderr, tail(r.stderr))
			}
			if r.summary["exit_code"] != float64(tt.want) {
				t.Errorf("summary %v", r.summary)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

var _ = runtime.NumCPU

// TestBackfillFillsMissedDays: a daily run that missed days (cron did not
// fire) processes every day since the last complete one, and the lake ends
// up as if it had run every day.
func TestBackfillFillsMissedDays(t *testing.T) {
	short := []string{"--features.horizon", "7d"}
	daily := t.TempDir()
	for _, ds := range []string{"2018-10-31", "2018-11-05"} {
		r := churnctl(t, withSample(t, append(runArgs(daily, "--ds", ds, "--backfill"), short...))...)
		if r.code != 0 {
			t.Fatalf("--ds %s --backfill: exit %d\n%s", ds, r.code, tail(r.stderr))
		}
	}
	once := t.TempDir()
	if r := churnctl(t, withSample(t, append(runArgs(once, "--ds", "2018-11-05", "--backfill"), short...))...); r.code != 0 {
		t.Fatalf("one backfill: exit %d\n%s", r.code, tail(r.stderr))
	}
	days, _ := filepath.Glob(filepath.Join(daily, "gold", "fact_user_day", "dt=*"))
	if len(days) != 36 || filepath.Base(days[len(days)-1]) != "dt=2018-11-05" {
		t.Errorf("gold days after the backfill: %d, last %s; want 36 through 2018-11-05", len(days), filepath.Base(days[len(days)-1]))
	}
	compareFiles(t, once, daily, "gold/fact_user_day/*/*.parquet")
	compareFiles(t, once, daily, "features/as_of=2018-11-06/*.parquet")
	// (The models differ: the daily lake trained twice, on different cutoffs.)
	if p, _ := filepath.Glob(filepath.Join(daily, "predictions", "as_of=2018-11-06", "*.parquet")); len(p) == 0 {
		t.Errorf("no predictions as of the end of the last --ds")
	}
}
