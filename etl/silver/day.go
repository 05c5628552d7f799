package silver

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/internal/day"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// DayMillis is one UTC day in milliseconds.
const DayMillis = 86_400_000

// Options configure ProcessDay.
type Options struct {
	// AnonymousUserIDs are user ids treated like an empty user_id (logged-out
	// traffic under a sentinel id). Nil means only "" is anonymous.
	AnonymousUserIDs map[string]bool
}

// DayStats counts what ProcessDay saw; the quality checks read it.
type DayStats struct {
	BronzeRows        int64 `json:"bronze_rows"`
	UserRows          int64 `json:"user_rows"`
	AnonymousRows     int64 `json:"anonymous_rows"`
	DuplicatesRemoved int64 `json:"duplicates_removed"`
	// KeyConflicts counts rows sharing an event key (user_id, session_id,
	// item_in_session, ts) with a kept row but differing in content.
	KeyConflicts int64 `json:"key_conflicts"`
	// NonMonotonic counts events whose item_in_session is not greater than
	// the previous event of the same session that day.
	NonMonotonic int64 `json:"non_monotonic_items"`
	Sessions     int64 `json:"session_parts"`
	Users        int64 `json:"users"`
	// Quality counters over user rows (after dedup).
	NullRequired int64 `json:"null_required"`
	BadLevel     int64 `json:"bad_level"`
	BadMethod    int64 `json:"bad_method"`
	BadAuth      int64 `json:"bad_auth"`
	BadStatus    int64 `json:"bad_status"`
	OutsideDay   int64 `json:"outside_day"`
	MinTS        int64 `json:"min_ts"`
	MaxTS        int64 `json:"max_ts"`
}

// Add adds o's counters to s (MinTS/MaxTS are merged as min/max).
func (s *DayStats) Add(o DayStats) {
	if o.UserRows+o.AnonymousRows > 0 {
		if s.UserRows+s.AnonymousRows == 0 || o.MinTS < s.MinTS {
			s.MinTS = o.MinTS
		}
		if s.UserRows+s.AnonymousRows == 0 || o.MaxTS > s.MaxTS {
			s.MaxTS = o.MaxTS
		}
	}
	s.BronzeRows += o.BronzeRows
	s.UserRows += o.UserRows
	s.AnonymousRows += o.AnonymousRows
	s.DuplicatesRemoved += o.DuplicatesRemoved
	s.KeyConflicts += o.KeyConflicts
	s.NonMonotonic += o.NonMonotonic
	s.Sessions += o.Sessions
	s.Users += o.Users
	s.NullRequired += o.NullRequired
	s.BadLevel += o.BadLevel
	s.BadMethod += o.BadMethod
	s.BadAuth += o.BadAuth
	s.BadStatus += o.BadStatus
	s.OutsideDay += o.OutsideDay
}

// DayResult holds one day's silver tables. Release frees them.
type DayResult struct {
	Day int64 // day start, Unix ms
	// Events holds the user events sorted by user_id, ts, session_id,
	// item_in_session, in the compact form sessions and gold read. The
	// whole rows of silver/events are rows EventRows of Input (no copy);
	// the file holds them in bronze order (FileRows).
	Events    *Sorted
	Input     []arrow.RecordBatch // the day's bronze batches, EventColumns only
	EventRows []parquetio.RowRef  // the user events of Input, in Events' order
	// Anonymous holds the anonymous rows (EventColumns), in bronze order
	// (ts, source_file, line_number).
	Anonymous    arrow.RecordBatch
	SessionParts arrow.RecordBatch
	LevelHistory arrow.RecordBatch
	Stats        DayStats
	// UsersExact is set when the user events are exactly the input's rows
	// with a non-empty user_id (no duplicate removed, no --anonymous-user-ids
	// row moved), and AnonExact when the anonymous rows are exactly those
	// with an empty user_id: a bronze file holding just those rows, in
	// bronze order, is then the silver file.
	UsersExact, AnonExact bool
	// Report receives the day's checks (the run's report, or the day's own
	// when the day was processed early and may be processed again).
	Report *quality.Report

	es       []*events          // bound Input, for FileRows
	anonRefs []parquetio.RowRef // the anonymous rows of Input, in bronze order
	dropped  []parquetio.RowRef // the rows of Input removed as duplicates
}

