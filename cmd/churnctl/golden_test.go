package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/internal/pgtest"
	"github.com/churnctl/churnctl/sql/lakefixture"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/golden/*.keys) from this run")

// summaryKeys returns the top-level keys of the summary line (the last
// line of out), in the order they are printed.
func summaryKeys(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("the last line is not a JSON object: %q", lines[len(lines)-1])
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// checkGolden compares a command's summary keys with
// testdata/golden/NAME.keys (one key a line, in order); -update rewrites it.
// A key added, removed, renamed or moved fails the test: a change to the
// summary (what Airflow's XCom and scripts read) shows in review.
func checkGolden(t *testing.T, name, out string) {
	t.Helper()
	keys := summaryKeys(t, out)
	path := filepath.Join("testdata", "golden", strings.ReplaceAll(name, " ", "_")+".keys")
	got := strings.Join(keys, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test ./cmd/churnctl -run Golden -update)", name, err)
	}
	if d := goldenDiff(string(want), got); d != "" {
		t.Errorf("%s: summary keys changed (go test ./cmd/churnctl -run Golden -update, if meant):\n%s", name, d)
	}
}

// goldenDiff is "" when want and got are the same lines; else the lines
// only in want (-) or only in got (+), or both in full when only their
// order differs.
func goldenDiff(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	in := func(xs []string, x string) bool {
		for _, y := range xs {
			if y == x {
				return true
			}
		}
		return false
	}
	var b bytes.Buffer
	for _, x := range w {
		if !in(g, x) {
			fmt.Fprintf(&b, "-%s\n", x)
		}
	}
	for _, x := range g {
		if !in(w, x) {
			fmt.Fprintf(&b, "+%s\n", x)
		}
	}
	if b.Len() == 0 {
		fmt.Fprintf(&b, "same keys, another order:\nwant %s\ngot  %s\n", strings.Join(w, " "), strings.Join(g, " "))
	}
	return b.String()
}

// TestGoldenSummaryKeys runs every command that needs no database on the
// bundled sample and pins its summary keys (load and db: the integration
// test below).
func TestGoldenSummaryKeys(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join("..", "..", "testdata", "sample")
	layers, l := filepath.Join(dir, "layers"), filepath.Join(dir, "lake")
	labeled, unlabeled := filepath.Join(l, "features", "as_of=2018-10-31"), filepath.Join(l, "features", "as_of=2018-11-30")
	steps := []struct {
		name string
		args []string
		code int
	}{
		{"generate", []string{"generate", "--users", "20", "--days", "3", "--seed", "7", "--out", filepath.Join(dir, "g.json")}, 0},
		{"etl bronze", []string{"etl", "bronze", "--lake", layers, sample}, 0},
		{"etl silver", []string{"etl", "silver", "--lake", layers}, 0},
		{"etl gold", []string{"etl", "gold", "--lake", layers}, 0},
		{"etl", []string{"etl", "--lake", l, sample}, 0},
		{"features", []string{"features", "--lake", l, "--as-of", "2018-10-31", "--as-of", "2018-11-30"}, 0},
		{"train", []string{"train", "--lake", l, "--features", labeled, "--trees", "5", "--folds", "2"}, 0},
		{"evaluate", []string{"evaluate", "--lake", l, "--model", "churn@challenger", "--features", labeled, "--bootstrap", "0", "--json"}, 0},
		{"models list", []string{"models", "list", "--lake", l, "--json"}, 0},
		{"models show", []string{"models", "show", "--lake", l, "churn@1"}, 0},
		{"models promote", []string{"models", "promote", "churn@challenger", "--lake", l, "--features", labeled}, 0},
		{"score", []string{"score", "--lake", l, "--features", unlabeled}, 0},
		{"run", []string{"run", "--lake", filepath.Join(dir, "run"), "--inputs", sample, "--trees", "5", "--folds", "2"}, 0},
		{"run dry-run", []string{"run", "--lake", filepath.Join(dir, "run"), "--inputs", sample, "--trees", "5", "--folds", "2", "--dry-run"}, 0},
		{"config show", []string{"config", "show", "--lake", l}, 0},
		{"version", []string{"version"}, 0},
	}
	for _, s := range steps {
		code, out, errs := runCLI(t, s.args...)
		if code != s.code {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", s.args, code, s.code, out, errs)
		}
		checkGolden(t, s.name, out)
	}
}

// TestGoldenCatchesChanges: the comparison fails on a key added, removed,
// renamed or moved, and passes on the same keys.
func TestGoldenCatchesChanges(t *testing.T) {
	want := "command\nstatus\nrows\nmodel\nrun_id\nduration_ms\n"
	for _, tt := range []struct {
		name, got string
		fail      bool
	}{
		{"same", want, false},
		{"added", "command\nstatus\nrows\nmodel\nthreshold\nrun_id\nduration_ms\n", true},
		{"removed", "command\nstatus\nrows\nrun_id\nduration_ms\n", true},
		{"renamed", "command\nstatus\nrow_count\nmodel\nrun_id\nduration_ms\n", true},
		{"moved", "command\nstatus\nmodel\nrows\nrun_id\nduration_ms\n", true},
	} {
		if d := goldenDiff(want, tt.got); (d != "") != tt.fail {
			t.Errorf("%s: goldenDiff = %q, want a failure %v", tt.name, d, tt.fail)
		}
	}
	// And the keys come from the real summary line, in order.
	if got := summaryKeys(t, "data\n{\"command\":\"x\",\"status\":\"ok\",\"m\":{\"a\":1},\"l\":[1],\"duration_ms\":1}\n"); strings.Join(got, " ") != "command status m l duration_ms" {
		t.Errorf("summaryKeys = %q", got)
	}
}

// TestIntegrationGoldenSummaryKeys pins the summary keys of the commands
// that talk to PostgreSQL.
func TestIntegrationGoldenSummaryKeys(t *testing.T) {
	dsn := pgtest.New(t)
	l := t.TempDir()
	if err := lakefixture.WriteLake(l, []string{"2026-01-01", "2026-01-02"}, 20); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		args []string
	}{
		{"db status", []string{"db", "status", "--dsn", dsn}},
		{"db migrate", []string{"db", "migrate", "--dsn", dsn}},
		{"load", []string{"load", "--dsn", dsn, "--lake", l}},
	} {
		code, out, errs := runCLI(t, s.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", s.name, code, out, errs)
		}
		checkGolden(t, s.name, out)
	}
}
