package features

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Source gives the gold tables a snapshot is built from. LakeSource reads
// them from a lake; MemSource holds them in memory (tests, fixtures).
type Source interface {
	// Days lists the dt partitions of gold fact_user_day in ascending order.
	Days(ctx context.Context) ([]Date, error)
	// ReadDay calls fn with the record batches of partition dt, projected to
	// cols. fn must Retain a batch it keeps after returning.
	ReadDay(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error
	// ReadUsers calls fn with the record batches of gold dim_user, projected
	// to cols.
	ReadUsers(ctx context.Context, cols []string, fn func(arrow.RecordBatch) error) error
	// LastDay returns the last UTC day that holds events in the lake (from
	// the gold manifest's max_ts when there is one); ok is false for an empty
	// lake.
	LastDay(ctx context.Context) (d Date, ok bool, err error)
	// AttrDays lists the dt partitions of silver level_history (a row per
	// user and day with the user's attributes at the day's first event and
	// at level changes), or nil when the source has none; ReadAttrs reads
	// one. Static attributes then come from the user's last row before T,
	// which cannot see the future; without them, from gold dim_user, whose
	// attributes are the user's latest values (type 1).
	AttrDays(ctx context.Context) ([]Date, error)
	ReadAttrs(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error
}

// Config selects the cutoff, label horizon and count window of a snapshot.
type Config struct {
	AsOf        Date // T: features use days < T
	HorizonDays int  // H: label window [T, T+H)
	WindowDays  int  // W: count features cover [T-W, T); 0 means 30
	// Readers is how many partitions are decoded concurrently (0 = 2).
	Readers int
	Log     *slog.Logger

	// wholeHistory reproduces the classic leak (features over every day,
	// including those at or after T). Tests set it to show that the leakage
	// test catches it; nothing else can.
	wholeHistory bool
}

// DefaultWindowDays is the count window used when Config.WindowDays is 0.
const DefaultWindowDays = 30

// trendDays is how far back the fixed 7/14-day trend windows reach.
const trendDays = 28

// Snapshot is one feature table: a row per user, a column per feature.
type Snapshot struct {
	AsOf        Date
	HorizonDays int
	WindowDays  int
	// Labeled is false when the lake's data ends before the label window
	// does; Churn is then all null.
	Labeled bool
	// LastDay is the last day with data in the lake.
	LastDay Date
	UserIDs []string
	// Values[j][i] is feature j of user i (Features()[j]); integer, bool and
	// category features hold exact integers.
	Values [][]float64
	// Churn[i] is the label of user i (0/1), meaningful only when Labeled.
	Churn []int8
	// Inputs are the fact_user_day partitions read, ascending (all < T+H).
	Inputs []Date
	// AttrInputs counts the silver level_history partitions read (0: static
	// attributes came from gold dim_user).
	AttrInputs int
}

// Positives counts the churners in a labeled snapshot.
func (s *Snapshot) Positives() int {
	n := 0
	for _, c := range s.Churn {
		n += int(c)
	}
	return n
}

// user accumulates one user's gold rows.
type user struct {
	id string

	// whole history before T
	firstTS, lastTS int64
	lastDay         Date
	paidLast        bool
	nAll, nPaidAll  int64
	lastUp          Date
	lastDown        Date
	churnedBefore   bool

	// static attributes as of T
	attrTS             int64
	hasAttrs           bool
	hasReg             bool
	registration       int64
	gender, os, state  int
	dimFrom            int64
	dimFound, dimExact bool

	// window [T-W, T)
	active  int64
	win     [wPages + 16]int64
	listen  float64
	artists []uint64
	// trend buckets [last7, prev7, last14, prev14]: events, songs,
	// sessions, thumbs up, thumbs down, adverts, Downgrade page visits,
	// Submit Downgrade; prev7 + prev14 is the 21 days [T-28d, T-7d)
	ev, so, ses, tu, td, adv, dgv, dg [4]int64
	active7                           int64
	activePrior21                     int64 // active days in [T-28d, T-7d)
	label                             bool
}

// indexes into user.win
const (
	wEvents = iota
	wSessions
	wSongs
	wPages // the 16 page counts follow, in pageCols order
)

var historyCols = []string{"user_id", "n_events", "n_paid_events", "n_submit_upgrade", "n_submit_downgrade",
	"n_cancellation_confirmation", "level_end", "first_ts", "last_ts"}

var windowCols = func() []string {
	c := append(slices.Clone(historyCols), "n_sessions", "songs", "listen_seconds", "artist_sketch", "n_next_song", "n_other")
	for _, p := range pageCols {
		c = append(c, p.col)
	}
	return c
}()

var labelCols = []string{"user_id", "n_cancellation_confirmation"}

var dimCols = []string{"user_id", "valid_from", "valid_to", "registration", "gender", "location", "user_agent"}

var attrCols = []string{"user_id", "ts", "registration", "gender", "location", "user_agent"}

// Compute builds the snapshot for cfg.AsOf from src.
func Compute(ctx context.Context, src Source, cfg Config) (*Snapshot, error) {
	if cfg.WindowDays == 0 {
		cfg.WindowDays = DefaultWindowDays
	}
	if cfg.WindowDays < 0 || cfg.HorizonDays <= 0 {
		return nil, fmt.Errorf("%w: features: window %d days, horizon %d days: want positive", errkind.Usage, cfg.WindowDays, cfg.HorizonDays)
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 2
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	T := cfg.AsOf
	end := T + Date(cfg.HorizonDays) // first day not read
	featEnd := T
	if cfg.wholeHistory {
		featEnd = 1 << 30
	}
	winStart := T - Date(max(cfg.WindowDays, trendDays))

	days, err := src.Days(ctx)
	if err != nil {
		return nil, err
	}
	last, ok, err := src.LastDay(ctx)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{AsOf: T, HorizonDays: cfg.HorizonDays, WindowDays: cfg.WindowDays, LastDay: last}
	snap.Labeled = ok && last >= end-1
	if !snap.Labeled {
		log.Warn("features: data ends before the label window does; snapshot is unlabeled (churn is null)",
			"as_of", T.String(), "label_window_end", end.String(), "data_last_day", lastString(last, ok))
	}

	attrDays, err := src.AttrDays(ctx)
	if err != nil {
		return nil, err
	}
	useAttrs := attrDays != nil
	hasAttrDay := map[Date]bool{}
	for _, d := range attrDays {
		hasAttrDay[d] = true
	}

	type job struct {
		dt   Date
		cols []string
		kind int // 0 history, 1 window, 2 label, 3 attributes
	}
	var jobs []job
	for _, dt := range days {
		if dt < featEnd && hasAttrDay[dt] {
			jobs = append(jobs, job{dt, attrCols, 3})
		}
		switch {
		case dt < featEnd && dt >= winStart:
			jobs = append(jobs, job{dt, windowCols, 1})
		case dt < featEnd:
			jobs = append(jobs, job{dt, historyCols, 0})
		case cfg.wholeHistory && dt < end:
			jobs = append(jobs, job{dt, windowCols, 1})
		}
		if dt >= T && dt < end && snap.Labeled {
			jobs = append(jobs, job{dt, labelCols, 2})
		}
	}

	for _, j := range jobs {
		if j.kind == 3 {
			snap.AttrInputs++
			continue
		}
		if len(snap.Inputs) == 0 || snap.Inputs[len(snap.Inputs)-1] != j.dt {
			snap.Inputs = append(snap.Inputs, j.dt)
		}
	}
	a := &accum{cfg: cfg, users: make(map[string]*user)}
	// Partitions are decoded concurrently (a bounded look-ahead) and folded
	// in dt order, so float sums are always added in the same order.
	type slot struct {
		batches []arrow.RecordBatch
		err     error
		done    chan struct{}
	}
	slots := make([]*slot, len(jobs))
	for i := range slots {
		slots[i] = &slot{done: make(chan struct{})}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ahead := make(chan struct{}, cfg.Readers+2)
	next := make(chan int)
	var wg sync.WaitGroup
	go func() {
		defer close(next)
		for i := range jobs {
			select {
			case ahead <- struct{}{}:
			case <-rctx.Done():
				return
			}
			select {
			case next <- i:
			case <-rctx.Done():
				return
			}
		}
	}()
	for range cfg.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := slots[i]
				read := src.ReadDay
				if jobs[i].kind == 3 {
					read = src.ReadAttrs
				}
				s.err = read(rctx, jobs[i].dt, jobs[i].cols, func(b arrow.RecordBatch) error {
					b.Retain()
					s.batches = append(s.batches, b)
					return nil
				})
				close(s.done)
			}
		}()
	}
	release := func(from int) {
		cancel()
		wg.Wait()
		for _, s := range slots[from:] {
			select {
			case <-s.done:
				for _, b := range s.batches {
					b.Release()
				}
			default:
			}
		}
	}
	for i, j := range jobs {
		s := slots[i]
		select {
		case <-s.done:
		case <-ctx.Done():
			release(i)
			return nil, ctx.Err()
		}
		err := s.err
		for _, b := range s.batches {
			if err == nil {
				err = ctx.Err()
			}
			if err == nil {
				err = a.fold(j.dt, j.kind, b)
			}
			b.Release()
		}
		s.batches = nil
		<-ahead
		if err != nil {
			release(i + 1)
			table := "gold fact_user_day"
			if j.kind == 3 {
				table = "silver level_history"
			}
			return nil, fmt.Errorf("features: %s dt=%s: %w", table, j.dt, err)
		}
	}
	cancel()
	wg.Wait()

	// rows: users with events before T who have not churned before T
	var rows []*user
	for _, u := range a.users {
		if u.nAll > 0 && !u.churnedBefore {
			rows = append(rows, u)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })

	// users without a level_history row before T (or a lake without level
	// history) take their attributes from dim_user
	missing := 0
	for _, u := range rows {
		if !u.hasAttrs {
			missing++
		}
	}
	if missing > 0 {
		if useAttrs {
			log.Warn("features: users without silver level_history before T take attributes from gold dim_user", "as_of", T.String(), "users", missing)
		}
		if err := a.readDims(ctx, src, rows); err != nil {
			return nil, err
		}
	}

	snap.UserIDs = make([]string, len(rows))
	snap.Churn = make([]int8, len(rows))
	snap.Values = make([][]float64, len(featureDefs))
	for j := range snap.Values {
		snap.Values[j] = make([]float64, len(rows))
	}
	c := &calc{asOf: T, asOfMS: T.MS(), window: cfg.WindowDays}
	// rows are independent: two halves on two goroutines
	half := len(rows) / 2
	for _, r := range [][2]int{{0, half}, {half, len(rows)}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r[0]; i < r[1]; i++ {
				u := rows[i]
				snap.UserIDs[i] = u.id
				if snap.Labeled && u.label {
					snap.Churn[i] = 1
				}
				u.finish()
				for j, d := range featureDefs {
					snap.Values[j][i] = d.fn(u, c)
				}
			}
		}()
	}
	wg.Wait()
	return snap, nil
}

