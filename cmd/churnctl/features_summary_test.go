package main

import (
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// sampleLake runs etl on the bundled sample into a new lake.
func sampleLake(t *testing.T) string {
	t.Helper()
	lake := t.TempDir()
	if code, _, errs := runCLI(t, "etl", "--lake", lake, filepath.Join("..", "..", "testdata", "sample")); code != 0 {
		t.Fatalf("etl on the sample: exit %d: %s", code, errs)
	}
	return lake
}

// TestFeaturesSummaryCountsDistinctUsers: "users" counts distinct users
// over the snapshots and "rows" their rows; an unlabeled snapshot has null
// positives, not 0.
func TestFeaturesSummaryCountsDistinctUsers(t *testing.T) {
	lake := sampleLake(t)
	cuts := []string{"2018-10-17", "2018-10-24", "2018-11-30"} // the last is past the data's end: unlabeled
	code, out, errs := runCLI(t, "features", "--lake", lake, "--as-of", cuts[0], "--as-of", cuts[1], "--as-of", cuts[2])
	if code != 0 {
		t.Fatalf("features: exit %d: %s", code, errs)
	}
	s := summaryOf(t, out)
	// the reference: the user_id columns of the written tables
	distinct := map[string]bool{}
	rows, positives := 0, 0
	for i, c := range cuts {
		type row struct {
			UserID string `parquet:"user_id"`
			Churn  *int64 `parquet:"churn,optional"`
		}
		rs, err := parquet.ReadFile[row](filepath.Join(lake, "features", "as_of="+c, "part-0.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			distinct[r.UserID] = true
			if i < 2 && *r.Churn == 1 {
				positives++
			}
		}
		rows += len(rs)
	}
	if len(distinct) >= rows {
		t.Fatalf("reference: %d distinct users in %d rows: the snapshots should share users", len(distinct), rows)
	}
	if s["users"] != float64(len(distinct)) || s["rows"] != float64(rows) || s["positives"] != float64(positives) {
		t.Errorf("summary users %v rows %v positives %v; want %d distinct users, %d rows, %d positives", s["users"], s["rows"], s["positives"], len(distinct), rows, positives)
	}
	snaps, _ := s["snapshots"].([]any)
	if len(snaps) != 3 {
		t.Fatalf("summary snapshots = %v", s["snapshots"])
	}
	if last := snaps[2].(map[string]any); last["labeled"] != false || last["positives"] != nil {
		t.Errorf("unlabeled snapshot summary = %v, want positives null", last)
	}
	if first := snaps[0].(map[string]any); first["positives"] == nil || first["rows"] == nil {
		t.Errorf("labeled snapshot summary = %v", first)
	}

	code, out, errs = runCLI(t, "features", "--lake", lake, "--as-of", cuts[2])
	if s := summaryOf(t, out); code != 0 || s["positives"] != nil || s["labeled"] != false {
		t.Errorf("unlabeled snapshot alone: exit %d, summary %s %s; want positives null", code, out, errs)
	}
	if _, ok := summaryOf(t, out)["positives"]; !ok {
		t.Error("summary lacks positives (want it null)")
	}
}
