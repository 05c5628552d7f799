package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/internal/lake"
)

// TestETLMalformedDirWritesQuarantine is the run: `etl bronze`
// (and `etl`) over testdata/malformed/ reads its event files, not its
// README.md (listed as skipped), and its exit 3 (a truncated gzip among
// them) writes the quarantine, as the exit code table promises, and
// publishes no events.
func TestETLMalformedDirWritesQuarantine(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "malformed") + "/"
	for _, cmd := range [][]string{{"etl", "bronze"}, {"etl"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			lakeDir := t.TempDir()
			code, sum := cli(t, append(cmd, "--lake", lakeDir, dir)...)
			if code != 3 {
				t.Fatalf("exit %d, want 3: %v", code, sum)
			}
			skipped, _ := sum["skipped"].([]any)
			if len(skipped) != 1 || !strings.Contains(fmt.Sprint(skipped[0]), "README.md") || sum["skipped_inputs"] != 1.0 {
				t.Errorf("skipped = %v (skipped_inputs %v), want README.md", sum["skipped"], sum["skipped_inputs"])
			}
			if !strings.Contains(fmt.Sprint(sum["error"]), "truncated.json.gz") {
				t.Errorf("error %v does not name the truncated file", sum["error"])
			}
			byRule, _ := sum["quarantine_by_rule"].(map[string]any)
			l := lake.New(lakeDir)
			files, err := l.Files(lake.BronzeQuarantine)
			if err != nil || len(files) == 0 {
				t.Fatalf("no quarantine written: %v %v", files, err)
			}
			for _, r := range bronze.Rules {
				if byRule[r] == nil {
					t.Errorf("no %s line quarantined: %v", r, byRule)
				}
			}
			if parts, _ := l.Partitions(lake.BronzeEvents); len(parts) != 0 {
				t.Errorf("events published: %v", parts)
			}
			if m, err := l.ReadManifest(lake.BronzeQuarantine, filepath.Base(filepath.Dir(files[0]))); err != nil ||
				m.Rows != int64(sum["rows_quarantined"].(float64)) {
				t.Errorf("quarantine manifest %+v (%v), summary rows_quarantined %v", m, err, sum["rows_quarantined"])
			}
		})
	}
}