// FileRows returns EventRows in bronze order (ts, source_file,
// line_number): the rows of silver/events, in file order.
func (r *DayResult) FileRows() []parquetio.RowRef {
	refs := slices.Clone(r.EventRows)
	bronzeOrder(r.es, refs)
	return refs
}

// bronzeOrder sorts refs by (ts, source_file, line_number), bronze's row
// order, then by position (a total order).
func bronzeOrder(es []*events, refs []parquetio.RowRef) {
	c := func(x, y parquetio.RowRef) int {
		ex, ix, ey, iy := es[x.Batch], int(x.Row), es[y.Batch], int(y.Row)
		if c := cmp.Compare(ex.ts.Value(ix), ey.ts.Value(iy)); c != 0 {
			return c
		}
		if c := strings.Compare(ex.sourceFile.Value(ix), ey.sourceFile.Value(iy)); c != 0 {
			return c
		}
		if c := cmp.Compare(ex.line.Value(ix), ey.line.Value(iy)); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.Batch, y.Batch), cmp.Compare(x.Row, y.Row))
	}
	if !slices.IsSortedFunc(refs, c) {
		slices.SortFunc(refs, c)
	}
}

// Release releases the batches.
func (r *DayResult) Release() {
	for _, b := range append([]arrow.RecordBatch{r.Anonymous, r.SessionParts, r.LevelHistory}, r.Input...) {
		if b != nil {
			b.Release()
		}
	}
	r.Input = nil
}

type sortKey struct {
	rank int32
	item int32
	ts   int64
	sid  int64
	row  int32
}

// ProcessDay cleans one day of bronze events (dayStart: the day's first
// millisecond). in is the whole day (all of the partition's files). The
// returned batches are sorted deterministically; equal input gives equal
// output whatever the input row order.
func ProcessDay(ctx context.Context, mem memory.Allocator, dayStart int64, in arrow.RecordBatch, opt Options) (*DayResult, error) {
	return ProcessDayBatches(ctx, mem, dayStart, []arrow.RecordBatch{in}, opt)
}

// ProcessDayBatches is ProcessDay over a day given as several batches of
// one schema (bronze's decode chunks), which are referenced, not copied.
func ProcessDayBatches(ctx context.Context, mem memory.Allocator, dayStart int64, ins []arrow.RecordBatch, opt Options) (*DayResult, error) {
	res, err := processDayBatches(ctx, mem, dayStart, ins, opt, noLimit)
	if err != nil {
		return nil, err
	}
	ds := newDaySessions()
	ds.add(res.Events, res.es, res.EventRows)
	res.SessionParts, res.LevelHistory = ds.finish(mem, &res.Stats)
	if err := res.takeAnonymous(mem); err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}

// noLimit is the limit of processDayBatches that keeps every row.
const noLimit = math.MaxInt64

// takeAnonymous fills r.Anonymous (processDayBatches leaves it to the
// caller: a day whose bronze file of logged-out rows becomes silver's as is
// never needs it).
func (r *DayResult) takeAnonymous(mem memory.Allocator) error {
	if r.Anonymous != nil {
		return nil
	}
	cols := make([]int, len(EventColumns))
	for j := range cols {
		cols[j] = j
	}
	var err error
	r.Anonymous, err = takeRows(mem, r.Input, cols, r.anonRefs)
	return err
}