func lastString(d Date, ok bool) string {
	if !ok {
		return "none"
	}
	return d.String()
}

type accum struct {
	cfg   Config
	users map[string]*user
}

func (a *accum) get(id string) *user {
	u := a.users[id]
	if u == nil {
		u = &user{id: strings.Clone(id), lastUp: noDay, lastDown: noDay, lastDay: noDay}
		a.users[u.id] = u
	}
	return u
}

// cols resolves the named columns of a batch.
type cols struct {
	b   arrow.RecordBatch
	err error
}

func (c *cols) col(name string) arrow.Array {
	idx := c.b.Schema().FieldIndices(name)
	if len(idx) == 0 {
		if c.err == nil {
			c.err = fmt.Errorf("%w: column %q missing", errkind.BadInput, name)
		}
		return nil
	}
	return c.b.Column(idx[0])
}

// typed returns the named column as T, recording the first error (missing
// column or another type) in c.err; want names the type in that error.
func typed[T any](c *cols, name, want string) T {
	var zero T
	a := c.col(name)
	if a == nil {
		return zero
	}
	v, ok := a.(T)
	if !ok && c.err == nil {
		c.err = fmt.Errorf("%w: column %q is %s, want %s", errkind.BadInput, name, a.DataType(), want)
	}
	return v
}

