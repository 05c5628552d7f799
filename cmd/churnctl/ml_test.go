package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/train/synth"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--log-level", "warn"), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// summaryOf parses the last stdout line.
func summaryOf(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last stdout line is not JSON: %q", lines[len(lines)-1])
	}
	return m
}

func synthCSV(t *testing.T, dir string, rows int) string {
	t.Helper()
	p := filepath.Join(dir, "features.csv")
	var b bytes.Buffer
	if err := synth.Generate(rows, 14, 3).WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainEvaluateScorePromote(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 1500)
	reg := filepath.Join(dir, "models")

	// 30 % of the users are held out of training: evaluate and promote judge on them
	code, out, errs := runCLI(t, "train", "--features", feats, "--registry", reg, "--name", "churn", "--trees", "20", "--folds", "3", "--seed", "1", "--holdout-users", "0.3")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, errs)
	}
	s := summaryOf(t, out)
	for _, k := range []string{"cv_f1", "cv_f1_tuned", "cv_f1_tuned_ci95", "cv_precision_tuned", "cv_recall_tuned", "cv_f1_tuned_optimistic",
		"cv_precision", "cv_recall", "cv_roc_auc", "cv_pr_auc", "threshold", "fit_seconds", "model", "rows", "features", "positives",
		"cv_top10_precision", "cv_top10_recall", "cv_top10_lift", "cv_brier_raw", "cv_brier", "cv_log_loss_raw", "cv_log_loss", "calibration"} {
		if _, ok := s[k]; !ok {
			t.Errorf("train summary lacks %q: %s", k, out)
		}
	}
	// the summary leads with the nested tuned F1 and its interval
	if last := out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:]; !strings.HasPrefix(last, `{"command":"train","status":"ok","cv_f1_tuned":`) ||
		!strings.Contains(last, `,"cv_f1_tuned_ci95":[`) {
		t.Errorf("train summary does not lead with cv_f1_tuned and its interval: %s", last)
	}
	if ci := s["cv_f1_tuned_ci95"].([]any); ci[0].(float64) > s["cv_f1_tuned"].(float64) || ci[1].(float64) < s["cv_f1_tuned"].(float64) {
		t.Errorf("cv_f1_tuned %v outside its interval %v", s["cv_f1_tuned"], ci)
	}
	if s["model"] != "churn@1" || s["rows"].(float64) > 1200 || s["rows"].(float64) < 900 || s["features"] != 14.0 {
		t.Errorf("train summary = %s", out)
	}
	if s["cv_f1_tuned_optimistic"].(float64) < s["cv_f1"].(float64) || s["cv_roc_auc"].(float64) < 0.8 {
		t.Errorf("cv figures implausible: %s", out)
	}

	code, out, errs = runCLI(t, "evaluate", "--model", "churn@champion", "--registry", reg, "--features", feats, "--holdout-users", "0.3", "--json", "--bootstrap", "50", "--report", filepath.Join(dir, "report"))
	if code != 0 {
		t.Fatalf("evaluate exit %d: %s", code, errs)
	}
	var ev evaluation
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(strings.TrimRight(out, "\n"), "\n")]), &ev); err != nil {
		t.Fatalf("evaluate JSON: %v\n%s", err, out)
	}
	if ev.Model != "churn@1" || ev.Rows+int(s["rows"].(float64)) != 1500 || ev.CI95["f1"][0] > ev.F1 || ev.Confusion.TP+ev.Confusion.FN != ev.Positives ||
		ev.Dataset != "holdout" || ev.TrainingRows == nil || *ev.TrainingRows != 0 {
		t.Errorf("evaluation = %+v", ev)
	}
	// p_churn is calibrated (platt by default): the JSON has both figures,
	// the raw ones from the forest itself, and the report both curves
	if ev.CalibrationMethod != "platt" || ev.BrierRaw <= 0 || ev.BrierRaw == ev.Brier || ev.LogLossRaw == ev.LogLoss || len(ev.CalibrationRaw) == 0 {
		t.Errorf("evaluation calibration %q: Brier %v → %v, log loss %v → %v, %d raw bins", ev.CalibrationMethod, ev.BrierRaw, ev.Brier, ev.LogLossRaw, ev.LogLoss, len(ev.CalibrationRaw))
	}
	if len(ev.Lift) != 3 || ev.Lift[1].Pct != 10 || ev.Lift[1].Rows != (ev.Rows+9)/10 || ev.Lift[1].Lift <= 1 {
		t.Errorf("evaluation lift = %+v (rows %d)", ev.Lift, ev.Rows)
	}
	if svg, _ := os.ReadFile(filepath.Join(dir, "report", "calibration.svg")); strings.Count(string(svg), "<polyline") != 2 || !strings.Contains(string(svg), "raw forest") {
		t.Errorf("calibration.svg: want the raw and the calibrated curves:\n%s", svg)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, "report", "report.md")); !strings.Contains(string(md), "| top 10 % |") || !strings.Contains(string(md), "calibrated by **platt**") {
		t.Errorf("report.md lacks the lift table or the calibration:\n%s", md)
	}
	for _, f := range []string{"report.md", "report.html", "roc.svg", "pr.svg", "calibration.svg", "importance.svg", "permutation_importance.svg", "metrics.json"} {
		if _, err := os.Stat(filepath.Join(dir, "report", f)); err != nil {
			t.Errorf("report: %v", err)
		}
	}

	pq := filepath.Join(dir, "scores.parquet")
	code, out, errs = runCLI(t, "score", "--model", "churn@champion", "--registry", reg, "--features", feats, "--out", pq, "--as-of", "2018-12-01")
	if code != 0 {
		t.Fatalf("score exit %d: %s", code, errs)
	}
	rows, err := parquet.ReadFile[prediction](pq)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1500 || rows[0].UserID != "100000" || rows[0].AsOf == nil || *rows[0].AsOf != 17866 || rows[0].ModelVersion != "churn@1" ||
		rows[0].RunID != summaryOf(t, out)["run_id"] || rows[0].Predicted != (rows[0].PChurn >= rows[0].Threshold) {
		t.Errorf("score rows[0] = %+v (of %d)", rows[0], len(rows))
	}

	// an unlabelled scoring snapshot (empty label column) published to the lake
	b, _ := os.ReadFile(feats)
	unl := strings.NewReplacer(",0\n", ",\n", ",1\n", ",\n").Replace(string(b))
	snap := filepath.Join(dir, "snap.csv")
	if err := os.WriteFile(snap, []byte(unl), 0o644); err != nil {
		t.Fatal(err)
	}
	lk := filepath.Join(dir, "lake")
	code, out, errs = runCLI(t, "score", "--model", "churn", "--registry", reg, "--features", snap, "--lake", lk, "--as-of", "2018-12-01")
	if code != 0 {
		t.Fatalf("score --lake exit %d: %s", code, errs)
	}
	part := filepath.Join(lk, "predictions", "as_of=2018-12-01")
	lrows, err := parquet.ReadFile[prediction](filepath.Join(part, "part-0.parquet"))
	if err != nil || len(lrows) != 1500 || lrows[7].PChurn != rows[7].PChurn {
		t.Errorf("lake predictions: %d rows, %v", len(lrows), err)
	}
	if _, err := os.Stat(filepath.Join(part, "_manifest.json")); err != nil {
		t.Error(err)
	}

	// a much weaker model: registered as challenger, refused as champion
	code, _, errs = runCLI(t, "train", "--features", feats, "--registry", reg, "--name", "churn", "--trees", "1", "--max-depth", "1", "--folds", "0", "--holdout-users", "0.3")
	if code != 0 {
		t.Fatalf("train weak exit %d: %s", code, errs)
	}
	code, out, errs = runCLI(t, "models", "promote", "churn", "--registry", reg, "--features", feats, "--holdout-users", "0.3", "--min-gain", "0.01")
	if code != 5 || !strings.Contains(errs, "below --min-gain") || summaryOf(t, out)["status"] != "refused" {
		t.Errorf("promote weak: exit %d, stderr %q, stdout %q; want 5 refused", code, errs, out)
	}
	code, out, _ = runCLI(t, "models", "list", "churn", "--registry", reg, "--json")
	if code != 0 || !strings.Contains(out, `"version":1,"dir"`) || !strings.Contains(out, `"aliases":["champion"]`) {
		t.Errorf("models list after refusal: exit %d\n%s", code, out)
	}
	// gate opened: any gain accepted
	code, out, errs = runCLI(t, "models", "promote", "churn@2", "--registry", reg, "--features", feats, "--holdout-users", "0.3", "--min-gain", "-1")
	if s := summaryOf(t, out); code != 0 || s["promoted"] != true || s["champion"] != "churn@2" || s["previous_champion"] != "churn@1" || s["rows_excluded"] != 0.0 {
		t.Errorf("promote with --min-gain -1: exit %d, %s %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "models", "show", "churn", "--registry", reg)
	if code != 0 || !strings.Contains(out, `"model": "churn@2"`) || !strings.Contains(out, `"data_sha256"`) {
		t.Errorf("models show: exit %d\n%s", code, out)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"nan", []string{"--features", write("nan.csv", "user_id,songs,errors,churn\na,1,2,0\nb,3,,1\nc,2,2,0\nd,4,1,1\n")}, 3, `column "errors" row 2`},
		{"one class", []string{"--features", write("one.csv", "user_id,songs,churn\na,1,1\nb,3,1\n")}, 3, "one class"},
		{"bad criterion", []string{"--features", write("ok.csv", "user_id,songs,churn\na,1,1\nb,3,0\n"), "--criterion", "mse"}, 2, "criterion"},
		{"no features", nil, 2, "--features"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"train", "--holdout-users", "0", "--registry", filepath.Join(dir, "models")}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", code, errs, tt.wantCode, tt.wantErr)
			}
			if s := summaryOf(t, out); s["exit_code"] != float64(tt.wantCode) {
				t.Errorf("summary = %s", out)
			}
		})
	}
}

