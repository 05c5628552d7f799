package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRunRecomputesFeaturesOfAnotherFeatureSet: the features stage's
// fingerprint covers the feature set this churnctl computes, so on a lake
// whose snapshots an older churnctl wrote (other features; the same gold and
// arguments) the stage runs again instead of leaving snapshots the new
// model cannot score.
func TestRunRecomputesFeaturesOfAnotherFeatureSet(t *testing.T) {
	if testing.Short() {
		t.Skip("two whole runs on the sample")
	}
	sample, _ := filepath.Abs("../../testdata/sample")
	lk := filepath.Join(t.TempDir(), "lake")
	args := []string{"run", "--lake", lk, "--inputs", sample, "--trees", "5", "--folds", "2", "--log-level", "warn"}
	if code, _, errs := runWith(t, context.Background(), args...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errs)
	}
	st := readState(lk)
	var fargs []string
	recs, _ := filepath.Glob(filepath.Join(lk, "runs", "*.json"))
	for _, p := range recs {
		var rec runRecord
		b, _ := os.ReadFile(p)
		if json.Unmarshal(b, &rec) == nil && rec.Command == "run" {
			for _, s := range rec.Stages {
				if s.Name == "features" {
					fargs = s.Args
				}
			}
		}
	}
	if fargs == nil {
		t.Fatalf("no features stage in the run records %v", recs)
	}
	reads := []string{filepath.Join(lk, "gold", "_manifest.json"), filepath.Join(lk, "gold", "*", "*", "_manifest.json"), filepath.Join(lk, "gold", "*", "_manifest.json")}
	withCode, without := fingerprint(append(slices.Clone(fargs), featureSet()...), reads), fingerprint(fargs, reads)
	if st.Stages["features"] != withCode || withCode == without {
		t.Fatalf("features fingerprint %s, want %s (with the feature set), not %s", st.Stages["features"], withCode, without)
	}
	// What a churnctl of another feature set left: the fingerprint of the
	// same arguments and gold without this feature set.
	st.Stages["features"] = without
	if err := writeState(lk, st); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runWith(t, context.Background(), args...)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errs)
	}
	s := summaryOf(t, out)
	if s["stages_run"].(float64) < 1 || readState(lk).Stages["features"] != withCode {
		t.Errorf("second run: %v stages run, features fingerprint %s: the features stage did not run again", s["stages_run"], readState(lk).Stages["features"])
	}
	// and a third finds everything current
	if code, out, _ := runWith(t, context.Background(), args...); code != 0 || summaryOf(t, out)["stages_run"].(float64) != 0 {
		t.Errorf("third run: exit %d, %v stages run, want 0", code, summaryOf(t, out)["stages_run"])
	}
}
