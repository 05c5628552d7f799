package gold

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// Gold tables. The dimensions are single unpartitioned directories
// (gold/dim_user/part-0.parquet + _manifest.json), rebuilt whole.
var (
	TableFactUserDay = lake.Gold("fact_user_day")
	TableFactSession = lake.Gold("fact_session")
)

// Dimension directories under gold/.
const (
	DimUserPartition = "dim_user"
	DimDatePartition = "dim_date"
	DimPagePartition = "dim_page"
	// ManifestPath is the lake-level gold manifest: the event time range
	// covered (min_ts, max_ts in Unix ms) and the days present.
	ManifestPath = "gold/_manifest.json"
)

// Manifest is the content of gold/_manifest.json.
type Manifest struct {
	MinTS    int64  `json:"min_ts"`
	MaxTS    int64  `json:"max_ts"`
	FirstDay string `json:"first_day"`
	LastDay  string `json:"last_day"`
	Days     int    `json:"days"`
	Users    int    `json:"users"`
}

// Config configures a Builder or Run.
type Config struct {
	Lake    *lake.Lake
	Tx      *lake.Tx
	Window  silver.Window
	Workers int
	Mem     memory.Allocator
	Log     *slog.Logger
	Report  *quality.Report
}

// Stats summarises a gold run.
type Stats struct {
	UserDays    int64 `json:"user_days"`
	Sessions    int64 `json:"fact_sessions"`
	DimUserRows int64 `json:"dim_user_rows"`
	Users       int64 `json:"users"`
	Days        int   `json:"gold_days"`
	MinTS       int64 `json:"min_ts"`
	MaxTS       int64 `json:"max_ts"`
}

// Builder builds gold from silver day by day. It is a silver.Sink, so the
// combined etl run derives gold without reading silver back. It keeps
// per-user state only (users seen, and the dimensions at Finish), never a
// day's rows past the day.
type Builder struct {
	cfg   Config
	mu    sync.Mutex
	days  map[int64][2]int64  // min/max ts of the days built
	users map[string]struct{} // users of the facts built
	sess  map[string]struct{}
	pages map[string]struct{}
	rows  map[int64]int64 // fact_user_day rows of the days built
	st    Stats
}

// NewBuilder returns a Builder staging into cfg.Tx.
func NewBuilder(cfg Config) *Builder {
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Report == nil {
		cfg.Report = &quality.Report{}
	}
	return &Builder{cfg: cfg, days: map[int64][2]int64{},
		users: map[string]struct{}{}, sess: map[string]struct{}{}, pages: map[string]struct{}{}, rows: map[int64]int64{}}
}

// Release frees what the builder holds (nothing since it keeps no
// batches; kept for callers that defer it).
func (g *Builder) Release() {}

func addUsers(set map[string]struct{}, u *array.String) {
	for i := 0; i < u.Len(); i++ {
		if _, ok := set[u.Value(i)]; !ok {
			set[strings.Clone(u.Value(i))] = struct{}{}
		}
	}
}

// NewDay starts a day's fact_user_day (a silver.Sink).
func (g *Builder) NewDay(day int64) silver.DaySink { return NewUserDays(day) }

// Day builds fact_user_day for one day of silver events, accumulated in ev
// (from NewDay).
func (g *Builder) Day(ctx context.Context, r *silver.DayResult, ev silver.DaySink) error {
	acc, ok := ev.(*UserDays)
	if !ok {
		return fmt.Errorf("gold: day %s: events not from NewDay", silver.DayString(r.Day))
	}
	b := acc.Finish(g.cfg.Mem)
	defer b.Release()
	events := acc.NumEvents()
	var minTS, maxTS int64
	if b.NumRows() > 0 {
		f := b.Column(b.Schema().FieldIndices("first_ts")[0]).(*array.Timestamp).TimestampValues()
		l := b.Column(b.Schema().FieldIndices("last_ts")[0]).(*array.Timestamp).TimestampValues()
		minTS, maxTS = int64(slices.Min(f)), int64(slices.Max(l))
	}
	stats := map[string]int64{"rows": b.NumRows(), "events": events, "min_ts": minTS, "max_ts": maxTS}
	if err := lakeio.WritePartition(g.cfg.Tx, TableFactUserDay, lakeio.DayPartition(r.Day), b, stats); err != nil {
		return fmt.Errorf("gold: %w", err)
	}
	rep := g.cfg.Report
	if r.Report != nil {
		rep = r.Report
	}
	CheckUserDay(rep, silver.DayString(r.Day), b, events, nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	addUsers(g.users, b.Column(0).(*array.String))
	for p := range acc.Others() {
		g.pages[p] = struct{}{}
	}
	acc.Release()
	if b.NumRows() > 0 {
		g.days[r.Day] = [2]int64{minTS, maxTS}
	}
	g.rows[r.Day] = b.NumRows()
	return nil
}

// DropDay forgets what Day built for day and drops its staged partition
// (silver processes the day again). The users and pages it saw stay: the
// day's final events include them.
func (g *Builder) DropDay(day int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.days, day)
	delete(g.rows, day)
	return g.cfg.Tx.Discard(TableFactUserDay, lakeio.DayPartition(day))
}

