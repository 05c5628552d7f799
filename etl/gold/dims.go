package gold

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FactSession projects silver sessions (one start day) onto the
// fact_session contract.
func FactSession(mem memory.Allocator, sessions arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, FactSessionSchema.NumFields())
	for _, f := range FactSessionSchema.Fields() {
		idx := sessions.Schema().FieldIndices(f.Name)
		if len(idx) == 0 || !arrow.TypeEqual(sessions.Column(idx[0]).DataType(), f.Type) {
			return nil, fmt.Errorf("fact_session: silver sessions lack %s %s", f.Name, f.Type)
		}
		cols = append(cols, sessions.Column(idx[0]))
	}
	return array.NewRecordBatch(FactSessionSchema, cols, sessions.NumRows()), nil
}

type lhRow struct {
	rank int32
	b    int32
	r    int32
	ts   int64
}

// DimUser builds the SCD2 user dimension from silver level history batches
// (any order): a new version starts whenever a user's level differs from the
// previous row's; valid_to is the next version's valid_from (null for the
// current one). Descriptive attributes (registration, gender, location,
// user_agent, names) are type 1: the user's latest values on every version.
// Rows are sorted by user_id, valid_from.
func DimUser(mem memory.Allocator, history []arrow.RecordBatch) (arrow.RecordBatch, error) {
	type cols struct {
		user, level                          *array.String
		ts, reg                              *array.Timestamp
		gender, location, agent, first, last *array.String
	}
	cs := make([]cols, len(history))
	ranks := map[string]int32{}
	total := 0
	for i, b := range history {
		var c cols
		var err error
		if c.user, err = column[*array.String](b, "user_id"); err != nil {
			return nil, err
		}
		if c.level, err = column[*array.String](b, "level"); err != nil {
			return nil, err
		}
		if c.ts, err = column[*array.Timestamp](b, "ts"); err != nil {
			return nil, err
		}
		if c.reg, err = column[*array.Timestamp](b, "registration"); err != nil {
			return nil, err
		}
		for _, p := range []struct {
			dst  **array.String
			name string
		}{{&c.gender, "gender"}, {&c.location, "location"}, {&c.agent, "user_agent"}, {&c.first, "first_name"}, {&c.last, "last_name"}} {
			if *p.dst, err = column[*array.String](b, p.name); err != nil {
				return nil, err
			}
		}
		cs[i] = c
		for r := 0; r < int(b.NumRows()); r++ {
			ranks[c.user.Value(r)] = 0
		}
		total += int(b.NumRows())
	}
	names := make([]string, 0, len(ranks))
	for u := range ranks {
		names = append(names, u)
	}
	slices.Sort(names)
	for i, u := range names {
		ranks[u] = int32(i)
	}
	rows := make([]lhRow, 0, total)
	for i, c := range cs {
		tsv := c.ts.TimestampValues()
		for r := 0; r < int(history[i].NumRows()); r++ {
			rows = append(rows, lhRow{rank: ranks[c.user.Value(r)], b: int32(i), r: int32(r), ts: int64(tsv[r])})
		}
	}
	slices.SortFunc(rows, func(a, b lhRow) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.ts, b.ts), cmp.Compare(a.b, b.b), cmp.Compare(a.r, b.r))
	})

	bld := array.NewRecordBuilder(mem, DimUserSchema)
	defer bld.Release()
	type version struct {
		from  int64
		level string
	}
	var vers []version
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].rank == rows[start].rank {
			end++
		}
		vers = vers[:0]
		for k := start; k < end; k++ {
			c := cs[rows[k].b]
			lv := c.level.Value(int(rows[k].r))
			if len(vers) == 0 || vers[len(vers)-1].level != lv {
				vers = append(vers, version{from: rows[k].ts, level: lv})
			}
		}
		latest := rows[end-1]
		c, r := cs[latest.b], int(latest.r)
		for i, v := range vers {
			appendStr(bld.Field(0).(*array.StringBuilder), names[rows[start].rank])
			bld.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(v.from))
			if i+1 < len(vers) {
				bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(vers[i+1].from))
			} else {
				bld.Field(2).AppendNull()
			}
			bld.Field(3).(*array.BooleanBuilder).Append(i+1 == len(vers))
			appendStr(bld.Field(4).(*array.StringBuilder), v.level)
			if c.reg.IsNull(r) {
				bld.Field(5).AppendNull()
			} else {
				bld.Field(5).(*array.TimestampBuilder).Append(c.reg.Value(r))
			}
			for k, a := range []*array.String{c.gender, c.location, c.agent, c.first, c.last} {
				fb := bld.Field(6 + k).(*array.StringBuilder)
				if a.IsNull(r) {
					fb.AppendNull()
				} else {
					appendStr(fb, a.Value(r))
				}
			}
		}
		start = end
	}
	return bld.NewRecordBatch(), nil
}

// DimDate has one row per day in days (Unix ms day starts; duplicates and
// order do not matter), ascending.
func DimDate(mem memory.Allocator, days []int64) arrow.RecordBatch {
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	bld := array.NewRecordBuilder(mem, DimDateSchema)
	defer bld.Release()
	for _, d := range days {
		t := time.UnixMilli(d).UTC()
		_, week := t.ISOWeek()
		wd := int32(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		bld.Field(0).(*array.Date32Builder).Append(arrow.Date32(d / 86_400_000))
		bld.Field(1).(*array.Int32Builder).Append(int32(t.Year()))
		bld.Field(2).(*array.Int32Builder).Append(int32(t.Month()))
		bld.Field(3).(*array.Int32Builder).Append(int32(t.Day()))
		bld.Field(4).(*array.Int32Builder).Append(int32(week))
		bld.Field(5).(*array.Int32Builder).Append(wd)
		bld.Field(6).(*array.BooleanBuilder).Append(wd >= 6)
	}
	return bld.NewRecordBatch()
}

// PageGroup classifies a page for dim_page.
func PageGroup(p string) (group string, isSong, isChurn bool) {
	switch p {
	case "NextSong":
		return "song", true, false
	case "Thumbs Up", "Thumbs Down", "Add to Playlist", "Add Friend":
		return "engagement", false, false
	case "Roll Advert":
		return "advert", false, false
	case "Home", "About", "Help", "Settings", "Save Settings", "Logout", "Login":
		return "navigation", false, false
	case "Upgrade", "Downgrade", "Submit Upgrade", "Submit Downgrade", "Register", "Submit Registration":
		return "account", false, false
	case "Cancel", "Cancellation Confirmation":
		return "churn", false, true
	case "Error":
		return "error", false, false
	}
	return "other", false, false
}

// KnownPages are always in dim_page.
var KnownPages = func() []string {
	var out []string
	for _, p := range Pages {
		out = append(out, p.Page)
	}
	return append(out, "Login", "Register", "Submit Registration")
}()

// DimPage has one row per page: the known pages plus extra (pages seen in
// the data), sorted by page.
func DimPage(mem memory.Allocator, extra []string) arrow.RecordBatch {
	pages := append(slices.Clone(KnownPages), extra...)
	slices.Sort(pages)
	pages = slices.Compact(pages)
	bld := array.NewRecordBuilder(mem, DimPageSchema)
	defer bld.Release()
	for _, p := range pages {
		g, song, churn := PageGroup(p)
		bld.Field(0).(*array.StringBuilder).Append(p)
		bld.Field(1).(*array.StringBuilder).Append(g)
		bld.Field(2).(*array.BooleanBuilder).Append(song)
		bld.Field(3).(*array.BooleanBuilder).Append(churn)
	}
	return bld.NewRecordBatch()
}
