package gold

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/exitcode"
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
		return zero, fmt.Errorf("%w: batch has no column %q", exitcode.ErrBadInput, name)
	}
	c, ok := b.Column(idx[0]).(T)
	if !ok {
		return zero, fmt.Errorf("%w: column %q has type %s, want %T", exitcode.ErrBadInput, name, b.Column(idx[0]).DataType(), zero)
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
	return userDay(mem, dayStart, ev, nil)
}

// userDay is UserDay; it also adds the pages counted in n_other to others
// (when not nil).
func userDay(mem memory.Allocator, dayStart int64, ev *silver.Sorted, others map[string]struct{}) (arrow.RecordBatch, error) {
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
	dt := arrow.Date32(dayStart / 86_400_000)

	// The page column of each page code; the codes counted in n_other.
	pageOf := make([]int, len(ev.Pages))
	for c, p := range ev.Pages {
		pageOf[c] = pageIndex(p)
	}
	paidCode := int32(slices.Index(ev.Levels, "paid")) // -1: none
	other := make([]bool, len(ev.Pages))
	tsv, sidv, lenv := ev.TS, ev.Sess, ev.Length

	var counts [pageOther + 1]int64
	sids := make([]int64, 0, 16)
	hashes := make([]uint64, 0, 256)
	sketch := make([]byte, 0, 2048)
	for ui, u := range ev.Users {
		if ui > 0 && u <= ev.Users[ui-1] {
			return nil, fmt.Errorf("%w: fact_user_day: events not sorted by user_id (%q after %q)", exitcode.ErrBadInput, u, ev.Users[ui-1])
		}
		start, end := int(ev.Starts[ui]), int(ev.Starts[ui+1])
		counts = [pageOther + 1]int64{}
		sids, hashes = sids[:0], hashes[:0]
		var listen float64
		var paid int64
		first, last := tsv[start], tsv[start]
		for r := start; r < end; r++ {
			c := ev.Page[r]
			p := pageOf[c]
			counts[p]++
			if p == pageOther {
				other[c] = true
			}
			if p == 0 {
				if ev.LengthOK[r] {
					listen += lenv[r]
				}
				if ev.ArtistOK[r] {
					hashes = append(hashes, ev.ArtistHash[r])
				}
			}
			if ev.Level[r] == paidCode {
				paid++
			}
			if s := sidv[r]; !slices.Contains(sids, s) {
				sids = append(sids, s)
			}
			t := tsv[r]
			first, last = min(first, t), max(last, t)
		}
		slices.Sort(hashes)
		hashes = slices.Compact(hashes)
		sketch = sketch[:0]
		for _, h := range hashes {
			sketch = binary.LittleEndian.AppendUint64(sketch, h)
		}
		appendStr(fUser, u)
		fDt.Append(dt)
		fEvents.Append(int64(end - start))
		fSessions.Append(int64(len(sids)))
		for k, c := range counts {
			fPages[k].Append(c)
		}
		fSongs.Append(counts[0])
		fListen.Append(listen)
		fDistinct.Append(int64(len(hashes)))
		fSketch.Append(sketch)
		fPaid.Append(paid)
		appendStr(fLevelEnd, ev.Levels[ev.Level[end-1]])
		fFirst.Append(arrow.Timestamp(first))
		fLast.Append(arrow.Timestamp(last))
	}
	if others != nil {
		for c, used := range other {
			if used {
				others[ev.Pages[c]] = struct{}{}
			}
		}
	}
	return bld.NewRecordBatch(), nil
}
