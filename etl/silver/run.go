package silver

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
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
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
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
// the same run without reading silver back. Day is called concurrently from
// the workers; the result is released after Day returns (Retain what you
// keep).
type Sink interface {
	Day(ctx context.Context, r *DayResult) error
	Sessions(ctx context.Context, day int64, sessions arrow.RecordBatch) error
	// DropDay undoes Day for a day processed early whose bronze partition
	// then changed (it is processed again).
	DropDay(day int64) error
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
}

// eventsWriteOpts are bronze's: silver/events has bronze's columns, and a
// day with nothing to remove is bronze's file itself.
var eventsWriteOpts = bronze.EventWriteOptions()

// Run rebuilds the silver partitions of the window's bronze days (and the
// sessions of the days just before and after the window) in
// cfg.Tx. It fails with exitcode.ErrNothingToDo when the window holds no
// bronze day, and with exitcode.ErrBadInput when an error check fails.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	cfg.defaults()
	bronze := cfg.bronze()
	avail, err := bronze.Days(lake.BronzeEvents)
	if err != nil {
		return st, err
	}
	days := cfg.Window.Select(avail)
	if err := cfg.Early.close(); err != nil {
		return st, err
	}
	// Days processed early: keep those whose bronze partition is the one
	// file they were built from, drop the others (processed again below).
	var (
		mu    sync.Mutex
		parts = map[int64]arrow.RecordBatch{}
	)
	defer func() {
		for _, b := range parts {
			b.Release()
		}
	}()
	todo := days
	if cfg.Early != nil {
		todo = nil
		for _, d := range days {
			if ed := cfg.Early.take(d); ed != nil {
				files, err := bronze.Files(lake.BronzeEvents, lakeio.DayPartition(d))
				if err != nil {
					ed.release()
					return st, err
				}
				if ed.matches(files) {
					parts[d] = ed.parts
					st.DayStats.Add(ed.stats)
					cfg.Report.Merge(ed.report)
					continue
				}
				ed.release()
				cfg.Log.Info("silver: day processed again from bronze: its partition holds more than the file just written",
					"stage", "silver", "day", DayString(d), "bronze_files", len(files))
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
		return st, fmt.Errorf("%w: no bronze partition in the selected days", exitcode.ErrNothingToDo)
	}
	st.Days = days
	start := time.Now()
	cfg.Log.Info("silver start", "stage", "silver", "days", len(days), "from", DayString(days[0]), "to", DayString(days[len(days)-1]))

	// Per-day work on the workers; session parts are kept for assembly.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for _, d := range todo {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			ds, p, err := processDay(gctx, cfg, bronze, d)
			if err != nil {
				return err
			}
			mu.Lock()
			parts[d] = p
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

	// Sessions: every processed day, and the day before the first one (its
	// sessions may run into the window and so have changed).
	cache := map[int64]arrow.RecordBatch{}
	var cmu sync.Mutex
	defer func() {
		for _, b := range cache {
			if b != nil {
				b.Release()
			}
		}
	}()
	src := func(d int64) (arrow.RecordBatch, error) {
		if b, ok := parts[d]; ok {
			return b, nil
		}
		cmu.Lock()
		defer cmu.Unlock()
		if b, ok := cache[d]; ok {
			return b, nil
		}
		b, err := lakeio.ReadPartition(cfg.Mem, cfg.Lake, TableSessionParts, lakeio.DayPartition(d), nil)
		if err != nil {
			return nil, err
		}
		cache[d] = b
		return b, nil
	}
	// Also the days just outside the window that have parts: the day before
	// (its sessions may continue into the window) and the day after (late
	// events in the window may now start one of its sessions earlier).
	sessDays := slices.Clone(days)
	for _, d := range []int64{days[0] - DayMillis, days[len(days)-1] + DayMillis} {
		if slices.Contains(days, d) {
			continue
		}
		if b, err := src(d); err != nil {
			return st, err
		} else if b != nil {
			sessDays = append(sessDays, d)
		}
	}
	slices.Sort(sessDays)
	// Assemble and stage the sessions of each day, two days at a time (a
	// day's assembly only reads session parts).
	keys := NewSessionKeys()
	sessions := func(ctx context.Context, d int64) error {
		b, err := AssembleSessions(cfg.Mem, d, src)
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
			return cfg.Sink.Sessions(ctx, d, b)
		}
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
	keys.Check(cfg.Report)
	cfg.Log.Info("silver end", "stage", "silver", "rows_in", st.BronzeRows, "rows_out", st.UserRows,
		"anonymous_rows", st.AnonymousRows, "duplicates_removed", st.DuplicatesRemoved, "sessions", st.SessionsBuilt,
		"duration_ms", time.Since(start).Milliseconds())
	return st, nil
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

// processDay reads one bronze day, cleans it, stages its silver partitions
// and returns its stats and session parts.
func processDay(ctx context.Context, cfg Config, bronze lakeio.View, d int64) (DayStats, arrow.RecordBatch, error) {
	part := lakeio.DayPartition(d)
	dir, files, err := bronze.Entries(lake.BronzeEvents, part)
	if err != nil {
		return DayStats{}, nil, fmt.Errorf("silver: %w", err)
	}
	in, err := bronze.ReadPartition(cfg.Mem, lake.BronzeEvents, part, nil)
	if err != nil {
		return DayStats{}, nil, fmt.Errorf("silver: %w", err)
	}
	if in == nil {
		return DayStats{}, nil, nil
	}
	bronzeRows, ok := bronze.Rows(lake.BronzeEvents, part)
	if !ok {
		bronzeRows = -1
	}
	defer in.Release()
	return processBatch(ctx, cfg, d, []arrow.RecordBatch{in}, bronzeRows, cfg.Report, sourceOf(dir, files))
}

// processBatch cleans one bronze day (ins: all its rows, any order), stages
// its silver partitions, hands the result to the sink and returns its stats
// and session parts. The day's checks go to rep.
//
// src, if not nil, names the bronze files that ins are all the rows of: a
// silver file that would hold exactly the rows of one of them, in the same
// order, is that file, linked.
func processBatch(ctx context.Context, cfg Config, d int64, ins []arrow.RecordBatch, bronzeRows int64, rep *quality.Report,
	src *bronzeSource) (DayStats, arrow.RecordBatch, error) {
	part := lakeio.DayPartition(d)
	res, err := processDayBatches(ctx, cfg.Mem, d, ins, cfg.Options)
	if err != nil {
		return DayStats{}, nil, fmt.Errorf("silver: %s: %w", part, err)
	}
	defer res.Release()
	res.Report = rep
	st := res.Stats
	dayStats := map[string]int64{
		"bronze_rows": st.BronzeRows, "user_rows": st.UserRows, "anonymous_rows": st.AnonymousRows,
		"duplicates_removed": st.DuplicatesRemoved, "key_conflicts": st.KeyConflicts,
		"non_monotonic_items": st.NonMonotonic, "min_ts": st.MinTS, "max_ts": st.MaxTS,
	}
	if src != nil && src.users != nil && res.UsersExact && src.users.Rows == st.UserRows {
		err = lakeio.LinkPartition(cfg.Tx, TableEvents, part, filepath.Join(src.dir, src.users.Name), *src.users, dayStats)
	} else {
		err = lakeio.WritePartitionRows(cfg.Tx, TableEvents, part, res.Input[0].Schema(), res.Input, res.FileRows(),
			dayStats, eventsWriteOpts...)
	}
	if err != nil {
		return DayStats{}, nil, fmt.Errorf("silver: %w", err)
	}
	if src != nil && src.anon != nil && res.AnonExact && src.anon.Rows == st.AnonymousRows {
		err = lakeio.LinkPartition(cfg.Tx, TableAnonymous, part, filepath.Join(src.dir, src.anon.Name), *src.anon, dayStats)
	} else if err = res.takeAnonymous(cfg.Mem); err == nil {
		err = lakeio.WritePartition(cfg.Tx, TableAnonymous, part, res.Anonymous, dayStats, eventsWriteOpts...)
	}
	if err != nil {
		return DayStats{}, nil, fmt.Errorf("silver: %w", err)
	}
	for _, w := range []struct {
		table string
		b     arrow.RecordBatch
		opts  []parquetio.WriterOption
	}{
		{TableSessionParts, res.SessionParts, nil},
		{TableLevelHistory, res.LevelHistory, nil},
	} {
		if err := ctx.Err(); err != nil {
			return DayStats{}, nil, err
		}
		if err := lakeio.WritePartition(cfg.Tx, w.table, part, w.b, dayStats, w.opts...); err != nil {
			return DayStats{}, nil, fmt.Errorf("silver: %w", err)
		}
	}
	CheckDay(rep, DayString(d), st, bronzeRows, int64(len(res.EventRows)), st.AnonymousRows)
	if cfg.Sink != nil {
		if err := cfg.Sink.Day(ctx, res); err != nil {
			return DayStats{}, nil, err
		}
	}
	res.SessionParts.Retain()
	return st, res.SessionParts, nil
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
