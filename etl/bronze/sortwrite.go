package bronze

import (
	"cmp"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// keyCols are the typed sort-key columns of one batch.
type keyCols struct {
	ts     []arrow.Timestamp
	source *array.String
	line   []int64
}

func keysOf(rec arrow.RecordBatch) keyCols {
	return keyCols{
		ts:     rec.Column(cTS).(*array.Timestamp).TimestampValues(),
		source: rec.Column(cSourceFile).(*array.String),
		line:   rec.Column(cLineNumber).(*array.Int64).Int64Values(),
	}
}

// compareRows orders events by (ts, source_file, line_number): a total
// order (the last two identify a line) that does not depend on goroutine
// scheduling, and that logs written in time order already have, so the
// common case needs no reordering.
func compareRows(a *keyCols, i int, b *keyCols, j int) int {
	if c := cmp.Compare(a.ts[i], b.ts[j]); c != 0 {
		return c
	}
	if c := strings.Compare(a.source.Value(i), b.source.Value(j)); c != 0 {
		return c
	}
	return cmp.Compare(a.line[i], b.line[j])
}

// isSorted reports whether the concatenation of batches is in key order.
func isSorted(keys []keyCols, recs []arrow.RecordBatch) bool {
	var prev *keyCols
	prevRow := 0
	for bi := range recs {
		k := &keys[bi]
		for r := 0; r < int(recs[bi].NumRows()); r++ {
			if prev != nil && compareRows(prev, prevRow, k, r) > 0 {
				return false
			}
			prev, prevRow = k, r
		}
	}
	return true
}

// sortedRefs returns the rows of recs in key order, split into the rows
// of known users and the logged-out rows (empty user_id). ok is false when
// recs already are in key order and hold no logged-out row: they can be
// written as they are.
func sortedRefs(recs []arrow.RecordBatch) (users, anon []parquetio.RowRef, ok bool) {
	keys := make([]keyCols, len(recs))
	uids := make([]*array.String, len(recs))
	var total int
	hasAnon := false
	for i, r := range recs {
		keys[i] = keysOf(r)
		uids[i] = r.Column(cUserID).(*array.String)
		total += int(r.NumRows())
		for j := 0; !hasAnon && j < uids[i].Len(); j++ {
			hasAnon = uids[i].ValueLen(j) == 0
		}
	}
	sorted := isSorted(keys, recs)
	if sorted && !hasAnon {
		return nil, nil, false
	}
	refs := make([]parquetio.RowRef, 0, total)
	for bi, r := range recs {
		for ri := range int32(r.NumRows()) {
			refs = append(refs, parquetio.RowRef{Batch: int32(bi), Row: ri})
		}
	}
	if !sorted {
		slices.SortFunc(refs, func(x, y parquetio.RowRef) int {
			return compareRows(&keys[x.Batch], int(x.Row), &keys[y.Batch], int(y.Row))
		})
	}
	users = make([]parquetio.RowRef, 0, total)
	for _, ref := range refs {
		if uids[ref.Batch].ValueLen(int(ref.Row)) == 0 {
			anon = append(anon, ref)
		} else {
			users = append(users, ref)
		}
	}
	return users, anon, true
}

// writeRows writes the rows of recs (all of schema EventsSchema) that refs
// references, in that order, or all rows in batch order when all is set,
// as one Parquet file to w. It returns the number of rows.
func writeRows(w io.Writer, recs []arrow.RecordBatch, refs []parquetio.RowRef, all bool, opts ...parquetio.WriterOption) (int64, error) {
	pw, err := parquetio.NewWriter(w, EventsSchema, opts...)
	if err != nil {
		return 0, err
	}
	if !all {
		if err := pw.WriteRows(recs, refs); err != nil {
			return 0, err
		}
		return int64(len(refs)), pw.Close()
	}
	var total int64
	for _, r := range recs {
		if err := pw.Write(r); err != nil {
			return 0, err
		}
		total += r.NumRows()
	}
	return total, pw.Close()
}
