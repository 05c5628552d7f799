package features

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The tests in this file run the real pipeline (churnctl etl, built from
// this module, or CHURNCTL_TEST_BIN) on raw JSON and compare its snapshots
// with the reference computed straight from the JSON, and check the leakage
// property end to end. They skip under -short and when the binary has no
// etl bronze/silver/gold yet.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func churnctlBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs churnctl")
	}
	if p := os.Getenv("CHURNCTL_TEST_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "churnctl-features-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "churnctl")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/churnctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	if exec.Command(binPath, "etl", "bronze", "--help").Run() != nil || exec.Command(binPath, "etl", "gold", "--help").Run() != nil {
		t.Skip("this build has no etl bronze/gold yet")
	}
	return binPath
}

func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--log-level", "warn")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("churnctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// etlLake builds a lake from JSON files with the real pipeline.
func etlLake(t *testing.T, bin, lake string, inputs ...string) {
	t.Helper()
	runBin(t, bin, append([]string{"etl", "bronze", "--lake", lake}, inputs...)...)
	runBin(t, bin, "etl", "--lake", lake)
}

// checkAgainstReference compares a snapshot of a real lake with the
// reference computed from the raw JSON events the lake was built from.
func checkAgainstReference(t *testing.T, src Source, es []ev, T Date, H, W int) {
	t.Helper()
	got, err := Compute(context.Background(), src, Config{AsOf: T, HorizonDays: H, WindowDays: W})
	if err != nil {
		t.Fatal(err)
	}
	want, labels, labeled := reference(es, T, H, W)
	if got.Labeled != labeled {
		t.Errorf("as_of %s: labeled = %v, reference %v", T, got.Labeled, labeled)
	}
	if len(got.UserIDs) != len(want) {
		t.Errorf("as_of %s: %d rows, reference %d", T, len(got.UserIDs), len(want))
	}
	bad, pos := 0, 0
	for i, id := range got.UserIDs {
		w, ok := want[id]
		if !ok {
			t.Errorf("user %s is a row, reference excludes it", id)
			continue
		}
		if labeled && got.Churn[i] != labels[id] {
			t.Errorf("user %s churn = %d, want %d", id, got.Churn[i], labels[id])
		}
		pos += int(labels[id])
		for j, f := range Features() {
			gv, wv := got.Values[j][i], w[f.Name]
			if math.Abs(gv-wv) > 1e-9*math.Max(1, math.Abs(wv)) {
				if bad++; bad <= 20 {
					t.Errorf("as_of %s user %s %s = %v, want %v", T, id, f.Name, gv, wv)
				}
			}
		}
	}
	if len(want) < 20 || (labeled && pos == 0) {
		t.Errorf("as_of %s: %d rows, %d positives: too few to check anything", T, len(want), pos)
	}
	t.Logf("as_of %s: %d rows, %d positives, labeled %v, %d mismatches", T, len(got.UserIDs), pos, labeled, bad)
}

// samplePaths returns testdata/sample/*.json.gz of the module, if present.
func samplePaths() []string {
	_, file, _, _ := runtime.Caller(0)
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(file)), "testdata", "sample", "*.json*"))
	return paths
}

// TestPipelineMatchesReference: features from the lake churnctl etl builds
// equal the reference computed with encoding/json from the raw events, on
// the bundled sample (testdata/sample; this package's synthetic log without it).
func TestPipelineMatchesReference(t *testing.T) {
	bin := churnctlBin(t)
	type dataset struct {
		name  string
		paths []string
	}
	var sets []dataset
	if p := samplePaths(); len(p) > 0 {
		sets = append(sets, dataset{"sample", p})
	} else {
		t.Log("no testdata/sample: checking a synthetic log")
		syn := filepath.Join(t.TempDir(), "synthetic.json")
		writeJSONEvents(t, syn, genEvents(21, 150, 75))
		sets = append(sets, dataset{"synthetic", []string{syn}})
	}
	for _, ds := range sets {
		t.Run(ds.name, func(t *testing.T) {
			lake := filepath.Join(t.TempDir(), "lake")
			etlLake(t, bin, lake, ds.paths...)
			es := readJSONEvents(t, ds.paths...)
			src := &LakeSource{Root: lake, Mem: memory.NewGoAllocator()}
			days, err := src.Days(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ off, h, w int }{{14, 14, 30}, {30, 30, 30}, {len(days) - 20, 30, 14}} {
				checkAgainstReference(t, src, es, days[0]+Date(tc.off), tc.h, tc.w)
			}
		})
	}
}

// TestPipelineLeakage is the leakage property end to end: JSON → churnctl
// etl → churnctl features, then the same with every event at or after T
// changed or deleted: the feature columns are byte-identical.
func TestPipelineLeakage(t *testing.T) {
	bin := churnctlBin(t)
	var es []ev
	if p := samplePaths(); len(p) > 0 {
		es = readJSONEvents(t, p...)
	} else {
		es = genEvents(22, 150, 75)
	}
	first := DateOfMS(es[0].TS)
	for _, off := range []int{20, 40} {
		T := first + Date(off)
		t.Run(T.String(), func(t *testing.T) {
			dir := t.TempDir()
			var outs [2][]byte
			for k, evs := range [][]ev{es, mutateFuture(es, T.MS(), uint64(off))} {
				in := filepath.Join(dir, fmt.Sprintf("events%d.json", k))
				writeJSONEvents(t, in, evs)
				lake := filepath.Join(dir, fmt.Sprintf("lake%d", k))
				etlLake(t, bin, lake, in)
				out := filepath.Join(dir, fmt.Sprintf("f%d.csv", k))
				runBin(t, bin, "features", "--lake", lake, "--as-of", T.String(), "--horizon", "30d", "--format", "csv", "--out", out)
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = dropLastColumn(b)
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatalf("features changed when only events at or after %s changed:\n%s", T, firstDiff(string(outs[0]), string(outs[1])))
			}
			if bytes.Count(outs[0], []byte("\n")) < 20 {
				t.Fatalf("only %d rows", bytes.Count(outs[0], []byte("\n")))
			}
		})
	}
}

// dropLastColumn removes the churn column of a CSV.
func dropLastColumn(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if i := bytes.LastIndexByte(line, ','); i >= 0 {
			out = append(out, line[:i]...)
			out = append(out, '\n')
		}
	}
	return out
}
