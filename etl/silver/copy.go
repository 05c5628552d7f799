package silver

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// rowKey names a bronze row (its source line).
type rowKey struct {
	source string
	line   int64
}

// copyHead is one bronze file being merged: its current batch and row.
type copyHead struct {
	f    *parquetio.File
	rr   array.RecordReader
	b    arrow.RecordBatch
	i, n int
	ts   []arrow.Timestamp
	src  *array.String
	line []int64
	user *array.String
}

func (h *copyHead) advance() (bool, error) {
	if !h.rr.Next() {
		if err := h.rr.Err(); err != nil {
			return false, err
		}
		h.b = nil
		return false, nil
	}
	h.b = h.rr.RecordBatch()
	h.i, h.n = 0, int(h.b.NumRows())
	var err error
	ev, err := bindCore(h.b)
	if err != nil {
		return false, err
	}
	h.ts, h.src, h.line, h.user = ev.ts.TimestampValues(), ev.sourceFile, ev.line.Int64Values(), ev.user
	if h.n == 0 {
		return h.advance()
	}
	return true, nil
}

func (h *copyHead) less(o *copyHead) bool {
	i, j := h.i, o.i
	if c := cmp.Compare(h.ts[i], o.ts[j]); c != 0 {
		return c < 0
	}
	if c := strings.Compare(h.src.Value(i), o.src.Value(j)); c != 0 {
		return c < 0
	}
	return h.line[i] < o.line[j]
}

// copyEvents writes the day's silver/events and silver/anonymous_events
// from its staged bronze files (each in bronze order), merged in bronze
// order (ts, source_file, line_number), leaving out the rows in removed
// (duplicates) and sending the rows of empty or listed user ids to the
// anonymous events: the rows, in the order, that silver keeps. Memory is a
// batch per file. A day built in pieces whose files are not silver's as
// they are (duplicates, --anonymous-user-ids, several files) gets its
// event files so, the pieces' rows being gone.
//
// Only the tables asked for (writeUsers, writeAnon) are written; the rows
// of both are counted.
func (b *dayBuilder) copyEvents(ctx context.Context, dir string, files []lake.FileEntry, removed map[rowKey]struct{},
	stats map[string]int64, writeUsers, writeAnon bool) (users, anon int64, err error) {
	var heads []*copyHead
	defer func() {
		for _, h := range heads {
			h.rr.Release()
			h.f.Close()
		}
	}()
	var schema *arrow.Schema
	for _, fe := range files {
		f, err := parquetio.OpenFile(filepath.Join(dir, fe.Name))
		if err != nil {
			return 0, 0, err
		}
		rr, err := f.Records(b.cfg.Mem, nil, 64<<10)
		if err != nil {
			f.Close()
			return 0, 0, err
		}
		h := &copyHead{f: f, rr: rr}
		heads = append(heads, h)
		if ok, err := h.advance(); err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", fe.Name, err)
		} else if ok && schema == nil {
			schema = h.b.Schema()
		}
	}
	if schema == nil {
		schema = b.schema
	}
	if schema == nil {
		schema = EventsSchema
	}
	var ew, aw *lakeio.PartitionWriter
	fail := func(err error) (int64, int64, error) {
		for _, w := range []*lakeio.PartitionWriter{ew, aw} {
			if w != nil {
				w.Abort()
			}
		}
		return 0, 0, err
	}
	if writeUsers {
		if ew, err = lakeio.NewPartitionWriter(b.cfg.Tx, TableEvents, b.part, schema, eventsWriteOpts...); err != nil {
			return fail(err)
		}
	}
	if writeAnon {
		if aw, err = lakeio.NewPartitionWriter(b.cfg.Tx, TableAnonymous, b.part, schema, eventsWriteOpts...); err != nil {
			return fail(err)
		}
	}
	listed := b.cfg.Options.AnonymousUserIDs
	var urefs, arefs []parquetio.RowRef
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		var live []*copyHead
		var recs []arrow.RecordBatch
		for _, h := range heads {
			if h.b != nil {
				live = append(live, h)
				recs = append(recs, h.b)
			}
		}
		if len(live) == 0 {
			break
		}
		// Merge until a file's batch runs out, then write and go on.
		urefs, arefs = urefs[:0], arefs[:0]
		for {
			m := 0
			for k := 1; k < len(live); k++ {
				if live[k].less(live[m]) {
					m = k
				}
			}
			h := live[m]
			skip := false
			if len(removed) > 0 {
				_, skip = removed[rowKey{h.src.Value(h.i), h.line[h.i]}]
			}
			if !skip {
				ref := parquetio.RowRef{Batch: int32(m), Row: int32(h.i)}
				if u := h.user.Value(h.i); u == "" || listed[u] {
					arefs = append(arefs, ref)
				} else {
					urefs = append(urefs, ref)
				}
			}
			h.i++
			if h.i == h.n {
				break
			}
		}
		for _, w := range []struct {
			pw   *lakeio.PartitionWriter
			refs []parquetio.RowRef
		}{{ew, urefs}, {aw, arefs}} {
			if w.pw != nil {
				if err := w.pw.WriteRows(recs, w.refs); err != nil {
					return fail(err)
				}
			}
		}
		users += int64(len(urefs))
		anon += int64(len(arefs))
		for _, h := range live {
			if h.i == h.n {
				if _, err := h.advance(); err != nil {
					return fail(err)
				}
			}
		}
	}
	for i, pw := range []*lakeio.PartitionWriter{ew, aw} {
		if pw == nil {
			continue
		}
		if err := pw.Close(stats); err != nil {
			if i == 0 && aw != nil {
				aw.Abort()
			}
			return 0, 0, err
		}
	}
	return users, anon, nil
}