// processDayBatches is ProcessDayBatches without Anonymous, SessionParts
// and LevelHistory (and the counts they make: Users, Sessions,
// NonMonotonic), over the rows of ins with ts < limit (the others are
// left out: a stretch of the day, see dayBuilder).
func processDayBatches(ctx context.Context, mem memory.Allocator, dayStart int64, ins []arrow.RecordBatch, opt Options, limit int64) (*DayResult, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("silver: no input batch")
	}
	es := make([]*events, len(ins))
	offs := make([]int32, len(ins)+1) // global row number of each batch's first row
	for b, in := range ins {
		e, err := bindEvents(in)
		if err != nil {
			return nil, err
		}
		es[b] = e
		offs[b+1] = offs[b] + int32(e.n)
	}
	n := int(offs[len(ins)])
	// at maps a global row number to its batch and row.
	at := func(g int32) (*events, int) {
		b := sort.Search(len(ins), func(i int) bool { return offs[i+1] > g }) // few batches
		return es[b], int(g - offs[b])
	}
	res := &DayResult{Day: dayStart, es: es}
	st := &res.Stats
	st.BronzeRows = int64(n)

	// Rank user ids so the sort compares integers: one map lookup per row
	// numbers the ids in order of appearance, then sorting the distinct ids
	// turns those numbers into ranks.
	ids := make(map[string]int32, 4096)
	var names []string
	rowRank := make([]int32, n)
	const out = -1 // rank of a row left out (ts >= limit)
	left := 0
	for b, e := range es {
		tsv := e.ts.TimestampValues()
		for i := 0; i < e.n; i++ {
			if limit != noLimit && int64(tsv[i]) >= limit {
				rowRank[int(offs[b])+i] = out
				left++
				continue
			}
			u := e.user.Value(i)
			k, ok := ids[u]
			if !ok {
				k = int32(len(names))
				ids[u] = k
				names = append(names, u)
			}
			rowRank[int(offs[b])+i] = k
		}
	}
	order := make([]int32, len(names)) // rank -> first-seen number
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(names[a], names[b]) })
	rankOf := make([]int32, len(names)) // first-seen number -> rank
	for r, k := range order {
		rankOf[k] = int32(r)
	}
	anon := make([]bool, len(names))
	listed := make([]bool, len(names)) // ids of --anonymous-user-ids
	for r, k := range order {
		u := names[k]
		listed[r] = u != "" && opt.AnonymousUserIDs[u]
		anon[r] = u == "" || listed[r]
	}
	for i, k := range rowRank {
		if k != out {
			rowRank[i] = rankOf[k]
		}
	}
	st.BronzeRows = int64(n - left)

	// Counting sort by user rank (stable), then a small sort per user by
	// (ts, session_id, item_in_session) with full-content tie-breaks. Bronze
	// days usually arrive in ts order, so most per-user runs are already
	// sorted and only checked.
	start := make([]int32, len(names)+1)
	for _, r := range rowRank {
		if r != out {
			start[r+1]++
		}
	}
	for r := 1; r <= len(names); r++ {
		start[r] += start[r-1]
	}
	keys := make([]sortKey, n-left)
	fill := slices.Clone(start[:len(names)])
	for b, e := range es {
		tsv := e.ts.TimestampValues()
		sidv := e.session.Int64Values()
		itemv := e.item.Int32Values()
		for i := 0; i < e.n; i++ {
			g := offs[b] + int32(i)
			r := rowRank[g]
			if r == out {
				continue
			}
			keys[fill[r]] = sortKey{rank: r, item: itemv[i], ts: int64(tsv[i]), sid: sidv[i], row: g}
			fill[r]++
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	less := func(a, b sortKey) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		if c := cmp.Compare(a.sid, b.sid); c != 0 {
			return c
		}
		if c := cmp.Compare(a.item, b.item); c != 0 {
			return c
		}
		ea, ia := at(a.row)
		eb, ib := at(b.row)
		if c := compareContent(ea, ia, eb, ib); c != 0 {
			return c
		}
		if c := strings.Compare(ea.sourceFile.Value(ia), eb.sourceFile.Value(ib)); c != 0 {
			return c
		}
		if c := cmp.Compare(ea.line.Value(ia), eb.line.Value(ib)); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	}
	userKeys := make([]sortKey, 0, n-left)
	var anonKeys []sortKey
	moved := false // a listed id's rows moved to the anonymous rows
	for r := range names {
		run := keys[start[r]:start[r+1]]
		moved = moved || (listed[r] && len(run) > 0)
		if !slices.IsSortedFunc(run, less) {
			slices.SortFunc(run, less)
		}
		if anon[r] {
			anonKeys = append(anonKeys, run...)
		} else {
			userKeys = append(userKeys, run...)
		}
	}

	same := func(a, b int32) bool {
		ea, ia := at(a)
		eb, ib := at(b)
		return compareContent(ea, ia, eb, ib) == 0
	}
	var dropped []int32
	userKept, dupU, confU := dedup(userKeys, same, &dropped)
	anonKept, dupA, confA := dedup(anonKeys, same, &dropped)
	userRows, anonRows := rowsOf(userKept), rowsOf(anonKept)
	st.DuplicatesRemoved = dupU + dupA
	st.KeyConflicts = confU + confA
	st.UserRows = int64(len(userRows))
	st.AnonymousRows = int64(len(anonRows))
	res.UsersExact = dupU == 0 && !moved
	res.AnonExact = dupA == 0 && !moved
	refsOf := func(rows []int32) []parquetio.RowRef {
		out := make([]parquetio.RowRef, len(rows))
		b := 0
		for k, g := range rows {
			if g < offs[b] || g >= offs[b+1] {
				b = sort.Search(len(ins), func(i int) bool { return offs[i+1] > g })
			}
			out[k] = parquetio.RowRef{Batch: int32(b), Row: g - offs[b]}
		}
		return out
	}
	res.EventRows = refsOf(userRows)
	slices.Sort(dropped)
	res.dropped = refsOf(dropped)
	anonRefs := refsOf(anonRows)
	bronzeOrder(es, anonRefs)
	first := true
	for _, refs := range [][]parquetio.RowRef{res.EventRows, anonRefs} {
		for _, r := range refs {
			t := int64(es[r.Batch].ts.Value(int(r.Row)))
			if first || t < st.MinTS {
				st.MinTS = t
			}
			if first || t > st.MaxTS {
				st.MaxTS = t
			}
			first = false
		}
	}
	if dupU == 0 {
		// The user rows are the input rows of non-anonymous users: count
		// them in input order (sequential reads).
		for b, e := range es {
			nulls := e.hasNullRequired()
			for i := 0; i < e.n; i++ {
				if r := rowRank[int(offs[b])+i]; r != out && !anon[r] {
					e.qualityCount(i, nulls, dayStart, st)
				}
			}
		}
	} else {
		for _, ref := range res.EventRows {
			e := es[ref.Batch]
			e.qualityCount(int(ref.Row), true, dayStart, st)
		}
	}

	cols := make([]int, len(EventColumns))
	for j, c := range EventColumns {
		cols[j] = ins[0].Schema().FieldIndices(c)[0]
	}
	fields := make([]arrow.Field, len(cols))
	for j, c := range cols {
		fields[j] = ins[0].Schema().Field(c)
	}
	schema := arrow.NewSchema(fields, nil)
	for _, in := range ins {
		pc := make([]arrow.Array, len(cols))
		for j, c := range cols {
			pc[j] = in.Column(c)
		}
		res.Input = append(res.Input, array.NewRecordBatch(schema, pc, in.NumRows()))
	}
	res.Events = buildSorted(es, offs, res.EventRows, userKept, names, order)
	res.anonRefs = anonRefs
	if err := ctx.Err(); err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}

