package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/pgtest"
	"github.com/churnctl/churnctl/sql"
	"github.com/churnctl/churnctl/sql/lakefixture"
)

func pendingMigrations(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, pending, err := sql.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return len(pending)
}

// TestIntegrationLoadMigratesFreshDatabase: load and run --load.dsn apply
// the pending migrations of a fresh database themselves; with --no-migrate
// (load.migrate: false) they exit 2 naming `churnctl db migrate`.
func TestIntegrationLoadMigratesFreshDatabase(t *testing.T) {
	all, _ := sql.Migrations()
	lake := t.TempDir()
	if err := lakefixture.WriteLake(lake, []string{"2026-01-01"}, 20); err != nil {
		t.Fatal(err)
	}

	dsn := pgtest.New(t)
	r := runDB(t, "load", "--dsn", dsn, "--lake", lake, "--no-migrate")
	if r.code != 2 || !strings.Contains(r.stderr, "churnctl db migrate") || !strings.Contains(r.stderr, "migration(s) pending") {
		t.Errorf("load --no-migrate on a fresh database: exit %d\n%s\nwant 2 naming churnctl db migrate", r.code, r.stderr)
	}
	if n := pendingMigrations(t, dsn); n != len(all) {
		t.Errorf("load --no-migrate applied migrations: %d of %d pending", n, len(all))
	}
	r = runDB(t, "load", "--dsn", dsn, "--lake", lake)
	if s := dbSummary(t, r); r.code != 0 || s["migrations_applied"] != float64(len(all)) || s["rows"].(float64) == 0 {
		t.Fatalf("load on a fresh database: exit %d, summary %v\n%s\nwant 0 with %d migrations applied", r.code, s, r.stderr, len(all))
	}
	if n := pendingMigrations(t, dsn); n != 0 {
		t.Errorf("%d migrations pending after load", n)
	}
	if s := dbSummary(t, runDB(t, "load", "--dsn", dsn, "--lake", lake, "--no-migrate")); s["status"] != "ok" || s["migrations_applied"] != 0.0 {
		t.Errorf("load --no-migrate on a current schema: %v", s)
	}

	sample := filepath.Join("..", "..", "testdata", "sample")
	run := func(dsn string, extra ...string) result {
		return runDB(t, append([]string{"run", "--lake", t.TempDir(), "--inputs", sample, "--train.trees", "10", "--train.folds", "2", "--load.dsn", dsn}, extra...)...)
	}
	fresh := pgtest.New(t)
	if r := run(fresh, "--load.migrate=false"); r.code != 2 || !strings.Contains(r.stderr, "churnctl db migrate") {
		t.Errorf("run --load.migrate=false on a fresh database: exit %d\n%s\nwant 2 naming churnctl db migrate", r.code, r.stderr)
	}
	if r := run(fresh); r.code != 0 {
		t.Errorf("run --load.dsn on a fresh database: exit %d\n%s", r.code, r.stderr)
	}
	if n := pendingMigrations(t, fresh); n != 0 {
		t.Errorf("%d migrations pending after run", n)
	}
}
