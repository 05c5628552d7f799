package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stageSummaries returns the summary of each stage line a run printed.
func stageSummaries(t *testing.T, stdout string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, l := range strings.Split(stdout, "\n") {
		var s struct {
			Stage   string         `json:"stage"`
			Summary map[string]any `json:"summary"`
		}
		if json.Unmarshal([]byte(l), &s) == nil && s.Stage != "" {
			out[s.Stage] = s.Summary
		}
	}
	return out
}

// TestRunReusesIdenticalModel: `run`, `run --no-train`, `run` trains the
// same model bytes again; they are the registered version, not a new one,
// and the run names that version as champion and scores with it.
func TestRunReusesIdenticalModel(t *testing.T) {
	lakeDir := t.TempDir()
	r := churnctl(t, withSample(t, runArgs(lakeDir))...)
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, tail(r.stderr))
	}
	st := stageSummaries(t, r.stdout)
	if ev := st["evaluate"]; ev["dataset"] != "holdout" || ev["training_rows"] != 0.0 {
		t.Errorf("run's evaluate: dataset %v, training_rows %v; want holdout, 0 (held-out users are no training rows)", ev["dataset"], ev["training_rows"])
	}
	if r := churnctl(t, withSample(t, runArgs(lakeDir, "--no-train"))...); r.code != 0 {
		t.Fatalf("run --no-train: exit %d\n%s", r.code, tail(r.stderr))
	}
	r = churnctl(t, withSample(t, runArgs(lakeDir))...)
	if r.code != 0 {
		t.Fatalf("third run: exit %d\n%s", r.code, tail(r.stderr))
	}
	st = stageSummaries(t, r.stdout)
	if tr := st["train"]; tr == nil || tr["model"] != "churn@1" || tr["reused_version"] != true {
		t.Errorf("train stage summary = %v; want model churn@1, reused_version true", tr)
	}
	for k, want := range map[string]string{"train_model": "churn@1", "promote_champion": "churn@1", "score_model": "churn@1"} {
		if r.summary[k] != want {
			t.Errorf("run summary %s = %v, want %s", k, r.summary[k], want)
		}
	}
	reg := filepath.Join(lakeDir, "models", "churn")
	if _, err := os.Stat(filepath.Join(reg, "2")); err == nil {
		t.Error("identical model bytes were registered as churn@2")
	}
	b, err := os.ReadFile(filepath.Join(reg, "aliases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var al map[string]string
	if err := json.Unmarshal(b, &al); err != nil || al["champion"] != "1" || al["challenger"] != "1" {
		t.Errorf("aliases = %s, want champion and challenger 1", b)
	}
}
