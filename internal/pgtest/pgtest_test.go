package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestIntegrationFreshDatabases(t *testing.T) {
	ctx := context.Background()
	var names []string
	for i := 0; i < 2; i++ {
		dsn := pgtest.New(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		var db string
		var n int
		if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')").Scan(&db, &n); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if n != 0 {
			t.Errorf("database %s has %d public tables, want 0", db, n)
		}
		names = append(names, db)
	}
	if names[0] == names[1] {
		t.Errorf("New returned the same database twice: %s", names[0])
	}
}

func TestIntegrationPasswordRole(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.New(t)
	pwDSN, pw := pgtest.PasswordDSN(t, dsn)
	if _, err := pgx.Connect(ctx, pwDSN+" password=wrong"); err == nil {
		t.Fatal("connect with a wrong password succeeded")
	}
	conn, err := pgx.Connect(ctx, pwDSN+" password="+pw)
	if err != nil {
		t.Fatalf("connect with the right password: %v", err)
	}
	conn.Close(ctx)
}

func TestIntegrationSetPassword(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.New(t)
	pw := `a b 'c' \d`
	pwDSN := pgtest.SetPassword(t, dsn, pw)
	conn, err := pgx.Connect(ctx, pwDSN+` password='a b \'c\' \\d'`)
	if err != nil {
		t.Fatalf("connect with the password set: %v", err)
	}
	conn.Close(ctx)
	if _, err := pgx.Connect(ctx, pgtest.Down(t)); err == nil {
		t.Fatal("connect to Down's DSN succeeded")
	}
}
