package sql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/parquet-go/parquet-go"

	"github.com/churnctl/churnctl/internal/errkind"
)

// LoadOptions selects what to load.
type LoadOptions struct {
	Lake string
	// From and To bound the partitions (inclusive, YYYY-MM-DD); empty means
	// unbounded. Full-snapshot tables (dimensions, models, runs) are loaded
	// whatever the range.
	From, To string
	// Groups are the --tables groups to load; empty means all (Groups).
	Groups []string
	// Migrate applies the pending embedded migrations first (Migrate, under
	// its advisory lock); without it a schema that is not current is an
	// error (exit 2) naming `churnctl db migrate`.
	Migrate bool
	Log     *slog.Logger
	// OnUnit is called after each committed table/day (progress).
	OnUnit func(UnitStats)

	// afterRead is called with the running row count after each batch read
	// from Parquet (tests slow the COPY down with it).
	afterRead func(n int64)
}

// UnitStats describes one committed table/day.
type UnitStats struct {
	Table      string
	Partition  string // YYYY-MM-DD, "" for a full snapshot
	Rows       int64  // rows in the lake = rows in the table scope after the load
	Removed    int64  // rows of the scope that were no longer in the lake
	DurationMS int64
}

// LoadStats sums a load.
type LoadStats struct {
	// Migrations are the migrations applied before loading (Migrate).
	Migrations []Migration
	Units      []UnitStats
	Rows       map[string]int64 // per table
	Skipped    []string         // sources absent from the lake
}

// Load loads the selected groups from the lake, one transaction per table
// and partition. Each transaction takes a transaction advisory lock on the
// table and partition, COPYs into a temporary staging table, deletes the
// rows of the partition that the lake no longer has, upserts the rest (rows
// that did not change are not rewritten), checks that the table now holds
// exactly the lake's rows for the partition, and commits: a load that fails
// or is killed leaves the previous rows in place.
func Load(ctx context.Context, conn *pgx.Conn, o LoadOptions) (*LoadStats, error) {
	st := &LoadStats{Rows: map[string]int64{}}
	groups := o.Groups
	if len(groups) == 0 {
		groups = Groups
	}
	for _, g := range groups {
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("%w: unknown table group %q (want %s)", errkind.Usage, g, strings.Join(Groups, ", "))
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	pending, err := checkMigrated(ctx, conn)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		if !o.Migrate {
			return nil, fmt.Errorf("%w: the warehouse schema is not current: %d migration(s) pending (%s); run `churnctl db migrate` first, or load with --migrate (load.migrate: true) to apply them",
				errkind.Usage, len(pending), migrationFiles(pending))
		}
		o.Log.Info("applying pending warehouse migrations before loading", "stage", "load", "pending", migrationFiles(pending))
		if st.Migrations, err = Migrate(ctx, conn, o.Log); err != nil {
			return st, fmt.Errorf("load: migrate the warehouse schema (%d pending; or run `churnctl db migrate` as a role that may create tables): %w", len(pending), err)
		}
	}
	for _, g := range Groups { // fixed order: models before predictions
		if !slices.Contains(groups, g) {
			continue
		}
		var err error
		switch g {
		case "models":
			err = loadModels(ctx, conn, o, st)
		case "runs":
			err = loadRuns(ctx, conn, o, st)
		default:
			for _, t := range Tables {
				if t.Group == g {
					if err = loadTable(ctx, conn, t, o, st); err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			return st, Classify(err, conn.Config().Password)
		}
	}
	return st, nil
}

// checkMigrated returns the embedded migrations the database lacks. It only
// reads, so a role that may not create tables can load a current schema.
func checkMigrated(ctx context.Context, conn *pgx.Conn) ([]Migration, error) {
	_, pending, err := Status(ctx, conn)
	return pending, err
}

func migrationFiles(ms []Migration) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.File
	}
	return strings.Join(names, ", ")
}

// partitions lists dir's <key>=YYYY-MM-DD subdirectories within [from, to].
func partitions(dir, key, from, to string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		v, ok := strings.CutPrefix(e.Name(), key+"=")
		if !e.IsDir() || !ok {
			continue
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			continue
		}
		if (from != "" && v < from) || (to != "" && v > to) {
			continue
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

// parquetFiles lists dir/*.parquet, sorted; hidden and temp files are not
// part of a partition.
func parquetFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".parquet") && !strings.HasPrefix(n, ".") && !strings.HasPrefix(n, "_") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// lakeRows sums the row counts in the files' footers, and checks them
// against the partition manifest when it states a count.
func lakeRows(dir string, files []string) (int64, error) {
	var n int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err == nil {
			var pf *parquet.File
			pf, err = parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
			if err == nil {
				n += pf.NumRows()
			}
		}
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %v", errkind.BadInput, name, err)
		}
	}
	if want, ok := manifestRows(dir); ok && want != n {
		return 0, fmt.Errorf("%w: %s: the Parquet files hold %d rows, _manifest.json says %d", errkind.BadInput, dir, n, want)
	}
	return n, nil
}

