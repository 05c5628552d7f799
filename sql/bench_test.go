package sql

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/churnctl/churnctl/sql/lakefixture"
)

// The load benchmark's size: 20 days of 50,000 users (1,000,000 rows);
// CHURNCTL_BENCH_DAYS=N changes the number of days for a quick run.
const benchPerDay = 50_000

var (
	benchDays    = envInt("CHURNCTL_BENCH_DAYS", 20)
	benchRowsAll = int64(benchDays * benchPerDay)
)

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

var (
	benchOnce           sync.Once
	benchDir            string // removed by TestMain
	benchLake, benchCSV string
	benchLake2          string
	benchErr            error
)

// benchData writes the benchmark's fact_user_day rows once per process: as
// Parquet partitions of a lake, and as one CSV file for psql.
func benchData(b *testing.B) (lake, lake2, csv string) {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "churnctl-bench-load-")
		if err != nil {
			benchErr = err
			return
		}
		benchDir = dir
		// psql runs as root, the server as postgres: only psql reads the CSV.
		benchLake, benchCSV = filepath.Join(dir, "lake"), filepath.Join(dir, "fact_user_day.csv")
		benchLake2 = filepath.Join(dir, "lake2")
		f, err := os.Create(benchCSV)
		if err != nil {
			benchErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for d := 0; d < benchDays; d++ {
			day := start.AddDate(0, 0, d).Format(time.DateOnly)
			rows := lakefixture.FactUserDays(day, 0, benchPerDay, 1)
			if err := lakefixture.Write(filepath.Join(benchLake, "gold/fact_user_day", "dt="+day, "part-0.parquet"), rows); err != nil {
				benchErr = err
				return
			}
			for _, r := range rows {
				writeCSV(w, &r, day)
			}
			// The same keys with other values: a recomputed day.
			rows = lakefixture.FactUserDays(day, 0, benchPerDay, 2)
			if err := lakefixture.Write(filepath.Join(benchLake2, "gold/fact_user_day", "dt="+day, "part-0.parquet"), rows); err != nil {
				benchErr = err
				return
			}
		}
		if err := w.Flush(); err != nil {
			benchErr = err
			return
		}
		benchErr = f.Close()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchLake, benchLake2, benchCSV
}

func writeCSV(w *bufio.Writer, r *lakefixture.FactUserDay, day string) {
	var b []byte
	b = append(b, r.UserID...)
	b = append(b, ',')
	b = append(b, day...)
	for _, n := range []int32{r.NEvents, r.NSessions, r.NNextSong, r.NHome, r.NThumbsUp, r.NThumbsDown, r.NAddToPlaylist,
		r.NAddFriend, r.NRollAdvert, r.NLogout, r.NSettings, r.NSaveSettings, r.NHelp, r.NAbout, r.NError, r.NUpgrade,
		r.NDowngrade, r.NSubmitUpgrade, r.NSubmitDowngrade, r.NCancel, r.NCancellationConfirmation, r.NOther, r.Songs} {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.ListenSeconds, 'g', -1, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.DistinctArtists), 10)
	b = append(b, ',')
	if r.LevelEnd != nil {
		b = append(b, *r.LevelEnd...)
	}
	b = append(b, ',')
	b = r.FirstTS.AppendFormat(b, "2006-01-02 15:04:05.000Z07:00")
	b = append(b, ',')
	b = r.LastTS.AppendFormat(b, "2006-01-02 15:04:05.000Z07:00")
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.NPaidEvents), 10)
	b = append(b, '\n')
	w.Write(b)
}

