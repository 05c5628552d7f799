package gold

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/silver"
)

const day0 = int64(1538352000000) // 2018-10-01, a Monday

func silverDays(t *testing.T, mem memory.Allocator, evs []etltest.Event) map[int64]*silver.DayResult {
	t.Helper()
	out := map[int64]*silver.DayResult{}
	for d, dayEvs := range etltest.ByDay(evs) {
		in := etltest.Batch(mem, dayEvs)
		res, err := silver.ProcessDay(context.Background(), mem, d, in, silver.Options{})
		in.Release()
		if err != nil {
			t.Fatal(err)
		}
		out[d] = res
	}
	return out
}

func TestUserDayAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.Random(11, 30, 8, day0, 40)
	days := silverDays(t, mem, evs)
	defer func() {
		for _, r := range days {
			r.Release()
		}
	}()
	users, _, _ := etltest.RefSplit(evs, nil)
	checkUserDays(t, mem, days, users)
}

// TestSampleAgainstReference runs silver and gold over the bundled sample
// (decoded here with encoding/json) and compares every fact_user_day row,
// every session and every dim_user version with the plain row-by-row
// computations of etltest.
func TestSampleAgainstReference(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/sample/*.json*")
	if len(files) == 0 {
		t.Skip("no testdata/sample in this checkout")
	}
	var evs []etltest.Event
	for _, f := range files {
		e, err := etltest.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e...)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	days := silverDays(t, mem, evs)
	defer func() {
		for _, r := range days {
			r.Release()
		}
	}()
	users, anon, removed := etltest.RefSplit(evs, nil)
	var st silver.DayStats
	for _, r := range days {
		st.Add(r.Stats)
	}
	if st.UserRows != int64(len(users)) || st.AnonymousRows != int64(len(anon)) || st.DuplicatesRemoved != int64(removed) {
		t.Errorf("user/anonymous/duplicate rows = %d/%d/%d, want %d/%d/%d", st.UserRows, st.AnonymousRows, st.DuplicatesRemoved, len(users), len(anon), removed)
	}
	t.Logf("sample: %d events, %d user rows, %d anonymous, %d duplicates, %d days", len(evs), len(users), len(anon), removed, len(days))
	checkUserDays(t, mem, days, users)
	checkSessions(t, mem, days, users)
	checkDimUser(t, mem, days, users)
}

// checkUserDays compares UserDay over silver days with RefUserDays(users),
// and the union of the daily artist sketches with the distinct artists
// over all days.
func checkUserDays(t *testing.T, mem memory.Allocator, days map[int64]*silver.DayResult, users []etltest.Event) {
	t.Helper()
	ref := etltest.RefUserDays(users)
	// Per user: union of the daily sketches over all days.
	union := map[string][]byte{}
	rows := 0
	for d, r := range days {
		b, err := UserDay(mem, d, r.Events)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Schema().Equal(FactUserDaySchema) {
			t.Fatalf("schema = %s", b.Schema())
		}
		get := func(name string, i int) int64 {
			return b.Column(b.Schema().FieldIndices(name)[0]).(*array.Int64).Value(i)
		}
		user := b.Column(0).(*array.String)
		for i := 0; i < int(b.NumRows()); i++ {
			rows++
			u := user.Value(i)
			w := ref[u][d]
			if w == nil {
				t.Fatalf("user %s day %s not in reference", u, silver.DayString(d))
			}
			if got := b.Column(1).(*array.Date32).Value(i); int64(got)*86400000 != d {
				t.Errorf("dt = %v, want %s", got, silver.DayString(d))
			}
			if got := get("n_events", i); got != w.Events {
				t.Errorf("%s %s n_events = %d, want %d", u, silver.DayString(d), got, w.Events)
			}
			if got := get("n_sessions", i); got != int64(len(w.Sessions)) {
				t.Errorf("%s n_sessions = %d, want %d", u, got, len(w.Sessions))
			}
			var other int64
			known := map[string]bool{}
			for _, p := range Pages {
				known[p.Page] = true
				if got := get(p.Column, i); got != w.Pages[p.Page] {
					t.Errorf("%s %s %s = %d, want %d", u, silver.DayString(d), p.Column, got, w.Pages[p.Page])
				}
			}
			for p, c := range w.Pages {
				if !known[p] {
					other += c
				}
			}
			if got := get("n_other", i); got != other {
				t.Errorf("n_other = %d, want %d", got, other)
			}
			if got := get("songs", i); got != w.Songs {
				t.Errorf("songs = %d, want %d", got, w.Songs)
			}
			if got := get("n_paid_events", i); got != w.Paid {
				t.Errorf("n_paid_events = %d, want %d", got, w.Paid)
			}
			if got := get("distinct_artists", i); got != int64(len(w.Artists)) {
				t.Errorf("distinct_artists = %d, want %d", got, len(w.Artists))
			}
			if got := b.Column(b.Schema().FieldIndices("listen_seconds")[0]).(*array.Float64).Value(i); math.Abs(got-w.Listen) > 1e-6 {
				t.Errorf("listen_seconds = %g, want %g", got, w.Listen)
			}
			if got := b.Column(b.Schema().FieldIndices("level_end")[0]).(*array.String).Value(i); got != w.LevelEnd {
				t.Errorf("level_end = %s, want %s", got, w.LevelEnd)
			}
			first := int64(b.Column(b.Schema().FieldIndices("first_ts")[0]).(*array.Timestamp).Value(i))
			last := int64(b.Column(b.Schema().FieldIndices("last_ts")[0]).(*array.Timestamp).Value(i))
			if first != w.First || last != w.Last {
				t.Errorf("first/last = %d/%d, want %d/%d", first, last, w.First, w.Last)
			}
			sk := b.Column(b.Schema().FieldIndices("artist_sketch")[0]).(*array.Binary).Value(i)
			union[u] = SketchUnion(union[u], sk)
		}
		b.Release()
	}
	want := 0
	for u, byDay := range ref {
		want += len(byDay)
		all := map[string]bool{}
		for _, r := range byDay {
			for a := range r.Artists {
				all[a] = true
			}
		}
		if got := SketchCount(union[u]); got != len(all) {
			t.Errorf("%s distinct artists over all days from merged sketches = %d, want %d", u, got, len(all))
		}
	}
	if rows != want {
		t.Errorf("fact_user_day rows = %d, want %d", rows, want)
	}
}

func TestSketchUnion(t *testing.T) {
	mk := func(v ...uint64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		a, b []byte
		want []byte
	}{
		{"empty", nil, nil, mk()},
		{"left", mk(1, 5), nil, mk(1, 5)},
		{"overlap", mk(1, 5, 9), mk(2, 5, 10), mk(1, 2, 5, 9, 10)},
		{"big", mk(math.MaxUint64), mk(1), mk(1, math.MaxUint64)},
	} {
		if got := SketchUnion(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("%s: SketchUnion = %x, want %x", tc.name, got, tc.want)
		}
	}
	// FNV-1a 64 test vector: "a" -> af63dc4c8601ec8c.
	if got := HashArtist("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("HashArtist(a) = %x", got)
	}
}

func TestDimUserAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.Random(5, 60, 10, day0, 0)
	users, _, _ := etltest.RefSplit(evs, nil)
	days := silverDays(t, mem, evs)
	defer func() {
		for _, r := range days {
			r.Release()
		}
	}()
	checkDimUser(t, mem, days, users)
}

// checkSessions compares the assembled sessions with RefSessions(users).
func checkSessions(t *testing.T, mem memory.Allocator, days map[int64]*silver.DayResult, users []etltest.Event) {
	t.Helper()
	ref := etltest.RefSessions(users)
	n := 0
	for d := range days {
		b, err := silver.AssembleSessions(mem, d, func(d int64) (arrow.RecordBatch, error) {
			if r, ok := days[d]; ok {
				return r.SessionParts, nil
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := FactSession(mem, b)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		u := fs.Column(0).(*array.String)
		for i := 0; i < u.Len(); i++ {
			n++
			sid := fs.Column(1).(*array.Int64).Value(i)
			w := ref[[2]string{u.Value(i), strconv.FormatInt(sid, 10)}]
			if w == nil {
				t.Fatalf("session %s/%d not in reference", u.Value(i), sid)
			}
			start := int64(fs.Column(2).(*array.Timestamp).Value(i))
			end := int64(fs.Column(3).(*array.Timestamp).Value(i))
			dur := fs.Column(4).(*array.Float64).Value(i)
			items := fs.Column(5).(*array.Int64).Value(i)
			songs := fs.Column(6).(*array.Int64).Value(i)
			listen := fs.Column(7).(*array.Float64).Value(i)
			cross := fs.Column(8).(*array.Boolean).Value(i)
			if start != w.Start || end != w.End || dur != float64(w.End-w.Start)/1000 || items != w.Items || songs != w.Songs ||
				math.Abs(listen-w.Listen) > 1e-6 || cross != (etltest.DayOf(w.Start) != etltest.DayOf(w.End)) || etltest.DayOf(start) != d {
				t.Errorf("session %s/%d on %s = %d %d %g %d %d %g %v, want %+v", u.Value(i), sid, silver.DayString(d), start, end, dur, items, songs, listen, cross, *w)
			}
		}
		fs.Release()
	}
	if n != len(ref) {
		t.Errorf("sessions = %d, want %d", n, len(ref))
	}
}

// checkDimUser compares DimUser over the days' level history with
// RefLevelVersions(users).
func checkDimUser(t *testing.T, mem memory.Allocator, days map[int64]*silver.DayResult, users []etltest.Event) {
	t.Helper()
	ref := etltest.RefLevelVersions(users)
	var hist []arrow.RecordBatch
	for _, r := range days {
		hist = append(hist, r.LevelHistory)
	}
	b, err := DimUser(mem, hist)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	got := map[string][]etltest.RefVersion{}
	user := b.Column(0).(*array.String)
	changes := 0
	for i := 0; i < int(b.NumRows()); i++ {
		to := int64(-1)
		if b.Column(2).IsValid(i) {
			to = int64(b.Column(2).(*array.Timestamp).Value(i))
		}
		cur := b.Column(3).(*array.Boolean).Value(i)
		if cur != (to == -1) {
			t.Errorf("row %d: is_current %v with valid_to %d", i, cur, to)
		}
		got[user.Value(i)] = append(got[user.Value(i)], etltest.RefVersion{
			Level: b.Column(4).(*array.String).Value(i), From: int64(b.Column(1).(*array.Timestamp).Value(i)), To: to})
	}
	for u, w := range ref {
		changes += len(w) - 1
		if !slices.Equal(got[u], w) {
			t.Errorf("%s versions = %v, want %v", u, got[u], w)
		}
	}
	if len(got) != len(ref) || changes == 0 {
		t.Errorf("users = %d, want %d; level changes in fixture = %d (want > 0)", len(got), len(ref), changes)
	}
}

func TestDimDate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// 2018-10-01 Monday (ISO week 40), 2018-10-07 Sunday, 2018-12-31 Monday of ISO week 1 of 2019.
	b := DimDate(mem, []int64{day0 + 6*86400000, day0, day0, 1546214400000})
	defer b.Release()
	want := [][6]int32{{2018, 10, 1, 40, 1, 0}, {2018, 10, 7, 40, 7, 1}, {2018, 12, 31, 1, 1, 0}}
	if int(b.NumRows()) != len(want) {
		t.Fatalf("rows = %d, want %d", b.NumRows(), len(want))
	}
	for i, w := range want {
		we := int32(0)
		if b.Column(6).(*array.Boolean).Value(i) {
			we = 1
		}
		got := [6]int32{b.Column(1).(*array.Int32).Value(i), b.Column(2).(*array.Int32).Value(i), b.Column(3).(*array.Int32).Value(i),
			b.Column(4).(*array.Int32).Value(i), b.Column(5).(*array.Int32).Value(i), we}
		if got != w {
			t.Errorf("row %d = %v, want %v", i, got, w)
		}
	}
}
