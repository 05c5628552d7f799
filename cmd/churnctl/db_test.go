package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/pgtest"
	"github.com/churnctl/churnctl/sql/lakefixture"
)

// TestMain stops the private PostgreSQL of the integration tests.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	miniotest.Stop()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runDB(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// summaryOf parses the last stdout line.
func dbSummary(t *testing.T, r result) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last stdout line is not a JSON summary: %q", lines[len(lines)-1])
	}
	return m
}

func TestIntegrationCLIMigrateStatusLoad(t *testing.T) {
	dsn := pgtest.New(t)
	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, []string{"2026-01-01", "2026-01-02"}, 50); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args     []string
		wantCode int
		wantOut  []string
	}{
		{[]string{"db", "status", "--dsn", dsn}, 0, []string{"0001     init             pending"}},
		{[]string{"db", "migrate", "--dsn", dsn}, 0, []string{"applied 0001_init", "applied 0002_dashboard_views"}},
		{[]string{"db", "migrate", "--dsn", dsn}, 0, []string{"schema is current"}},
		{[]string{"db", "status", "--dsn", dsn}, 0, []string{"0001     init             applied", `"applied":[1,2,3,4,5]`}},
		{[]string{"load", "--dsn", dsn, "--lake", lake, "--ds", "2026-01-02", "--tables", "gold"}, 0,
			[]string{"fact_user_day\t2026-01-02\t50 rows", `"rows_fact_user_day":50`}},
		{[]string{"load", "--dsn", dsn, "--lake", lake}, 0, []string{"fact_user_day\t2026-01-01\t50 rows", `"rows_run":`}},
		{[]string{"load", "--dsn", dsn, "--lake", lake, "--tables", "gold,bogus"}, 2, []string{"unknown table group \"bogus\""}},
		{[]string{"load", "--dsn", dsn, "--lake", lake, "--ds", "2026-13-01"}, 2, []string{"want YYYY-MM-DD"}},
		{[]string{"load", "--dsn", dsn}, 2, []string{"--lake is required"}},
		{[]string{"load", "--dsn", dsn, "--lake", lake, "--ds", "2025-01-01", "--tables", "gold", "--tables", "predictions"}, 0, []string{`"status":"ok"`}},
		{[]string{"load", "--dsn", dsn, "--lake", lake, "--ds", "2025-01-01", "--tables", "predictions", "--skip-if-empty"}, 99, []string{`"status":"skipped"`}},
	}
	for _, s := range steps {
		r := runDB(t, s.args...)
		if r.code != s.wantCode {
			t.Fatalf("churnctl %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args, " "), r.code, s.wantCode, r.stdout, r.stderr)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("churnctl %s: output lacks %q\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args[:2], " "), w, r.stdout, r.stderr)
			}
		}
		dbSummary(t, r)
	}
}

func TestIntegrationCLIBadLake(t *testing.T) {
	dsn := pgtest.New(t)
	if r := runDB(t, "db", "migrate", "--dsn", dsn); r.code != 0 {
		t.Fatal(r.stderr)
	}
	lake := t.TempDir()
	type tooFew struct {
		UserID string `parquet:"user_id"`
	}
	if err := lakefixture.Write(filepath.Join(lake, "predictions/as_of=2026-01-01/a.parquet"), []tooFew{{"u1"}}); err != nil {
		t.Fatal(err)
	}
	r := runDB(t, "load", "--dsn", dsn, "--lake", lake, "--tables", "predictions")
	if r.code != 3 || !strings.Contains(r.stderr, "required column(s) p_churn, predicted, threshold, model_name, model_version missing") {
		t.Fatalf("load of a file without required columns = exit %d, stderr %s; want 3 naming the columns", r.code, r.stderr)
	}
}

