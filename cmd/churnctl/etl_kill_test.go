package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/etl/etltest"
)

// TestETLHelperProcess is not a test: the kill and signal tests run the
// test binary as churnctl through it (with main's signal handling).
func TestETLHelperProcess(t *testing.T) {
	if os.Getenv("CHURNCTL_ETL_HELPER") != "1" {
		t.Skip("helper process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signalContext(context.Background())
	code := run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// TestETLKilledRunLeavesPreviousState kills (SIGKILL) `churnctl etl` at
// points inside its run (after silver started, after silver ended and
// before the commit) and checks the lake still holds the previous run's
// silver and gold, byte for byte; a re-run then publishes the new state.
func TestETLKilledRunLeavesPreviousState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	old := etltest.Random(31, 200, 10, testDay0, 50)
	cur := etltest.Random(32, 200, 10, testDay0, 50)
	refDir := t.TempDir()
	writeBronze(t, refDir, cur)
	if code, _ := cli(t, "etl", "--lake", refDir); code != 0 {
		t.Fatal("reference run failed")
	}
	want := snapshot(t, refDir, "silver", "gold")

	for _, point := range []string{`"msg":"silver start"`, `"msg":"silver end"`} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			writeBronze(t, dir, old)
			if code, _ := cli(t, "etl", "--lake", dir); code != 0 {
				t.Fatal("first run failed")
			}
			before := snapshot(t, dir, "silver", "gold")
			writeBronze(t, dir, cur)

			cmd := exec.Command(os.Args[0], "-test.run=^TestETLHelperProcess$", "--", "etl", "--lake", dir, "--log-format", "json")
			cmd.Env = append(os.Environ(), "CHURNCTL_ETL_HELPER=1")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stderr)
			killed := false
			for sc.Scan() {
				if strings.Contains(sc.Text(), point) {
					_ = cmd.Process.Kill()
					killed = true
					break
				}
			}
			_ = cmd.Wait()
			if !killed {
				t.Fatalf("run ended before %s", point)
			}
			after := snapshot(t, dir, "silver", "gold")
			if d := diffSnap(before, after); len(d) > 0 {
				if len(diffSnap(want, after)) == 0 {
					t.Skip("the run committed before the kill landed")
				}
				t.Fatalf("killed run changed %v", d)
			}
			if code, sum := cli(t, "etl", "--lake", dir); code != 0 {
				t.Fatalf("re-run after kill: exit %d %v", code, sum)
			}
			if d := diffSnap(want, snapshot(t, dir, "silver", "gold")); len(d) > 0 {
				t.Errorf("re-run after kill differs from a clean run in %v", d)
			}
			if ents, _ := os.ReadDir(dir + "/.tmp"); len(ents) != 0 {
				t.Errorf("staging left behind after the re-run: %v", ents)
			}
		})
	}
}
