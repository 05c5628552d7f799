package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/pgtest"
	"github.com/churnctl/churnctl/internal/secret"
	"github.com/churnctl/churnctl/sql/lakefixture"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var days = []string{"2026-01-01", "2026-01-02"}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	cfg, err := ParseConfig(ConnOptions{DSN: secret.NewDSN(dsn)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// migrated returns the DSN of a fresh, migrated database.
func migrated(t testing.TB) string {
	t.Helper()
	dsn := pgtest.New(t)
	if _, err := Migrate(context.Background(), connect(t, dsn), quiet); err != nil {
		t.Fatal(err)
	}
	return dsn
}

var allTables = []string{"dim_user", "dim_date", "dim_page", "fact_session", "fact_user_day", "feature_snapshot",
	"model", "model_metric", "prediction", "run"}

// dump returns every row of every table as sorted text.
func dump(t testing.TB, conn *pgx.Conn) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tb := range allTables {
		rows, err := conn.Query(context.Background(), "SELECT t::text FROM "+qualified(tb)+" t ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		out[tb], err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func count(t testing.TB, conn *pgx.Conn, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestIntegrationMigrateTwice(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.New(t)
	conn := connect(t, dsn)
	applied, pending, err := Status(ctx, conn)
	if err != nil || len(applied) != 0 || len(pending) == 0 {
		t.Fatalf("Status on an empty database = %d applied, %d pending, %v; want 0, >0, nil", len(applied), len(pending), err)
	}
	all, _ := Migrations()
	first, err := Migrate(ctx, conn, quiet)
	if err != nil || len(first) != len(all) {
		t.Fatalf("first Migrate applied %d, %v; want %d", len(first), err, len(all))
	}
	second, err := Migrate(ctx, conn, quiet)
	if err != nil || len(second) != 0 {
		t.Fatalf("second Migrate applied %d, %v; want 0, nil", len(second), err)
	}
	applied, pending, err = Status(ctx, conn)
	if err != nil || len(applied) != len(all) || len(pending) != 0 {
		t.Fatalf("Status after Migrate = %d applied, %d pending, %v; want %d, 0", len(applied), len(pending), err, len(all))
	}
	for i, a := range applied {
		if a.Version != all[i].Version || a.Checksum != all[i].Checksum {
			t.Errorf("applied[%d] = %d %s, want %d %s", i, a.Version, a.Checksum, all[i].Version, all[i].Checksum)
		}
	}
}

func TestIntegrationMigrateConcurrent(t *testing.T) {
	dsn := pgtest.New(t)
	var wg sync.WaitGroup
	n := make([]int, 3)
	errs := make([]error, 3)
	conns := []*pgx.Conn{connect(t, dsn), connect(t, dsn), connect(t, dsn)}
	for i := range conns {
		wg.Go(func() {
			ms, err := Migrate(context.Background(), conns[i], quiet)
			n[i], errs[i] = len(ms), err
		})
	}
	wg.Wait()
	all, _ := Migrations()
	if total := n[0] + n[1] + n[2]; total != len(all) || errors.Join(errs...) != nil {
		t.Fatalf("3 concurrent Migrate applied %v (total %d), errors %v; want %d in total, no error", n, total, errs, len(all))
	}
}

func TestIntegrationMigrateChangedFile(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, migrated(t))
	ms, _ := Migrations()
	ms[0].Checksum = "0000"
	_, err := migrate(ctx, conn, quiet, ms)
	if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), "has changed") {
		t.Fatalf("migrate with an edited applied migration = %v (exit %d), want exit 3 'has changed'", err, exitcode.Code(err))
	}
}

func load(t testing.TB, conn *pgx.Conn, lake string, o LoadOptions) (*LoadStats, error) {
	t.Helper()
	o.Lake = lake
	if o.Log == nil {
		o.Log = quiet
	}
	return Load(context.Background(), conn, o)
}

