package silver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// errOverlap is Feed's error for a piece with rows earlier than rows of the
// pieces before it: the day must be built from all its rows at once.
var errOverlap = errors.New("silver: piece overlaps the rows fed before it")

// dayBuilder builds one day's silver tables (and, through the sink, gold's
// daily facts) from the day's bronze rows, fed in pieces in time order,
// with memory bounded by a piece plus per-user and per-session state (not
// by the day's size).
//
// Feed processes every row of a piece earlier than the piece's latest ts
// and holds back (copies) the rows at that ts: the rows of a later piece
// are not earlier than it (or Feed fails with errOverlap), so each
// processed stretch of rows comes, in ts, after every stretch before it.
// The order of every output (bronze order for silver/events, user order
// for the sessions, the level history and gold) is then the concatenation
// of the stretches' orders, duplicates and key conflicts (same ts) fall in
// one stretch, and sums taken in order carry on from one stretch to the
// next: the tables are byte-identical to those of the whole day fed at
// once, however it was cut.
type dayBuilder struct {
	cfg  *Config
	day  int64
	part string
	rep  *quality.Report
	src  *bronzeSource // the day's bronze files, when fed as one piece

	st     DayStats
	sess   *daySessions
	gold   DaySink
	events *lakeio.PartitionWriter
	anon   *lakeio.PartitionWriter
	linked [2]bool // silver/events, silver/anonymous_events linked to bronze's file

	// deferred (a day built early, in pieces): silver/events and
	// silver/anonymous_events are made at Finish, from bronze's files
	// (linked when they are silver's as they are, else copied without
	// the rows removed); exact and removed say which.
	deferred       bool
	exactU, exactA bool
	removed        map[rowKey]struct{}
	schema         *arrow.Schema     // of the events files: bronze's columns (EventColumns)
	carry          arrow.RecordBatch // rows at ts == cut, held back
	cut            int64
	fed            bool
	pieces         int
	rows           int64 // bronze rows fed
}

func newDayBuilder(cfg *Config, day int64, rep *quality.Report) *dayBuilder {
	b := &dayBuilder{cfg: cfg, day: day, part: lakeio.DayPartition(day), rep: rep, sess: newDaySessions(),
		exactU: true, exactA: true, removed: map[rowKey]struct{}{}}
	if cfg.Sink != nil {
		b.gold = cfg.Sink.NewDay(day)
	}
	return b
}

// tsRange returns the smallest and largest ts of recs (ok false: no row).
func tsRange(recs []arrow.RecordBatch) (lo, hi int64, ok bool) {
	for _, r := range recs {
		i, err := col[*array.Timestamp](r, ColTS)
		if err != nil {
			continue
		}
		for _, t := range i.TimestampValues() {
			if !ok || int64(t) < lo {
				lo = int64(t)
			}
			if !ok || int64(t) > hi {
				hi = int64(t)
			}
			ok = true
		}
	}
	return lo, hi, ok
}

// Feed processes one piece of the day (recs: its rows, any order, in the
// bronze schema; not kept). last says no piece follows: everything is
// processed. src, if not nil, names the bronze files that the day is,
// when the day is this one piece (silver then links a file it would write
// with the same rows).
func (b *dayBuilder) Feed(ctx context.Context, recs []arrow.RecordBatch, last bool, src *bronzeSource) error {
	lo, hi, ok := tsRange(recs)
	for _, r := range recs {
		b.rows += r.NumRows()
	}
	if ok && b.fed && lo < b.cut {
		return errOverlap
	}
	ins := recs
	if b.carry != nil {
		ins = append([]arrow.RecordBatch{b.carry}, recs...)
		hi = max(hi, b.cut)
		ok = true
	}
	carry := b.carry
	b.carry = nil
	defer func() {
		if carry != nil {
			carry.Release()
		}
	}()
	if !ok { // no row
		b.pieces++
		return nil
	}
	limit := int64(noLimit)
	if !last {
		limit = hi
	}
	if b.pieces == 0 && last {
		b.src = src
	}
	b.pieces++
	if err := b.stretch(ctx, ins, limit); err != nil {
		return err
	}
	b.fed = true
	if last {
		return nil
	}
	b.cut = limit
	// Hold back the rows at the cut (in input order).
	var refs []parquetio.RowRef
	for bi, r := range ins {
		tsv := r.Column(r.Schema().FieldIndices(ColTS)[0]).(*array.Timestamp).TimestampValues()
		for i, t := range tsv {
			if int64(t) >= limit {
				refs = append(refs, parquetio.RowRef{Batch: int32(bi), Row: int32(i)})
			}
		}
	}
	cols := make([]int, ins[0].NumCols())
	for j := range cols {
		cols[j] = j
	}
	c, err := takeRows(b.cfg.Mem, ins, cols, refs)
	if err != nil {
		return fmt.Errorf("silver: %s: %w", b.part, err)
	}
	b.carry = c
	return nil
}

