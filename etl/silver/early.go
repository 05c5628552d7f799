package silver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/internal/lake"
)

// Early processes bronze days while bronze is still being written (churnctl
// etl, one transaction for all layers): each bronze writer, right after
// staging an events file, hands its rows to Offer, which cleans them into
// the day's silver tables (a dayBuilder) still in memory and in cache,
// without reading the file back. A day bronze cuts into several pieces (a
// day larger than its memory budget) is built piece by piece, in piece
// order, carrying only per-user and per-session state from one piece to
// the next, so memory does not grow with the day's size. When bronze says
// the day is complete (bronze.Flush.Last) the day is finished: its tables
// staged, the sink's day completed.
//
// Run then keeps a day whose final bronze partition is exactly the files
// it was built from, and processes again (from the staged bronze) a day
// that got more: late events after the day was finished, files of earlier
// ingests, rows of a replaced run, or a piece with rows earlier than those
// of the pieces before it (not a log in time order).
//
// A day processed early checks into a report of its own, merged into the
// run's only when it is kept.
type Early struct {
	cfg Config

	mu     sync.Mutex
	days   map[int64]*earlyDay
	err    error
	closed bool
}

// earlyDay is one day processed (or being processed) early.
type earlyDay struct {
	files   []string      // the bronze files it was built from (names)
	b       *dayBuilder   // while pieces come; nil once finished or stale
	next    int           // the next piece to feed
	waiting map[int]piece // pieces that came before their turn (rows retained)
	total   int           // the day's number of pieces, once bronze said (else -1)
	busy    bool          // a goroutine is feeding or finishing it
	done    bool          // finished
	stale   string        // why Run must process it again ("" if not)
	rows    int64
	stats   DayStats
	report  *quality.Report
}

type piece struct {
	recs []arrow.RecordBatch
	last bool
}

func (ed *earlyDay) matches(files []string) bool {
	names := ed.names()
	if ed.stale != "" || !ed.done || len(files) != len(names) {
		return false
	}
	for i, f := range files { // both sorted
		if filepath.Base(f) != names[i] {
			return false
		}
	}
	return true
}

// why says why the day is processed again.
func (ed *earlyDay) why() string {
	switch {
	case ed.stale != "":
		return ed.stale
	case !ed.done:
		return "not finished"
	}
	return "other bronze files in the partition"
}

// NewEarly returns an Early staging into cfg.Tx. Pass it as Config.Early
// to Run.
func NewEarly(cfg Config) *Early {
	cfg.defaults()
	return &Early{cfg: cfg, days: map[int64]*earlyDay{}}
}

// Offer takes one bronze flush of a day (a bronze.Config.OnEvents): it
// feeds the day's pieces in order (a piece that comes before its turn
// waits, its rows retained, for the goroutine that feeds the one before
// it), and finishes the day once bronze said it is complete and every
// piece is fed. Days outside the window are left to Run. It returns the
// processing error.
func (e *Early) Offer(ctx context.Context, f bronze.Flush) error {
	k, t, err := lake.ParseDayPartition(f.Partition)
	if err != nil || k != lake.KeyDate {
		return fmt.Errorf("silver: early: bad bronze partition %q", f.Partition)
	}
	d := t.UnixMilli()
	if len(e.cfg.Window.Select([]int64{d})) == 0 {
		return nil
	}
	e.mu.Lock()
	if e.err != nil || e.closed {
		err := e.err
		e.mu.Unlock()
		return err
	}
	ed := e.days[d]
	if ed == nil {
		ed = &earlyDay{total: -1, waiting: map[int]piece{}, report: &quality.Report{}}
		e.days[d] = ed
	}
	ed.files = append(ed.files, f.Files...)
	switch {
	case ed.stale != "":
		e.mu.Unlock()
		return nil
	case ed.done || f.Piece < ed.next || (len(f.Recs) > 0 && ed.total >= 0 && f.Piece >= ed.total):
		// Rows after the day was finished (late events): Run processes
		// the whole day again.
		e.markStale(ed, "rows came after the day was finished")
		e.mu.Unlock()
		return nil
	}
	if f.Last {
		ed.total = f.Piece
		if len(f.Recs) > 0 {
			ed.total++
		}
	}
	if len(f.Recs) > 0 {
		for _, r := range f.Recs {
			r.Retain()
		}
		ed.waiting[f.Piece] = piece{recs: f.Recs, last: f.Last}
	}
	if ed.busy {
		e.mu.Unlock()
		return nil
	}
	ed.busy = true
	err = e.drain(ctx, d, ed) // unlocks
	if err != nil {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.mu.Unlock()
	}
	return err
}