// dedup walks sorted keys and returns the kept ones; same reports whether
// two rows are equal in all event fields.
func dedup(keys []sortKey, same func(a, b int32) bool, dropped *[]int32) (kept []sortKey, dups, conflicts int64) {
	kept = make([]sortKey, 0, len(keys))
	for i, k := range keys {
		if i > 0 {
			p := keys[i-1]
			if p.rank == k.rank && p.ts == k.ts && p.sid == k.sid && p.item == k.item {
				if same(kept[len(kept)-1].row, k.row) {
					dups++
					*dropped = append(*dropped, k.row)
					continue
				}
				conflicts++
			}
		}
		kept = append(kept, k)
	}
	return kept, dups, conflicts
}

// rowsOf returns the global row numbers of keys.
func rowsOf(keys []sortKey) []int32 {
	rows := make([]int32, len(keys))
	for i, k := range keys {
		rows[i] = k.row
	}
	return rows
}

func cmpStr(a *array.String, i int, b *array.String, j int) int {
	ni, nj := a.IsNull(i), b.IsNull(j)
	switch {
	case ni && nj:
		return 0
	case ni:
		return -1
	case nj:
		return 1
	}
	return strings.Compare(a.Value(i), b.Value(j))
}

type nullableArray[T cmp.Ordered] interface {
	IsNull(int) bool
	Value(int) T
}