func TestScoreSchemaMismatch(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 300)
	reg := filepath.Join(dir, "models")
	if code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--trees", "3", "--folds", "0"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	// drop the "errors" column, add "extra"
	b, _ := os.ReadFile(feats)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		f := strings.Split(l, ",")
		f[8] = map[bool]string{true: "extra", false: "1"}[i == 0]
		lines[i] = strings.Join(f, ",")
	}
	other := filepath.Join(dir, "other.csv")
	if err := os.WriteFile(other, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "score", "--model", "churn", "--registry", reg, "--features", other, "--out", filepath.Join(dir, "s.parquet"))
	if code != 3 || !strings.Contains(errs, "missing errors") || !strings.Contains(errs, "not in the model extra") {
		t.Errorf("score with another schema: exit %d, stderr %q; want 3 naming the columns", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "s.parquet")); err == nil {
		t.Error("score wrote output despite refusing")
	}
}

func TestTrainModelBytesIndependentOfJobs(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 800)
	var models [][]byte
	for _, jobs := range []string{"1", "2"} {
		reg := filepath.Join(dir, "reg"+jobs)
		if code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--trees", "8", "--folds", "2", "--jobs", jobs, "--seed", "9"); code != 0 {
			t.Fatalf("train --jobs %s: %s", jobs, errs)
		}
		b, err := os.ReadFile(filepath.Join(reg, "churn", "1", "model.crf"))
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, b)
	}
	if !bytes.Equal(models[0], models[1]) {
		t.Error("model files differ between --jobs 1 and --jobs 2")
	}
}

