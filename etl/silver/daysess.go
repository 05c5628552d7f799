package silver

import (
	"cmp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// SessionGap is the longest pause inside one session, in milliseconds (6
// hours). A (user_id, session_id) whose next event comes later than that
// after its previous one starts a new session: the id was reused (eventsim
// and Sparkify never pause that long inside a session, which ends after
// minutes of inactivity; systems that restart their session counters, or
// logs merged from two sources, do reuse ids). Such sessions are distinct
// rows of silver/sessions (and gold/fact_session) with the same session_id
// and another session_start: the session key is (user_id, session_id,
// session_start). Run counts them (Stats.SessionsSplit, check
// silver.sessions.reused_id, a warning).
const SessionGap = 6 * 60 * 60 * 1000

// levelRow is one silver/level_history row.
type levelRow struct {
	ts    int64
	level string
	reg   arrow.Timestamp
	regOK bool
	s     [5]string // gender, location, user_agent, first_name, last_name
	ok    [5]bool
}

// userDay is one user's session parts and level history of a day so far.
type userDay struct {
	parts    []part
	level    string // level of the user's latest event
	hasLevel bool
	levels   []levelRow
}

// daySessions builds a day's session parts and level history from the
// day's user events, given in stretches (Sorted) of which each holds only
// events later than those of the stretches before: the state carried from
// one to the next (per user, the open session parts and the last level)
// makes the result the one of the whole day at once, whatever the cuts.
type daySessions struct {
	users  map[string]*userDay
	names  []string          // the users, as they came
	sorted bool              // names is sorted (one stretch, or new users after the others)
	strs   map[string]string // interned attribute values
	free   []userDay         // allocated in blocks
}

func newDaySessions() *daySessions {
	return &daySessions{users: map[string]*userDay{}, strs: map[string]string{}, sorted: true}
}

func (ds *daySessions) intern(s string) string {
	if v, ok := ds.strs[s]; ok {
		return v
	}
	v := strings.Clone(s)
	ds.strs[v] = v
	return v
}

// add folds one stretch of user events (sorted by user, ts, session, item;
// row r of e is row rows[r] of attrs, which has the user attributes).
func (ds *daySessions) add(e *Sorted, attrs []*events, rows []parquetio.RowRef) {
	tsv, sidv, itemv, lenv := e.TS, e.Sess, e.Item, e.Length
	nextSong := int32(slices.Index(e.Pages, "NextSong")) // -1: none
	// A level row's user attributes are read after the loop, in input
	// order: read here, in user order, they would be read at random.
	type emit struct {
		u   *userDay
		i   int // index in u.levels
		row int // row of e
	}
	var emits []emit
	levels := make([]string, len(e.Levels))
	for i, l := range e.Levels {
		levels[i] = ds.intern(l)
	}
	for ui, name := range e.Users {
		u := ds.users[name]
		if u == nil {
			if len(ds.free) == 0 {
				ds.free = make([]userDay, 256)
			}
			u = &ds.free[0]
			ds.free = ds.free[1:]
			ds.users[name] = u // Sorted.Users are copies: kept as they are
			if n := len(ds.names); n > 0 && name < ds.names[n-1] {
				ds.sorted = false
			}
			ds.names = append(ds.names, name)
		}
		start, end := int(e.Starts[ui]), int(e.Starts[ui+1])
		for r := start; r < end; r++ {
			t := tsv[r]
			if lv := levels[e.Level[r]]; !u.hasLevel || lv != u.level {
				u.levels = append(u.levels, levelRow{ts: t, level: lv})
				emits = append(emits, emit{u, len(u.levels) - 1, r})
				u.level, u.hasLevel = lv, true
			}
			sid := sidv[r]
			p := -1
			for q := len(u.parts) - 1; q >= 0; q-- {
				if u.parts[q].sid == sid {
					p = q
					break
				}
			}
			if p >= 0 && t-u.parts[p].last > SessionGap {
				p = -1 // the id was reused after a pause: a new session
			}
			if p < 0 {
				u.parts = append(u.parts, part{sid: sid, first: t, last: t, firstItem: itemv[r], lastItem: itemv[r], items: 1})
				p = len(u.parts) - 1
			} else {
				pp := &u.parts[p]
				pp.items++
				pp.last = t
				if itemv[r] <= pp.lastItem {
					pp.nonMono++
				}
				pp.lastItem = itemv[r]
			}
			if e.Page[r] == nextSong {
				u.parts[p].songs++
				if e.LengthOK[r] {
					u.parts[p].listen += lenv[r]
				}
			}
		}
	}
	byInput := make([]int, len(emits))
	for i := range byInput {
		byInput[i] = i
	}
	slices.SortFunc(byInput, func(x, y int) int {
		a, b := rows[emits[x].row], rows[emits[y].row]
		return cmp.Or(cmp.Compare(a.Batch, b.Batch), cmp.Compare(a.Row, b.Row))
	})
	for _, i := range byInput {
		em := emits[i]
		ref := rows[em.row]
		a, r := attrs[ref.Batch], int(ref.Row)
		v := &em.u.levels[em.i]
		if v.regOK = a.reg.IsValid(r); v.regOK {
			v.reg = a.reg.Value(r)
		}
		for k, c := range [5]*array.String{a.gender, a.location, a.agent, a.first, a.last} {
			if v.ok[k] = c.IsValid(r); v.ok[k] {
				v.s[k] = ds.intern(c.Value(r))
			}
		}
	}
}

// finish returns the day's session parts (by user_id, session_id,
// first_ts) and level history (by user_id, ts), and counts users,
// session parts and non-monotonic items into st.
func (ds *daySessions) finish(mem memory.Allocator, st *DayStats) (arrow.RecordBatch, arrow.RecordBatch) {
	pb := array.NewRecordBuilder(mem, SessionPartsSchema)
	defer pb.Release()
	lb := array.NewRecordBuilder(mem, LevelHistorySchema)
	defer lb.Release()
	pUser := pb.Field(0).(*array.StringBuilder)
	pSid := pb.Field(1).(*array.Int64Builder)
	pFirst := pb.Field(2).(*array.TimestampBuilder)
	pLast := pb.Field(3).(*array.TimestampBuilder)
	pItems := pb.Field(4).(*array.Int64Builder)
	pSongs := pb.Field(5).(*array.Int64Builder)
	pListen := pb.Field(6).(*array.Float64Builder)
	pFI := pb.Field(7).(*array.Int32Builder)
	pLI := pb.Field(8).(*array.Int32Builder)
	pNM := pb.Field(9).(*array.Int64Builder)
	lUser := lb.Field(0).(*array.StringBuilder)
	lTS := lb.Field(1).(*array.TimestampBuilder)
	lLevel := lb.Field(2).(*array.StringBuilder)
	lReg := lb.Field(3).(*array.TimestampBuilder)
	var lStr [5]*array.StringBuilder
	for k := range lStr {
		lStr[k] = lb.Field(4 + k).(*array.StringBuilder)
	}
	names := ds.names
	if !ds.sorted {
		slices.Sort(names)
	}
	for _, name := range names {
		u := ds.users[name]
		st.Users++
		slices.SortFunc(u.parts, func(a, b part) int { return cmp.Or(cmp.Compare(a.sid, b.sid), cmp.Compare(a.first, b.first)) })
		for _, p := range u.parts {
			appendStr(pUser, name)
			pSid.Append(p.sid)
			pFirst.Append(arrow.Timestamp(p.first))
			pLast.Append(arrow.Timestamp(p.last))
			pItems.Append(p.items)
			pSongs.Append(p.songs)
			pListen.Append(p.listen)
			pFI.Append(p.firstItem)
			pLI.Append(p.lastItem)
			pNM.Append(p.nonMono)
			st.NonMonotonic += p.nonMono
			st.Sessions++
		}
		for _, v := range u.levels {
			appendStr(lUser, name)
			lTS.Append(arrow.Timestamp(v.ts))
			appendStr(lLevel, v.level)
			if v.regOK {
				lReg.Append(v.reg)
			} else {
				lReg.AppendNull()
			}
			for k, b := range lStr {
				if v.ok[k] {
					appendStr(b, v.s[k])
				} else {
					b.AppendNull()
				}
			}
		}
	}
	return pb.NewRecordBatch(), lb.NewRecordBatch()
}
