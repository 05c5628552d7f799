package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/pgtest"
)

// readmeSQL returns the statements of the README's PostgreSQL examples.
func readmeSQL(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## PostgreSQL")
	j := strings.Index(doc[i:], "```sql\n")
	if i < 0 || j < 0 {
		t.Fatal("README.md has no sql block under ## PostgreSQL")
	}
	block := doc[i+j+len("```sql\n"):]
	block = block[:strings.Index(block, "```")]
	var out []string
	for _, st := range strings.Split(block, ";") {
		var lines []string
		for _, l := range strings.Split(st, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out
}

// TestIntegrationWarehouseContracts runs the whole job on the sample into a
// fresh PostgreSQL and checks the data contracts: the label is churn, the
// categories read as values, predictions' as_of is a date, every metric row
// names its dataset (nulls load no row), an evaluation on training rows is
// recorded as dataset training, and every SQL example of the README runs
// and returns rows (the Grafana one a single series per metric: holdout).
func TestIntegrationWarehouseContracts(t *testing.T) {
	dsn := pgtest.New(t)
	lake := t.TempDir()
	r := runDB(t, "run", "--lake", lake, "--inputs", filepath.Join("..", "..", "testdata", "sample"),
		"--train.trees", "20", "--train.folds", "3", "--top", "20%", "--load.dsn", dsn)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	one := func(q string, args ...any) string {
		t.Helper()
		var s string
		if err := conn.QueryRow(ctx, q, args...).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	checks := []struct{ q, want string }{
		// the label is churn, null in the unlabeled snapshot
		{"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'churn.feature_snapshot'::regclass AND attnum > 0 AND NOT attisdropped", "user_id,as_of,features,churn"},
		{"SELECT count(*)::text FROM churn.feature_snapshot WHERE as_of = '2018-11-30' AND churn IS NOT NULL", "0"},
		{"SELECT (count(*) > 0 AND bool_and(churn IN (0, 1)))::text FROM churn.feature_snapshot WHERE as_of = '2018-10-31'", "true"},
		// categories are values, not codes
		{"SELECT string_agg(DISTINCT features->>'gender', ',') FROM churn.feature_snapshot", "F,M"},
		{"SELECT (count(*) = 0)::text FROM churn.feature_snapshot WHERE jsonb_typeof(features->'state') <> 'string' OR jsonb_typeof(features->'os') <> 'string'", "true"},
		{"SELECT (count(*) > 0)::text FROM churn.feature_snapshot WHERE features->>'state' = 'CA'", "true"},
		// predictions' as_of
		{"SELECT string_agg(DISTINCT as_of::text, ',') FROM churn.prediction", "2018-11-30"},
		// rank and contact: the top 20 % of the scored users (ceil), ranks 1..n
		{"SELECT (sum(contact::int) = ceil(count(*) * 0.2) AND min(rank) = 1 AND max(rank) = count(*) AND count(DISTINCT rank) = count(*))::text FROM churn.prediction", "true"},
		{"SELECT (max(rank) FILTER (WHERE contact) < min(rank) FILTER (WHERE NOT contact))::text FROM churn.prediction", "true"},
		// every metric names its dataset; a null loads no row
		{"SELECT count(*)::text FROM churn.model_metric WHERE dataset = '' OR metric IN ('search', 'cv', 'oob')", "0"},
		{"SELECT string_agg(DISTINCT dataset, ',' ORDER BY dataset) FROM churn.model_metric", "cv,holdout,oob,training"},
		// calibration before/after and lift, from train (cv) and evaluate (holdout)
		{"SELECT string_agg(dataset || ':' || metric, ',' ORDER BY dataset, metric) FROM churn.model_metric WHERE metric IN ('cv_brier', 'cv_brier_raw', 'cv_log_loss', 'cv_log_loss_raw', 'cv_top10_lift', 'brier', 'brier_raw', 'log_loss_raw', 'top10_lift', 'top5_precision', 'top20_recall')",
			"cv:cv_brier,cv:cv_brier_raw,cv:cv_log_loss,cv:cv_log_loss_raw,cv:cv_top10_lift,holdout:brier,holdout:brier_raw,holdout:log_loss_raw,holdout:top10_lift,holdout:top20_recall,holdout:top5_precision"},
		{"SELECT (count(*) = 1)::text FROM churn.model_metric a JOIN churn.model_metric b USING (name, version, dataset) WHERE a.metric = 'cv_brier' AND b.metric = 'cv_brier_raw' AND a.value <> b.value", "true"},
	}
	for _, c := range checks {
		if got := one(c.q); got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
	}

	for _, q := range readmeSQL(t) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Errorf("README query failed: %v\n%s", err, q)
			continue
		}
		n := 0
		type point struct {
			name, version, metric string
			at                    time.Time
			value                 float64
		}
		var pts []point
		grafana := strings.Contains(q, "churn.model_metric")
		for rows.Next() {
			n++
			if grafana {
				var p point
				if err := rows.Scan(&p.at, &p.name, &p.version, &p.metric, &p.value); err != nil {
					t.Fatal(err)
				}
				pts = append(pts, p)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil || n == 0 {
			t.Errorf("README query returned %d rows (%v) on the sample:\n%s", n, err, q)
		}
		for _, p := range pts {
			if got := one("SELECT string_agg(dataset, ',') FROM churn.model_metric WHERE name = $1 AND version = $2 AND metric = $3 AND evaluated_at = $4 AND value = $5",
				p.name, p.version, p.metric, p.at, p.value); got != "holdout" {
				t.Errorf("the README's metric-history query plots a %s row as %s@%s %s: want holdout rows only", got, p.name, p.version, p.metric)
			}
		}
	}

	// an evaluation on training rows lands as dataset training
	reg := filepath.Join(lake, "models")
	if r := runDB(t, "evaluate", "--holdout-users", "0", "--registry", reg, "--model", "churn@1", "--features", filepath.Join(lake, "features", "as_of=2018-10-31"),
		"--allow-training-rows", "--bootstrap", "0"); r.code != 0 {
		t.Fatalf("evaluate --allow-training-rows: exit %d\n%s", r.code, r.stderr)
	}
	if r := runDB(t, "load", "--dsn", dsn, "--lake", lake, "--tables", "models"); r.code != 0 {
		t.Fatalf("load models: exit %d\n%s", r.code, r.stderr)
	}
	if got := one("SELECT count(*)::text FROM churn.model_metric WHERE dataset = 'training' AND metric = 'f1'"); got != "1" {
		t.Errorf("training f1 rows in churn.model_metric = %s, want 1", got)
	}
}