func TestIntegrationLoadTwiceIdentical(t *testing.T) {
	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, days, 200); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, migrated(t))
	st, err := load(t, conn, lake, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"dim_user": 240, "dim_date": 2, "dim_page": 3, "fact_session": 400, "fact_user_day": 400,
		"feature_snapshot": 200, "prediction": 200, "model": 2, "model_metric": 4, "run": 2}
	first := dump(t, conn)
	for tb, n := range want {
		if got := int64(len(first[tb])); got != n || st.Rows[tb] != n {
			t.Errorf("after load churn.%s has %d rows, stats say %d; want %d", tb, got, st.Rows[tb], n)
		}
	}
	if _, err := load(t, conn, lake, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	second := dump(t, conn)
	for _, tb := range allTables {
		if strings.Join(first[tb], "\n") != strings.Join(second[tb], "\n") {
			t.Errorf("churn.%s differs after loading the same lake twice", tb)
		}
	}
	// Spot checks of the type mapping.
	checks := []struct{ q, want string }{
		{"SELECT features::text FROM churn.feature_snapshot WHERE user_id = 'u000006'",
			`{"level": "free", "is_paid": true, "days_active": 7, "songs_per_day": 0.8571428571428571, "thumbs_down_ratio": null}`},
		{"SELECT churn::text FROM churn.feature_snapshot WHERE user_id = 'u000005'", "1"},
		{"SELECT model_name || '/' || model_version || '/' || as_of FROM churn.prediction LIMIT 1", "rf/1/2026-01-02"},
		{"SELECT coalesce(churn::text, 'null') FROM churn.feature_snapshot WHERE user_id = 'u000004'", "null"},
		{"SELECT as_of::text FROM churn.feature_snapshot LIMIT 1", "2026-01-02"},
		{"SELECT user_agent FROM churn.dim_user WHERE user_id = 'u000001'", "Mozilla/5.0 (\"quoted\", tab\there)"},
		{"SELECT count(*)::text FROM churn.dim_user WHERE is_current", "200"},
		{"SELECT alias FROM churn.model WHERE version = '1'", "champion"},
		{"SELECT string_agg(dataset || ':' || metric || '=' || value, ' ' ORDER BY dataset, metric) FROM churn.model_metric WHERE version = '1'",
			"cv:auc=0.95 cv:f1=0.8 holdout:auc=0.93"},
		{"SELECT args::text FROM churn.run WHERE command = 'train'", `["--lake", "/lake", "--dsn", "postgres://u:****@db/x"]`},
		{"SELECT started_at AT TIME ZONE 'UTC' || ' ' || counts::text FROM churn.run WHERE run_id = '20260101T000000Z-score'",
			`2026-01-01 00:09:58.5 {"rows_out": 42}`},
		{"SELECT (first_ts AT TIME ZONE 'UTC')::date::text FROM churn.fact_user_day WHERE dt = '2026-01-02' LIMIT 1", "2026-01-02"},
	}
	for _, c := range checks {
		var got string
		if err := conn.QueryRow(context.Background(), c.q).Scan(&got); err != nil {
			t.Errorf("%s: %v", c.q, err)
		} else if got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
	}
}

