package silver

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/quality"
)

func goodEvents() []etltest.Event {
	base := etltest.Event{UserID: "7", SessionID: 3, Auth: "Logged In", Method: "GET", Status: 200, Level: "free",
		Location: etltest.S("Austin, TX"), Registration: etltest.I(day0 - 86400000)}
	var out []etltest.Event
	for i := 0; i < 4; i++ {
		e := base
		e.TS = day0 + 3600000 + int64(i)*60000
		e.ItemInSession = int32(i)
		e.Page = "Home"
		e.LineNumber = int64(i + 1)
		out = append(out, e)
	}
	return out
}

// nullPage returns a batch whose page column is null on row 0.
func nullPage(mem memory.Allocator, b arrow.RecordBatch) arrow.RecordBatch {
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	pg := b.Column(3).(*array.String)
	for i := 0; i < pg.Len(); i++ {
		if i == 0 {
			bld.AppendNull()
		} else {
			bld.Append(pg.Value(i))
		}
	}
	col := bld.NewArray()
	defer col.Release()
	cols := slices.Clone(b.Columns())
	cols[3] = col
	return array.NewRecordBatch(b.Schema(), cols, b.NumRows())
}

func TestChecksTripOnCraftedFixtures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		edit      func(evs []etltest.Event) []etltest.Event
		nullPage  bool
		bronze    int64 // bronze manifest rows; 0 = same as read
		wantError []string
		wantWarn  []string
	}{
		{name: "clean", edit: func(e []etltest.Event) []etltest.Event { return e }},
		{name: "duplicates are fine", edit: func(e []etltest.Event) []etltest.Event { return append(e, e[1], e[1]) }},
		{name: "null page", nullPage: true, wantError: []string{CheckNotNull}},
		{name: "bad level", edit: func(e []etltest.Event) []etltest.Event { e[2].Level = "gold"; return e }, wantError: []string{CheckAcceptedLevel}},
		{name: "bad method", edit: func(e []etltest.Event) []etltest.Event { e[0].Method = "POST"; return e }, wantError: []string{CheckAcceptedMethod}},
		{name: "bad auth", edit: func(e []etltest.Event) []etltest.Event { e[0].Auth = "Root"; return e }, wantError: []string{CheckAcceptedAuth}},
		{name: "bad status", edit: func(e []etltest.Event) []etltest.Event { e[0].Status = 500; return e }, wantWarn: []string{CheckAcceptedStatus}},
		// The event a day later is also a pause longer than SessionGap in
		// session 3: it is split off as a session of its own.
		{name: "ts outside day", edit: func(e []etltest.Event) []etltest.Event { e[3].TS += 86400000; return e },
			wantError: []string{CheckTSInPartition}, wantWarn: []string{CheckSessionsReused}},
		{name: "key conflict", edit: func(e []etltest.Event) []etltest.Event {
			x := e[1]
			x.Page = "Help"
			return append(e, x)
		}, wantWarn: []string{CheckUniqueEventKey, CheckMonotonicItems}},
		{name: "non-monotonic items", edit: func(e []etltest.Event) []etltest.Event { e[3].ItemInSession = 0; return e }, wantWarn: []string{CheckMonotonicItems}},
		{name: "bronze count mismatch", bronze: 5, wantError: []string{CheckReconciliation}},
	} {
		// With an extra exact duplicate, silver counts over the kept rows
		// instead of over the input: the checks must not change.
		for _, dup := range []bool{false, true} {
			if dup && tc.bronze > 0 {
				continue // the fixture's row count is the point
			}
			name := tc.name
			if dup {
				name += " plus a duplicate"
			}
			t.Run(name, func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				evs := goodEvents()
				if tc.edit != nil {
					evs = tc.edit(evs)
				}
				if dup {
					evs = append(evs, evs[1])
				}
				b := etltest.Batch(mem, evs)
				if tc.nullPage {
					nb := nullPage(mem, b)
					b.Release()
					b = nb
				}
				res, err := ProcessDay(context.Background(), mem, day0, b, Options{})
				b.Release()
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				var rep quality.Report
				bronze := int64(-1)
				if tc.bronze > 0 {
					bronze = tc.bronze
				}
				CheckDay(&rep, DayString(day0), res.Stats, bronze, res.Events.NumRows(), res.Anonymous.NumRows())
				keys := NewSessionKeys()
				keys.Add(res.SessionParts)
				keys.Check(&rep)
				if got := rep.Failed(quality.Error); !slices.Equal(got, tc.wantError) {
					t.Errorf("failed error checks = %v, want %v", got, tc.wantError)
				}
				if got := rep.Failed(quality.Warn); !slices.Equal(got, tc.wantWarn) {
					t.Errorf("failed warn checks = %v, want %v", got, tc.wantWarn)
				}
				if (rep.Err() != nil) != (len(tc.wantError) > 0) {
					t.Errorf("Err() = %v", rep.Err())
				}
			})
		}
	}
}

// TestSessionKeysReuse: user 7 uses session 3 on day 0 and again on day 2
// (a gap day), and again on day 2 after a pause of 7 hours: three
// sessions with one (user_id, session_id), distinct by session_start. The
// reuse is counted as a warning, never an error.
func TestSessionKeysReuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := goodEvents()
	later := goodEvents()
	for i := range later {
		later[i].TS += 2 * 86400000
	}
	again := goodEvents()
	for i := range again {
		again[i].TS += 2*86400000 + 7*3600000
		again[i].LineNumber += 10
	}
	keys := NewSessionKeys()
	var rep quality.Report
	parts := map[int64]*DayResult{}
	for d, day := range etltest.ByDay(slices.Concat(evs, later, again)) {
		b := etltest.Batch(mem, day)
		r, err := ProcessDay(context.Background(), mem, d, b, Options{})
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		parts[d] = r
	}
	var n int64
	for _, d := range []int64{day0, day0 + 86400000, day0 + 2*86400000} {
		s, err := AssembleSessions(mem, d, func(d int64) (arrow.RecordBatch, error) {
			if r := parts[d]; r != nil {
				return r.SessionParts, nil
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n += s.NumRows()
		keys.Add(s)
		s.Release()
	}
	for _, r := range parts {
		r.Release()
	}
	if n != 3 {
		t.Errorf("sessions = %d, want 3", n)
	}
	if got := keys.Check(&rep); got != 2 {
		t.Errorf("Check() = %d sessions split, want 2", got)
	}
	if got := rep.Failed(quality.Error); len(got) > 0 {
		t.Errorf("failed error checks = %v, want none", got)
	}
	if got := rep.Failed(quality.Warn); !slices.Equal(got, []string{CheckSessionsReused}) {
		t.Errorf("failed warn checks = %v, want %s", got, CheckSessionsReused)
	}
}
