package bronze

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/lake"
)

// TestKillAndRerun runs the real binary, SIGKILLs it at several moments
// (the commit steps are slowed down so that some kills land inside the
// commit), and checks that the lake is then either as before the run or as
// after it, and that re-running completes it to exactly the reference
// result.
func TestKillAndRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the churnctl binary")
	}
	bin := filepath.Join(t.TempDir(), "churnctl")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/churnctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	b := filepath.Join(dir, "b.json")
	writeDays := func(path string, user string, days int) {
		var sb strings.Builder
		for i := range 40000 {
			ts := int64(1538352000000) + int64(i)*int64(days)*86_400_000/40000
			l := strings.Replace(goodLine, `1538352820116`, fmt.Sprint(ts), 1)
			sb.WriteString(strings.Replace(l, `"159"`, `"`+user+`"`, 1) + "\n")
			if i%997 == 0 {
				sb.WriteString(l[:40] + "\n") // quarantined
			}
		}
		os.WriteFile(path, []byte(sb.String()), 0o644)
	}
	writeDays(a, "1", 6)
	writeDays(b, "2", 8)
	churnctl := func(lakeDir string, env []string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"etl", "bronze", "--lake", lakeDir, "--ingest-date", "2026-01-02", "--no-progress"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		return cmd
	}
	mustRun := func(lakeDir string, args ...string) {
		t.Helper()
		if out, err := churnctl(lakeDir, nil, args...).CombinedOutput(); err != nil {
			t.Fatalf("churnctl %v: %v\n%s", args, err, out)
		}
	}
	before := filepath.Join(t.TempDir(), "before")
	mustRun(before, a)
	want0 := snapshot(t, before)
	const stepDelay = 40 * time.Millisecond
	ref := filepath.Join(t.TempDir(), "ref")
	mustRun(ref, a)
	start := time.Now()
	if out, err := churnctl(ref, []string{"CHURNCTL_TEST_COMMIT_DELAY=" + stepDelay.String()}, b).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	full := time.Since(start) // with the slowed-down commit
	want1 := snapshot(t, ref)

	sawBefore, sawAfter, sawMidCommit := 0, 0, 0
	for i := range 12 {
		t.Run(fmt.Sprintf("kill-%d", i), func(t *testing.T) {
			l := filepath.Join(t.TempDir(), "lake")
			if out, err := exec.Command("cp", "-a", before, l).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			cmd := churnctl(l, []string{"CHURNCTL_TEST_COMMIT_DELAY=" + stepDelay.String()}, b)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// From early in the run to well into the slowed-down commit.
			time.Sleep(time.Duration(i) * full / 11)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if j, _ := filepath.Glob(filepath.Join(l, ".tmp", "*", "COMMIT")); len(j) > 0 {
				sawMidCommit++ // killed between the commit point and the end of the swap
			}

			if _, err := lake.Open(l); err != nil { // what any next invocation does first
				t.Fatal(err)
			}
			switch got := snapshot(t, l); {
			case maps.Equal(got, want0):
				sawBefore++
			case maps.Equal(got, want1):
				sawAfter++
			default:
				t.Fatalf("after kill at step %d the lake is neither before nor after the run:\n got %v\nbefore %v\nafter %v", i, got, want0, want1)
			}
			out, err := churnctl(l, nil, b).CombinedOutput()
			if err != nil && !strings.Contains(string(out), `"status":"ok"`) {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			if got := snapshot(t, l); !maps.Equal(got, want1) {
				t.Fatalf("re-run after kill did not reach the reference lake:\n got %v\nwant %v", got, want1)
			}
		})
	}
	t.Logf("kills that left the lake as before: %d, as after: %d (of which %d inside the commit, completed by recovery)", sawBefore, sawAfter, sawMidCommit)
	if sawBefore == 0 || sawMidCommit == 0 {
		t.Logf("note: no kill landed %s", map[bool]string{true: "before the commit point", false: "inside the commit"}[sawBefore == 0])
	}
}
