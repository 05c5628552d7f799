package gold

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/errkind"
)

// HashArtist is the artist_sketch hash: FNV-1a 64 of the name's bytes.
func HashArtist(s string) uint64 { return silver.HashArtist(s) }

// SketchCount is the number of distinct artists in a sketch.
func SketchCount(s []byte) int { return len(s) / 8 }

// SketchUnion returns the union of sketches a and b (each sorted unique
// little-endian uint64s) as a new sketch.
func SketchUnion(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0:
			return append(out, a...)
		case len(a) == 0:
			return append(out, b...)
		}
		x, y := binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b)
		switch {
		case x < y:
			out, a = append(out, a[:8]...), a[8:]
		case y < x:
			out, b = append(out, b[:8]...), b[8:]
		default:
			out, a, b = append(out, a[:8]...), a[8:], b[8:]
		}
	}
	return out
}

func column[T arrow.Array](b arrow.RecordBatch, name string) (T, error) {
	var zero T
	idx := b.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return zero, fmt.Errorf("%w: batch has no column %q", errkind.BadInput, name)
	}
	c, ok := b.Column(idx[0]).(T)
	if !ok {
		return zero, fmt.Errorf("%w: column %q has type %s, want %T", errkind.BadInput, name, b.Column(idx[0]).DataType(), zero)
	}
	return c, nil
}