// TestTrainStackedSnapshots: two as_of partitions with the same users train
// with grouped folds, or out of time with --validate-as-of.
func TestTrainStackedSnapshots(t *testing.T) {
	dir := t.TempDir()
	src := synthCSV(t, dir, 1200)
	b, _ := os.ReadFile(src)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	feats := filepath.Join(dir, "features")
	for k, day := range []string{"2018-10-01", "2018-11-01"} {
		p := filepath.Join(feats, "as_of="+day, "part-0.csv")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// same 600 user ids in both snapshots, different rows
		var out []string
		out = append(out, lines[0])
		for i := range 600 {
			f := strings.SplitN(lines[1+k*600+i], ",", 2)
			out = append(out, lines[1+i][:strings.Index(lines[1+i], ",")]+","+f[1])
		}
		if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := filepath.Join(dir, "models")
	for _, extra := range [][]string{{"--folds", "3"}, {"--validate-as-of", "2018-11-01"}} {
		code, out, errs := runCLI(t, append([]string{"train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--trees", "10"}, extra...)...)
		if code != 0 {
			t.Fatalf("train %v: exit %d: %s", extra, code, errs)
		}
		if s := summaryOf(t, out); s["rows"] != 1200.0 || s["cv_roc_auc"] == nil {
			t.Errorf("train %v summary = %s", extra, out)
		}
	}
	code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", reg, "--validate-as-of", "2018-10-01")
	if code != 3 || !strings.Contains(errs, "earlier rows") {
		t.Errorf("validate-as-of the first snapshot: exit %d, %s; want 3", code, errs)
	}
}

// TestScoreTopAndBudget: --top K% and --budget N flag exactly the first
// users by p_churn (ties by raw probability, then user id), per as_of, and
// the summary counts them and their expected churners.
func TestScoreTopAndBudget(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 1000)
	reg := filepath.Join(dir, "models")
	if code, _, errs := runCLI(t, "train", "--features", feats, "--registry", reg, "--trees", "10", "--folds", "3", "--calibration", "isotonic"); code != 0 {
		t.Fatalf("train exit %d: %s", code, errs)
	}
	for _, c := range []struct {
		flags []string
		want  int
	}{{[]string{"--top", "10%"}, 100}, {[]string{"--top", "2.5"}, 25}, {[]string{"--budget", "7"}, 7}, {[]string{"--budget", "5000"}, 1000}, {nil, 0}} {
		pq := filepath.Join(dir, "s.parquet")
		code, out, errs := runCLI(t, append([]string{"score", "--model", "churn", "--registry", reg, "--features", feats, "--out", pq, "--as-of", "2018-12-01"}, c.flags...)...)
		if code != 0 {
			t.Fatalf("score %v: exit %d: %s", c.flags, code, errs)
		}
		rows, err := parquet.ReadFile[prediction](pq)
		if err != nil {
			t.Fatal(err)
		}
		byRank := make([]prediction, len(rows)+1)
		var contacted int
		var expected float64
		for _, r := range rows {
			if r.Rank < 1 || int(r.Rank) > len(rows) || byRank[r.Rank].UserID != "" {
				t.Fatalf("score %v: rank %d of %s is out of range or taken", c.flags, r.Rank, r.UserID)
			}
			byRank[r.Rank] = r
			if r.Contact {
				contacted++
				expected += r.PChurn
			}
		}
		for k := 2; k <= len(rows); k++ {
			a, b := byRank[k-1], byRank[k]
			if a.PChurn < b.PChurn {
				t.Fatalf("score %v: rank %d (p %v) above rank %d (p %v)", c.flags, k-1, a.PChurn, k, b.PChurn)
			}
			if b.Contact && !a.Contact {
				t.Fatalf("score %v: rank %d contacted, rank %d not", c.flags, k, k-1)
			}
		}
		s := summaryOf(t, out)
		if contacted != c.want || s["contacted"] != float64(c.want) || math.Abs(s["expected_churners"].(float64)-expected) > 1e-9 || s["calibration"] != "isotonic" {
			t.Errorf("score %v: %d contacted (summary %v, expected churners %v; want %d, %v)", c.flags, contacted, s["contacted"], s["expected_churners"], c.want, expected)
		}
	}
	for _, bad := range [][]string{{"--top", "0%"}, {"--top", "101%"}, {"--top", "ten"}, {"--budget", "-1"}, {"--top", "10%", "--budget", "5"}} {
		if code, _, _ := runCLI(t, append([]string{"score", "--model", "churn", "--registry", reg, "--features", feats, "--out", filepath.Join(dir, "x.parquet")}, bad...)...); code != 2 {
			t.Errorf("score %v: exit %d, want 2", bad, code)
		}
	}
}