// BenchmarkLoadVsPsql loads the same 1,000,000 fact_user_day rows into an
// empty churn.fact_user_day twice per iteration: with `psql -c "\copy ...
// from CSV"` and with Load (binary COPY of the Parquet partitions into
// staging tables, then the merge, one transaction per day). It reports both
// throughputs and their ratio (the bar is >= 0.8).
//
//	go test -run '^$' -bench LoadVsPsql -benchtime 3x ./sql/
func BenchmarkLoadVsPsql(b *testing.B) {
	if _, err := exec.LookPath("psql"); err != nil {
		b.Skip("psql not installed")
	}
	lake, lake2, csv := benchData(b)
	dsn := migrated(b)
	conn := connect(b, dsn)
	ctx := context.Background()
	truncate := func() {
		if _, err := conn.Exec(ctx, "TRUNCATE churn.fact_user_day; CHECKPOINT"); err != nil {
			b.Fatal(err)
		}
	}
	cols := quoteAll(columnsOf(TableByName("fact_user_day")))
	var psqlTime, loadTime, reloadTime, noopTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		truncate()
		t0 := time.Now()
		cmd := exec.Command("psql", dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
			`\copy churn.fact_user_day (`+cols+`) from '`+csv+`' with (format csv)`)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql: %v\n%s", err, out)
		}
		psqlTime += time.Since(t0)
		if n := count(b, conn, "SELECT count(*) FROM churn.fact_user_day"); n != benchRowsAll {
			b.Fatalf("psql loaded %d rows, want %d", n, benchRowsAll)
		}
		truncate()
		t0 = time.Now()
		st, err := Load(ctx, conn, LoadOptions{Lake: lake, Groups: []string{"gold"}, Log: quiet})
		if err != nil {
			b.Fatal(err)
		}
		loadTime += time.Since(t0)
		if st.Rows["fact_user_day"] != benchRowsAll {
			b.Fatalf("Load loaded %d rows, want %d", st.Rows["fact_user_day"], benchRowsAll)
		}
		// Every day again with changed values: staging, merge, reconcile.
		t0 = time.Now()
		if st, err = Load(ctx, conn, LoadOptions{Lake: lake2, Groups: []string{"gold"}, Log: quiet}); err != nil {
			b.Fatal(err)
		}
		reloadTime += time.Since(t0)
		if st.Rows["fact_user_day"] != benchRowsAll {
			b.Fatalf("reload loaded %d rows, want %d", st.Rows["fact_user_day"], benchRowsAll)
		}
		// And once more unchanged (a retried task): nothing is rewritten.
		t0 = time.Now()
		if _, err = Load(ctx, conn, LoadOptions{Lake: lake2, Groups: []string{"gold"}, Log: quiet}); err != nil {
			b.Fatal(err)
		}
		noopTime += time.Since(t0)
	}
	psqlRate := float64(benchRowsAll*int64(b.N)) / psqlTime.Seconds()
	loadRate := float64(benchRowsAll*int64(b.N)) / loadTime.Seconds()
	reloadRate := float64(benchRowsAll*int64(b.N)) / reloadTime.Seconds()
	noopRate := float64(benchRowsAll*int64(b.N)) / noopTime.Seconds()
	b.ReportMetric(noopRate, "noop_reload_rows/s")
	b.ReportMetric(loadRate, "load_rows/s")
	b.ReportMetric(reloadRate, "upsert_rows/s")
	b.ReportMetric(psqlRate, "psql_rows/s")
	b.ReportMetric(loadRate/psqlRate, "ratio")
	b.ReportMetric(reloadRate/psqlRate, "upsert_ratio")
	b.Logf("%d rows x %d: Load into empty days %.0f rows/s, reload of changed days (staging+upsert) %.0f rows/s, unchanged reload %.0f rows/s, psql \\copy CSV %.0f rows/s; ratios %.2f, %.2f, %.2f",
		benchRowsAll, b.N, loadRate, reloadRate, noopRate, psqlRate, loadRate/psqlRate, reloadRate/psqlRate, noopRate/psqlRate)
}

func columnsOf(t *Table) []string {
	var s []string
	for _, c := range t.Columns {
		s = append(s, c.Name)
	}
	return s
}
