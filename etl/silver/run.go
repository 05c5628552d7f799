package silver

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/lake"
)

// Silver tables.
var (
	TableEvents       = lake.Silver("events")
	TableAnonymous    = lake.Silver("anonymous_events")
	TableSessionParts = lake.Silver("session_parts")
	TableSessions     = lake.Silver("sessions")
	TableLevelHistory = lake.Silver("level_history")
)

// Window selects the days of a run: Days (explicit, e.g. --ds), or
// [From, To] (Unix ms day starts; zero values are open ends), widened by
// Lookback days before its start. All is every available day.
type Window struct {
	All      bool
	From, To int64
	Lookback int
}

// Select returns the available days (ascending) inside the window.
func (w Window) Select(available []int64) []int64 {
	var out []int64
	from := w.From - int64(w.Lookback)*DayMillis
	for _, d := range available {
		if w.All || ((w.From == 0 || d >= from) && (w.To == 0 || d <= w.To)) {
			out = append(out, d)
		}
	}
	return out
}

// Sink receives silver results as they are built, to derive gold tables in
// the same run without reading silver back. A day is built in stretches
// (see dayBuilder): NewDay starts it, its DaySink receives each stretch's
// user events, then Day completes it (or the DaySink is released when the
// day is abandoned). Days are built concurrently; the result is released
// after Day returns (Retain what you keep).
type Sink interface {
	NewDay(day int64) DaySink
	// Day completes day r.Day, whose events went to ev; r.Events is nil.
	Day(ctx context.Context, r *DayResult, ev DaySink) error
	Sessions(ctx context.Context, day int64, sessions arrow.RecordBatch) error
	// DropDay undoes Day for a day processed early whose bronze partition
	// then changed (it is processed again).
	DropDay(day int64) error
}

// DaySink receives one day's user events, stretch by stretch.
type DaySink interface {
	// Events receives a stretch of the day's user events, in user order
	// (user_id, ts, session_id, item_in_session); every event of a stretch
	// is later (ts) than every event of the stretches before. ev is valid
	// during the call only.
	Events(ev *Sorted) error
	// Release drops what the day accumulated (it is abandoned).
	Release()
}

// Config configures Run.
type Config struct {
	Lake *lake.Lake
	// Tx stages the output; the caller commits (or aborts) it.
	Tx      *lake.Tx
	Window  Window
	Options Options
	// Workers is the number of days processed at once (default 3: with two
	// cores, a third day keeps them busy while one waits on I/O).
	Workers int
	Mem     memory.Allocator
	Log     *slog.Logger
	Report  *quality.Report
	Sink    Sink
	// ReadStaged reads bronze as Tx will leave it (its staged partitions
	// over the committed ones): etl stages bronze, silver and gold in one
	// transaction.
	ReadStaged bool
	// Early holds the days processed while bronze was being written
	// (NewEarly); Run keeps those whose bronze partition is exactly the
	// file they were built from.
	Early *Early
}

func (cfg *Config) defaults() {
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 3
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Report == nil {
		cfg.Report = &quality.Report{}
	}
}

// bronze is where cfg reads bronze from.
func (cfg *Config) bronze() lakeio.View {
	v := lakeio.View{Lake: cfg.Lake}
	if cfg.ReadStaged {
		v.Tx = cfg.Tx
	}
	return v
}

// Stats summarises a silver run.
type Stats struct {
	DayStats
	Days             []int64 `json:"-"`
	SessionDays      []int64 `json:"-"`
	SessionsBuilt    int64   `json:"sessions"`
	CrossingMidnight int64   `json:"sessions_crossing_midnight"`
	// SessionsSplit counts the sessions whose (user_id, session_id) is
	// that of an earlier session of the run: the id was reused after a
	// pause longer than SessionGap (see SessionGap).
	SessionsSplit int64 `json:"sessions_split"`
}

// eventsWriteOpts are bronze's: silver/events has bronze's columns, and a
// day with nothing to remove is bronze's file itself.
var eventsWriteOpts = bronze.EventWriteOptions()

