package eventsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Config describes one generated log.
type Config struct {
	Users int       // users (anonymous guest visitors are added: about one per 40 users)
	Days  int       // length of the log in days
	Start time.Time // first instant of the log (UTC)
	Seed  uint64

	// BadLineRate is the probability that a malformed copy of an event (one
	// of BadClasses) is written after it. 0 writes clean output.
	BadLineRate float64
	// VariantRate is the probability that an event is written in one of the
	// valid but unusual forms of VariantKinds. 0 writes the canonical form.
	VariantRate float64
	// LongLineBytes is the minimum length of line_too_long lines;
	// 0 means DefaultLongLineBytes.
	LongLineBytes int
	// Workers generating in parallel; 0 means GOMAXPROCS. The output does not
	// depend on it.
	Workers int
	// Progress, if set, is called after each window (10 minutes of log
	// time) is written, with the number of windows done and the total.
	Progress func(done, total int)
}

// Stats counts what Generate wrote.
type Stats struct {
	Users, Guests, Churners int
	Events                  int64 // valid event lines (variants included)
	BadLines                int64
	VariantLines            int64
	Lines                   int64 // all lines: Events + BadLines
	Bytes                   int64 // uncompressed bytes written
	Parts                   []PartStats
}

// PartStats describes one output of a split log: events with From <= ts < To.
type PartStats struct {
	From, To     time.Time
	Lines, Bytes int64
}

// window is the span of log time generated and merged at once: small enough
// for a window's encoded lines to stay in the CPU caches between the shards
// and the merger.
const (
	window         = 10 * msPerMin
	windowsPerHour = msPerHour / window
)

// Hours returns the number of hours of a log of days days, the most outputs
// Generate can split it into (outputs hold whole hours).
func Hours(days int) int { return days * 24 }

// Validate reports a configuration Generate cannot run.
func (c *Config) Validate(parts int) error {
	switch {
	case c.Users < 1:
		return fmt.Errorf("users must be at least 1, got %d", c.Users)
	case c.Users > 50_000_000:
		return fmt.Errorf("users must be at most 50,000,000, got %d", c.Users)
	case c.Days < 1 || c.Days > 3660:
		return fmt.Errorf("days must be between 1 and 3660, got %d", c.Days)
	case c.BadLineRate < 0 || c.BadLineRate > 1:
		return fmt.Errorf("bad-line rate must be between 0 and 1, got %g", c.BadLineRate)
	case c.VariantRate < 0 || c.VariantRate > 1:
		return fmt.Errorf("variant rate must be between 0 and 1, got %g", c.VariantRate)
	case parts < 1 || parts > Hours(c.Days):
		return fmt.Errorf("outputs must be between 1 and %d (one per hour), got %d", Hours(c.Days), parts)
	}
	return nil
}

// ErrConfig is wrapped by the errors of Generate for an invalid Config.
var ErrConfig = errors.New("eventsim: invalid config")