// TestRankRowsTies: equal p_churn is ordered by raw probability, then user
// id; each as_of is ranked on its own.
func TestRankRowsTies(t *testing.T) {
	rows := []scoreRow{
		{UserID: "b", AsOf: "2018-12-01", PChurn: 0.5}, {UserID: "a", AsOf: "2018-12-01", PChurn: 0.5},
		{UserID: "c", AsOf: "2018-12-01", PChurn: 0.5}, {UserID: "d", AsOf: "2018-12-01", PChurn: 0.9},
		{UserID: "e", AsOf: "2018-11-01", PChurn: 0.1}, {UserID: "f", AsOf: "2018-11-01", PChurn: 0.2},
	}
	raw := []float64{0.3, 0.3, 0.31, 0.8, 0.1, 0.2}
	n, exp := rankRows(rows, raw, 0, 2)
	got := map[string]int32{}
	for _, r := range rows {
		got[r.UserID] = r.Rank
		if r.Contact != (r.Rank <= 2) {
			t.Errorf("%s: rank %d, contact %v", r.UserID, r.Rank, r.Contact)
		}
	}
	want := map[string]int32{"d": 1, "c": 2, "a": 3, "b": 4, "f": 1, "e": 2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("rank of %s = %d, want %d (all %v)", k, got[k], v, got)
		}
	}
	if n != 4 || math.Abs(exp-(0.9+0.5+0.2+0.1)) > 1e-12 {
		t.Errorf("contacted %d, expected churners %v; want 4, 1.7", n, exp)
	}
}