// manifestRows reads the row count of dir/_manifest.json: the first of the
// top-level integer fields rows, row_count, num_rows, rows_out.
func manifestRows(dir string) (int64, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "_manifest.json"))
	if err != nil {
		return 0, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return 0, false
	}
	for _, k := range []string{"rows", "row_count", "num_rows", "rows_out"} {
		var n int64
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &n) == nil {
			return n, true
		}
	}
	return 0, false
}

func loadTable(ctx context.Context, conn *pgx.Conn, t *Table, o LoadOptions, st *LoadStats) error {
	dir := filepath.Join(o.Lake, t.Dir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		o.Log.Info("nothing to load: source absent from the lake", "stage", "load", "table", t.Name, "dir", dir)
		st.Skipped = append(st.Skipped, t.Name)
		return nil
	}
	if t.Part == "" {
		// A full snapshot: dir/*.parquet, or the latest dir/dt=... within range.
		src := dir
		files, err := parquetFiles(dir)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			parts, err := partitions(dir, "dt", "", o.To)
			if err != nil {
				return err
			}
			if len(parts) == 0 {
				o.Log.Info("nothing to load: no Parquet files", "stage", "load", "table", t.Name, "dir", dir)
				st.Skipped = append(st.Skipped, t.Name)
				return nil
			}
			src = filepath.Join(dir, "dt="+parts[len(parts)-1])
			if files, err = parquetFiles(src); err != nil {
				return err
			}
		}
		return loadUnit(ctx, conn, t, src, files, "", o, st)
	}
	parts, err := partitions(dir, t.Part, o.From, o.To)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		o.Log.Info("nothing to load: no partitions in range", "stage", "load", "table", t.Name, "dir", dir, "from", o.From, "to", o.To)
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		pdir := filepath.Join(dir, t.Part+"="+p)
		files, err := parquetFiles(pdir)
		if err != nil {
			return err
		}
		if err := loadUnit(ctx, conn, t, pdir, files, p, o, st); err != nil {
			return err
		}
	}
	return nil
}

// lockKey is the transaction advisory lock key of a table and partition.
func lockKey(table, part string) int64 {
	h := fnv.New64a()
	h.Write([]byte("churnctl load\x00" + table + "\x00" + part))
	return int64(h.Sum64())
}

func qualified(table string) string { return pgx.Identifier{"churn", table}.Sanitize() }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// loadUnit loads one partition (part = YYYY-MM-DD) or a full snapshot
// (part = "") of t from files.
func loadUnit(ctx context.Context, conn *pgx.Conn, t *Table, dir string, files []string, part string, o LoadOptions, st *LoadStats) error {
	start := time.Now()
	want, err := lakeRows(dir, files)
	if err != nil {
		return err
	}
	var partDays int32
	if part != "" {
		d, _ := time.Parse(time.DateOnly, part)
		partDays = int32(d.Unix() / 86400)
	}
	src := newParquetSource(t, files, partDays)
	src.onRead = o.afterRead
	defer src.Close()
	var cols []string
	if len(files) > 0 {
		if cols, err = src.columns(); err != nil {
			return err
		}
	}
	u := unit{table: t.Name, key: t.Key, part: part, partCol: t.Part, cols: cols, stream: src, want: want, scope: scopePartition}
	if part == "" {
		u.scope = scopeTable
	}
	us, err := u.run(ctx, conn)
	if err != nil {
		return fmt.Errorf("load churn.%s %s: %w", t.Name, partLabel(t, part), err)
	}
	us.DurationMS = time.Since(start).Milliseconds()
	st.add(us)
	o.Log.Info("loaded", "stage", "load", "table", t.Name, "partition", part, "rows_in", want, "rows_removed", us.Removed, "duration_ms", us.DurationMS)
	if o.OnUnit != nil {
		o.OnUnit(us)
	}
	return nil
}

func partLabel(t *Table, part string) string {
	if part == "" {
		return "(snapshot)"
	}
	return t.Part + "=" + part
}

func (st *LoadStats) add(u UnitStats) {
	st.Units = append(st.Units, u)
	st.Rows[u.Table] += u.Rows
}

type scope int

