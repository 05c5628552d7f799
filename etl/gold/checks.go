package gold

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/etl/quality"
)

// Stable names of the gold quality checks.
const (
	CheckUserDayUnique        = "gold.fact_user_day.unique_key"
	CheckUserDayNotNull       = "gold.fact_user_day.not_null"
	CheckUserDayLevel         = "gold.fact_user_day.accepted_values.level_end"
	CheckUserDayReconcile     = "gold.fact_user_day.reconciliation.n_events"
	CheckUserDayRelationship  = "gold.fact_user_day.relationships.dim_user"
	CheckSessionUnique        = "gold.fact_session.unique_key"
	CheckSessionNotNull       = "gold.fact_session.not_null"
	CheckSessionRelationship  = "gold.fact_session.relationships.dim_user"
	CheckDimUserUnique        = "gold.dim_user.unique_key"
	CheckDimUserOneCurrent    = "gold.dim_user.one_current_row"
	CheckDimUserValidInterval = "gold.dim_user.valid_interval"
	CheckDimUserLevel         = "gold.dim_user.accepted_values.level"
	CheckDimDateUnique        = "gold.dim_date.unique_key"
	CheckDimPageUnique        = "gold.dim_page.unique_key"
)

func nulls(b arrow.RecordBatch) int64 {
	var n int64
	for j, c := range b.Columns() {
		if !b.Schema().Field(j).Nullable {
			n += int64(c.NullN())
		}
	}
	return n
}

// Users is the set of user ids of dim_user.
type Users map[string]struct{}

// UsersOf returns the user ids of a dim_user batch.
func UsersOf(dimUser arrow.RecordBatch) Users {
	u := dimUser.Column(0).(*array.String)
	out := make(Users, u.Len())
	for i := 0; i < u.Len(); i++ {
		out[u.Value(i)] = struct{}{}
	}
	return out
}

func missing(users Users, u *array.String) (n int64, first string) {
	for i := 0; i < u.Len(); i++ {
		if _, ok := users[u.Value(i)]; !ok {
			if n == 0 {
				first = u.Value(i)
			}
			n++
		}
	}
	return n, first
}

// CheckUserDay checks one fact_user_day partition: unique (user_id, dt)
// (rows strictly ascending by user_id, one dt), not null, level_end values,
// sum(n_events) = silverRows, and every user_id in dim_user (users; nil skips).
func CheckUserDay(rep *quality.Report, day string, b arrow.RecordBatch, silverRows int64, users Users) {
	u := b.Column(0).(*array.String)
	dt := b.Column(1).(*array.Date32)
	var dup int64
	for i := 1; i < u.Len(); i++ {
		if u.Value(i) <= u.Value(i-1) || dt.Value(i) != dt.Value(0) {
			dup++
		}
	}
	rep.Check(CheckUserDayUnique, quality.Error, dup, fmt.Sprintf("%s: (user_id, dt) repeated or out of order", day))
	rep.Check(CheckUserDayNotNull, quality.Error, nulls(b), fmt.Sprintf("%s: null in fact_user_day", day))
	lv := b.Column(b.Schema().FieldIndices("level_end")[0]).(*array.String)
	var badLevel int64
	for i := 0; i < lv.Len(); i++ {
		if v := lv.Value(i); v != "free" && v != "paid" {
			badLevel++
		}
	}
	rep.Check(CheckUserDayLevel, quality.Error, badLevel, fmt.Sprintf("%s: level_end not in {free, paid}", day))
	ne := b.Column(2).(*array.Int64)
	var sum int64
	for i := 0; i < ne.Len(); i++ {
		sum += ne.Value(i)
	}
	var rec int64
	if sum != silverRows {
		rec = max(sum-silverRows, silverRows-sum)
	}
	rep.Check(CheckUserDayReconcile, quality.Error, rec, fmt.Sprintf("%s: sum(n_events) %d != silver events rows %d", day, sum, silverRows))
	if users != nil {
		n, first := missing(users, u)
		rep.Check(CheckUserDayRelationship, quality.Error, n, fmt.Sprintf("%s: user_id %q (and %d more) not in dim_user", day, first, max(n-1, 0)))
	}
}