// drain feeds the waiting pieces of ed in order and finishes the day when
// complete. Called with e.mu held and ed.busy set; returns unlocked.
func (e *Early) drain(ctx context.Context, d int64, ed *earlyDay) error {
	for {
		if ed.stale != "" {
			if ed.b != nil {
				ed.b.Abort()
				ed.b = nil
			}
			ed.busy = false
			e.mu.Unlock()
			return nil
		}
		p, ok := ed.waiting[ed.next]
		if ok {
			delete(ed.waiting, ed.next)
			if ed.b == nil {
				ed.b = newDayBuilder(&e.cfg, d, ed.report)
				ed.b.deferred = true
			}
			b := ed.b
			last := ed.total == ed.next+1
			for _, r := range p.recs {
				ed.rows += r.NumRows()
			}
			e.mu.Unlock()
			var err error
			if err = ctx.Err(); err == nil {
				err = b.Feed(ctx, p.recs, last, nil)
			}
			for _, r := range p.recs {
				r.Release()
			}
			e.mu.Lock()
			ed.next++
			if errors.Is(err, errOverlap) {
				e.markStale(ed, "a piece has rows earlier than the pieces before it")
				continue
			}
			if err != nil {
				e.markStale(ed, "failed")
				ed.busy = false
				e.mu.Unlock()
				return err
			}
			continue
		}
		if ed.total >= 0 && ed.next == ed.total && !ed.done {
			b := ed.b
			ed.b = nil
			names := ed.names()
			e.mu.Unlock()
			var st DayStats
			var err error
			if b != nil {
				if st, err = b.Finish(ctx, ed.rows, names); err != nil {
					b.Abort()
				}
			}
			e.cfg.Log.Debug("silver: day built from bronze's rows in memory", "stage", "silver", "day", DayString(d),
				"pieces", ed.next, "rows", ed.rows)
			e.mu.Lock()
			ed.done = true
			ed.stats = st
			if err != nil {
				e.markStale(ed, "failed")
				ed.busy = false
				e.mu.Unlock()
				return err
			}
			continue
		}
		ed.busy = false
		e.mu.Unlock()
		return nil
	}
}

// names returns the bronze files the day was built from, sorted (pieces
// appended to one file name it each).
func (ed *earlyDay) names() []string {
	names := slices.Sorted(slices.Values(ed.files))
	return slices.Compact(names)
}

// markStale gives up on building ed early (Run processes it again) and
// drops what it holds. Called with e.mu held.
func (e *Early) markStale(ed *earlyDay, why string) {
	if ed.stale == "" {
		ed.stale = why
	}
	for k, p := range ed.waiting {
		for _, r := range p.recs {
			r.Release()
		}
		delete(ed.waiting, k)
	}
	if ed.b != nil && !ed.busy {
		ed.b.Abort()
		ed.b = nil
	}
}

// close finishes the days bronze left unfinished (every Offer has
// returned: bronze is done, so their pieces are all there) and stops
// accepting days; it returns the first processing error. A nil Early does
// nothing.
func (e *Early) close(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	e.closed = true
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	days := make([]int64, 0, len(e.days))
	for d, ed := range e.days {
		if !ed.done && ed.stale == "" {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	for _, d := range days {
		ed := e.days[d]
		if ed.busy {
			continue
		}
		if len(ed.waiting) > 0 && ed.waiting[ed.next].recs == nil {
			e.markStale(ed, "pieces missing")
			continue
		}
		ed.total = ed.next + len(ed.waiting)
		ed.busy = true
		if err := e.drain(ctx, d, ed); err != nil {
			return err
		}
		e.mu.Lock()
	}
	e.mu.Unlock()
	return nil
}

// take removes and returns the early result of day d (nil if none).
func (e *Early) take(d int64) *earlyDay {
	e.mu.Lock()
	defer e.mu.Unlock()
	ed := e.days[d]
	delete(e.days, d)
	return ed
}

// rest removes and returns the days not taken (ascending), dropping what
// they hold.
func (e *Early) rest() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []int64
	for d, ed := range e.days {
		e.markStale(ed, "not in the window")
		out = append(out, d)
	}
	clear(e.days)
	slices.Sort(out)
	return out
}

// Close drops what Run did not take. Call it when Run is not reached
// (bronze failed).
func (e *Early) Close() error {
	e.mu.Lock()
	e.closed = true
	err := e.err
	e.mu.Unlock()
	e.rest()
	return err
}
