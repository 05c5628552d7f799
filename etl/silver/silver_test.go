package silver

import (
	"context"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
)

const day0 = int64(1538352000000) // 2018-10-01

// processAll runs ProcessDay over every day of evs and returns the results by day.
func processAll(t *testing.T, mem memory.Allocator, evs []etltest.Event, opt Options) map[int64]*DayResult {
	t.Helper()
	out := map[int64]*DayResult{}
	for d, dayEvs := range etltest.ByDay(evs) {
		in := etltest.Batch(mem, dayEvs)
		res, err := ProcessDay(context.Background(), mem, d, in, opt)
		in.Release()
		if err != nil {
			t.Fatalf("ProcessDay(%s): %v", DayString(d), err)
		}
		out[d] = res
	}
	return out
}

func TestProcessDayAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.Random(7, 40, 6, day0, 60)
	anonIDs := map[string]bool{"1003": true}
	users, anon, removed := etltest.RefSplit(evs, anonIDs)
	results := processAll(t, mem, evs, Options{AnonymousUserIDs: anonIDs})
	defer func() {
		for _, r := range results {
			r.Release()
		}
	}()

	var total DayStats
	var gotRows []etltest.Event
	days := make([]int64, 0, len(results))
	for d := range results {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		r := results[d]
		total.Add(r.Stats)
		full := fullEvents(t, mem, r)
		defer full.Release()
		ev, err := bindCore(full)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < ev.n; i++ {
			gotRows = append(gotRows, etltest.Event{TS: int64(ev.ts.Value(i)), UserID: ev.user.Value(i),
				SessionID: ev.session.Value(i), ItemInSession: ev.item.Value(i), Page: ev.page.Value(i)})
		}
	}
	if total.BronzeRows != int64(len(evs)) {
		t.Errorf("bronze rows = %d, want %d", total.BronzeRows, len(evs))
	}
	if total.DuplicatesRemoved != int64(removed) || removed == 0 {
		t.Errorf("duplicates removed = %d, want %d (> 0)", total.DuplicatesRemoved, removed)
	}
	if total.AnonymousRows != int64(len(anon)) || len(anon) == 0 {
		t.Errorf("anonymous rows = %d, want %d (> 0)", total.AnonymousRows, len(anon))
	}
	if total.BronzeRows != total.UserRows+total.AnonymousRows+total.DuplicatesRemoved {
		t.Errorf("reconciliation: %d != %d + %d + %d", total.BronzeRows, total.UserRows, total.AnonymousRows, total.DuplicatesRemoved)
	}
	// Silver events come out per day in (user, ts, session, item) order: the
	// reference order restricted to each day, days ascending.
	var want []etltest.Event
	for _, d := range days {
		for _, e := range users {
			if etltest.DayOf(e.TS) == d {
				want = append(want, e)
			}
		}
	}
	if len(gotRows) != len(want) {
		t.Fatalf("user rows = %d, want %d", len(gotRows), len(want))
	}
	for i := range want {
		g, w := gotRows[i], want[i]
		if g.TS != w.TS || g.UserID != w.UserID || g.SessionID != w.SessionID || g.ItemInSession != w.ItemInSession || g.Page != w.Page {
			t.Fatalf("row %d = %+v, want %+v", i, g, w)
		}
	}

	// Sessions assembled from the parts equal the direct grouping.
	ref := etltest.RefSessions(users)
	src := func(d int64) (arrow.RecordBatch, error) {
		if r, ok := results[d]; ok {
			return r.SessionParts, nil
		}
		return nil, nil
	}
	n, crossing, nonMono := 0, 0, int64(0)
	for _, d := range days {
		b, err := AssembleSessions(mem, d, src)
		if err != nil {
			t.Fatal(err)
		}
		user := b.Column(0).(*array.String)
		for i := 0; i < int(b.NumRows()); i++ {
			n++
			k := [2]string{user.Value(i), itoa(b.Column(1).(*array.Int64).Value(i))}
			w := ref[k]
			if w == nil {
				t.Fatalf("session %v not in reference", k)
			}
			start := int64(b.Column(2).(*array.Timestamp).Value(i))
			end := int64(b.Column(3).(*array.Timestamp).Value(i))
			items := b.Column(5).(*array.Int64).Value(i)
			songs := b.Column(6).(*array.Int64).Value(i)
			listen := b.Column(7).(*array.Float64).Value(i)
			nm := b.Column(10).(*array.Int64).Value(i)
			if DayOf(start) != d {
				t.Errorf("session %v starts %d, in partition %s", k, start, DayString(d))
			}
			if start != w.Start || end != w.End || items != w.Items || songs != w.Songs || math.Abs(listen-w.Listen) > 1e-6 || nm != w.NonMono {
				t.Errorf("session %v = start %d end %d items %d songs %d listen %g nonmono %d, want %+v", k, start, end, items, songs, listen, nm, *w)
			}
			if b.Column(8).(*array.Boolean).Value(i) {
				crossing++
			}
			nonMono += nm
		}
		b.Release()
	}
	if n != len(ref) {
		t.Errorf("sessions = %d, want %d", n, len(ref))
	}
	if crossing == 0 || nonMono == 0 {
		t.Errorf("fixture should have sessions crossing midnight (%d) and non-monotonic items (%d)", crossing, nonMono)
	}
}

func itoa(v int64) string { return formatInt(v) }

