package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/gold"
	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/lake"
)

// roundTS rewrites a generated log with every ts rounded down to a
// multiple of step ms (the lines stay in time order; many events then
// share a ts, also across the cut between two of bronze's pieces), and
// writes each line of every 50th a second time right after it (exact
// duplicates, which can also fall on either side of a cut).
func roundTS(t *testing.T, src, dst string, step int64) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		const pre = `{"ts":`
		if !bytes.HasPrefix(line, []byte(pre)) {
			t.Fatalf("line %d: %q", i+1, line)
		}
		end := bytes.IndexByte(line, ',')
		ts, err := strconv.ParseInt(string(line[len(pre):end]), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		l := fmt.Appendf(nil, "%s%d%s\n", pre, ts/step*step, line[end:])
		out.Write(l)
		if i%50 == 7 {
			out.Write(l)
		}
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lakeFiles returns the sha256 of every Parquet file of a lake's bronze,
// silver and gold, by path.
func lakeFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, layer := range []string{"bronze", "silver", "gold"} {
		err := filepath.WalkDir(filepath.Join(root, layer), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = fileSHA(t, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// piecesByDay parses the debug lines of silver's days built in memory.
func piecesByDay(t *testing.T, stderr string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "day built from bronze's rows in memory") {
			continue
		}
		var rec struct {
			Day    string `json:"day"`
			Pieces int    `json:"pieces"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out[rec.Day] = rec.Pieces
	}
	return out
}

// TestETLDayInPiecesIsTheDayAtOnce: with a memory budget small enough
// that bronze hands every day to silver in many pieces (ties in ts and
// exact duplicates across the cuts between pieces, a listed anonymous id),
// the lake (bronze, silver, gold: every Parquet file) has the bytes of a
// run where each day is one piece, and of silver and gold rebuilt from
// bronze; no day is processed again from bronze.
func TestETLDayInPiecesIsTheDayAtOnce(t *testing.T) {
	dir := t.TempDir()
	gen := genFile(t, dir, "gen.json", "--users", "2000", "--days", "2", "--seed", "5")
	in := filepath.Join(dir, "events.json")
	roundTS(t, gen, in, 1000)
	ctx := context.Background()
	etl := func(lk string, args ...string) string {
		t.Helper()
		args = append([]string{"etl", "--lake", lk, "--no-progress", "--log-format", "json", "--log-level", "debug",
			"--anonymous-user-ids", "17"}, args...)
		code, stdout, stderr := runIn(t, ctx, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		if strings.Contains(stderr, "processed again from bronze") {
			t.Errorf("%v: a day was processed again from bronze:\n%s", args, stderr)
		}
		return stderr
	}
	small, whole, rebuilt := filepath.Join(dir, "small"), filepath.Join(dir, "whole"), filepath.Join(dir, "rebuilt")
	pieces := piecesByDay(t, etl(small, "--memory-budget", "1", in))
	once := piecesByDay(t, etl(whole, "--memory-budget", "512", in))
	if len(pieces) < 2 || len(once) != len(pieces) {
		t.Fatalf("days built in memory: %v (budget 1 MiB), %v (512 MiB)", pieces, once)
	}
	t.Logf("pieces by day with a 1 MiB budget: %v", pieces)
	for d, n := range pieces {
		if n < 3 || once[d] != 1 {
			t.Errorf("day %s: %d pieces with 1 MiB, %d with 512 MiB; want several and 1", d, n, once[d])
		}
	}
	// Silver and gold from bronze read back (the whole day at once).
	if code, _, stderr := runIn(t, ctx, nil, "etl", "bronze", "--lake", rebuilt, "--no-progress", in); code != 0 {
		t.Fatalf("etl bronze: exit %d: %s", code, stderr)
	}
	etl(rebuilt)

	want := lakeFiles(t, whole)
	for name, root := range map[string]string{"pieces": small, "rebuilt": rebuilt} {
		got := lakeFiles(t, root)
		if len(got) != len(want) {
			t.Errorf("%s: %d Parquet files, want %d", name, len(got), len(want))
		}
		for p, h := range want {
			if got[p] != h {
				t.Errorf("%s: %s differs from the run with each day in one piece", name, p)
			}
		}
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestETLReusedSessionIDsAreSplit: a hand-written log in which user 7
// reuses session 3 after a day without events and again after a pause of
// 8 hours, while user 8's session 5 crosses midnight with a pause of 20
// minutes. etl succeeds (it used to fail silver.sessions.unique_key,
// exit 3): user 7's three uses are three sessions with distinct starts,
// counted as sessions_split (a warning check), user 8's is one session
// over two days; gold counts two sessions on user 7's second day.
func TestETLReusedSessionIDsAreSplit(t *testing.T) {
	dir := t.TempDir()
	day := int64(1538352000000) // 2018-10-01
	const hour, minute = 3_600_000, 60_000
	ev := func(ts int64, user string, sid int64, item int, page string) string {
		song := `"artist":null,"song":null,"length":null`
		if page == "NextSong" {
			song = `"artist":"Muse","song":"Uprising","length":304.8`
		}
		method := "GET"
		if page == "NextSong" {
			method = "PUT"
		}
		return fmt.Sprintf(`{"ts":%d,"userId":%q,"sessionId":%d,"page":%q,"auth":"Logged In","method":%q,"status":200,`+
			`"level":"free","itemInSession":%d,"location":"Austin, TX","userAgent":"Mozilla/5.0","lastName":"Lee",`+
			`"firstName":"Ann","registration":1530000000000,"gender":"F",%s}`, ts, user, sid, page, method, item, song)
	}
	lines := []string{
		ev(day+10*hour, "7", 3, 0, "Home"),
		ev(day+10*hour+minute, "7", 3, 1, "NextSong"),
		ev(day+23*hour+50*minute, "8", 5, 0, "Home"),
		ev(day+24*hour+10*minute, "8", 5, 1, "NextSong"), // 20 minutes later, past midnight: the same session
		ev(day+2*24*hour+9*hour, "7", 3, 0, "Home"),      // a day without events: a new session
		ev(day+2*24*hour+9*hour+minute, "7", 3, 1, "NextSong"),
		ev(day+2*24*hour+17*hour+minute, "7", 3, 2, "NextSong"), // 8 hours later: a new session again
	}
	in := filepath.Join(dir, "events.json")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lk := filepath.Join(dir, "lake")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"etl", "--lake", lk, "--no-progress", "--log-format", "json", in},
		strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("etl: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	sum := summaryOf(t, out.String())
	if got := sum["sessions_split"]; got != float64(2) {
		t.Errorf("sessions_split = %v, want 2", got)
	}
	if got := sum["sessions"]; got != float64(4) {
		t.Errorf("sessions = %v, want 4", got)
	}
	if w := fmt.Sprint(sum["checks_warned"]); !strings.Contains(w, "silver.sessions.reused_id") {
		t.Errorf("checks_warned = %s, want silver.sessions.reused_id", w)
	}
	if f := sum["checks_failed"].([]any); len(f) != 0 {
		t.Errorf("checks_failed = %v", f)
	}
	if !strings.Contains(errb.String(), `"level":"WARN","msg":"silver: session ids reused after a pause: split into distinct sessions"`) {
		t.Errorf("no warning about the reused ids in the log:\n%s", errb.String())
	}

	// The sessions, by (user, session_id, start).
	mem := memory.NewGoAllocator()
	type sess struct {
		user        string
		sid, start  int64
		items, days int64
	}
	var got []sess
	days, err := lakeio.Days(lake.New(lk), silver.TableSessions)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		b, err := lakeio.ReadPartition(mem, lake.New(lk), silver.TableSessions, lakeio.DayPartition(d), nil)
		if err != nil {
			t.Fatal(d, err)
		}
		if b == nil { // no session starts that day
			continue
		}
		for i := 0; i < int(b.NumRows()); i++ {
			got = append(got, sess{b.Column(0).(*array.String).Value(i), b.Column(1).(*array.Int64).Value(i),
				int64(b.Column(2).(*array.Timestamp).Value(i)), b.Column(5).(*array.Int64).Value(i), int64(b.Column(9).(*array.Int32).Value(i))})
		}
		b.Release()
	}
	want := []sess{
		{"7", 3, day + 10*hour, 2, 1},
		{"8", 5, day + 23*hour + 50*minute, 2, 2},
		{"7", 3, day + 2*24*hour + 9*hour, 2, 1},
		{"7", 3, day + 2*24*hour + 17*hour + minute, 1, 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sessions =\n%v\nwant\n%v", got, want)
	}
	// gold: user 7 has two sessions on 2018-10-03.
	b, err := lakeio.ReadPartition(mem, lake.New(lk), gold.TableFactUserDay, lakeio.DayPartition(day+2*24*hour), []string{"user_id", "n_sessions"})
	if err != nil || b == nil {
		t.Fatal(err)
	}
	defer b.Release()
	if u, n := b.Column(0).(*array.String).Value(0), b.Column(1).(*array.Int64).Value(0); u != "7" || n != 2 {
		t.Errorf("fact_user_day 2018-10-03: %s has %d sessions, want 7 with 2", u, n)
	}
}