// stretch processes the rows of ins with ts < limit.
func (b *dayBuilder) stretch(ctx context.Context, ins []arrow.RecordBatch, limit int64) error {
	res, err := processDayBatches(ctx, b.cfg.Mem, b.day, ins, b.cfg.Options, limit)
	if err != nil {
		return fmt.Errorf("silver: %s: %w", b.part, err)
	}
	defer res.Release()
	if res.Stats.BronzeRows == 0 {
		return nil
	}
	// With the whole day in one piece, a silver file that would hold
	// exactly the rows of one bronze file, in the same order, is that
	// file, linked (the bytes a write would give: see parquetio).
	st := res.Stats
	b.schema = res.Input[0].Schema()
	if b.deferred {
		b.exactU = b.exactU && res.UsersExact
		b.exactA = b.exactA && res.AnonExact
		for _, r := range res.dropped {
			e := res.es[r.Batch]
			b.removed[rowKey{strings.Clone(e.sourceFile.Value(int(r.Row))), e.line.Value(int(r.Row))}] = struct{}{}
		}
		return b.fold(res)
	}
	single := limit == noLimit && b.pieces == 1 && b.src != nil
	if single && b.src.users != nil && res.UsersExact && b.src.users.Rows == st.UserRows {
		b.linked[0] = true
	} else if len(res.EventRows) > 0 {
		if b.events == nil {
			if b.events, err = lakeio.NewPartitionWriter(b.cfg.Tx, TableEvents, b.part, res.Input[0].Schema(), eventsWriteOpts...); err != nil {
				return fmt.Errorf("silver: %w", err)
			}
		}
		if err := b.events.WriteRows(res.Input, res.FileRows()); err != nil {
			return fmt.Errorf("silver: %w", err)
		}
	}
	if single && b.src.anon != nil && res.AnonExact && b.src.anon.Rows == st.AnonymousRows {
		b.linked[1] = true
	} else if len(res.anonRefs) > 0 {
		if b.anon == nil {
			if b.anon, err = lakeio.NewPartitionWriter(b.cfg.Tx, TableAnonymous, b.part, res.Input[0].Schema(), eventsWriteOpts...); err != nil {
				return fmt.Errorf("silver: %w", err)
			}
		}
		if err := b.anon.WriteRows(res.Input, res.anonRefs); err != nil {
			return fmt.Errorf("silver: %w", err)
		}
	}
	if err := b.fold(res); err != nil {
		return err
	}
	return ctx.Err()
}

// fold adds a stretch to the day's stats, sessions and gold.
func (b *dayBuilder) fold(res *DayResult) error {
	b.st.Add(res.Stats)
	b.sess.add(res.Events, res.es, res.EventRows)
	if b.gold != nil {
		return b.gold.Events(res.Events)
	}
	return nil
}

