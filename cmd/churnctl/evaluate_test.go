package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvaluateRefusesTrainingRows: a model records the rows it was fitted
// on; evaluate refuses them (exit 3, naming how many and the flag) unless
// --allow-training-rows, which labels the evaluation "training" in every
// output; promote never judges on them; held-out users pass the check.
func TestEvaluateRefusesTrainingRows(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 1500)
	reg := filepath.Join(dir, "models")
	if code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--trees", "10", "--folds", "0", "--seed", "1"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	evals := filepath.Join(reg, "churn", "1", "evaluations.json")

	code, out, errs := runCLI(t, "evaluate", "--holdout-users", "0", "--model", "churn@1", "--registry", reg, "--features", feats, "--bootstrap", "0")
	if code != 3 || !strings.Contains(errs, "1500 of 1500 evaluation rows are rows churn@1 was trained on") || !strings.Contains(errs, "--allow-training-rows") {
		t.Errorf("evaluate on the training rows: exit %d, stderr %q; want 3 naming 1500 rows and --allow-training-rows", code, errs)
	}
	if s := summaryOf(t, out); s["f1"] != nil || s["roc_auc"] != nil {
		t.Errorf("a refused evaluation reported scores: %s", out)
	}
	if _, err := os.Stat(evals); err == nil {
		t.Error("a refused evaluation was recorded in evaluations.json")
	}

	report := filepath.Join(dir, "report")
	code, out, errs = runCLI(t, "evaluate", "--holdout-users", "0", "--model", "churn@1", "--registry", reg, "--features", feats, "--bootstrap", "0",
		"--allow-training-rows", "--dataset", "holdout", "--json", "--report", report)
	if code != 0 {
		t.Fatalf("evaluate --allow-training-rows: exit %d: %s", code, errs)
	}
	if s := summaryOf(t, out); s["dataset"] != "training" || s["training_rows"] != 1500.0 {
		t.Errorf("summary dataset %v, training_rows %v; want training, 1500", s["dataset"], s["training_rows"])
	}
	var ev, file map[string]any
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(strings.TrimRight(out, "\n"), "\n")]), &ev); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(report, "metrics.json"))
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]map[string]any{"stdout JSON": ev, "metrics.json": file} {
		if e["dataset"] != "training" || e["training_rows"] != 1500.0 {
			t.Errorf("%s: dataset %v, training_rows %v; want training, 1500", name, e["dataset"], e["training_rows"])
		}
	}
	if md, _ := os.ReadFile(filepath.Join(report, "report.md")); !strings.Contains(string(md), "Dataset: **training** — 1500 of these 1500 rows were used to fit the model") {
		t.Errorf("report.md does not say the rows are training rows:\n%s", md)
	}
	var rows []struct{ Metric, Dataset string }
	b, _ = os.ReadFile(evals)
	if err := json.Unmarshal(b, &rows); err != nil || len(rows) == 0 {
		t.Fatalf("evaluations.json: %v (%d rows)", err, len(rows))
	}
	for _, r := range rows {
		if r.Dataset != "training" {
			t.Errorf("evaluations.json row %+v: want dataset training", r)
		}
	}

	// promote: a challenger judged on its own training rows is refused
	if code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--trees", "10", "--folds", "0", "--seed", "2"); code != 0 {
		t.Fatalf("train 2: %s", errs)
	}
	code, out, errs = runCLI(t, "models", "promote", "churn@2", "--holdout-users", "0", "--registry", reg, "--features", feats, "--min-gain", "-1")
	if code != 3 || !strings.Contains(errs, "were used to train churn@2") || summaryOf(t, out)["promoted"] == true {
		t.Errorf("promote on training rows: exit %d, stderr %q; want 3", code, errs)
	}
	if code, out, _ := runCLI(t, "models", "list", "churn", "--registry", reg, "--json"); code != 0 || !strings.Contains(out, `"version":1,"dir":"`+filepath.Join(reg, "churn", "1")+`","aliases":["champion"]`) {
		t.Errorf("champion changed by a refused promotion:\n%s", out)
	}
}

// TestEvaluateHoldoutAgreesWithTraining: users train --holdout-users left
// out are no training rows; a larger held-out share holds trained users.
func TestEvaluateHoldoutAgreesWithTraining(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 1500)
	reg := filepath.Join(dir, "models")
	if code, _, errs := runCLI(t, "train", "--features", feats, "--registry", reg, "--trees", "10", "--folds", "0", "--holdout-users", "0.3"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	code, out, errs := runCLI(t, "evaluate", "--model", "churn", "--registry", reg, "--features", feats, "--holdout-users", "0.3", "--bootstrap", "0")
	if s := summaryOf(t, out); code != 0 || s["dataset"] != "holdout" || s["training_rows"] != 0.0 {
		t.Errorf("evaluate on the held-out users: exit %d, %s %s; want 0, dataset holdout, training_rows 0", code, out, errs)
	}
	code, _, errs = runCLI(t, "evaluate", "--model", "churn", "--registry", reg, "--features", feats, "--holdout-users", "0.5", "--bootstrap", "0")
	if code != 3 || !strings.Contains(errs, "evaluation rows are rows churn@1 was trained on") || !strings.Contains(errs, "is --holdout-users the share train used?") {
		t.Errorf("evaluate --holdout-users 0.5 after train 0.3: exit %d, %q; want 3", code, errs)
	}
	// promote on a table that is partly training rows judges on the rest
	if code, _, errs := runCLI(t, "train", "--features", feats, "--registry", reg, "--trees", "10", "--folds", "0", "--holdout-users", "0.3", "--seed", "3"); code != 0 {
		t.Fatalf("train 2: %s", errs)
	}
	code, out, errs = runCLI(t, "models", "promote", "churn@2", "--registry", reg, "--features", feats, "--holdout-users", "0.5", "--min-gain", "-1")
	s := summaryOf(t, out)
	kept, excluded := s["rows"], s["rows_excluded"]
	if code != 0 || excluded == nil || excluded == 0.0 || kept == nil || kept.(float64)+excluded.(float64) < 600 || kept.(float64) > 600 {
		t.Errorf("promote --holdout-users 0.5: exit %d, %s %s; want the trained users left out", code, out, errs)
	}
}
