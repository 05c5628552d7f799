package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/eventsim"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
	"github.com/churnctl/churnctl/internal/pgtest"
)

// TestIntegrationNULLinesQuarantinedAndLoaded: a log whose strings carry
// \u0000 (valid JSON, but PostgreSQL text and jsonb cannot store it) in a
// userId, a location and an unknown key's name is ingested with those
// lines quarantined as nul_character, and every table, the run records
// included, loads into a real PostgreSQL with its counts reconciled.
func TestIntegrationNULLinesQuarantinedAndLoaded(t *testing.T) {
	dsn := pgtest.New(t)
	var buf bytes.Buffer
	if _, err := eventsim.Generate(context.Background(), eventsim.Config{Users: 30, Days: 4,
		Start: time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC), Seed: 5}, &buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	var logged string // a logged-in row to corrupt
	for _, l := range lines {
		if strings.Contains(l, `"auth":"Logged In"`) && strings.Contains(l, `"location":"`) {
			logged = strings.TrimSuffix(l, "\n")
			break
		}
	}
	if logged == "" {
		t.Fatal("no logged-in row in the generated log")
	}
	nulUser := strings.Replace(logged, `"userId":"`, `"userId":"nul\u0000`, 1)
	nulLocation := strings.Replace(logged, `"location":"`, `"location":"Nul\u0000ville `, 1)
	nulKey := strings.Replace(logged, `"ts":`, `"zip\u0000":"95811","ts":`, 1)
	for _, l := range []string{nulUser, nulLocation, nulKey} {
		if l == logged {
			t.Fatal("a NUL line is the original line")
		}
	}
	data := strings.Join(lines[:len(lines)/2], "") + nulUser + "\n" + nulLocation + "\n" +
		strings.Join(lines[len(lines)/2:], "") + nulKey + "\n"
	in := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}

	lakeDir := t.TempDir()
	r := runDB(t, "etl", "--lake", lakeDir, in)
	if r.code != 0 {
		t.Fatalf("etl: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	sum := dbSummary(t, r)
	if by, _ := sum["quarantine_by_rule"].(map[string]any); by["nul_character"] != 3.0 || len(by) != 1 {
		t.Errorf("etl summary quarantine_by_rule = %v, want nul_character: 3", sum["quarantine_by_rule"])
	}
	if drift, _ := sum["schema_drift"].(map[string]any); len(drift) != 0 {
		t.Errorf("schema_drift = %v: the NUL key's line counted as ingested", drift)
	}
	// The quarantine holds the three lines (their raw bytes) with the rule.
	files, err := lake.New(lakeDir).Files(lake.BronzeQuarantine)
	if err != nil || len(files) == 0 {
		t.Fatalf("quarantine files %v, %v", files, err)
	}
	var raws []string
	for _, f := range files {
		pf, err := parquetio.OpenFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := pf.Records(memory.DefaultAllocator, []string{"rule", "raw_line"}, 1024)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			for i := range int(rec.NumRows()) {
				if rule := rec.Column(0).(*array.String).Value(i); rule != "nul_character" {
					t.Errorf("quarantine rule %q, want nul_character", rule)
				}
				raws = append(raws, string(rec.Column(1).(*array.Binary).Value(i)))
			}
		}
		rdr.Release()
		pf.Close()
	}
	if strings.Join(raws, "\n") != strings.Join([]string{nulUser, nulLocation, nulKey}, "\n") {
		t.Errorf("quarantined raw lines:\n%s\nwant the three NUL lines", strings.Join(raws, "\n"))
	}

	if r := runDB(t, "db", "migrate", "--dsn", dsn); r.code != 0 {
		t.Fatalf("db migrate: exit %d\n%s", r.code, r.stderr)
	}
	r = runDB(t, "load", "--dsn", dsn, "--lake", lakeDir)
	if r.code != 0 {
		t.Fatalf("load: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	sum = dbSummary(t, r)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tb := range []string{"dim_user", "fact_user_day", "fact_session", "run"} {
		var n float64
		if err := conn.QueryRow(ctx, "SELECT count(*)::float8 FROM "+pgx.Identifier{"churn", tb}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || (tb != "run" && sum["rows_"+tb] != n) {
			t.Errorf("churn.%s has %v rows, the load summary says %v", tb, n, sum["rows_"+tb])
		}
	}
	var counts string
	if err := conn.QueryRow(ctx, `SELECT counts::text FROM churn.run WHERE command = 'etl'`).Scan(&counts); err != nil {
		t.Fatalf("the etl run record is not in churn.run: %v", err)
	}
	if !strings.Contains(counts, `"rows_quarantined": 3`) {
		t.Errorf("churn.run counts of the etl run = %s, want rows_quarantined 3", counts)
	}
	var nulUsers int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM churn.dim_user WHERE user_id LIKE 'nul%' OR location LIKE 'Nul%'`).Scan(&nulUsers); err != nil || nulUsers != 0 {
		t.Errorf("%d users from quarantined lines in churn.dim_user (%v)", nulUsers, err)
	}
}