// Finish processes the rows held back, stages the day's silver partitions,
// hands the day to the sink and records the day's checks; bronzeRows is
// the day's row count bronze recorded (-1: unknown). The builder is done.
//
// A deferred day's bronze files are files (names) of its staged partition.
func (b *dayBuilder) Finish(ctx context.Context, bronzeRows int64, files []string) (DayStats, error) {
	if b.carry != nil {
		c := b.carry
		b.carry = nil
		err := b.stretch(ctx, []arrow.RecordBatch{c}, noLimit)
		c.Release()
		if err != nil {
			return DayStats{}, err
		}
	}
	parts, levels := b.sess.finish(b.cfg.Mem, &b.st)
	defer parts.Release()
	defer levels.Release()
	st := b.st
	dayStats := map[string]int64{
		"bronze_rows": st.BronzeRows, "user_rows": st.UserRows, "anonymous_rows": st.AnonymousRows,
		"duplicates_removed": st.DuplicatesRemoved, "key_conflicts": st.KeyConflicts,
		"non_monotonic_items": st.NonMonotonic, "min_ts": st.MinTS, "max_ts": st.MaxTS,
	}
	tx := b.cfg.Tx
	if b.deferred {
		if err := b.eventFiles(ctx, files, dayStats); err != nil {
			return DayStats{}, fmt.Errorf("silver: %s: %w", b.part, err)
		}
	}
	for i, w := range []struct {
		table string
		pw    **lakeio.PartitionWriter
	}{{TableEvents, &b.events}, {TableAnonymous, &b.anon}} {
		var err error
		switch {
		case b.deferred:
			continue
		case b.linked[i]:
			e := b.src.users
			if i == 1 {
				e = b.src.anon
			}
			err = lakeio.LinkPartition(tx, w.table, b.part, filepath.Join(b.src.dir, e.Name), *e, dayStats)
		case *w.pw != nil:
			err = (*w.pw).Close(dayStats)
			*w.pw = nil
		default: // no row: an empty file, as WritePartition writes
			schema := b.schema
			if schema == nil {
				schema = EventsSchema
			}
			var pw *lakeio.PartitionWriter
			if pw, err = lakeio.NewPartitionWriter(tx, w.table, b.part, schema, eventsWriteOpts...); err == nil {
				err = pw.Close(dayStats)
			}
		}
		if err != nil {
			return DayStats{}, fmt.Errorf("silver: %w", err)
		}
	}
	for _, w := range []struct {
		table string
		b     arrow.RecordBatch
	}{{TableSessionParts, parts}, {TableLevelHistory, levels}} {
		if err := ctx.Err(); err != nil {
			return DayStats{}, err
		}
		if err := lakeio.WritePartition(tx, w.table, b.part, w.b, dayStats); err != nil {
			return DayStats{}, fmt.Errorf("silver: %w", err)
		}
	}
	CheckDay(b.rep, DayString(b.day), st, bronzeRows, st.UserRows, st.AnonymousRows)
	if b.gold != nil {
		g := b.gold
		b.gold = nil
		if err := b.cfg.Sink.Day(ctx, &DayResult{Day: b.day, LevelHistory: levels, Stats: st, Report: b.rep}, g); err != nil {
			return DayStats{}, err
		}
	}
	return st, nil
}

// eventFiles stages a deferred day's silver/events and
// silver/anonymous_events: each is bronze's file linked when that holds
// exactly the rows silver keeps (no duplicate, no --anonymous-user-ids
// row, one file of the kind), else copied (copyEvents).
func (b *dayBuilder) eventFiles(ctx context.Context, names []string, stats map[string]int64) error {
	dir, staged, _ := b.cfg.Tx.StagedEntries(lake.BronzeEvents, b.part)
	staged = slices.DeleteFunc(slices.Clone(staged), func(f lake.FileEntry) bool { return !slices.Contains(names, f.Name) })
	st := &b.st
	src := sourceOf(dir, staged)
	// A table whose rows are exactly those of one bronze file (or none)
	// links it (or writes an empty file); the others are copied.
	link := func(e *lake.FileEntry, exact bool, rows int64) bool {
		return src != nil && exact && (e == nil && rows == 0 || e != nil && e.Rows == rows)
	}
	var linkU, linkA bool
	if src != nil {
		linkU, linkA = link(src.users, b.exactU, st.UserRows), link(src.anon, b.exactA, st.AnonymousRows)
	}
	for _, w := range []struct {
		table string
		ok    bool
		e     func() *lake.FileEntry
	}{{TableEvents, linkU, func() *lake.FileEntry { return src.users }}, {TableAnonymous, linkA, func() *lake.FileEntry { return src.anon }}} {
		if !w.ok {
			continue
		}
		var err error
		if e := w.e(); e != nil {
			err = lakeio.LinkPartition(b.cfg.Tx, w.table, b.part, filepath.Join(dir, e.Name), *e, stats)
		} else {
			var pw *lakeio.PartitionWriter
			if pw, err = lakeio.NewPartitionWriter(b.cfg.Tx, w.table, b.part, b.schema, eventsWriteOpts...); err == nil {
				err = pw.Close(stats)
			}
		}
		if err != nil {
			return err
		}
	}
	if linkU && linkA {
		return nil
	}
	users, anon, err := b.copyEvents(ctx, dir, staged, b.removed, stats, !linkU, !linkA)
	if err != nil {
		return err
	}
	if users != st.UserRows || anon != st.AnonymousRows {
		return fmt.Errorf("internal error: copied %d user and %d anonymous rows from bronze, cleaned %d and %d",
			users, anon, st.UserRows, st.AnonymousRows)
	}
	return nil
}

// Abort drops what the builder staged and holds (its partial files, the
// rows held back, the sink's day).
func (b *dayBuilder) Abort() {
	if b.carry != nil {
		b.carry.Release()
		b.carry = nil
	}
	for _, pw := range []**lakeio.PartitionWriter{&b.events, &b.anon} {
		if *pw != nil {
			_ = (*pw).Abort()
			*pw = nil
		}
	}
	if b.gold != nil {
		b.gold.Release()
		b.gold = nil
	}
}