func appendStr(bld *array.StringBuilder, s string) {
	bld.BinaryBuilder.Append(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// UserDay aggregates one day of silver events (sorted by user_id, ts,
// session_id, item_in_session, as silver sorts them) into fact_user_day
// rows, one per user, in user_id order. dayStart is the day's first
// millisecond (UTC).
func UserDay(mem memory.Allocator, dayStart int64, ev *silver.Sorted) (arrow.RecordBatch, error) {
	acc := NewUserDays(dayStart)
	if err := acc.Events(ev); err != nil {
		return nil, err
	}
	return acc.Finish(mem), nil
}

// userAcc is one user's fact_user_day row so far.
type userAcc struct {
	events int64
	counts [pageOther + 1]int64
	listen float64
	paid   int64
	// sessions counts the user's sessions that day: a session_id seen for
	// the first time, or again after a pause longer than silver.SessionGap
	// (a reused id, a session of its own, as silver splits it).
	sessions    int64
	sids        []sidLast
	hashes      []uint64 // distinct artist hashes, sorted
	level       string
	first, last int64
}

type sidLast struct{ sid, last int64 }

// UserDays accumulates one day's fact_user_day rows from the day's user
// events given in stretches (silver.DaySink): per user the running counts
// and sums, so that the rows are those of the whole day at once. It is
// not safe for concurrent use.
type UserDays struct {
	day     int64
	users   map[string]*userAcc
	names   []string // the users, as they came (sorted: one stretch, or each new user after the others)
	sorted  bool
	others  map[string]struct{} // pages counted in n_other
	levels  map[string]string   // interned level values
	n       int64
	free    []userAcc // allocated in blocks
	scratch []uint64
}

// NewUserDays returns an empty accumulator for day dayStart.
func NewUserDays(dayStart int64) *UserDays {
	return &UserDays{day: dayStart, users: map[string]*userAcc{}, others: map[string]struct{}{}, levels: map[string]string{}, sorted: true}
}

// Events adds a stretch of the day's user events (later in ts than the
// stretches before).
func (g *UserDays) Events(ev *silver.Sorted) error {
	// The page column of each page code; the codes counted in n_other.
	pageOf := make([]int, len(ev.Pages))
	for c, p := range ev.Pages {
		pageOf[c] = pageIndex(p)
	}
	levels := make([]string, len(ev.Levels))
	for i, l := range ev.Levels {
		v, ok := g.levels[l]
		if !ok {
			v = strings.Clone(l)
			g.levels[v] = v
		}
		levels[i] = v
	}
	paidCode := int32(slices.Index(ev.Levels, "paid")) // -1: none
	other := make([]bool, len(ev.Pages))
	tsv, sidv, lenv := ev.TS, ev.Sess, ev.Length
	for ui, u := range ev.Users {
		if ui > 0 && u <= ev.Users[ui-1] {
			return fmt.Errorf("%w: fact_user_day: events not sorted by user_id (%q after %q)", errkind.BadInput, u, ev.Users[ui-1])
		}
		start, end := int(ev.Starts[ui]), int(ev.Starts[ui+1])
		a := g.users[u]
		if a == nil {
			if len(g.free) == 0 {
				g.free = make([]userAcc, 256)
			}
			a = &g.free[0]
			g.free = g.free[1:]
			a.first, a.last = tsv[start], tsv[start]
			g.users[u] = a // Sorted.Users are copies: kept as they are
			if n := len(g.names); n > 0 && u < g.names[n-1] {
				g.sorted = false
			}
			g.names = append(g.names, u)
		}
		hashes := g.scratch[:0]
		for r := start; r < end; r++ {
			c := ev.Page[r]
			p := pageOf[c]
			a.counts[p]++
			if p == pageOther {
				other[c] = true
			}
			if p == 0 {
				if ev.LengthOK[r] {
					a.listen += lenv[r]
				}
				if ev.ArtistOK[r] {
					hashes = append(hashes, ev.ArtistHash[r])
				}
			}
			if ev.Level[r] == paidCode {
				a.paid++
			}
			t := tsv[r]
			s := sidv[r]
			k := slices.IndexFunc(a.sids, func(x sidLast) bool { return x.sid == s })
			switch {
			case k < 0:
				a.sids = append(a.sids, sidLast{s, t})
				a.sessions++
			case t-a.sids[k].last > silver.SessionGap:
				a.sessions++
				fallthrough
			default:
				a.sids[k].last = t
			}
			a.first, a.last = min(a.first, t), max(a.last, t)
		}
		// The stretch's distinct artists, merged into the user's set.
		slices.Sort(hashes)
		hashes = slices.Compact(hashes)
		if len(a.hashes) == 0 {
			a.hashes = slices.Clone(hashes)
		} else if len(hashes) > 0 {
			a.hashes = mergeSet(a.hashes, hashes)
		}
		g.scratch = hashes
		a.events += int64(end - start)
		a.level = levels[ev.Level[end-1]]
		g.n += int64(end - start)
	}
	for c, used := range other {
		if used {
			g.others[ev.Pages[c]] = struct{}{}
		}
	}
	return nil
}

// Release drops the accumulated rows.
func (g *UserDays) Release() { clear(g.users); g.names = nil }

// NumEvents returns the number of events added.
func (g *UserDays) NumEvents() int64 { return g.n }

// Finish returns the day's fact_user_day rows, in user_id order.
func (g *UserDays) Finish(mem memory.Allocator) arrow.RecordBatch {
	bld := array.NewRecordBuilder(mem, FactUserDaySchema)
	defer bld.Release()
	fUser := bld.Field(0).(*array.StringBuilder)
	fDt := bld.Field(1).(*array.Date32Builder)
	fEvents := bld.Field(2).(*array.Int64Builder)
	fSessions := bld.Field(3).(*array.Int64Builder)
	fPages := make([]*array.Int64Builder, pageOther+1)
	for k := range fPages {
		fPages[k] = bld.Field(4 + k).(*array.Int64Builder)
	}
	base := 4 + pageOther + 1
	fSongs := bld.Field(base).(*array.Int64Builder)
	fListen := bld.Field(base + 1).(*array.Float64Builder)
	fDistinct := bld.Field(base + 2).(*array.Int64Builder)
	fSketch := bld.Field(base + 3).(*array.BinaryBuilder)
	fPaid := bld.Field(base + 4).(*array.Int64Builder)
	fLevelEnd := bld.Field(base + 5).(*array.StringBuilder)
	fFirst := bld.Field(base + 6).(*array.TimestampBuilder)
	fLast := bld.Field(base + 7).(*array.TimestampBuilder)
	dt := arrow.Date32(g.day / 86_400_000)

	names := g.names
	if !g.sorted {
		slices.Sort(names)
	}
	bld.Reserve(len(names))
	sketch := make([]byte, 0, 2048)
	for _, u := range names {
		a := g.users[u]
		sketch = sketch[:0]
		for _, h := range a.hashes {
			sketch = binary.LittleEndian.AppendUint64(sketch, h)
		}
		appendStr(fUser, u)
		fDt.Append(dt)
		fEvents.Append(a.events)
		fSessions.Append(a.sessions)
		for k, c := range a.counts {
			fPages[k].Append(c)
		}
		fSongs.Append(a.counts[0])
		fListen.Append(a.listen)
		fDistinct.Append(int64(len(a.hashes)))
		fSketch.Append(sketch)
		fPaid.Append(a.paid)
		appendStr(fLevelEnd, a.level)
		fFirst.Append(arrow.Timestamp(a.first))
		fLast.Append(arrow.Timestamp(a.last))
	}
	return bld.NewRecordBatch()
}

// Others returns the pages counted in n_other.
func (g *UserDays) Others() map[string]struct{} { return g.others }

// mergeSet returns the union of sorted sets a and b (sorted).
func mergeSet(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}