const (
	scopePartition scope = iota // the rows of one partition are replaced
	scopeTable                  // the whole table is replaced
	scopeKeys                   // only the staged keys are upserted; nothing is removed
)

// unit is one transaction: stage rows, merge them into churn.<table>.
type unit struct {
	table   string
	key     []string
	part    string // partition value for scopePartition
	partCol string
	cols    []string // staged columns (nil: no rows)
	// The rows: either binary COPY data (Parquet) or a pgx source (JSON).
	stream *parquetSource
	src    pgx.CopyFromSource
	want   int64 // rows the source holds
	scope  scope
}

func (u *unit) run(ctx context.Context, conn *pgx.Conn) (UnitStats, error) {
	us := UnitStats{Table: u.table, Partition: u.part, Rows: u.want}
	target := qualified(u.table)
	stageName := "churnctl_stage_" + u.table
	stage := pgx.Identifier{stageName}.Sanitize()
	keyMatch := make([]string, len(u.key))
	for i, k := range u.key {
		q := pgx.Identifier{k}.Sanitize()
		keyMatch[i] = "s." + q + " = t." + q
	}
	var scopeWhere string // the rows this load replaces
	var scopeArgs []any
	switch u.scope {
	case scopePartition:
		scopeWhere, scopeArgs = " WHERE "+pgx.Identifier{u.partCol}.Sanitize()+" = $1", []any{u.part}
	case scopeTable:
		scopeWhere = ""
	}
	copyInto := func(tx pgx.Tx, table pgx.Identifier) (int64, error) {
		if len(u.cols) == 0 {
			return 0, nil
		}
		var n int64
		var err, serr error
		if u.stream != nil {
			var tag pgconn.CommandTag
			tag, err = tx.Conn().PgConn().CopyFrom(ctx, u.stream,
				"COPY "+table.Sanitize()+" ("+quoteAll(u.cols)+") FROM STDIN (FORMAT binary)")
			n, serr = tag.RowsAffected(), u.stream.Err()
		} else {
			n, err = tx.CopyFrom(ctx, table, u.cols, u.src)
			serr = u.src.Err()
		}
		if serr != nil {
			// The server reports a source error as "COPY from stdin
			// failed" (57014); the source's own error is the real one.
			return 0, serr
		}
		if err != nil {
			return 0, fmt.Errorf("copy: %w", err)
		}
		if n != u.want {
			return 0, fmt.Errorf("%w: copied %d rows, the lake holds %d", errkind.BadInput, n, u.want)
		}
		return n, nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		phase := time.Now()
		// Serialise loads of the same table and partition (lock_timeout applies).
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(u.table, u.part)); err != nil {
			return fmt.Errorf("wait for the load lock: %w", err)
		}
		// Fast path: when the partition (or table) is still empty in the
		// warehouse, staging + merge would only copy the staged rows over:
		// COPY straight into the table, in the same transaction.
		empty := false
		if u.scope != scopeKeys {
			var any bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+target+scopeWhere+")", scopeArgs...).Scan(&any); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			empty = !any
		}
		if empty {
			if _, err := copyInto(tx, pgx.Identifier{"churn", u.table}); err != nil {
				return err
			}
			phaseLog("direct copy", phase)
		} else {
			if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" (LIKE "+target+" INCLUDING DEFAULTS) ON COMMIT DROP"); err != nil {
				return fmt.Errorf("create staging table: %w", err)
			}
			copied, err := copyInto(tx, pgx.Identifier{stageName})
			if err != nil {
				return err
			}
			// Staged rows have no statistics and a freshly loaded table has
			// stale ones: the planner may then join them by nested loops,
			// quadratic in the day's rows. Analyze the staged keys and rule
			// nested loops out for this transaction's bulk joins.
			if _, err := tx.Exec(ctx, "ANALYZE "+stage+" ("+quoteAll(u.key)+")"); err != nil {
				return fmt.Errorf("analyze staging table: %w", err)
			}
			if _, err := tx.Exec(ctx, "SET LOCAL enable_nestloop = off"); err != nil {
				return fmt.Errorf("planner settings: %w", err)
			}
			phaseLog("copy", phase)
			// Remove the scope's rows the lake no longer has.
			if u.scope != scopeKeys {
				cond := "WHERE "
				if u.scope == scopePartition {
					cond += "t." + pgx.Identifier{u.partCol}.Sanitize() + " = $1 AND "
				}
				tag, err := tx.Exec(ctx, "DELETE FROM "+target+" t "+cond+
					"NOT EXISTS (SELECT 1 FROM "+stage+" s WHERE "+strings.Join(keyMatch, " AND ")+")", scopeArgs...)
				if err != nil {
					return fmt.Errorf("remove stale rows: %w", err)
				}
				us.Removed = tag.RowsAffected()
			}
			if copied > 0 {
				if err := u.merge(ctx, tx, target, stage, scopeArgs); err != nil {
					return err
				}
			}
			phaseLog("merge", phase)
		}
		// Reconcile with the lake before committing.
		var have int64
		var err error
		switch u.scope {
		case scopeKeys:
			err = tx.QueryRow(ctx, "SELECT count(*) FROM "+target+" t WHERE EXISTS (SELECT 1 FROM "+stage+" s WHERE "+strings.Join(keyMatch, " AND ")+")").Scan(&have)
		default:
			err = tx.QueryRow(ctx, "SELECT count(*) FROM "+target+scopeWhere, scopeArgs...).Scan(&have)
		}
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if have != u.want {
			return fmt.Errorf("%w: after the merge the table holds %d rows for this load, the lake %d (duplicate keys in the lake?)", errkind.BadInput, have, u.want)
		}
		phaseLog("total", phase)
		return nil
	})
	return us, err
}

