package silver

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// PartsSource returns the session parts of a day (nil when the day has none).
// The batch stays owned by the source.
type PartsSource func(dayStart int64) (arrow.RecordBatch, error)

// MaxSessionDays bounds how many days after its start a session is followed.
const MaxSessionDays = 7

type sessKey struct {
	user string
	sid  int64
}

type sessAgg struct {
	user         string
	sid          int64
	start, end   int64
	items, songs int64
	listen       float64
	lastItem     int32
	nonMono      int64
	days         int32
}

type partsCols struct {
	n                   int
	user                *array.String
	sid, items, songs   *array.Int64
	first, last         *array.Timestamp
	listen              *array.Float64
	firstItem, lastItem *array.Int32
	nonMono             *array.Int64
}

func bindParts(b arrow.RecordBatch) (*partsCols, error) {
	if b == nil {
		return &partsCols{}, nil
	}
	if !b.Schema().Equal(SessionPartsSchema) {
		return nil, fmt.Errorf("session parts: unexpected schema %s", b.Schema())
	}
	return &partsCols{
		n:         int(b.NumRows()),
		user:      b.Column(0).(*array.String),
		sid:       b.Column(1).(*array.Int64),
		first:     b.Column(2).(*array.Timestamp),
		last:      b.Column(3).(*array.Timestamp),
		items:     b.Column(4).(*array.Int64),
		songs:     b.Column(5).(*array.Int64),
		listen:    b.Column(6).(*array.Float64),
		firstItem: b.Column(7).(*array.Int32),
		lastItem:  b.Column(8).(*array.Int32),
		nonMono:   b.Column(9).(*array.Int64),
	}, nil
}

// AssembleSessions returns the whole sessions that start on day, merging
// the parts of the following days while the session goes on (at most
// MaxSessionDays). A part continues the session of the same (user_id,
// session_id) on the day before when it is that key's first part of its
// day and begins at most SessionGap after the session's last event;
// otherwise it starts a session (a part after another of the same key on
// one day was split off by a pause longer than SessionGap). Rows are
// sorted by user_id, session_start, session_id.
//
// Parts of one key on one day are sorted by first_ts (SessionPartsSchema).
func AssembleSessions(mem memory.Allocator, day int64, src PartsSource) (arrow.RecordBatch, error) {
	load := func(d int64) (*partsCols, error) {
		b, err := src(d)
		if err != nil {
			return nil, err
		}
		return bindParts(b)
	}
	prev, err := load(day - DayMillis)
	if err != nil {
		return nil, err
	}
	// The end of each key's last part on the day before.
	before := make(map[sessKey]int64, prev.n)
	for i := 0; i < prev.n; i++ {
		k := sessKey{prev.user.Value(i), prev.sid.Value(i)}
		if t, ok := before[k]; !ok || int64(prev.last.Value(i)) > t {
			before[k] = int64(prev.last.Value(i))
		}
	}
	cur, err := load(day)
	if err != nil {
		return nil, err
	}
	var aggs []sessAgg
	// key -> its session of its last part of the day, when that starts on
	// day (only a key's last part of a day can go on the next day)
	open := make(map[sessKey]int, cur.n)
	for i := 0; i < cur.n; i++ {
		k := sessKey{cur.user.Value(i), cur.sid.Value(i)}
		firstOfKey := i == 0 || cur.user.Value(i-1) != k.user || cur.sid.Value(i-1) != k.sid
		if firstOfKey {
			delete(open, k)
			if t, ok := before[k]; ok && int64(cur.first.Value(i))-t <= SessionGap {
				continue // goes on from the day before
			}
		}
		open[k] = len(aggs)
		aggs = append(aggs, sessAgg{
			user: k.user, sid: k.sid,
			start: int64(cur.first.Value(i)), end: int64(cur.last.Value(i)),
			items: cur.items.Value(i), songs: cur.songs.Value(i), listen: cur.listen.Value(i),
			lastItem: cur.lastItem.Value(i), nonMono: cur.nonMono.Value(i), days: 1,
		})
	}
	for d := day + DayMillis; len(open) > 0 && d <= day+MaxSessionDays*DayMillis; d += DayMillis {
		next, err := load(d)
		if err != nil {
			return nil, err
		}
		still := make(map[sessKey]int, 16)
		for i := 0; i < next.n; i++ {
			k := sessKey{next.user.Value(i), next.sid.Value(i)}
			j, ok := open[k]
			if !ok {
				continue
			}
			delete(open, k) // only the key's first part of the day can go on
			a := &aggs[j]
			if int64(next.first.Value(i))-a.end > SessionGap {
				continue
			}
			a.end = max(a.end, int64(next.last.Value(i)))
			a.items += next.items.Value(i)
			a.songs += next.songs.Value(i)
			a.listen += next.listen.Value(i)
			a.nonMono += next.nonMono.Value(i)
			if next.firstItem.Value(i) <= a.lastItem {
				a.nonMono++
			}
			a.lastItem = next.lastItem.Value(i)
			a.days++
			lastOfKey := i+1 >= next.n || next.user.Value(i+1) != k.user || next.sid.Value(i+1) != k.sid
			if lastOfKey {
				still[k] = j
			}
		}
		open = still
	}
	slices.SortFunc(aggs, func(a, b sessAgg) int {
		if c := strings.Compare(a.user, b.user); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.sid, b.sid)
	})
	bld := array.NewRecordBuilder(mem, SessionsSchema)
	defer bld.Release()
	bld.Reserve(len(aggs))
	for _, a := range aggs {
		appendStr(bld.Field(0).(*array.StringBuilder), a.user)
		bld.Field(1).(*array.Int64Builder).Append(a.sid)
		bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(a.start))
		bld.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(a.end))
		bld.Field(4).(*array.Float64Builder).Append(float64(a.end-a.start) / 1000)
		bld.Field(5).(*array.Int64Builder).Append(a.items)
		bld.Field(6).(*array.Int64Builder).Append(a.songs)
		bld.Field(7).(*array.Float64Builder).Append(a.listen)
		bld.Field(8).(*array.BooleanBuilder).Append(DayOf(a.end) != DayOf(a.start))
		bld.Field(9).(*array.Int32Builder).Append(a.days)
		bld.Field(10).(*array.Int64Builder).Append(a.nonMono)
	}
	return bld.NewRecordBatch(), nil
}