func formatInt(v int64) string {
	b := []byte{}
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

func TestProcessDayDeterministicOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.ByDay(etltest.Random(3, 10, 1, day0, 20))[day0]
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	var outs [2]arrow.RecordBatch
	for i, in := range [][]etltest.Event{evs, rev} {
		b := etltest.Batch(mem, in)
		res, err := ProcessDay(context.Background(), mem, day0, b, Options{})
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = fullEvents(t, mem, res)
		res.Release()
	}
	defer outs[0].Release()
	defer outs[1].Release()
	// Line numbers differ (the kept duplicate is the first by source position),
	// every event field must be equal.
	for j := 0; j < len(EventColumns)-2; j++ {
		if !array.Equal(outs[0].Column(j), outs[1].Column(j)) {
			t.Errorf("column %s differs between input orders", outs[0].Schema().Field(j).Name)
		}
	}
}

// fullEvents materialises the whole silver/events rows of r (EventColumns,
// in user order), as the file written from r.Input and r.EventRows holds.
func fullEvents(t *testing.T, mem memory.Allocator, r *DayResult) arrow.RecordBatch {
	t.Helper()
	cols := make([]int, len(EventColumns))
	for j := range cols {
		cols[j] = j
	}
	b, err := takeRows(mem, r.Input, cols, r.EventRows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProcessDayBatchesMatchesOneBatch: a day handed over as several
// batches (bronze's decode chunks, with duplicates and key conflicts
// spread over them) gives the same silver day as the same rows in one
// batch.
func TestProcessDayBatchesMatchesOneBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.ByDay(etltest.Random(7, 40, 3, day0, 30))[day0]
	one := etltest.Batch(mem, evs)
	defer one.Release()
	want, err := ProcessDay(context.Background(), mem, day0, one, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	var parts []arrow.RecordBatch
	for lo := 0; lo < len(evs); {
		hi := min(len(evs), lo+1+lo%17)
		parts = append(parts, one.NewSlice(int64(lo), int64(hi)))
		lo = hi
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	got, err := ProcessDayBatches(context.Background(), mem, day0, parts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if len(parts) < 5 || want.Stats.DuplicatesRemoved == 0 {
		t.Fatalf("fixture too easy: %d batches, %d duplicates", len(parts), want.Stats.DuplicatesRemoved)
	}
	if got.Stats != want.Stats {
		t.Errorf("stats %+v, want %+v", got.Stats, want.Stats)
	}
	gf, wf := fullEvents(t, mem, got), fullEvents(t, mem, want)
	defer gf.Release()
	defer wf.Release()
	if !reflect.DeepEqual(got.Events, want.Events) {
		t.Errorf("sorted events differ between one batch and %d", len(parts))
	}
	for name, pair := range map[string][2]arrow.RecordBatch{"events": {gf, wf},
		"anonymous": {got.Anonymous, want.Anonymous}, "session parts": {got.SessionParts, want.SessionParts},
		"level history": {got.LevelHistory, want.LevelHistory}} {
		if !array.RecordEqual(pair[0], pair[1]) {
			t.Errorf("%s differ between one batch and %d", name, len(parts))
		}
	}
}

// TestLevelHistoryAgainstReference checks every level history row against
// the input: a row per user and day at the first event and at each level
// change, with the level and the user attributes of that event.
func TestLevelHistoryAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Attributes that differ per user and field, so a swapped column shows.
	evs := etltest.Random(5, 30, 4, day0, 20)
	for i := range evs {
		u := evs[i].UserID
		evs[i].Gender = etltest.S("g" + u)
		evs[i].Location = etltest.S("loc " + u)
		evs[i].UserAgent = etltest.S("ua " + u)
		evs[i].FirstName = etltest.S("first " + u)
		evs[i].LastName = etltest.S("last " + u)
		if u == "" {
			evs[i].Gender, evs[i].Location, evs[i].UserAgent, evs[i].FirstName, evs[i].LastName = nil, nil, nil, nil, nil
		}
	}
	users, _, _ := etltest.RefSplit(evs, nil)
	type key struct {
		user string
		ts   int64
	}
	type want struct {
		level                                string
		reg                                  *int64
		gender, location, agent, first, last string
	}
	wants := map[key]want{}
	prev := map[[2]string]string{} // (user, day) -> level of the last event
	for _, e := range users {
		dk := [2]string{e.UserID, DayString(etltest.DayOf(e.TS))}
		if l, ok := prev[dk]; !ok || l != e.Level {
			wants[key{e.UserID, e.TS}] = want{e.Level, e.Registration, *e.Gender, *e.Location, *e.UserAgent, *e.FirstName, *e.LastName}
		}
		prev[dk] = e.Level
	}
	results := processAll(t, mem, evs, Options{})
	defer func() {
		for _, r := range results {
			r.Release()
		}
	}()
	got := 0
	for _, r := range results {
		lh := r.LevelHistory
		str := func(c, i int) string { return lh.Column(c).(*array.String).Value(i) }
		for i := 0; i < int(lh.NumRows()); i++ {
			k := key{str(0, i), int64(lh.Column(1).(*array.Timestamp).Value(i))}
			w, ok := wants[k]
			if !ok {
				t.Fatalf("level history row %v not expected", k)
			}
			var reg *int64
			if lh.Column(3).IsValid(i) {
				v := int64(lh.Column(3).(*array.Timestamp).Value(i))
				reg = &v
			}
			g := want{str(2, i), reg, str(4, i), str(5, i), str(6, i), str(7, i), str(8, i)}
			if g.level != w.level || (g.reg == nil) != (w.reg == nil) || (g.reg != nil && *g.reg != *w.reg) ||
				g.gender != w.gender || g.location != w.location || g.agent != w.agent || g.first != w.first || g.last != w.last {
				t.Fatalf("level history row %v = %+v, want %+v", k, g, w)
			}
			got++
		}
	}
	if got != len(wants) || got < 100 {
		t.Fatalf("%d level history rows, want %d (and at least 100)", got, len(wants))
	}
}