// CheckFactSession checks one fact_session partition: unique (user_id,
// session_id, session_start) (an id reused after a pause is another
// session, see silver.SessionGap), not null, every user_id in dim_user
// (users; nil skips).
func CheckFactSession(rep *quality.Report, day string, b arrow.RecordBatch, users Users) {
	u := b.Column(0).(*array.String)
	s := b.Column(1).(*array.Int64)
	st := b.Column(b.Schema().FieldIndices("session_start")[0]).(*array.Timestamp)
	type key struct {
		u     string
		s     int64
		start arrow.Timestamp
	}
	seen := make(map[key]struct{}, u.Len())
	var dup int64
	for i := 0; i < u.Len(); i++ {
		k := key{u.Value(i), s.Value(i), st.Value(i)}
		if _, ok := seen[k]; ok {
			dup++
		}
		seen[k] = struct{}{}
	}
	rep.Check(CheckSessionUnique, quality.Error, dup, fmt.Sprintf("%s: (user_id, session_id, session_start) repeated", day))
	rep.Check(CheckSessionNotNull, quality.Error, nulls(b), fmt.Sprintf("%s: null in fact_session", day))
	if users != nil {
		n, first := missing(users, u)
		rep.Check(CheckSessionRelationship, quality.Error, n, fmt.Sprintf("%s: user_id %q (and %d more) not in dim_user", day, first, max(n-1, 0)))
	}
}

// CheckDimUser checks dim_user (sorted by user_id, valid_from): unique
// (user_id, valid_from), exactly one current row per user with a null
// valid_to, valid_from < valid_to, level values.
func CheckDimUser(rep *quality.Report, b arrow.RecordBatch) {
	u := b.Column(0).(*array.String)
	from := b.Column(1).(*array.Timestamp)
	to := b.Column(2).(*array.Timestamp)
	cur := b.Column(3).(*array.Boolean)
	lv := b.Column(4).(*array.String)
	var dup, current, interval, level int64
	for start := 0; start < u.Len(); {
		end := start + 1
		for end < u.Len() && u.Value(end) == u.Value(start) {
			end++
		}
		nCur := 0
		for i := start; i < end; i++ {
			if i > start && from.Value(i) <= from.Value(i-1) {
				dup++
			}
			if cur.Value(i) {
				nCur++
				if to.IsValid(i) {
					interval++
				}
			} else if to.IsNull(i) || to.Value(i) <= from.Value(i) {
				interval++
			}
			if v := lv.Value(i); v != "free" && v != "paid" {
				level++
			}
		}
		if nCur != 1 {
			current++
		}
		if start > 0 && u.Value(start) < u.Value(start-1) {
			dup++
		}
		start = end
	}
	rep.Check(CheckDimUserUnique, quality.Error, dup, "(user_id, valid_from) repeated or out of order")
	rep.Check(CheckDimUserOneCurrent, quality.Error, current, "users without exactly one current row")
	rep.Check(CheckDimUserValidInterval, quality.Error, interval, "valid_to null on a past row, set on the current row, or not after valid_from")
	rep.Check(CheckDimUserLevel, quality.Error, level, "level not in {free, paid}")
}

// CheckDims checks dim_date and dim_page keys (sorted strictly ascending).
func CheckDims(rep *quality.Report, dimDate, dimPage arrow.RecordBatch) {
	d := dimDate.Column(0).(*array.Date32)
	var bad int64
	for i := 1; i < d.Len(); i++ {
		if d.Value(i) <= d.Value(i-1) {
			bad++
		}
	}
	rep.Check(CheckDimDateUnique, quality.Error, bad, "date repeated")
	p := dimPage.Column(0).(*array.String)
	bad = 0
	for i := 1; i < p.Len(); i++ {
		if p.Value(i) <= p.Value(i-1) {
			bad++
		}
	}
	rep.Check(CheckDimPageUnique, quality.Error, bad, "page repeated")
}