func (c *cols) int64s(name string) *array.Int64 { return typed[*array.Int64](c, name, "int64") }

func (c *cols) float64s(name string) *array.Float64 { return typed[*array.Float64](c, name, "float64") }

// stringer reads string columns (utf8 or large utf8).
type stringer interface {
	arrow.Array
	Value(int) string
}

func (c *cols) strings(name string) stringer { return typed[stringer](c, name, "string") }

type byter interface {
	arrow.Array
	Value(int) []byte
}

func (c *cols) binary(name string) byter { return typed[byter](c, name, "binary") }

// timestamps reads a timestamp column as Unix milliseconds.
type msArray struct {
	a   *array.Timestamp
	div int64
	mul int64
}

func (m msArray) IsNull(i int) bool { return m.a.IsNull(i) }
func (m msArray) Value(i int) int64 {
	v := int64(m.a.Value(i))
	if m.div > 1 {
		return v / m.div
	}
	return v * m.mul
}

func (c *cols) timestamps(name string) msArray {
	a := c.col(name)
	if a == nil {
		return msArray{}
	}
	v, ok := a.(*array.Timestamp)
	if !ok {
		if c.err == nil {
			c.err = fmt.Errorf("%w: column %q is %s, want timestamp", errkind.BadInput, name, a.DataType())
		}
		return msArray{}
	}
	m := msArray{a: v, div: 1, mul: 1}
	switch v.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		m.mul = 1000
	case arrow.Microsecond:
		m.div = 1000
	case arrow.Nanosecond:
		m.div = 1000_000
	}
	return m
}