// Sessions builds fact_session for the sessions starting on day.
func (g *Builder) Sessions(ctx context.Context, day int64, sessions arrow.RecordBatch) error {
	b, err := FactSession(g.cfg.Mem, sessions)
	if err != nil {
		return err
	}
	defer b.Release()
	if err := lakeio.WritePartition(g.cfg.Tx, TableFactSession, lakeio.DayPartition(day), b, map[string]int64{"rows": b.NumRows()}); err != nil {
		return fmt.Errorf("gold: %w", err)
	}
	CheckFactSession(g.cfg.Report, silver.DayString(day), b, nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	addUsers(g.sess, b.Column(0).(*array.String))
	g.st.Sessions += b.NumRows()
	return nil
}

// Finish rebuilds the dimensions (dim_user from the whole level history:
// the days built from memory, the others from silver/level_history), runs
// the relationship checks and stages gold/_manifest.json.
func (g *Builder) Finish(ctx context.Context) (Stats, error) {
	g.st.UserDays = 0
	for _, n := range g.rows {
		g.st.UserDays += n
	}
	l := g.cfg.Lake
	// dim_user from the whole level history, as the transaction leaves
	// it (the days just built are staged), one day at a time.
	hv := lakeio.View{Lake: l, Tx: g.cfg.Tx}
	histDays, err := hv.Days(silver.TableLevelHistory)
	if err != nil {
		return g.st, err
	}
	dacc := NewDimUsers()
	for _, d := range histDays {
		if err := ctx.Err(); err != nil {
			return g.st, err
		}
		b, err := hv.ReadPartition(g.cfg.Mem, silver.TableLevelHistory, lakeio.DayPartition(d), nil)
		if err != nil {
			return g.st, fmt.Errorf("gold: dim_user: %w", err)
		}
		if b != nil {
			err = dacc.Add(b)
			b.Release()
			if err != nil {
				return g.st, fmt.Errorf("gold: dim_user: %w", err)
			}
		}
	}
	du := dacc.Finish(g.cfg.Mem)
	defer du.Release()
	CheckDimUser(g.cfg.Report, du)
	users := UsersOf(du)
	g.st.DimUserRows = du.NumRows()
	g.st.Users = int64(len(users))
	var miss, missS int64
	var firstMiss string
	for u := range g.users {
		if _, ok := users[u]; !ok {
			miss++
			firstMiss = u
		}
	}
	for u := range g.sess {
		if _, ok := users[u]; !ok {
			missS++
			firstMiss = u
		}
	}
	g.cfg.Report.Check(CheckUserDayRelationship, quality.Error, miss, fmt.Sprintf("user_id %q not in dim_user", firstMiss))
	g.cfg.Report.Check(CheckSessionRelationship, quality.Error, missS, fmt.Sprintf("user_id %q not in dim_user", firstMiss))

	// Event time range and days: the days built plus the committed ones.
	factDays, err := lakeio.Days(l, TableFactUserDay)
	if err != nil {
		return g.st, err
	}
	ranges := map[int64][2]int64{}
	for _, d := range factDays {
		m, err := l.ReadManifest(TableFactUserDay, lakeio.DayPartition(d))
		if err != nil {
			continue
		}
		if m.Rows > 0 {
			ranges[d] = [2]int64{m.Stats["min_ts"], m.Stats["max_ts"]}
		}
	}
	for d, r := range g.days {
		ranges[d] = r
	}
	all := make([]int64, 0, len(ranges))
	for d := range ranges {
		all = append(all, d)
	}
	slices.Sort(all)
	man := Manifest{Days: len(all), Users: len(users)}
	for i, d := range all {
		r := ranges[d]
		if i == 0 || r[0] < man.MinTS {
			man.MinTS = r[0]
		}
		if i == 0 || r[1] > man.MaxTS {
			man.MaxTS = r[1]
		}
	}
	if len(all) > 0 {
		man.FirstDay, man.LastDay = silver.DayString(all[0]), silver.DayString(all[len(all)-1])
	}
	g.st.Days, g.st.MinTS, g.st.MaxTS = man.Days, man.MinTS, man.MaxTS
	dimStats := map[string]int64{"min_ts": man.MinTS, "max_ts": man.MaxTS}

	dd := DimDate(g.cfg.Mem, all)
	defer dd.Release()
	pages := slices.Collect(func(yield func(string) bool) {
		for p := range g.pages {
			if !yield(p) {
				return
			}
		}
	})
	if old, err := lakeio.ReadPartition(g.cfg.Mem, l, "gold", DimPagePartition, []string{"page"}); err == nil && old != nil {
		pc := old.Column(0).(*array.String)
		for i := 0; i < pc.Len(); i++ {
			pages = append(pages, strings.Clone(pc.Value(i)))
		}
		old.Release()
	}
	dp := DimPage(g.cfg.Mem, pages)
	defer dp.Release()
	CheckDims(g.cfg.Report, dd, dp)
	for _, w := range []struct {
		part string
		b    arrow.RecordBatch
	}{{DimUserPartition, du}, {DimDatePartition, dd}, {DimPagePartition, dp}} {
		if err := lakeio.WritePartition(g.cfg.Tx, "gold", w.part, w.b, dimStats, parquetio.WithDictionary()); err != nil {
			return g.st, fmt.Errorf("gold: %w", err)
		}
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return g.st, err
	}
	if err := g.cfg.Tx.PutFile(ManifestPath, append(mb, '\n')); err != nil {
		return g.st, err
	}
	return g.st, nil
}

// Run rebuilds gold for the window's silver days from the committed silver
// tables (fact_user_day of those days, fact_session of those days and of
// the days just before and after, and the dimensions).
func Run(ctx context.Context, cfg Config) (Stats, error) {
	g := NewBuilder(cfg)
	defer g.Release()
	cfg = g.cfg
	if cfg.Workers <= 0 {
		cfg.Workers = 3
	}
	avail, err := lakeio.Days(cfg.Lake, silver.TableEvents)
	if err != nil {
		return Stats{}, err
	}
	days := cfg.Window.Select(avail)
	if len(days) == 0 {
		return Stats{}, fmt.Errorf("%w: no silver partition in the selected days", errkind.NothingToDo)
	}
	start := time.Now()
	cfg.Log.Info("gold start", "stage", "gold", "days", len(days))
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int64)
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range next {
				err := func() error {
					if err := ctx.Err(); err != nil {
						return err
					}
					part := lakeio.DayPartition(d)
					ev, err := lakeio.ReadPartition(cfg.Mem, cfg.Lake, silver.TableEvents, part, nil)
					if err != nil || ev == nil {
						return err
					}
					defer ev.Release()
					// silver/events is in bronze order; silver's own pass puts
					// the events in the user order gold reads, as in etl.
					res, err := silver.ProcessDay(ctx, cfg.Mem, d, ev, silver.Options{})
					if err != nil {
						return fmt.Errorf("silver/events %s: %w (silver written by an older churnctl has fewer columns: rebuild it with `churnctl etl silver`)", part, err)
					}
					defer res.Release()
					acc := g.NewDay(d)
					if err := acc.Events(res.Events); err != nil {
						return err
					}
					return g.Day(ctx, &silver.DayResult{Day: d}, acc)
				}()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range days {
		next <- d
	}
	close(next)
	wg.Wait()
	if first != nil {
		return g.st, first
	}
	sessDays := slices.Clone(days)
	for _, d := range []int64{days[0] - silver.DayMillis, days[len(days)-1] + silver.DayMillis} {
		if !slices.Contains(days, d) {
			sessDays = append(sessDays, d)
		}
	}
	slices.Sort(sessDays)
	for _, d := range sessDays {
		b, err := lakeio.ReadPartition(cfg.Mem, cfg.Lake, silver.TableSessions, lakeio.DayPartition(d), nil)
		if err != nil {
			return g.st, err
		}
		if b == nil {
			continue
		}
		err = g.Sessions(ctx, d, b)
		b.Release()
		if err != nil {
			return g.st, err
		}
	}
	st, err := g.Finish(ctx)
	cfg.Log.Info("gold end", "stage", "gold", "rows_out", st.UserDays, "duration_ms", time.Since(start).Milliseconds())
	return st, err
}
