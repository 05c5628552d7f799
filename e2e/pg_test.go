package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/pgtest"
)

// TestRunLoadsPostgres runs the whole job into a real PostgreSQL 15 and
// checks the warehouse holds the run, the predictions and the model.
func TestRunLoadsPostgres(t *testing.T) {
	dsn := pgtest.New(t)
	lakeDir := t.TempDir()
	if r := churnctl(t, "db", "migrate", "--dsn", dsn); r.code != 0 {
		t.Fatalf("db migrate: exit %d\n%s", r.code, tail(r.stderr))
	}
	r := churnctl(t, withSample(t, runArgs(lakeDir, "--load.dsn", dsn))...)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, tail(r.stderr))
	}
	runID := r.summary["run_id"].(string)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var status string
	if err := conn.QueryRow(ctx, `select status from churn.run where run_id = $1`, runID).Scan(&status); err != nil {
		t.Fatalf("run %s not in churn.run: %v", runID, err)
	}
	if status != "ok" {
		t.Errorf("churn.run status = %q, want ok", status)
	}
	var preds int
	if err := conn.QueryRow(ctx, `select count(*) from churn.prediction`).Scan(&preds); err != nil {
		t.Fatal(err)
	}
	if want := r.summary["score_rows"].(float64); float64(preds) != want {
		t.Errorf("churn.prediction has %d rows, score wrote %v", preds, want)
	}
	var holdoutF1 int
	if err := conn.QueryRow(ctx, `select count(*) from churn.model_metric where dataset = 'holdout' and metric = 'f1'`).Scan(&holdoutF1); err != nil || holdoutF1 != 1 {
		t.Errorf("churn.model_metric holdout f1 rows = %d (%v), want the one evaluation", holdoutF1, err)
	}
	var days int
	if err := conn.QueryRow(ctx, `select count(distinct dt) from churn.fact_user_day`).Scan(&days); err != nil || days == 0 {
		t.Errorf("churn.fact_user_day: %d days, %v", days, err)
	}

	// Loading is idempotent: a second whole run (forced) leaves the same rows.
	r = churnctl(t, withSample(t, runArgs(lakeDir, "--load.dsn", dsn, "--force"))...)
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, tail(r.stderr))
	}
	var preds2 int
	conn.QueryRow(ctx, `select count(*) from churn.prediction`).Scan(&preds2)
	if preds2 != preds {
		t.Errorf("after a second load churn.prediction has %d rows, want %d", preds2, preds)
	}
	_ = filepath.Join
}
