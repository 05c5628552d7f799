package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/spf13/cobra"
)

// TestOutDashOnEveryCommand: every command with an --out flag takes "-" as
// stdout: the data alone on stdout (read back by an independent reader), the
// summary as the last line of stderr, and no file named "-". Before, features
// and score wrote a file named "-" into the working directory.
func TestOutDashOnEveryCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etl, features and train")
	}
	// Every command with --out must have a case below.
	covered := map[string]bool{"generate": true, "features": true, "score": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("out") != nil && !covered[commandName(c)] {
			t.Errorf("%s has --out but no case in this test", commandName(c))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(newApp(nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})))

	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	in := genFile(t, dir, "events.json", "--users", "60", "--days", "60", "--seed", "3")
	snap := filepath.Join(lakeDir, "features", "as_of=2018-11-01")
	for _, args := range [][]string{
		{"etl", "--lake", lakeDir, in},
		{"features", "--lake", lakeDir, "--as-of", "2018-11-01", "--horizon", "14d"},
		{"train", "--holdout-users", "0", "--features", snap, "--registry", filepath.Join(lakeDir, "models"), "--trees", "5", "--folds", "0"},
	} {
		if code, _, stderr := runWith(t, context.Background(), args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	for _, tt := range []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout []byte, sum map[string]any)
	}{
		{"features csv", []string{"features", "--lake", lakeDir, "--as-of", "2018-11-01", "--horizon", "14d", "--format", "csv", "--out", "-"},
			func(t *testing.T, stdout []byte, sum map[string]any) {
				recs, err := csv.NewReader(bytes.NewReader(stdout)).ReadAll()
				if err != nil || len(recs) < 2 || recs[0][0] != "user_id" {
					t.Fatalf("stdout is not the CSV table: %v, %d records", err, len(recs))
				}
				if float64(len(recs)-1) != sum["rows"] || sum["path"] != "-" {
					t.Errorf("%d CSV rows, summary rows %v path %v", len(recs)-1, sum["rows"], sum["path"])
				}
			}},
		{"features parquet", []string{"features", "--lake", lakeDir, "--as-of", "2018-11-01", "--horizon", "14d", "--out", "-"},
			func(t *testing.T, stdout []byte, sum map[string]any) {
				pf, err := parquet.OpenFile(bytes.NewReader(stdout), int64(len(stdout)))
				if err != nil || float64(pf.NumRows()) != sum["rows"] {
					t.Errorf("stdout as Parquet: %v, summary rows %v", err, sum["rows"])
				}
			}},
		{"score", []string{"score", "--registry", filepath.Join(lakeDir, "models"), "--model", "churn@champion", "--features", snap, "--out", "-"},
			func(t *testing.T, stdout []byte, sum map[string]any) {
				pf, err := parquet.OpenFile(bytes.NewReader(stdout), int64(len(stdout)))
				if err != nil || float64(pf.NumRows()) != sum["rows"] || pf.Schema().Name() != "prediction" {
					t.Errorf("stdout as Parquet predictions: %v, summary rows %v", err, sum["rows"])
				}
			}},
		{"generate", []string{"generate", "--users", "5", "--days", "2", "--out", "-"},
			func(t *testing.T, stdout []byte, sum map[string]any) {
				if n := bytes.Count(stdout, []byte("\n")); float64(n) != sum["events"] || bytes.Contains(stdout, []byte(`"command"`)) {
					t.Errorf("%d lines on stdout, summary events %v", n, sum["events"])
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runWith(t, context.Background(), append([]string{"--log-format", "json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", tt.args, code, stderr)
			}
			sum := lastLine(t, stderr)
			if sum["command"] != strings.Fields(tt.name)[0] || sum["status"] != "ok" {
				t.Fatalf("the last stderr line is not the summary: %v", sum)
			}
			tt.check(t, []byte(stdout), sum)
			if _, err := os.Stat("-"); err == nil {
				os.Remove("-")
				t.Errorf("%q wrote a file named -", tt.args)
			}
		})
	}
	if code, _, stderr := runWith(t, context.Background(), "--log-format", "text", "features", "--lake", lakeDir,
		"--as-of", "2018-10-20", "--as-of", "2018-10-27", "--out", "-"); code != 2 || !strings.Contains(stderr, "one --as-of") {
		t.Errorf("features --out - with two cutoffs: exit %d, want 2 saying one --as-of: %s", code, stderr)
	}
}