// Generate writes the log described by cfg, split by time into len(outs)
// outputs of equal time spans (output k holds hours [k*H/K, (k+1)*H/K) of the
// H hours). The bytes depend on cfg only, not on cfg.Workers or GOMAXPROCS.
// It stops early with ctx's error when ctx is cancelled.
func Generate(ctx context.Context, cfg Config, outs ...io.Writer) (Stats, error) {
	if err := cfg.Validate(len(outs)); err != nil {
		return Stats{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if cfg.LongLineBytes <= 0 {
		cfg.LongLineBytes = DefaultLongLineBytes
	}
	songs()
	start := cfg.Start.UTC().UnixMilli()
	end := start + int64(cfg.Days)*msPerDay
	guests := max(1, int(float64(cfg.Users)*guestPerUser))
	actors := cfg.Users + guests
	w := cfg.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = min(w, actors, 64)
	nw := Hours(cfg.Days) * windowsPerHour

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards := make([]*shard, w)
	var wg sync.WaitGroup
	for i := range shards {
		s := &shard{
			cfg: &cfg, id: i, n: w, start: start, end: end, actors: actors,
			out:  make(chan *chunk, 2),
			free: make(chan *chunk, 3),
		}
		for range 3 {
			s.free <- &chunk{}
		}
		shards[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, nw)
		}()
	}
	defer wg.Wait()
	defer cancel()

	st := Stats{Users: cfg.Users, Guests: guests}
	st.Parts = make([]PartStats, len(outs))
	bw := newAsyncWriter(cancel)
	defer bw.stop()
	fail := func(err error) (Stats, error) {
		if werr := bw.stop(); werr != nil {
			return st, werr
		}
		if err == nil {
			err = parent.Err()
		}
		return st, err
	}
	part := -1
	chunks := make([]*chunk, w)
	heads := make([]int, w)
	for win := range nw {
		if p := (win / windowsPerHour) * len(outs) / Hours(cfg.Days); p != part {
			part = p
			bw.reset(outs[p])
			st.Parts[p].From = time.UnixMilli(start + int64(win)*window).UTC()
		}
		st.Parts[part].To = time.UnixMilli(min(end, start+int64(win+1)*window)).UTC()
		for i, s := range shards {
			select {
			case c, ok := <-s.out:
				if !ok { // the shard stopped: ctx was cancelled
					return fail(nil)
				}
				chunks[i] = c
				heads[i] = 0
			case <-ctx.Done():
				return fail(nil)
			}
		}
		var written int64
		// k-way merge by (ts, actor): a total order, so the output does not
		// depend on how actors are spread over shards.
		for {
			best := -1
			var bt int64
			var ba int32
			for i, c := range chunks {
				h := heads[i]
				if h >= len(c.recs) {
					continue
				}
				r := &c.recs[h]
				if best < 0 || r.ts < bt || (r.ts == bt && r.actor < ba) {
					best, bt, ba = i, r.ts, r.actor
				}
			}
			if best < 0 {
				break
			}
			c := chunks[best]
			h := heads[best]
			// Copy the run of this chunk's records that precede every other head.
			for {
				r := &c.recs[h]
				bw.write(c.buf[r.start:r.end])
				written += int64(r.end - r.start)
				h++
				if h >= len(c.recs) || !lessThanOthers(&c.recs[h], chunks, heads, best) {
					break
				}
			}
			heads[best] = h
		}
		for i, c := range chunks {
			st.Events += c.events
			st.BadLines += c.bad
			st.VariantLines += c.variants
			st.Parts[part].Lines += c.events + c.bad
			shards[i].free <- c
		}
		st.Parts[part].Bytes += written
		st.Bytes += written
		if cfg.Progress != nil {
			cfg.Progress(win+1, nw)
		}
	}
	if err := bw.stop(); err != nil {
		return st, err
	}
	cancel()
	wg.Wait()
	for _, s := range shards {
		st.Churners += s.churners
	}
	st.Lines = st.Events + st.BadLines
	return st, parent.Err()
}

// lessThanOthers reports whether r sorts before the heads of every chunk
// but skip.
func lessThanOthers(r *rec, chunks []*chunk, heads []int, skip int) bool {
	for i, c := range chunks {
		if i == skip || heads[i] >= len(c.recs) {
			continue
		}
		o := &c.recs[heads[i]]
		if o.ts < r.ts || (o.ts == r.ts && o.actor < r.actor) {
			return false
		}
	}
	return true
}

// rec locates one event (and the bad line that may follow it) in a chunk.
type rec struct {
	ts         int64
	actor      int32
	start, end int32 // the event's lines (and its bad copy) in chunk.buf
}

// chunk is one shard's encoded events of one window, sorted by (ts, actor).
type chunk struct {
	buf                   []byte
	recs                  []rec
	events, bad, variants int64
}

// shard owns the actors idx with idx % n == id and generates their events
// window by window.
type shard struct {
	cfg        *Config
	id, n      int
	start, end int64
	actors     int
	all        []*actor  // by idx / n
	buckets    [][]int32 // per window: the actors (index in all) with an event or session start in it
	spare      []int32
	evs        []event
	keys       []uint64
	ends       []int32
	pool       [][]event
	out, free  chan *chunk
	churners   int
}

func (s *shard) run(ctx context.Context, nw int) {
	defer close(s.out)
	for idx := s.id; idx < s.actors; idx += s.n {
		s.all = append(s.all, newActor(s.cfg, int32(idx), s.start, s.end))
	}
	s.buckets = make([][]int32, nw)
	for li, a := range s.all {
		s.schedule(int32(li), a.next)
	}
	for win := range nw {
		var c *chunk
		select {
		case c = <-s.free:
		case <-ctx.Done():
			return
		}
		wEnd := min(s.end, s.start+int64(win+1)*window)
		s.fill(c, win, wEnd)
		select {
		case s.out <- c:
		case <-ctx.Done():
			return
		}
	}
}

// fill generates the shard's events before wEnd into c, encoded and sorted.
func (s *shard) fill(c *chunk, win int, wEnd int64) {
	evs := s.evs[:0]
	// Only the actors with something in this window are visited.
	due := s.buckets[win]
	s.buckets[win] = nil
	slices.Sort(due)
	for _, li := range due {
		a := s.all[li]
		for {
			if a.pos >= len(a.pending) {
				if a.pending != nil {
					s.pool = append(s.pool, a.pending[:0])
					a.pending, a.pos = nil, 0
				}
				if a.done || a.next >= wEnd {
					break
				}
				var buf []event
				if n := len(s.pool); n > 0 {
					buf, s.pool = s.pool[n-1], s.pool[:n-1]
				}
				a.pending = a.session(buf, s.cfg)
				a.pos = 0
				if a.churned {
					s.churners++
					a.churned = false
				}
				continue
			}
			e := &a.pending[a.pos]
			if e.ts >= wEnd {
				break
			}
			evs = append(evs, *e)
			a.pos++
		}
		switch {
		case a.pos < len(a.pending):
			s.schedule(li, a.pending[a.pos].ts)
		case !a.done:
			s.schedule(li, a.next)
		}
	}
	s.spare = due[:0]
	// Sort by (ts, actor) through one uint64 per event: the offset of ts in
	// the window, then the event's index. Within a shard the events are
	// appended in increasing actor order, so for equal ts the index order is
	// the actor order.
	keys := s.keys[:0]
	wStart := wEnd - window
	for i := range evs {
		keys = append(keys, uint64(evs[i].ts-wStart)<<32|uint64(i))
	}
	slices.Sort(keys)
	s.keys = keys
	s.evs = evs
	c.buf = c.buf[:0]
	c.recs = c.recs[:0]
	c.events, c.bad, c.variants = 0, 0, 0
	// Encode in actor order (an actor's profile stays in cache over its
	// events), then list the records in (ts, actor) order for the merge.
	longLine := s.cfg.LongLineBytes
	ends := s.ends[:0]
	for i := range evs {
		e := &evs[i]
		a := s.all[int(e.actor)/s.n]
		if e.variant != 0 {
			c.buf = appendVariant(c.buf, e, a)
			c.variants++
		} else {
			c.buf = appendEvent(c.buf, e, a)
		}
		if e.bad != 0 {
			c.buf = appendBad(c.buf, e, a, longLine)
			c.bad++
		}
		ends = append(ends, int32(len(c.buf)))
	}
	s.ends = ends
	for _, k := range keys {
		i := uint32(k)
		var from int32
		if i > 0 {
			from = ends[i-1]
		}
		c.recs = append(c.recs, rec{ts: evs[i].ts, actor: evs[i].actor, start: from, end: ends[i]})
	}
	c.events = int64(len(evs))
}

// asyncWriter batches the merged lines into large buffers that a separate
// goroutine writes, so merging and the write system calls overlap.
type asyncWriter struct {
	buf     []byte
	w       io.Writer
	ch      chan asyncBuf
	free    chan []byte
	done    chan struct{}
	err     error // set by the writing goroutine, read after done
	stopped bool
}

type asyncBuf struct {
	w      io.Writer
	b      []byte
	pooled bool
}

// Eight 2 MiB buffers absorb the stalls of a file system's write-back.
const (
	asyncBufSize = 2 << 20
	asyncBufs    = 8
)

func newAsyncWriter(onErr func()) *asyncWriter {
	a := &asyncWriter{ch: make(chan asyncBuf, asyncBufs), free: make(chan []byte, asyncBufs), done: make(chan struct{})}
	for range asyncBufs {
		a.free <- make([]byte, 0, asyncBufSize)
	}
	a.buf = <-a.free
	go func() {
		defer close(a.done)
		for m := range a.ch {
			if a.err == nil {
				if _, err := m.w.Write(m.b); err != nil {
					a.err = err
					onErr()
				}
			}
			if m.pooled {
				a.free <- m.b[:0]
			}
		}
	}()
	return a
}

func (a *asyncWriter) flush() {
	if len(a.buf) > 0 {
		a.ch <- asyncBuf{a.w, a.buf, true}
		a.buf = <-a.free
	}
}

// reset flushes what was written to the previous writer and switches to w.
func (a *asyncWriter) reset(w io.Writer) {
	a.flush()
	a.w = w
}

func (a *asyncWriter) write(p []byte) {
	if len(a.buf)+len(p) > cap(a.buf) {
		a.flush()
		if len(p) > cap(a.buf) {
			a.ch <- asyncBuf{a.w, append([]byte(nil), p...), false}
			return
		}
	}
	a.buf = append(a.buf, p...)
}

// stop flushes, waits for the writes to finish and returns the first error.
func (a *asyncWriter) stop() error {
	if !a.stopped {
		a.stopped = true
		a.flush()
		close(a.ch)
		<-a.done
	}
	return a.err
}

// schedule files actor li under the window holding t; times at or after the
// end of the log are dropped.
func (s *shard) schedule(li int32, t int64) {
	if t >= s.end {
		return
	}
	w := int((max(t, s.start) - s.start) / window)
	if s.buckets[w] == nil && s.spare != nil {
		s.buckets[w], s.spare = s.spare, nil
	}
	s.buckets[w] = append(s.buckets[w], li)
}