func TestIntegrationLoadReplacesDay(t *testing.T) {
	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, days, 100); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, migrated(t))
	if _, err := load(t, conn, lake, LoadOptions{Groups: []string{"gold"}}); err != nil {
		t.Fatal(err)
	}
	// The day is recomputed: fewer users, other values.
	file := filepath.Join(lake, "gold/fact_user_day/dt=2026-01-02/part-0.parquet")
	if err := lakefixture.Write(file, lakefixture.FactUserDays("2026-01-02", 10, 60, 2)); err != nil {
		t.Fatal(err)
	}
	st, err := load(t, conn, lake, LoadOptions{Groups: []string{"gold"}, From: "2026-01-02", To: "2026-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, conn, "SELECT count(*) FROM churn.fact_user_day WHERE dt = '2026-01-02'"); got != 60 {
		t.Errorf("2026-01-02 has %d rows after reloading 60, want 60", got)
	}
	if got := count(t, conn, "SELECT count(*) FROM churn.fact_user_day WHERE dt = '2026-01-01'"); got != 100 {
		t.Errorf("2026-01-01 has %d rows, want its 100 untouched", got)
	}
	// A recomputed day with a duplicate key fails (exit 3) and leaves the
	// loaded day as it was, through the staging path too.
	before := dump(t, conn)
	dup := lakefixture.FactUserDays("2026-01-02", 0, 30, 3)
	if err := lakefixture.Write(file, append(dup, dup[7])); err != nil {
		t.Fatal(err)
	}
	_, err = load(t, conn, lake, LoadOptions{Groups: []string{"gold"}, From: "2026-01-02", To: "2026-01-02"})
	if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), "same primary key") {
		t.Errorf("reload with a duplicate key = %v (exit %d), want exit 3 'same primary key'", err, exitcode.Code(err))
	}
	if after := dump(t, conn); strings.Join(after["fact_user_day"], "\n") != strings.Join(before["fact_user_day"], "\n") {
		t.Errorf("a failed reload changed churn.fact_user_day")
	}
	var removed int64
	for _, u := range st.Units {
		if u.Table == "fact_user_day" {
			removed += u.Removed
		}
	}
	if removed != 40 {
		t.Errorf("removed %d stale rows, want 40 (users 0-9 and 70-99)", removed)
	}
}

func TestIntegrationLoadSchemaErrors(t *testing.T) {
	type noLevel struct {
		UserID string `parquet:"user_id"`
		Dt     int32  `parquet:"dt,date"`
	}
	type extra struct {
		Page     string `parquet:"page"`
		PageID   int32  `parquet:"page_id"`    // listed in Ignore
		Mystery  int32  `parquet:"mystery"`    // not listed
		Category string `parquet:"page_group"` // optional, present
	}
	type wrongType struct {
		Page     string `parquet:"page"`
		Category int64  `parquet:"page_group"`
	}
	type otherDay struct {
		lakefixture.FactSession
	}
	tests := []struct {
		name  string
		write func(lake string) error
		group string
		want  string
	}{
		{"missing required columns", func(lake string) error {
			return lakefixture.Write(filepath.Join(lake, "gold/fact_user_day/dt=2026-01-01/a.parquet"), []noLevel{{"u1", lakefixture.DayOf("2026-01-01")}})
		}, "gold", "required column(s) n_events, n_sessions, songs, listen_seconds, distinct_artists, first_ts, last_ts missing"},
		{"unknown column", func(lake string) error {
			return lakefixture.Write(filepath.Join(lake, "gold/dim_page/a.parquet"), []extra{{"Home", 1, 2, "x"}})
		}, "gold", "column(s) mystery are not in table churn.dim_page"},
		{"wrong type", func(lake string) error {
			return lakefixture.Write(filepath.Join(lake, "gold/dim_page/a.parquet"), []wrongType{{"Home", 1}})
		}, "gold", "cannot load Parquet INT(64,true) into text"},
		{"row outside its partition", func(lake string) error {
			return lakefixture.Write(filepath.Join(lake, "gold/fact_session/dt=2026-01-03/a.parquet"), lakefixture.FactSessions("2026-01-02", 3, 1))
		}, "gold", "outside its partition dt=2026-01-03"},
		{"duplicate key", func(lake string) error {
			rows := lakefixture.FactUserDays("2026-01-01", 0, 5, 1)
			return lakefixture.Write(filepath.Join(lake, "gold/fact_user_day/dt=2026-01-01/a.parquet"), append(rows, rows[2]))
		}, "gold", "the same primary key more than once"},
		{"manifest count differs", func(lake string) error {
			dir := filepath.Join(lake, "predictions/as_of=2026-01-01")
			if err := lakefixture.Write(filepath.Join(dir, "a.parquet"), []lakefixture.Prediction{{UserID: "u1", AsOf: "2026-01-01", ModelVersion: "m@1"}}); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "_manifest.json"), []byte(`{"rows": 2}`), 0o644)
		}, "predictions", "_manifest.json says 2"},
	}
	_ = otherDay{}
	dsn := migrated(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lake := t.TempDir()
			if err := tc.write(lake); err != nil {
				t.Fatal(err)
			}
			conn := connect(t, dsn)
			_, err := load(t, conn, lake, LoadOptions{Groups: []string{tc.group}})
			if exitcode.Code(err) != exitcode.BadInput || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v (exit %d), want exit 3 containing %q", err, exitcode.Code(err), tc.want)
			}
			for _, tb := range allTables {
				if n := count(t, conn, "SELECT count(*) FROM "+qualified(tb)); n != 0 {
					t.Errorf("churn.%s has %d rows after a failed load, want 0", tb, n)
				}
			}
		})
	}
}

