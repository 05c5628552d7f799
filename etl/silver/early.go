package silver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/internal/lake"
)

// Early processes bronze days while bronze is still being written (churnctl
// etl, one transaction for all layers): each bronze writer, right after
// staging an events file, cleans and stages the day from the same rows
// (Offer), still in memory and in cache, without reading the file back.
// Bronze's writers bound the concurrency and memory. Run then keeps a day
// whose final bronze partition is exactly that file, and processes again
// (from the staged bronze) a day that got more files: late events, files
// of earlier ingests, or rows of a replaced run.
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
	files  []string // the bronze files it was built from (names, sorted)
	stale  bool     // another file of the day was offered
	stats  DayStats
	parts  arrow.RecordBatch // session parts
	report *quality.Report
}

func (ed *earlyDay) matches(files []string) bool {
	if ed.stale || ed.parts == nil || len(files) != len(ed.files) {
		return false
	}
	for i, f := range files { // both sorted
		if filepath.Base(f) != ed.files[i] {
			return false
		}
	}
	return true
}

func (ed *earlyDay) release() {
	if ed.parts != nil {
		ed.parts.Release()
		ed.parts = nil
	}
}

// NewEarly returns an Early staging into cfg.Tx. Pass it as Config.Early
// to Run.
func NewEarly(cfg Config) *Early {
	cfg.defaults()
	return &Early{cfg: cfg, days: map[int64]*earlyDay{}}
}

// Offer processes the rows of the staged bronze events files of partition
// just written (recs: all their rows, any order) as the whole day, in the
// calling goroutine; recs are not kept. A second offer of a day marks the
// day for Run to process again, and days outside the window are left to
// Run. It returns the processing error.
func (e *Early) Offer(ctx context.Context, partition string, files []string, recs []arrow.RecordBatch) error {
	k, t, err := lake.ParseDayPartition(partition)
	if err != nil || k != lake.KeyDate {
		return fmt.Errorf("silver: early: bad bronze partition %q", partition)
	}
	d := t.UnixMilli()
	if len(e.cfg.Window.Select([]int64{d})) == 0 || len(recs) == 0 {
		return nil
	}
	e.mu.Lock()
	if e.err != nil || e.closed {
		err := e.err
		e.mu.Unlock()
		return err
	}
	if ed := e.days[d]; ed != nil {
		ed.stale = true // Run processes the whole day again
		e.mu.Unlock()
		return nil
	}
	ed := &earlyDay{files: slices.Sorted(slices.Values(files))}
	e.days[d] = ed
	e.mu.Unlock()

	err = e.process(ctx, d, partition, recs, ed)
	e.mu.Lock()
	if err != nil && e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
	return err
}

func (e *Early) process(ctx context.Context, d int64, partition string, recs []arrow.RecordBatch, ed *earlyDay) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	rep := &quality.Report{}
	// The offered files, as staged: Run keeps the day only if they are
	// then the whole partition.
	dir, staged, _ := e.cfg.Tx.StagedEntries(lake.BronzeEvents, partition)
	staged = slices.DeleteFunc(staged, func(f lake.FileEntry) bool { return !slices.Contains(ed.files, f.Name) })
	var src *bronzeSource
	if len(staged) == len(ed.files) {
		src = sourceOf(dir, staged)
	}
	st, parts, err := processBatch(ctx, e.cfg, d, recs, rows, rep, src)
	if err != nil {
		return err
	}
	e.mu.Lock()
	ed.stats, ed.parts, ed.report = st, parts, rep
	e.mu.Unlock()
	return nil
}

// close stops accepting days (every Offer has returned: bronze is done);
// it returns the first processing error. A nil Early does nothing.
func (e *Early) close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return e.err
}

// take removes and returns the early result of day d (nil if none).
func (e *Early) take(d int64) *earlyDay {
	e.mu.Lock()
	defer e.mu.Unlock()
	ed := e.days[d]
	delete(e.days, d)
	return ed
}

// rest removes and returns the days not taken (ascending), releasing them.
func (e *Early) rest() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []int64
	for d, ed := range e.days {
		ed.release()
		out = append(out, d)
	}
	clear(e.days)
	slices.Sort(out)
	return out
}

// Close releases what Run did not take. Call it when Run is not reached
// (bronze failed).
func (e *Early) Close() error {
	err := e.close()
	e.rest()
	return err
}