func (a *accum) fold(dt Date, kind int, b arrow.RecordBatch) error {
	c := &cols{b: b}
	ids := c.strings("user_id")
	if kind == 3 {
		return a.foldAttrs(c, ids)
	}
	conf := c.int64s("n_cancellation_confirmation")
	if kind == 2 {
		if c.err != nil {
			return c.err
		}
		for i := range int(b.NumRows()) {
			if conf.Value(i) > 0 {
				if u := a.users[ids.Value(i)]; u != nil {
					u.label = true
				}
			}
		}
		return nil
	}
	nev := c.int64s("n_events")
	npaid := c.int64s("n_paid_events")
	nup := c.int64s("n_submit_upgrade")
	ndown := c.int64s("n_submit_downgrade")
	lvl := c.strings("level_end")
	first := c.timestamps("first_ts")
	last := c.timestamps("last_ts")
	var (
		nses, songs     *array.Int64
		nextSong, other *array.Int64
		listen          *array.Float64
		sketch          byter
		pages           [16]*array.Int64
	)
	if kind == 1 {
		nses = c.int64s("n_sessions")
		songs = c.int64s("songs")
		nextSong = c.int64s("n_next_song")
		other = c.int64s("n_other")
		listen = c.float64s("listen_seconds")
		sketch = c.binary("artist_sketch")
		for k, p := range pageCols {
			pages[k] = c.int64s(p.col)
		}
	}
	if c.err != nil {
		return c.err
	}
	T := a.cfg.AsOf
	inWin := dt >= T-Date(a.cfg.WindowDays)
	for i := range int(b.NumRows()) {
		u := a.get(ids.Value(i))
		n := nev.Value(i)
		if conf.Value(i) > 0 {
			u.churnedBefore = true
		}
		if n <= 0 {
			continue
		}
		f, l := first.Value(i), last.Value(i)
		if u.nAll == 0 || f < u.firstTS {
			u.firstTS = f
		}
		if u.nAll == 0 || l >= u.lastTS {
			u.lastTS = l
			u.lastDay = dt
			u.paidLast = lvl.Value(i) == "paid"
		}
		u.nAll += n
		u.nPaidAll += npaid.Value(i)
		if nup.Value(i) > 0 {
			u.lastUp = dt
		}
		if ndown.Value(i) > 0 {
			u.lastDown = dt
		}
		if kind != 1 {
			continue
		}
		s := songs.Value(i)
		// event counts leave out the churn pages: every page but Cancel
		// and Cancellation Confirmation (n_events - those two, without
		// reading them)
		n = nextSong.Value(i) + other.Value(i)
		for k := range pageCols {
			n += pages[k].Value(i)
		}
		if inWin {
			u.active++
			u.win[wEvents] += n
			u.win[wSessions] += nses.Value(i)
			u.win[wSongs] += s
			for k := range pageCols {
				u.win[wPages+k] += pages[k].Value(i)
			}
			u.listen += listen.Value(i)
			if !sketch.IsNull(i) {
				h := sketch.Value(i)
				if len(h)%8 != 0 {
					return fmt.Errorf("%w: artist_sketch of %s is %d bytes, want a multiple of 8", errkind.BadInput, u.id, len(h))
				}
				for o := 0; o < len(h); o += 8 {
					u.artists = append(u.artists, le64(h[o:]))
				}
			}
		}
		age := int(T - dt) // 1 = the day before T
		add := func(k int) {
			u.ev[k] += n
			u.so[k] += s
			u.ses[k] += nses.Value(i)
			u.tu[k] += pages[1].Value(i)
			u.td[k] += pages[2].Value(i)
			u.adv[k] += pages[5].Value(i)
			u.dgv[k] += pages[13].Value(i)
			u.dg[k] += pages[15].Value(i)
		}
		switch {
		case age >= 1 && age <= 7:
			add(0)
			u.active7++
		case age >= 8 && age <= 14:
			add(1)
		}
		if age >= 8 && age <= 28 {
			u.activePrior21++
		}
		switch {
		case age >= 1 && age <= 14:
			add(2)
		case age >= 15 && age <= 28:
			add(3)
		}
	}
	return nil
}

