package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

const testDay0 = int64(1538352000000) // 2018-10-01

// writeBronze stages evs as bronze/events partitions (one per UTC day).
func writeBronze(t *testing.T, dir string, evs []etltest.Event) {
	t.Helper()
	mem := memory.NewGoAllocator()
	tx, err := lake.New(dir).Begin("fixture")
	if err != nil {
		t.Fatal(err)
	}
	for d, day := range etltest.ByDay(evs) {
		b := etltest.Batch(mem, day)
		err := lakeio.WritePartition(tx, lake.BronzeEvents, lakeio.DayPartition(d), b, nil)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// cli runs churnctl with args and returns the exit code and the summary.
func cli(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--log-format", "json"), strings.NewReader(""), &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("churnctl %v: summary %q: %v (stderr %s)", args, lines[len(lines)-1], err, errb.String())
	}
	if code != 0 && code != 3 {
		t.Logf("churnctl %v: exit %d, stderr %s", args, code, errb.String())
	}
	return code, sum
}

// snapshot hashes every Parquet file under dir/layer (path relative to dir).
func snapshot(t *testing.T, dir string, layers ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, layer := range layers {
		root := filepath.Join(dir, layer)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".parquet") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(h[:])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func diffSnap(a, b map[string]string) []string {
	var d []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if a[k] != b[k] {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k+" (new)")
		}
	}
	slices.Sort(d)
	return d
}