// Run rebuilds the silver partitions of the window's bronze days (and the
// sessions of the days just before and after the window) in
// cfg.Tx. It fails with errkind.NothingToDo when the window holds no
// bronze day, and with errkind.BadInput when an error check fails.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	cfg.defaults()
	bronze := cfg.bronze()
	avail, err := bronze.Days(lake.BronzeEvents)
	if err != nil {
		return st, err
	}
	days := cfg.Window.Select(avail)
	if err := cfg.Early.close(ctx); err != nil {
		return st, err
	}
	// Days processed early: keep those whose bronze partition is the
	// files they were built from, drop the others (processed again below).
	var mu sync.Mutex
	todo := days
	if cfg.Early != nil {
		todo = nil
		for _, d := range days {
			if ed := cfg.Early.take(d); ed != nil {
				files, err := bronze.Files(lake.BronzeEvents, lakeio.DayPartition(d))
				if err != nil {
					return st, err
				}
				if ed.matches(files) {
					st.DayStats.Add(ed.stats)
					cfg.Report.Merge(ed.report)
					continue
				}
				cfg.Log.Info("silver: day processed again from bronze: its partition holds more than the files just written",
					"stage", "silver", "day", DayString(d), "bronze_files", len(files), "reason", ed.why())
				if err := cfg.dropDay(d); err != nil {
					return st, err
				}
			}
			todo = append(todo, d)
		}
		for _, d := range cfg.Early.rest() {
			if err := cfg.dropDay(d); err != nil {
				return st, err
			}
		}
	}
	if len(days) == 0 {
		return st, fmt.Errorf("%w: no bronze partition in the selected days", errkind.NothingToDo)
	}
	st.Days = days
	start := time.Now()
	cfg.Log.Info("silver start", "stage", "silver", "days", len(days), "from", DayString(days[0]), "to", DayString(days[len(days)-1]))

	// Per-day work on the workers.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for _, d := range todo {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			ds, err := processDay(gctx, &cfg, bronze, d)
			if err != nil {
				return err
			}
			mu.Lock()
			st.DayStats.Add(ds)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}

	// Sessions: every processed day, and the days just outside the window
	// that have parts: the day before (its sessions may continue into the
	// window) and the day after (late events in the window may now start
	// one of its sessions earlier). Session parts are read back from the
	// staged (or committed) partitions, a sliding window of days at a time:
	// held for the whole run they would grow with the input.
	parts := newPartsCache(cfg.Mem, lakeio.View{Lake: cfg.Lake, Tx: cfg.Tx})
	defer parts.release()
	sessDays := slices.Clone(days)
	for _, d := range []int64{days[0] - DayMillis, days[len(days)-1] + DayMillis} {
		if slices.Contains(days, d) {
			continue
		}
		if b, err := parts.get(d); err != nil {
			return st, err
		} else if b != nil {
			sessDays = append(sessDays, d)
		}
	}
	slices.Sort(sessDays)
	parts.days = sessDays
	// Assemble and stage the sessions of each day, two days at a time (a
	// day's assembly only reads session parts).
	keys := NewSessionKeys()
	sessions := func(ctx context.Context, d int64) error {
		b, err := AssembleSessions(cfg.Mem, d, parts.get)
		if err != nil {
			return fmt.Errorf("silver: sessions %s: %w", DayString(d), err)
		}
		defer b.Release()
		var crossing int64
		cross := b.Column(8).(interface{ Value(int) bool })
		for i := 0; i < int(b.NumRows()); i++ {
			if cross.Value(i) {
				crossing++
			}
		}
		mu.Lock()
		keys.Add(b)
		st.SessionsBuilt += b.NumRows()
		st.CrossingMidnight += crossing
		mu.Unlock()
		if err := lakeio.WritePartition(cfg.Tx, TableSessions, lakeio.DayPartition(d), b, nil); err != nil {
			return err
		}
		if cfg.Sink != nil {
			if err := cfg.Sink.Sessions(ctx, d, b); err != nil {
				return err
			}
		}
		parts.done(d)
		return nil
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, d := range sessDays {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return sessions(gctx, d)
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	st.SessionDays = sessDays
	st.SessionsSplit = keys.Check(cfg.Report)
	if st.SessionsSplit > 0 {
		cfg.Log.Warn("silver: session ids reused after a pause: split into distinct sessions",
			"stage", "silver", "sessions_split", st.SessionsSplit, "session_gap_hours", SessionGap/3_600_000)
	}
	cfg.Log.Info("silver end", "stage", "silver", "rows_in", st.BronzeRows, "rows_out", st.UserRows,
		"anonymous_rows", st.AnonymousRows, "duplicates_removed", st.DuplicatesRemoved, "sessions", st.SessionsBuilt,
		"duration_ms", time.Since(start).Milliseconds())
	return st, nil
}

// partsCache serves the session parts of days to the sessions' assembly,
// read once and kept while a day still to assemble may need them (the day
// before it to MaxSessionDays after).
type partsCache struct {
	mem  memory.Allocator
	view lakeio.View
	days []int64 // the days to assemble, ascending

	mu       sync.Mutex
	cache    map[int64]arrow.RecordBatch
	finished map[int64]bool
}

func newPartsCache(mem memory.Allocator, v lakeio.View) *partsCache {
	return &partsCache{mem: mem, view: v, cache: map[int64]arrow.RecordBatch{}, finished: map[int64]bool{}}
}

// get is a PartsSource.
func (c *partsCache) get(d int64) (arrow.RecordBatch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.cache[d]; ok {
		return b, nil
	}
	b, err := c.view.ReadPartition(c.mem, TableSessionParts, lakeio.DayPartition(d), nil)
	if err != nil {
		return nil, err
	}
	c.cache[d] = b
	return b, nil
}

// done marks day d assembled and drops the days no assembly still to
// come or running reads (those before the day before the first day not
// yet assembled).
func (c *partsCache) done(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished[d] = true
	low := int64(math.MaxInt64)
	for _, x := range c.days {
		if !c.finished[x] {
			low = x
			break
		}
	}
	for x, b := range c.cache {
		if x < low-DayMillis {
			if b != nil {
				b.Release()
			}
			delete(c.cache, x)
		}
	}
}

func (c *partsCache) release() {
	for _, b := range c.cache {
		if b != nil {
			b.Release()
		}
	}
	clear(c.cache)
}

// bronzeSource is the bronze partition a day was built from when its files
// are at most one users' file and one logged-out rows' file (see
// lake.AnonymousSuffix): silver then links a file whose rows it keeps
// unchanged instead of writing them again.
type bronzeSource struct {
	dir         string
	users, anon *lake.FileEntry
}

// sourceOf returns the bronzeSource of a partition's files, or nil.
func sourceOf(dir string, files []lake.FileEntry) *bronzeSource {
	src := &bronzeSource{dir: dir}
	for i := range files {
		f := &files[i]
		p := &src.users
		if strings.HasSuffix(f.Name, lake.AnonymousSuffix) {
			p = &src.anon
		}
		if *p != nil {
			return nil
		}
		*p = f
	}
	return src
}

// processDay reads one bronze day, cleans it, and stages its silver
// partitions (and the sink's). It returns its stats.
func processDay(ctx context.Context, cfg *Config, bronze lakeio.View, d int64) (DayStats, error) {
	part := lakeio.DayPartition(d)
	dir, files, err := bronze.Entries(lake.BronzeEvents, part)
	if err != nil {
		return DayStats{}, fmt.Errorf("silver: %w", err)
	}
	in, err := bronze.ReadPartition(cfg.Mem, lake.BronzeEvents, part, nil)
	if err != nil {
		return DayStats{}, fmt.Errorf("silver: %w", err)
	}
	if in == nil {
		return DayStats{}, nil
	}
	defer in.Release()
	bronzeRows, ok := bronze.Rows(lake.BronzeEvents, part)
	if !ok {
		bronzeRows = -1
	}
	b := newDayBuilder(cfg, d, cfg.Report)
	if err := b.Feed(ctx, []arrow.RecordBatch{in}, true, sourceOf(dir, files)); err != nil {
		b.Abort()
		return DayStats{}, err
	}
	st, err := b.Finish(ctx, bronzeRows, nil)
	if err != nil {
		b.Abort()
	}
	return st, err
}

// dropDay drops what processing day d staged (silver and the sink's).
func (cfg *Config) dropDay(d int64) error {
	for _, t := range []string{TableEvents, TableAnonymous, TableSessionParts, TableLevelHistory} {
		if err := cfg.Tx.Discard(t, lakeio.DayPartition(d)); err != nil {
			return err
		}
	}
	if cfg.Sink != nil {
		return cfg.Sink.DropDay(d)
	}
	return nil
}