// TestIntegrationLoadNotMigrated: without Migrate, a fresh database is a
// setup step missing (exit 2 naming db migrate), not bad data, and nothing
// is created; with it, Load migrates first (concurrent loads apply each
// migration once) and loads.
func TestIntegrationLoadNotMigrated(t *testing.T) {
	conn := connect(t, pgtest.New(t))
	_, err := load(t, conn, t.TempDir(), LoadOptions{})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "churnctl db migrate") || !strings.Contains(err.Error(), "0001_init.up.sql") {
		t.Fatalf("Load before migrate = %v, want exit 2 naming the pending files and churnctl db migrate", err)
	}
	if n := count(t, conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'churn'"); n != 0 {
		t.Errorf("a refused load created schema churn")
	}

	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, days, 50); err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.New(t)
	all, _ := Migrations()
	var wg sync.WaitGroup
	applied := make([]int, 3)
	errs := make([]error, 3)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st *LoadStats
			st, errs[i] = load(t, connect(t, dsn), lake, LoadOptions{Migrate: true, Groups: []string{"gold"}})
			if st != nil {
				applied[i] = len(st.Migrations)
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Errorf("concurrent Load with Migrate %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(all) {
		t.Errorf("concurrent loads applied %v migrations, want %d in all", applied, len(all))
	}
	c2 := connect(t, dsn)
	if _, pending, err := Status(context.Background(), c2); err != nil || len(pending) != 0 {
		t.Errorf("after Load with Migrate: %d pending, %v", len(pending), err)
	}
	if n := count(t, c2, "SELECT count(*) FROM churn.fact_user_day"); n != 100 {
		t.Errorf("churn.fact_user_day has %d rows, want 100", n)
	}
}

// TestIntegrationKillMidCopy terminates the loading backend while its COPY
// is streaming, both into a staging table (the day was loaded before) and
// straight into the table (a new day): the load fails as transient, the
// table keeps what it had, and a re-run converges to the lake.
func TestIntegrationKillMidCopy(t *testing.T) {
	for _, preload := range []bool{true, false} {
		name := "staging"
		if !preload {
			name = "direct"
		}
		t.Run(name, func(t *testing.T) { testKillMidCopy(t, preload) })
	}
}

