package gold

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/errkind"
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

// DimUser builds the SCD2 user dimension from silver level history batches
// (one per day, any order): a new version starts whenever a user's level
// differs from the previous row's; valid_to is the next version's
// valid_from (null for the current one). Descriptive attributes
// (registration, gender, location, user_agent, names) are type 1: the
// user's latest values on every version. Rows are sorted by user_id,
// valid_from.
func DimUser(mem memory.Allocator, history []arrow.RecordBatch) (arrow.RecordBatch, error) {
	// Fold the days in time order (each batch is one day).
	type day struct {
		b   arrow.RecordBatch
		min int64
	}
	days := make([]day, 0, len(history))
	for _, b := range history {
		ts, err := column[*array.Timestamp](b, "ts")
		if err != nil {
			return nil, err
		}
		m := int64(math.MaxInt64)
		for _, t := range ts.TimestampValues() {
			m = min(m, int64(t))
		}
		days = append(days, day{b, m})
	}
	slices.SortStableFunc(days, func(a, b day) int { return cmp.Compare(a.min, b.min) })
	acc := NewDimUsers()
	for _, d := range days {
		if err := acc.Add(d.b); err != nil {
			return nil, err
		}
	}
	return acc.Finish(mem), nil
}

// dimUser is one user's dim_user state: the versions so far and the
// attributes of the latest row.
type dimUser struct {
	vers   []version
	lastTS int64
	reg    arrow.Timestamp
	regOK  bool
	s      [5]string // gender, location, user_agent, first_name, last_name
	ok     [5]bool
}

type version struct {
	from  int64
	level string
}

// DimUsers builds dim_user from level history added one day at a time, in
// day order, keeping per user only its versions and latest attributes (so
// memory follows the number of users, not of days). Add's batches need
// not outlive the call.
type DimUsers struct {
	users map[string]*dimUser
	strs  map[string]string
}

// NewDimUsers returns an empty DimUsers.
func NewDimUsers() *DimUsers {
	return &DimUsers{users: map[string]*dimUser{}, strs: map[string]string{}}
}

func (a *DimUsers) intern(s string) string {
	if v, ok := a.strs[s]; ok {
		return v
	}
	v := strings.Clone(s)
	a.strs[v] = v
	return v
}

// Add folds one day of level history (later than the days added before).
func (a *DimUsers) Add(b arrow.RecordBatch) error {
	var c struct {
		user, level *array.String
		ts, reg     *array.Timestamp
		attrs       [5]*array.String
	}
	var err error
	if c.user, err = column[*array.String](b, "user_id"); err != nil {
		return err
	}
	if c.level, err = column[*array.String](b, "level"); err != nil {
		return err
	}
	if c.ts, err = column[*array.Timestamp](b, "ts"); err != nil {
		return err
	}
	if c.reg, err = column[*array.Timestamp](b, "registration"); err != nil {
		return err
	}
	for k, name := range []string{"gender", "location", "user_agent", "first_name", "last_name"} {
		if c.attrs[k], err = column[*array.String](b, name); err != nil {
			return err
		}
	}
	// The day's rows by user then time (silver writes them so; sort
	// anyway, stably: rows of one user and ts keep their order).
	n := int(b.NumRows())
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	tsv := c.ts.TimestampValues()
	slices.SortStableFunc(order, func(x, y int32) int {
		return cmp.Or(strings.Compare(c.user.Value(int(x)), c.user.Value(int(y))), cmp.Compare(tsv[x], tsv[y]))
	})
	for _, i := range order {
		r := int(i)
		name := c.user.Value(r)
		u := a.users[name]
		if u == nil {
			u = &dimUser{}
			a.users[strings.Clone(name)] = u
		}
		t := int64(tsv[r])
		if len(u.vers) > 0 && t < u.lastTS {
			return fmt.Errorf("%w: level history of %q not in time order (days added out of order)", errkind.BadInput, name)
		}
		u.lastTS = t
		lv := c.level.Value(r)
		if len(u.vers) == 0 || u.vers[len(u.vers)-1].level != lv {
			u.vers = append(u.vers, version{from: t, level: a.intern(lv)})
		}
		if u.regOK = c.reg.IsValid(r); u.regOK {
			u.reg = c.reg.Value(r)
		}
		for k, col := range c.attrs {
			if u.ok[k] = col.IsValid(r); u.ok[k] {
				u.s[k] = a.intern(col.Value(r))
			} else {
				u.s[k] = ""
			}
		}
	}
	return nil
}

// Finish returns dim_user, sorted by user_id, valid_from.
func (a *DimUsers) Finish(mem memory.Allocator) arrow.RecordBatch {
	names := make([]string, 0, len(a.users))
	for u := range a.users {
		names = append(names, u)
	}
	slices.Sort(names)
	bld := array.NewRecordBuilder(mem, DimUserSchema)
	defer bld.Release()
	for _, name := range names {
		u := a.users[name]
		for i, v := range u.vers {
			appendStr(bld.Field(0).(*array.StringBuilder), name)
			bld.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(v.from))
			if i+1 < len(u.vers) {
				bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(u.vers[i+1].from))
			} else {
				bld.Field(2).AppendNull()
			}
			bld.Field(3).(*array.BooleanBuilder).Append(i+1 == len(u.vers))
			appendStr(bld.Field(4).(*array.StringBuilder), v.level)
			if u.regOK {
				bld.Field(5).(*array.TimestampBuilder).Append(u.reg)
			} else {
				bld.Field(5).AppendNull()
			}
			for k := range u.s {
				fb := bld.Field(6 + k).(*array.StringBuilder)
				if u.ok[k] {
					appendStr(fb, u.s[k])
				} else {
					fb.AppendNull()
				}
			}
		}
	}
	return bld.NewRecordBatch()
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