// merge upserts the staged rows into target in two statements: an UPDATE
// of the rows whose values changed (unchanged rows are neither rewritten nor
// locked), then an INSERT ... ON CONFLICT DO UPDATE of the rest. A key
// staged twice makes the INSERT fail (21000) or the reconciliation count
// differ: both exit 3.
func (u *unit) merge(ctx context.Context, tx pgx.Tx, target, stage string, scopeArgs []any) error {
	all, err := tableColumns(ctx, tx, u.table)
	if err != nil {
		return err
	}
	var set, tcols, scols, ecols, excl []string
	for _, c := range all {
		if slices.Contains(u.key, c) {
			continue
		}
		q := pgx.Identifier{c}.Sanitize()
		set = append(set, q+" = s."+q)
		tcols = append(tcols, "t."+q)
		scols = append(scols, "s."+q)
		excl = append(excl, q+" = EXCLUDED."+q)
		ecols = append(ecols, "EXCLUDED."+q)
	}
	keyMatch := make([]string, len(u.key))
	for i, k := range u.key {
		q := pgx.Identifier{k}.Sanitize()
		keyMatch[i] = "s." + q + " = t." + q
	}
	// Restricting the target to the partition lets the planner read only
	// that day through its index instead of the whole table.
	var inPart string
	if u.scope == scopePartition {
		inPart = " AND t." + pgx.Identifier{u.partCol}.Sanitize() + " = $1"
	} else {
		scopeArgs = nil
	}
	if len(set) > 0 {
		q := "UPDATE " + target + " AS t SET " + strings.Join(set, ", ") + " FROM " + stage + " AS s WHERE " +
			strings.Join(keyMatch, " AND ") + inPart + " AND (" + strings.Join(tcols, ", ") + ") IS DISTINCT FROM (" + strings.Join(scols, ", ") + ")"
		if _, err := tx.Exec(ctx, q, scopeArgs...); err != nil {
			return fmt.Errorf("merge (update): %w", err)
		}
	}
	q := "INSERT INTO " + target + " AS t (" + quoteAll(all) + ") SELECT " + quoteAll(all) + " FROM " + stage + " AS s" +
		" WHERE NOT EXISTS (SELECT 1 FROM " + target + " AS t WHERE " + strings.Join(keyMatch, " AND ") + inPart + ")" +
		" ON CONFLICT (" + quoteAll(u.key) + ")"
	if len(set) == 0 {
		q += " DO NOTHING"
	} else {
		// Only rows another writer inserted since the UPDATE conflict here.
		q += " DO UPDATE SET " + strings.Join(excl, ", ") +
			" WHERE (" + strings.Join(tcols, ", ") + ") IS DISTINCT FROM (" + strings.Join(ecols, ", ") + ")"
	}
	if _, err := tx.Exec(ctx, q, scopeArgs...); err != nil {
		return fmt.Errorf("merge (insert): %w", err)
	}
	return nil
}

// tableColumns returns churn.<table>'s columns in order.
func tableColumns(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, qualified(table))
	if err != nil {
		return nil, err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(cols) == 0 {
		err = fmt.Errorf("table churn.%s does not exist", table)
	}
	return cols, err
}

func phaseLog(name string, t time.Time) {
	if os.Getenv("CHURNCTL_PHASES") != "" {
		fmt.Fprintf(os.Stderr, "%s %d ms\n", name, time.Since(t).Milliseconds())
	}
}