func cmpNullable[T cmp.Ordered, A nullableArray[T]](a A, i int, b A, j int) int {
	ni, nj := a.IsNull(i), b.IsNull(j)
	switch {
	case ni && nj:
		return 0
	case ni:
		return -1
	case nj:
		return 1
	}
	return cmp.Compare(a.Value(i), b.Value(j))
}

// compareContent orders row i of a and row j of b by all 18 event fields
// (nulls first).
func compareContent(a *events, i int, b *events, j int) int {
	if c := cmpNullable[arrow.Timestamp](a.ts, i, b.ts, j); c != 0 {
		return c
	}
	sa := [...]*array.String{a.user, a.page, a.auth, a.method, a.level}
	sb := [...]*array.String{b.user, b.page, b.auth, b.method, b.level}
	for k := range sa {
		if c := cmpStr(sa[k], i, sb[k], j); c != 0 {
			return c
		}
	}
	if c := cmpNullable[int64](a.session, i, b.session, j); c != 0 {
		return c
	}
	if c := cmpNullable[int32](a.status, i, b.status, j); c != 0 {
		return c
	}
	if c := cmpNullable[int32](a.item, i, b.item, j); c != 0 {
		return c
	}
	ta := [...]*array.String{a.location, a.agent, a.last, a.first, a.gender, a.artist, a.song}
	tb := [...]*array.String{b.location, b.agent, b.last, b.first, b.gender, b.artist, b.song}
	for k := range ta {
		if c := cmpStr(ta[k], i, tb[k], j); c != 0 {
			return c
		}
	}
	if c := cmpNullable[arrow.Timestamp](a.reg, i, b.reg, j); c != 0 {
		return c
	}
	return cmpNullable[float64](a.length, i, b.length, j)
}

// hasNullRequired reports whether a required column of e has a null.
func (e *events) hasNullRequired() bool {
	for _, a := range []arrow.Array{e.ts, e.session, e.page, e.auth, e.method, e.status, e.level, e.item, e.user} {
		if a.NullN() > 0 {
			return true
		}
	}
	return false
}

// qualityCount adds row r to the quality counters of st; nulls says
// whether the required columns may hold nulls.
func (e *events) qualityCount(r int, nulls bool, dayStart int64, st *DayStats) {
	if nulls && (e.ts.IsNull(r) || e.session.IsNull(r) || e.page.IsNull(r) || e.auth.IsNull(r) || e.method.IsNull(r) ||
		e.status.IsNull(r) || e.level.IsNull(r) || e.item.IsNull(r) || e.user.IsNull(r)) {
		st.NullRequired++
	}
	if t := int64(e.ts.Value(r)); t < dayStart || t >= dayStart+DayMillis {
		st.OutsideDay++
	}
	switch e.level.Value(r) {
	case "free", "paid":
	default:
		st.BadLevel++
	}
	switch e.method.Value(r) {
	case "GET", "PUT":
	default:
		st.BadMethod++
	}
	switch e.auth.Value(r) {
	case "Logged In", "Cancelled", "Logged Out", "Guest":
	default:
		st.BadAuth++
	}
	switch e.status.Value(r) {
	case 200, 307, 404:
	default:
		st.BadStatus++
	}
}

type part struct {
	sid                 int64
	first, last         int64
	items, songs        int64
	listen              float64
	firstItem, lastItem int32
	nonMono             int64
}

// DayString formats a day start (Unix ms) as YYYY-MM-DD.
func DayString(dayStart int64) string { return day.OfMS(dayStart).String() }

func timeOf(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// DayOf returns the start of ms's UTC day.
func DayOf(ms int64) int64 {
	d := ms / DayMillis
	if ms < 0 && ms%DayMillis != 0 {
		d--
	}
	return d * DayMillis
}