// foldAttrs keeps each user's attributes of their latest level_history row.
// Attribute days are folded in dt order, so a later row replaces an earlier
// one; rows of a day are compared by ts.
func (a *accum) foldAttrs(c *cols, ids stringer) error {
	ts := c.timestamps("ts")
	reg := c.timestamps("registration")
	gender := c.strings("gender")
	loc := c.strings("location")
	ua := c.strings("user_agent")
	if c.err != nil {
		return c.err
	}
	for i := range int(c.b.NumRows()) {
		u := a.get(ids.Value(i))
		t := ts.Value(i)
		if u.hasAttrs && t < u.attrTS {
			continue
		}
		u.hasAttrs, u.attrTS = true, t
		u.hasReg = !reg.IsNull(i)
		if u.hasReg {
			u.registration = reg.Value(i)
		}
		u.gender = GenderCode(strOrEmpty(gender, i))
		u.os = OSCode(strOrEmpty(ua, i))
		u.state = StateCode(strOrEmpty(loc, i))
	}
	return nil
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// finish turns the collected artist hashes into a distinct set.
func (u *user) finish() {
	slices.Sort(u.artists)
	u.artists = slices.Compact(u.artists)
}

// readDims attaches dim_user's static attributes, taken from the SCD2 row
// valid just before T (valid_from < T and valid_to null or >= T); when no
// row is valid at T, the earliest row.
func (a *accum) readDims(ctx context.Context, src Source, rows []*user) error {
	if len(rows) == 0 {
		return nil
	}
	T := a.cfg.AsOf.MS()
	err := src.ReadUsers(ctx, dimCols, func(b arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := &cols{b: b}
		ids := c.strings("user_id")
		from := c.timestamps("valid_from")
		to := c.timestamps("valid_to")
		reg := c.timestamps("registration")
		gender := c.strings("gender")
		loc := c.strings("location")
		ua := c.strings("user_agent")
		if c.err != nil {
			return c.err
		}
		for i := range int(b.NumRows()) {
			u := a.users[ids.Value(i)]
			if u == nil || u.hasAttrs {
				continue
			}
			vf := from.Value(i)
			exact := vf < T && (to.IsNull(i) || to.Value(i) >= T)
			switch {
			case !u.dimFound:
			case exact && !u.dimExact:
			case exact && u.dimExact && vf > u.dimFrom:
			case !exact && !u.dimExact && vf < u.dimFrom:
			default:
				continue
			}
			u.dimFound, u.dimExact, u.dimFrom = true, exact, vf
			u.hasReg = !reg.IsNull(i)
			if u.hasReg {
				u.registration = reg.Value(i)
			}
			u.gender = GenderCode(strOrEmpty(gender, i))
			u.os = OSCode(strOrEmpty(ua, i))
			u.state = StateCode(strOrEmpty(loc, i))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("features: gold dim_user: %w", err)
	}
	return nil
}

func strOrEmpty(a stringer, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}