// TestIntegrationCLIWrongPassword: exit 2 (a bad setting: retrying with the
// same password cannot help), a message naming the setting, and the password
// nowhere in the output, however it was given.
func TestIntegrationCLIWrongPassword(t *testing.T) {
	dsn := pgtest.New(t)
	pwDSN, pw := pgtest.PasswordDSN(t, dsn)
	bad := "Wr0ng-" + pw[len(pw)-6:]
	host, port := pgtest.SocketDir()
	url := "postgres://" + pgtest.PasswordRole + ":" + bad + "@/" + "postgres?host=" + host + "&port=" + itoa(port)
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"--dsn keyword/value", []string{"db", "status", "--dsn", pwDSN + " password=" + bad}, nil},
		{"--dsn URL", []string{"db", "migrate", "--dsn", url}, nil},
		{"CHURNCTL_DSN", []string{"load", "--lake", t.TempDir()}, map[string]string{"CHURNCTL_DSN": pwDSN + " password='" + bad + "'"}},
		{"PGPASSWORD", []string{"db", "status"}, map[string]string{"PGHOST": host, "PGPORT": itoa(port), "PGUSER": pgtest.PasswordRole, "PGDATABASE": "postgres", "PGPASSWORD": bad}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CHURNCTL_DSN", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runDB(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, "authentication failed") || !strings.Contains(r.stderr, "CHURNCTL_DSN") {
				t.Errorf("exit %d, stderr %s; want 2, authentication failed, naming the setting", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "Usage:") {
				t.Errorf("a refused password shows the command's usage:\n%s", r.stderr)
			}
			for _, secret := range []string{bad, pw} {
				if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
					t.Errorf("the password %q is in the output:\nstdout:\n%s\nstderr:\n%s", secret, r.stdout, r.stderr)
				}
			}
		})
	}
}

func TestIntegrationCLIConnectionRefused(t *testing.T) {
	dead := t.TempDir() // a socket directory nobody listens in
	r := runDB(t, "load", "--lake", t.TempDir(), "--dsn", "host="+dead+" port=5999 user=u password=hunter22 dbname=d")
	if r.code != 4 || !strings.Contains(r.stderr, "retry may succeed") || strings.Contains(r.stdout+r.stderr, "hunter22") {
		t.Fatalf("load against a dead socket = exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 4, 'retry may succeed', no password", r.code, r.stdout, r.stderr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIntegrationCLIRunLoadsSample runs the whole job on the bundled sample
// with a database: every warehouse table gets the rows the other stages
// wrote, and loading the same lake again changes nothing.
func TestIntegrationCLIRunLoadsSample(t *testing.T) {
	dsn := pgtest.New(t)
	lake := t.TempDir()
	if r := runDB(t, "db", "migrate", "--dsn", dsn); r.code != 0 {
		t.Fatalf("db migrate: exit %d\n%s", r.code, r.stderr)
	}
	r := runDB(t, "run", "--lake", lake, "--inputs", filepath.Join("..", "..", "testdata", "sample"),
		"--train.trees", "20", "--train.folds", "3", "--load.dsn", dsn)
	if r.code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tables := []string{"dim_user", "dim_date", "dim_page", "fact_session", "fact_user_day", "feature_snapshot",
		"model", "model_metric", "prediction", "run"}
	snapshot := func() map[string]string {
		m := map[string]string{}
		for _, tb := range tables {
			var n int64
			var sum string
			q := "SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM " + pgx.Identifier{"churn", tb}.Sanitize() + " x"
			if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("churn.%s is empty after run --load.dsn", tb)
			}
			m[tb] = fmt.Sprint(n, " ", sum)
		}
		return m
	}
	first := snapshot()
	if r := runDB(t, "load", "--dsn", dsn, "--lake", lake, "--tables", "gold,features,models,predictions"); r.code != 0 {
		t.Fatalf("second load: exit %d\n%s", r.code, r.stderr)
	}
	second := snapshot()
	for _, tb := range tables[:len(tables)-1] { // run: the load itself adds records
		if first[tb] != second[tb] {
			t.Errorf("churn.%s changed when the same lake was loaded again: %s -> %s", tb, first[tb], second[tb])
		}
	}
}

// TestIntegrationCLIConnectionSettings: a database that does not exist is a
// bad setting (exit 2 naming it, no usage text); a TCP port nobody listens
// on is transient (exit 4).
func TestIntegrationCLIConnectionSettings(t *testing.T) {
	dsn := pgtest.New(t)
	r := runDB(t, "--log-format", "text", "db", "status", "--dsn", dsn+" dbname=no_such_db")
	if r.code != 2 || !strings.Contains(r.stderr, "no_such_db") || !strings.Contains(r.stderr, "dbname") || strings.Contains(r.stderr, "Usage:") {
		t.Errorf("db status on a missing database: exit %d, stderr %s; want 2 naming dbname, no usage", r.code, r.stderr)
	}
	r = runDB(t, "db", "status", "--dsn", "host=127.0.0.1 port=1 user=u dbname=d connect_timeout=2")
	if r.code != 4 {
		t.Errorf("db status on a refused TCP port: exit %d, stderr %s; want 4", r.code, r.stderr)
	}
}