func testKillMidCopy(t *testing.T, preload bool) {
	ctx := context.Background()
	lake := t.TempDir()
	const day = "2026-01-05"
	file := filepath.Join(lake, "gold/fact_user_day/dt="+day, "part-0.parquet")
	dsn := migrated(t)
	conn := connect(t, dsn)
	if preload {
		if err := lakefixture.Write(file, lakefixture.FactUserDays(day, 0, 1000, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := load(t, conn, lake, LoadOptions{Groups: []string{"gold"}}); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, conn)["fact_user_day"]
	if err := lakefixture.Write(file, lakefixture.FactUserDays(day, 0, 100_000, 2)); err != nil {
		t.Fatal(err)
	}
	victim := connect(t, dsn)
	killer := connect(t, dsn)
	pid := victim.PgConn().PID()
	var once sync.Once
	killed := make(chan error, 1)
	_, err := load(t, victim, lake, LoadOptions{Groups: []string{"gold"}, afterRead: func(n int64) {
		if n < 20_000 {
			return
		}
		once.Do(func() {
			// The COPY is running; the server must see it before we kill it.
			var q string
			for i := 0; i < 500 && !strings.HasPrefix(strings.ToUpper(q), "COPY"); i++ {
				_ = killer.QueryRow(ctx, "SELECT coalesce(query, '') FROM pg_stat_activity WHERE pid = $1", pid).Scan(&q)
				time.Sleep(time.Millisecond)
			}
			var ok bool
			err := killer.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok)
			if err == nil && !ok {
				err = fmt.Errorf("pg_terminate_backend(%d) = false", pid)
			}
			if err == nil && !strings.HasPrefix(strings.ToUpper(q), "COPY") {
				err = fmt.Errorf("backend %d was running %q, not a COPY", pid, q)
			}
			killed <- err
		})
		time.Sleep(time.Millisecond) // let the termination arrive mid-stream
	}})
	if err == nil {
		t.Fatal("the load finished before it was killed")
	}
	// The hook runs in pgconn's copy goroutine, which may still be inside it.
	select {
	case kerr := <-killed:
		if kerr != nil {
			t.Fatal(kerr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the load failed but not by the kill: %v", err)
	}
	if exitcode.Code(err) != exitcode.Transient || !strings.Contains(err.Error(), "retry may succeed") {
		t.Fatalf("killed load = %v (exit %d), want exit 4 saying a retry may succeed", err, exitcode.Code(err))
	}
	check := connect(t, dsn)
	if after := dump(t, check)["fact_user_day"]; strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("after the killed load churn.fact_user_day has %d rows, want the previous %d unchanged", len(after), len(before))
	}
	if _, err := load(t, check, lake, LoadOptions{Groups: []string{"gold"}}); err != nil {
		t.Fatalf("re-run after the kill: %v", err)
	}
	if got := count(t, check, "SELECT count(*) FROM churn.fact_user_day WHERE dt = $1", day); got != 100_000 {
		t.Fatalf("after the re-run the day has %d rows, want 100000", got)
	}
}

// TestIntegrationConcurrentLoads runs two loads of the same day at once:
// the second waits for the first's advisory lock (or times out as
// transient with a short lock timeout), and both end with the lake's rows.
func TestIntegrationConcurrentLoads(t *testing.T) {
	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, days, 2000); err != nil {
		t.Fatal(err)
	}
	dsn := migrated(t)
	ref := connect(t, migrated(t))
	if _, err := load(t, ref, lake, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	want := dump(t, ref)

	// Load 1 holds the lock of fact_user_day 2026-01-01 while load 2 tries
	// with lock_timeout 200ms: transient failure.
	holding := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c1 := connect(t, dsn)
	var err1 error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err1 = load(t, c1, lake, LoadOptions{Groups: []string{"gold"}, From: "2026-01-01", To: "2026-01-01", afterRead: func(int64) {
			once.Do(func() { close(holding); <-release })
		}})
	})
	<-holding
	cfg, _ := ParseConfig(ConnOptions{DSN: secret.NewDSN(dsn), LockTimeout: 200 * time.Millisecond})
	c2, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(context.Background())
	_, err2 := load(t, c2, lake, LoadOptions{Groups: []string{"gold"}, From: "2026-01-01", To: "2026-01-01"})
	if exitcode.Code(err2) != exitcode.Transient || !strings.Contains(err2.Error(), "lock") {
		t.Errorf("load while another holds the day, lock_timeout 200ms = %v (exit %d), want exit 4 lock timeout", err2, exitcode.Code(err2))
	}
	// Without a lock timeout the second load waits and then succeeds.
	c3 := connect(t, dsn)
	var err3 error
	wg.Go(func() {
		_, err3 = load(t, c3, lake, LoadOptions{})
	})
	time.Sleep(300 * time.Millisecond)
	close(release)
	wg.Wait()
	if err1 != nil || err3 != nil {
		t.Fatalf("concurrent loads: %v, %v", err1, err3)
	}
	if _, err := load(t, c1, lake, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	got := dump(t, c1)
	for _, tb := range allTables {
		if strings.Join(got[tb], "\n") != strings.Join(want[tb], "\n") {
			t.Errorf("churn.%s after concurrent loads differs from a single load (%d vs %d rows)", tb, len(got[tb]), len(want[tb]))
		}
	}
}

func TestIntegrationWrongPassword(t *testing.T) {
	dsn := pgtest.New(t)
	pwDSN, pw := pgtest.PasswordDSN(t, dsn)
	for _, bad := range []string{pw + "x", "s3cr3t 'quoted'"} {
		cfg, err := ParseConfig(ConnOptions{DSN: secret.NewDSN(pwDSN)})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Password = bad
		_, err = Connect(context.Background(), cfg)
		if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "authentication failed") {
			t.Errorf("Connect with a wrong password = %v (exit %d), want exit 2 authentication failed", err, exitcode.Code(err))
		}
		if err != nil && (strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), pw)) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestIntegrationConnectionRefused(t *testing.T) {
	dir := t.TempDir() // no server listens here
	cfg, err := ParseConfig(ConnOptions{DSN: secret.NewDSN("host=" + dir + " port=5999 user=x password=hunter2 dbname=y connect_timeout=2")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Connect(context.Background(), cfg)
	if exitcode.Code(err) != exitcode.Transient || !strings.Contains(err.Error(), "retry may succeed") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Connect to a dead socket = %v (exit %d), want exit 4, a retry may succeed, no password", err, exitcode.Code(err))
	}
}

func TestRedactArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:s3cret@db:5432/x?sslmode=disable", "postgres://u:****@db:5432/x?sslmode=disable"},
		{"host=db password=s3cret user=u", "host=db password=**** user=u"},
		{"host=db password='s 3' user=u", "host=db password=**** user=u"},
		{`host=db password='it\'s' user=u`, "host=db password=**** user=u"},
		{`host=db password=a\ b user=u`, "host=db password=**** user=u"},
		{"postgres://db/x?password=s3cret&user=u", "postgres://db/x?password=****&user=u"},
		{"--lake", "--lake"},
	}
	for _, tc := range tests {
		if got := RedactArg(tc.in); got != tc.want {
			t.Errorf("RedactArg(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"eof", io.ErrUnexpectedEOF, exitcode.Transient},
		{"deadline", context.DeadlineExceeded, exitcode.Transient},
		{"plain", errors.New("boom"), exitcode.Failure},
		{"bad input kept", fmt.Errorf("%w: x", exitcode.ErrBadInput), exitcode.BadInput},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, exitcode.Transient},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, exitcode.Transient},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, exitcode.Transient},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, exitcode.Transient},
		{"terminated", &pgconn.PgError{Code: "57P01"}, exitcode.Transient},
		{"starting up", &pgconn.PgError{Code: "57P03"}, exitcode.Transient},
		{"connection failure", &pgconn.PgError{Code: "08006"}, exitcode.Transient},
		{"too many connections", &pgconn.PgError{Code: "53300"}, exitcode.Transient},
		{"wrong password", &pgconn.PgError{Code: "28P01"}, exitcode.Usage},
		{"no pg_hba entry", &pgconn.PgError{Code: "28000"}, exitcode.Usage},
		{"no such database", &pgconn.PgError{Code: "3D000"}, exitcode.Usage},
		{"duplicate", &pgconn.PgError{Code: "23505"}, exitcode.BadInput},
		{"syntax error (a bug)", &pgconn.PgError{Code: "42601"}, exitcode.Failure},
	}
	for _, tc := range tests {
		if got := exitcode.Code(Classify(tc.err, "pw")); got != tc.want {
			t.Errorf("Classify(%s) exit = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseConfigRedacts(t *testing.T) {
	for _, dsn := range []string{
		"host=/tmp password=hunter22 port= x",
		"postgres://u:hun%20ter22@h:x/db",
		"host=/tmp password='hun ter22' port=x",
		"postgres://u@h/db?password=hunter22&port=bad",
	} {
		_, err := ParseConfig(ConnOptions{DSN: secret.NewDSN(dsn)})
		if exitcode.Code(err) != exitcode.Usage || strings.Contains(err.Error(), "ter22") {
			t.Errorf("ParseConfig(%q) = %v (exit %d), want exit 2 without the password", dsn, err, exitcode.Code(err))
		}
	}
}

// TestIntegrationTypeConversions loads Parquet types other than the
// fixtures' (micro/nanosecond timestamps, int32/int64/float widths, 0/1
// integers as booleans, timestamps as dates, explicit model_name) and checks
// the values in the table; out-of-range values fail with exit 3.
func TestIntegrationTypeConversions(t *testing.T) {
	type session struct {
		UserID        string  `parquet:"user_id"`
		SessionID     int32   `parquet:"session_id"`
		SessionStart  int64   `parquet:"session_start,timestamp(microsecond)"`
		SessionEnd    int64   `parquet:"session_end,timestamp(nanosecond)"`
		DurationS     int64   `parquet:"duration_s"`
		Items         int64   `parquet:"items"`
		Songs         float64 `parquet:"songs"`
		ListenSeconds float32 `parquet:"listen_seconds"`
		Dt            string  `parquet:"dt"`
	}
	type prediction struct {
		UserID       string  `parquet:"user_id"`
		AsOf         int64   `parquet:"as_of,timestamp(millisecond)"`
		PChurn       float64 `parquet:"p_churn"`
		Predicted    int64   `parquet:"predicted"`
		Threshold    float32 `parquet:"threshold"`
		ModelName    string  `parquet:"model_name"`
		ModelVersion string  `parquet:"model_version"`
	}
	start := time.Date(2026, 2, 3, 4, 5, 6, 789012000, time.UTC)
	lake := t.TempDir()
	err := errors.Join(
		lakefixture.Write(filepath.Join(lake, "gold/fact_session/dt=2026-02-03/a.parquet"), []session{
			{"u1", 7, start.UnixMicro(), start.Add(90*time.Second).UnixNano() + 123, 90, 5, 4, 12.5, "2026-02-03"}}),
		lakefixture.Write(filepath.Join(lake, "predictions/as_of=2026-02-03/a.parquet"), []prediction{
			{"u1", time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC).UnixMilli(), 0.75, 1, 0.5, "gbm", "v7@x"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, migrated(t))
	if _, err := load(t, conn, lake, LoadOptions{Groups: []string{"gold", "predictions"}}); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ q, want string }{
		{"SELECT to_char(session_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM churn.fact_session", "2026-02-03 04:05:06.789012"},
		{"SELECT to_char(session_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM churn.fact_session", "2026-02-03 04:06:36.789012"},
		{"SELECT concat_ws(' ', session_id, duration_s, items, songs, listen_seconds, dt) FROM churn.fact_session", "7 90 5 4 12.5 2026-02-03"},
		{"SELECT concat_ws(' ', as_of, p_churn, predicted, threshold, model_name, model_version) FROM churn.prediction", "2026-02-03 0.75 t 0.5 gbm v7@x"},
	}
	for _, c := range checks {
		var got string
		if err := conn.QueryRow(context.Background(), c.q).Scan(&got); err != nil {
			t.Errorf("%s: %v", c.q, err)
		} else if got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
	}
	bad := []struct {
		name string
		row  session
		want string
	}{
		{"items beyond int4", session{"u1", 1, 0, 0, 1, 1 << 40, 1, 1, "2026-02-04"}, "out of range for integer"},
		{"fractional count", session{"u1", 1, 0, 0, 1, 1, 2.5, 1, "2026-02-04"}, "2.5 is not an integer"},
		{"bad date string", session{"u1", 1, 0, 0, 1, 1, 1, 1, "04/02/2026"}, `"04/02/2026" is not a YYYY-MM-DD date`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			lake := t.TempDir()
			if err := lakefixture.Write(filepath.Join(lake, "gold/fact_session/dt=2026-02-04/a.parquet"), []session{tc.row}); err != nil {
				t.Fatal(err)
			}
			_, err := load(t, conn, lake, LoadOptions{Groups: []string{"gold"}})
			if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v (exit %d), want exit 3 containing %q", err, exitcode.Code(err), tc.want)
			}
		})
	}
}

// TestIntegrationMigrateKeepsOldData: a warehouse loaded before migration
// 0004 keeps its labels (now in column churn) and its metrics, whose
// unnamed dataset becomes training; the zeros that JSON nulls loaded as go.
func TestIntegrationMigrateKeepsOldData(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, pgtest.New(t))
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []Migration
	for _, m := range all {
		if m.Version < 4 {
			before = append(before, m)
		}
	}
	if _, err := migrate(ctx, conn, quiet, before); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO churn.feature_snapshot (user_id, as_of, features, label) VALUES ('a', '2018-10-01', '{}', 1), ('b', '2018-10-01', '{}', NULL)`,
		`INSERT INTO churn.model (name, version, created_at) VALUES ('churn', '1', '2018-10-02')`,
		`INSERT INTO churn.model_metric (name, version, metric, value, evaluated_at, dataset) VALUES
			('churn', '1', 'rows', 349, '2018-10-02', ''), ('churn', '1', 'search', 0, '2018-10-02', ''),
			('churn', '1', 'f1', 0.3, '2018-10-03', 'holdout'), ('churn', '1', 'f1', 0.5, '2018-10-02', 'oob')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := Migrate(ctx, conn, quiet); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int64{
		"SELECT count(*) FROM churn.feature_snapshot WHERE user_id = 'a' AND churn = 1":                          1,
		"SELECT count(*) FROM churn.feature_snapshot WHERE user_id = 'b' AND churn IS NULL":                      1,
		"SELECT count(*) FROM churn.model_metric WHERE metric = 'rows' AND dataset = 'training' AND value = 349": 1,
		"SELECT count(*) FROM churn.model_metric WHERE metric = 'search' OR dataset = ''":                        0,
		"SELECT count(*) FROM churn.model_metric":                                                                3,
	} {
		if got := count(t, conn, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO churn.feature_snapshot (user_id, as_of, features, churn) VALUES ('c', '2018-10-01', '{}', 2)`); err == nil {
		t.Error("churn = 2 accepted: the CHECK did not follow the renamed column")
	}
	if _, err := conn.Exec(ctx, `INSERT INTO churn.model_metric (name, version, metric, value, evaluated_at) VALUES ('churn', '1', 'x', 1, now())`); err == nil {
		t.Error("a metric row without a dataset was accepted")
	}
}

// TestParseMetricsNamesDatasetsAndSkipsNulls: train's metrics.json
// ("search": null without a search, "cv": null without CV) loads no zero,
// and every row names its dataset.
func TestParseMetricsNamesDatasetsAndSkipsNulls(t *testing.T) {
	at := time.Date(2018, 10, 2, 0, 0, 0, 0, time.UTC)
	raw := []byte(`{"cv": null, "oob": {"f1": 0.5, "roc_auc": null}, "fit_seconds": 0.02, "rows": 349, "search": null, "threshold_rule": "max_f1"}`)
	rows, err := parseMetrics(raw, at, "metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s:%s=%v", r.Dataset, r.Metric, *r.Value))
	}
	if want := "oob:f1=0.5 training:fit_seconds=0.02 training:rows=349"; strings.Join(got, " ") != want {
		t.Errorf("parseMetrics = %s, want %s", strings.Join(got, " "), want)
	}
	rows, err = parseMetrics([]byte(`[{"metric": "f1", "value": 0.4}, {"metric": "auc", "value": null, "dataset": "x"}]`), at, "evaluations.json")
	if err != nil || len(rows) != 1 || rows[0].Dataset != "unknown" {
		t.Errorf("list rows = %+v, %v; want the f1 row with dataset unknown", rows, err)
	}
}