func TestETLSilverGoldEndToEnd(t *testing.T) {
	evs := etltest.Random(21, 25, 5, testDay0, 30)
	dir := t.TempDir()
	writeBronze(t, dir, evs)

	code, sum := cli(t, "etl", "--lake", dir)
	if code != 0 {
		t.Fatalf("etl: exit %d, summary %v", code, sum)
	}
	for _, k := range []string{"bronze_rows", "user_rows", "anonymous_rows", "duplicates_removed", "sessions", "user_days", "checks_run", "checks_failed", "checks_warned"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %s: %v", k, sum)
		}
	}
	if got := sum["bronze_rows"].(float64); got != float64(len(evs)) {
		t.Errorf("bronze_rows = %v, want %d", got, len(evs))
	}
	if sum["duplicates_removed"].(float64) == 0 {
		t.Errorf("duplicates_removed = 0 on a fixture with duplicates")
	}
	for _, c := range []string{"silver.reconciliation.bronze_rows", "silver.events.not_null", "silver.sessions.unique_key",
		"gold.fact_user_day.relationships.dim_user", "gold.fact_session.unique_key", "gold.dim_user.one_current_row"} {
		if !slices.Contains(sum["checks_run"].([]any), any(c)) {
			t.Errorf("checks_run lacks %s: %v", c, sum["checks_run"])
		}
	}
	if n := len(sum["checks_failed"].([]any)); n != 0 {
		t.Errorf("checks_failed = %v", sum["checks_failed"])
	}
	full := snapshot(t, dir, "silver", "gold")
	for _, want := range []string{"gold/dim_user/part-0.parquet", "gold/dim_date/part-0.parquet", "gold/dim_page/part-0.parquet",
		"gold/fact_user_day/dt=2018-10-02/part-0.parquet", "gold/fact_session/dt=2018-10-02/part-0.parquet",
		"silver/events/dt=2018-10-02/part-0.parquet", "silver/sessions/dt=2018-10-02/part-0.parquet",
		"silver/anonymous_events/dt=2018-10-02/part-0.parquet", "silver/level_history/dt=2018-10-02/part-0.parquet"} {
		if _, ok := full[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	gm, err := os.ReadFile(filepath.Join(dir, "gold", "_manifest.json"))
	if err != nil || !bytes.Contains(gm, []byte(`"min_ts"`)) {
		t.Errorf("gold/_manifest.json: %s, %v", gm, err)
	}

	t.Run("rerun is byte-identical", func(t *testing.T) {
		if code, sum := cli(t, "etl", "--lake", dir); code != 0 {
			t.Fatalf("exit %d %v", code, sum)
		}
		if d := diffSnap(full, snapshot(t, dir, "silver", "gold")); len(d) > 0 {
			t.Errorf("re-run changed %v", d)
		}
	})

	t.Run("layer commands equal the combined run", func(t *testing.T) {
		dir2 := t.TempDir()
		writeBronze(t, dir2, evs)
		if code, sum := cli(t, "etl", "silver", "--lake", dir2); code != 0 {
			t.Fatalf("etl silver: exit %d %v", code, sum)
		}
		if code, sum := cli(t, "etl", "gold", "--lake", dir2); code != 0 {
			t.Fatalf("etl gold: exit %d %v", code, sum)
		}
		if d := diffSnap(full, snapshot(t, dir2, "silver", "gold")); len(d) > 0 {
			t.Errorf("silver then gold differ from etl in %v", d)
		}
	})

	t.Run("layer commands with --ds equal the full run", func(t *testing.T) {
		dir2 := t.TempDir()
		writeBronze(t, dir2, evs)
		if code, _ := cli(t, "etl", "--lake", dir2, "--to", "2018-10-02"); code != 0 {
			t.Fatal("first run failed")
		}
		for _, ds := range []string{"2018-10-03", "2018-10-04", "2018-10-05"} {
			if code, sum := cli(t, "etl", "silver", "--lake", dir2, "--ds", ds); code != 0 {
				t.Fatalf("etl silver --ds %s: exit %d %v", ds, code, sum)
			}
			if code, sum := cli(t, "etl", "gold", "--lake", dir2, "--ds", ds); code != 0 {
				t.Fatalf("etl gold --ds %s: exit %d %v", ds, code, sum)
			}
		}
		if d := diffSnap(full, snapshot(t, dir2, "silver", "gold")); len(d) > 0 {
			t.Errorf("layer-by-layer daily runs differ from etl in %v", d)
		}
	})

	t.Run("daily incremental runs equal the full run", func(t *testing.T) {
		dir3 := t.TempDir()
		writeBronze(t, dir3, evs)
		days, _ := lakeio.Days(lake.New(dir3), lake.BronzeEvents)
		for _, d := range days {
			ds := lakeio.DayPartition(d)[3:]
			if code, sum := cli(t, "etl", "--lake", dir3, "--ds", ds, "--lookback", "1"); code != 0 {
				t.Fatalf("etl --ds %s: exit %d %v", ds, code, sum)
			}
		}
		if d := diffSnap(full, snapshot(t, dir3, "silver", "gold")); len(d) > 0 {
			t.Errorf("incremental differs from full in %v", d)
		}
	})

	t.Run("late event: re-running its day equals a full rebuild", func(t *testing.T) {
		// A late event at 23:59:59 on day 2 joins a session that so far
		// started on day 3: the session now starts on day 2 and crosses
		// midnight, so day 3's sessions change too.
		d2 := testDay0 + 2*86400000
		var late etltest.Event
		found := false
		for _, e := range evs {
			if e.UserID != "" && etltest.DayOf(e.TS) == d2+86400000 && e.TS < d2+86400000+3600000 {
				late, found = e, true
				break
			}
		}
		if !found {
			t.Fatal("fixture has no early event on day 3")
		}
		late.TS = d2 + 86400000 - 1000
		late.Page, late.Artist, late.Song, late.Length = "Home", nil, nil, nil
		late.ItemInSession = -1
		late.LineNumber = 999999
		withLate := append(slices.Clone(evs), late)

		inc := t.TempDir()
		writeBronze(t, inc, evs)
		if code, _ := cli(t, "etl", "--lake", inc); code != 0 {
			t.Fatal("first run failed")
		}
		writeBronze(t, inc, withLate)
		if code, sum := cli(t, "etl", "--lake", inc, "--ds", "2018-10-03"); code != 0 {
			t.Fatalf("exit %d %v", code, sum)
		}
		ref := t.TempDir()
		writeBronze(t, ref, withLate)
		if code, _ := cli(t, "etl", "--lake", ref); code != 0 {
			t.Fatal("reference run failed")
		}
		want := snapshot(t, ref, "silver", "gold")
		if d := diffSnap(want, snapshot(t, inc, "silver", "gold")); len(d) > 0 {
			t.Errorf("incremental re-run differs from full rebuild in %v", d)
		}
		if d := diffSnap(full, want); !slices.Contains(d, "silver/sessions/dt=2018-10-04/part-0.parquet") {
			t.Errorf("fixture does not move a session between days: changed %v", d)
		}
	})

	t.Run("failed quality gate publishes nothing", func(t *testing.T) {
		dir4 := t.TempDir()
		writeBronze(t, dir4, evs)
		if code, _ := cli(t, "etl", "--lake", dir4); code != 0 {
			t.Fatal("first run failed")
		}
		before := snapshot(t, dir4, "silver", "gold")
		bad := slices.Clone(evs)
		for i := range bad {
			if bad[i].UserID != "" && etltest.DayOf(bad[i].TS) == testDay0+86400000 {
				bad[i].Level = "platinum"
				break
			}
		}
		writeBronze(t, dir4, bad)
		code, sum := cli(t, "etl", "--lake", dir4)
		if code != 3 {
			t.Fatalf("exit %d, want 3 (%v)", code, sum)
		}
		if f := sum["checks_failed"].([]any); !slices.Contains(f, any("silver.events.accepted_values.level")) {
			t.Errorf("checks_failed = %v", f)
		}
		if d := diffSnap(before, snapshot(t, dir4, "silver", "gold")); len(d) > 0 {
			t.Errorf("failed run changed %v", d)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir4, ".tmp")); len(ents) != 0 {
			t.Errorf(".tmp not cleaned: %v", ents)
		}
	})

	t.Run("anonymous user ids", func(t *testing.T) {
		// Every event of user 1000 is counted as anonymous traffic.
		var of1000 float64
		users, anon, _ := etltest.RefSplit(evs, map[string]bool{"1000": true})
		for _, e := range anon {
			if e.UserID == "1000" {
				of1000++
			}
		}
		if of1000 == 0 {
			t.Fatal("fixture has no user 1000")
		}
		dir5 := t.TempDir()
		writeBronze(t, dir5, evs)
		code, sum := cli(t, "etl", "--lake", dir5, "--anonymous-user-ids", "1000,")
		if code != 0 {
			t.Fatalf("exit %d %v", code, sum)
		}
		if got := sum["anonymous_rows"].(float64); got != float64(len(anon)) {
			t.Errorf("anonymous_rows = %v, want %d (%v of user 1000)", got, len(anon), of1000)
		}
		if got := sum["user_rows"].(float64); got != float64(len(users)) {
			t.Errorf("user_rows = %v, want %d", got, len(users))
		}
	})

	t.Run("missing level history trips the relationship check", func(t *testing.T) {
		dir6 := t.TempDir()
		writeBronze(t, dir6, evs)
		if code, _ := cli(t, "etl", "--lake", dir6); code != 0 {
			t.Fatal("first run failed")
		}
		// Without the level history, dim_user loses users: gold facts
		// then reference users that dim_user lacks.
		for _, table := range []string{"silver/level_history"} {
			if err := os.RemoveAll(filepath.Join(dir6, table)); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, dir6, "gold")
		code, sum := cli(t, "etl", "gold", "--lake", dir6, "--ds", "2018-10-02")
		if code != 3 {
			t.Fatalf("exit %d, want 3 (%v)", code, sum)
		}
		f := sum["checks_failed"].([]any)
		if !slices.Contains(f, any("gold.fact_user_day.relationships.dim_user")) || !slices.Contains(f, any("gold.fact_session.relationships.dim_user")) {
			t.Errorf("checks_failed = %v", f)
		}
		if d := diffSnap(before, snapshot(t, dir6, "gold")); len(d) > 0 {
			t.Errorf("failed gold run changed %v", d)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"etl", "silver"},
			{"etl", "gold", "--lake", dir, "--ds", "2018-13-01"},
			{"etl", "--lake", dir, "--ds", "2018-10-01", "--from", "2018-10-01"},
			{"etl", "--lake", dir, "--from", "2018-10-05", "--to", "2018-10-01"},
		} {
			if code, _ := cli(t, args...); code != 2 {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
	})
}

// TestETLSampleWholeChain runs `etl` on the bundled sample (bronze →
// silver → gold in one process) and compares gold/fact_user_day read back
// from Parquet with the row-by-row reference over the raw JSON.
func TestETLSampleWholeChain(t *testing.T) {
	sample := "../../testdata/sample/events.json.gz"
	if _, err := os.Stat(sample); err != nil {
		t.Skip("no sample")
	}
	dir := t.TempDir()
	code, sum := cli(t, "etl", "--lake", dir, sample)
	if code != 0 {
		t.Fatalf("etl: exit %d %v", code, sum)
	}
	evs, err := etltest.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	users, anon, removed := etltest.RefSplit(evs, nil)
	if sum["lines_read"].(float64) != float64(len(evs)) || sum["bronze_rows"].(float64) != float64(len(evs)) ||
		sum["user_rows"].(float64) != float64(len(users)) || sum["anonymous_rows"].(float64) != float64(len(anon)) ||
		sum["duplicates_removed"].(float64) != float64(removed) {
		t.Errorf("summary %v; want %d lines, %d user rows, %d anonymous, %d duplicates", sum, len(evs), len(users), len(anon), removed)
	}
	ref := etltest.RefUserDays(users)
	rr, err := parquetio.ReadGlob(memory.NewGoAllocator(), filepath.Join(dir, "gold/fact_user_day/*/*.parquet"),
		[]string{"user_id", "dt", "n_events", "n_sessions", "songs", "distinct_artists", "level_end"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	rows := 0
	for rr.Next() {
		b := rr.RecordBatch()
		for i := 0; i < int(b.NumRows()); i++ {
			rows++
			u := b.Column(0).(*array.String).Value(i)
			d := int64(b.Column(1).(*array.Date32).Value(i)) * 86400000
			w := ref[u][d]
			if w == nil {
				t.Fatalf("fact_user_day %s %d not in reference", u, d)
			}
			got := [4]int64{b.Column(2).(*array.Int64).Value(i), b.Column(3).(*array.Int64).Value(i),
				b.Column(4).(*array.Int64).Value(i), b.Column(5).(*array.Int64).Value(i)}
			want := [4]int64{w.Events, int64(len(w.Sessions)), w.Songs, int64(len(w.Artists))}
			if got != want || b.Column(6).(*array.String).Value(i) != w.LevelEnd {
				t.Errorf("%s %d: events/sessions/songs/artists = %v, want %v", u, d, got, want)
			}
		}
	}
	want := 0
	for _, m := range ref {
		want += len(m)
	}
	if rows != want {
		t.Errorf("fact_user_day rows = %d, want %d", rows, want)
	}
}