// TestTrainOOFOut: --oof-out writes every row's outer fold and its raw and
// cross-calibrated out-of-fold probabilities, from which the summary's
// ROC-AUC is recomputed exactly.
func TestTrainOOFOut(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 600)
	oof := filepath.Join(dir, "oof.csv")
	code, out, errs := runCLI(t, "train", "--holdout-users", "0", "--features", feats, "--registry", filepath.Join(dir, "models"), "--trees", "10", "--folds", "3", "--oof-out", oof)
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, errs)
	}
	f, err := os.Open(oof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 601 || strings.Join(recs[0], ",") != "id,as_of,fold,churn,p_raw,p_calibrated" {
		t.Fatalf("oof.csv: %d lines, header %v", len(recs), recs[0])
	}
	var s []float64
	var y []uint8
	folds := map[string]int{}
	differ := 0
	for _, r := range recs[1:] {
		folds[r[2]]++
		p, err1 := strconv.ParseFloat(r[4], 64)
		c, err2 := strconv.ParseFloat(r[5], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("oof.csv row %v", r)
		}
		if p != c {
			differ++
		}
		s = append(s, p)
		y = append(y, uint8(r[3][0]-'0'))
	}
	if len(folds) != 3 || differ == 0 {
		t.Errorf("oof.csv: folds %v, %d rows calibrated differently from raw", folds, differ)
	}
	if got, want := evaluate.ROCAUC(s, y), summaryOf(t, out)["cv_roc_auc"].(float64); got != want {
		t.Errorf("ROC-AUC from oof.csv %v, summary cv_roc_auc %v", got, want)
	}
	if code, _, _ := runCLI(t, "train", "--features", feats, "--registry", filepath.Join(dir, "models"), "--folds", "0", "--oof-out", oof); code != 2 {
		t.Errorf("--oof-out --folds 0: exit %d, want 2", code)
	}
}

// TestPromoteOverChampionOfOtherFeatures: a champion trained on other
// features (a churnctl upgrade added some) can score neither the table nor
// the next snapshot; promote makes the candidate champion, says why, and
// exits 0, instead of failing every run from the upgrade on.
func TestPromoteOverChampionOfOtherFeatures(t *testing.T) {
	dir := t.TempDir()
	feats := synthCSV(t, dir, 600)
	b, err := os.ReadFile(feats)
	if err != nil {
		t.Fatal(err)
	}
	// the same table less its second feature column
	var fewer []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		c := strings.Split(l, ",")
		fewer = append(fewer, strings.Join(append(c[:2:2], c[3:]...), ","))
	}
	old := filepath.Join(dir, "old.csv")
	if err := os.WriteFile(old, []byte(strings.Join(fewer, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "models")
	for _, f := range []string{old, feats} {
		if code, _, errs := runCLI(t, "train", "--features", f, "--registry", reg, "--name", "churn", "--trees", "10", "--folds", "2", "--holdout-users", "0.3"); code != 0 {
			t.Fatalf("train %s: exit %d: %s", f, code, errs)
		}
	}
	code, out, errs := runCLI(t, "models", "promote", "churn@2", "--registry", reg, "--features", feats, "--holdout-users", "0.3")
	if code != 0 {
		t.Fatalf("promote over a champion of other features: exit %d, want 0: %s", code, errs)
	}
	s := summaryOf(t, out)
	if s["promoted"] != true || s["champion"] != "churn@2" || s["previous_champion"] != "churn@1" || s["champion_features_differ"] != true {
		t.Errorf("promote summary = %s", out)
	}
	if !strings.Contains(errs, "the champion's features differ") {
		t.Errorf("promote does not say why it did not compare: %s", errs)
	}
	// a champion that fails for another reason still fails the promotion
	if code, _, _ := runCLI(t, "models", "promote", "churn@1", "--registry", reg, "--features", filepath.Join(dir, "missing.csv"), "--holdout-users", "0.3"); code == 0 {
		t.Errorf("promote with a missing feature table: exit 0")
	}
}
