package sql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Migration is one embedded migration file.
type Migration struct {
	Version  int64
	Name     string // title part of the file name
	File     string
	SQL      string
	Checksum string // sha256 of SQL, hex
}

// AppliedMigration is a row of churn.schema_migrations.
type AppliedMigration struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// migrationLockKey is the pg_advisory_lock key that serialises migrations
// (the ASCII bytes of "chmigrat").
const migrationLockKey int64 = 0x63686d6967726174 // "chmigrat"

var migrationName = regexp.MustCompile(`^(\d+)_([A-Za-z0-9_\-]+)\.up\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return migrationsFrom(embeddedMigrations, "migrations")
}

func migrationsFrom(fsys fs.FS, dir string) ([]Migration, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int64]string{}
	for _, e := range ents {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue // .down.sql and other files are not ours to apply
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: m[2], File: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

const createMigrationsTable = `CREATE SCHEMA IF NOT EXISTS churn;
CREATE TABLE IF NOT EXISTS churn.schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the pending embedded migrations in version order, each in
// its own transaction, holding a session advisory lock so that concurrent
// runs apply each migration once. It returns the migrations it applied
// (none when the schema is current). An applied migration whose file has
// changed since is an error (exit 3).
func Migrate(ctx context.Context, conn *pgx.Conn, log *slog.Logger) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, conn, log, ms)
}

func migrate(ctx context.Context, conn *pgx.Conn, log *slog.Logger, ms []Migration) (applied []Migration, err error) {
	pw := conn.Config().Password
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return nil, Classify(fmt.Errorf("migrate: take the migration lock: %w", err), pw)
	}
	defer func() {
		// A broken connection drops the session lock by itself.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey); uerr != nil && err == nil && !conn.IsClosed() {
			err = Classify(fmt.Errorf("migrate: release the migration lock: %w", uerr), pw)
		}
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, Classify(fmt.Errorf("migrate: create churn.schema_migrations: %w", err), pw)
	}
	done, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	have := map[int64]AppliedMigration{}
	for _, a := range done {
		have[a.Version] = a
	}
	for _, m := range ms {
		if a, ok := have[m.Version]; ok {
			if a.Checksum != m.Checksum {
				return applied, fmt.Errorf("%w: migration %s was applied with checksum %.12s and has changed since (now %.12s); add a new migration instead of editing an applied one",
					errkind.BadInput, m.File, a.Checksum, m.Checksum)
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		start := time.Now()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO churn.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return applied, Classify(fmt.Errorf("migrate: apply %s: %w", m.File, err), pw)
		}
		log.Info("migration applied", "stage", "migrate", "version", m.Version, "name", m.Name, "duration_ms", time.Since(start).Milliseconds())
		applied = append(applied, m)
	}
	return applied, nil
}

// Status returns the applied migrations (version order) and the embedded
// ones not yet applied. A database never migrated has none applied.
func Status(ctx context.Context, conn *pgx.Conn) (applied []AppliedMigration, pending []Migration, err error) {
	ms, err := Migrations()
	if err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('churn.schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, nil, Classify(fmt.Errorf("status: %w", err), conn.Config().Password)
	}
	if exists {
		if applied, err = appliedMigrations(ctx, conn); err != nil {
			return nil, nil, err
		}
	}
	have := map[int64]bool{}
	for _, a := range applied {
		have[a.Version] = true
	}
	for _, m := range ms {
		if !have[m.Version] {
			pending = append(pending, m)
		}
	}
	return applied, pending, nil
}

func appliedMigrations(ctx context.Context, conn *pgx.Conn) ([]AppliedMigration, error) {
	rows, err := conn.Query(ctx, "SELECT version, name, checksum, applied_at FROM churn.schema_migrations ORDER BY version")
	if err != nil {
		return nil, Classify(fmt.Errorf("read churn.schema_migrations: %w", err), conn.Config().Password)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AppliedMigration, error) {
		var a AppliedMigration
		err := r.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt)
		return a, err
	})
	if err != nil {
		return nil, Classify(fmt.Errorf("read churn.schema_migrations: %w", err), conn.Config().Password)
	}
	return out, nil
}
