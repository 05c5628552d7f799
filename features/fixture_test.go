package features

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ev is one raw user event, the fields features depend on.
type ev struct {
	TS           int64 // Unix ms
	UserID       string
	SessionID    int64
	Page         string
	Level        string
	Item         int32
	Registration int64 // 0 = unknown
	Gender       string
	Location     string
	UserAgent    string
	Artist       string
	Length       float64
}

var allPages = []string{"NextSong", "Home", "Thumbs Up", "Thumbs Down", "Add to Playlist", "Add Friend",
	"Roll Advert", "Logout", "Settings", "Save Settings", "Help", "About", "Error", "Upgrade", "Downgrade",
	"Submit Upgrade", "Submit Downgrade"}

var pageWeights = []int{60, 6, 5, 1, 3, 2, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1}

var agents = []string{
	`"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"`,
	`"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36"`,
	`Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0`,
	`"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"`,
}

var locations = []string{"Bakersfield, CA", "New York-Newark-Jersey City, NY-NJ-PA", "Boston-Cambridge-Newton, MA-NH", "Nowhere"}

var day0 = time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC)

// genEvents makes a seeded synthetic event log of n users over days days
// from day0: sessions at random times (some crossing midnight), level
// changes, and about a quarter of the users churning (Cancel, then
// Cancellation Confirmation, then nothing).
func genEvents(seed uint64, n, days int) []ev {
	r := rand.New(rand.NewPCG(seed, 7))
	var out []ev
	total := 0
	for _, w := range pageWeights {
		total += w
	}
	end := day0.AddDate(0, 0, days).UnixMilli()
	for u := range n {
		id := fmt.Sprint(100 + u)
		if u%10 == 3 {
			id = fmt.Sprintf("1%05d", u) // ids of different lengths: byte order != numeric order
		}
		reg := day0.Add(-time.Duration(r.IntN(60*24)) * time.Hour).UnixMilli()
		if u%17 == 5 {
			reg = 0
		}
		gender := []string{"F", "M", ""}[r.IntN(3)]
		loc := locations[r.IntN(len(locations))]
		ua := agents[r.IntN(len(agents))]
		level := "free"
		if r.IntN(3) == 0 {
			level = "paid"
		}
		churnAt := int64(-1)
		if r.IntN(4) == 0 {
			churnAt = day0.UnixMilli() + r.Int64N(int64(days)*msPerDay)
		}
		ts := day0.UnixMilli() + r.Int64N(int64(days/3)*msPerDay)
		sess := int64(r.IntN(1000))
		for ts < end {
			sess++
			nItems := 1 + r.IntN(40)
			for item := range nItems {
				if churnAt >= 0 && ts >= churnAt {
					break
				}
				pick := r.IntN(total)
				page := ""
				for k, w := range pageWeights {
					if pick < w {
						page = allPages[k]
						break
					}
					pick -= w
				}
				e := ev{TS: ts, UserID: id, SessionID: sess, Page: page, Level: level, Item: int32(item),
					Registration: reg, Gender: gender, Location: loc, UserAgent: ua}
				if page == "NextSong" {
					e.Artist = fmt.Sprintf("Artist %d", r.IntN(80))
					e.Length = 120 + r.Float64()*200
				}
				out = append(out, e)
				switch page {
				case "Submit Upgrade":
					level = "paid"
				case "Submit Downgrade":
					level = "free"
				}
				ts += 1000 + r.Int64N(300_000)
			}
			if churnAt >= 0 && ts >= churnAt {
				out = append(out,
					ev{TS: ts, UserID: id, SessionID: sess, Page: "Cancel", Level: level, Item: 90, Registration: reg, Gender: gender, Location: loc, UserAgent: ua},
					ev{TS: ts + 1000, UserID: id, SessionID: sess, Page: "Cancellation Confirmation", Level: level, Item: 91, Registration: reg, Gender: gender, Location: loc, UserAgent: ua})
				break
			}
			ts += r.Int64N(3 * msPerDay)
		}
	}
	sortEvents(out)
	return out
}

func sortEvents(es []ev) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].TS != es[j].TS {
			return es[i].TS < es[j].TS
		}
		return es[i].UserID < es[j].UserID
	})
}

var pageColumn = map[string]string{
	"NextSong": "n_next_song", "Home": "n_home", "Thumbs Up": "n_thumbs_up", "Thumbs Down": "n_thumbs_down",
	"Add to Playlist": "n_add_to_playlist", "Add Friend": "n_add_friend", "Roll Advert": "n_roll_advert",
	"Logout": "n_logout", "Settings": "n_settings", "Save Settings": "n_save_settings", "Help": "n_help",
	"About": "n_about", "Error": "n_error", "Upgrade": "n_upgrade", "Downgrade": "n_downgrade",
	"Submit Upgrade": "n_submit_upgrade", "Submit Downgrade": "n_submit_downgrade", "Cancel": "n_cancel",
	"Cancellation Confirmation": "n_cancellation_confirmation",
}

var goldPageCols = []string{"n_next_song", "n_home", "n_thumbs_up", "n_thumbs_down", "n_add_to_playlist",
	"n_add_friend", "n_roll_advert", "n_logout", "n_settings", "n_save_settings", "n_help", "n_about", "n_error",
	"n_upgrade", "n_downgrade", "n_submit_upgrade", "n_submit_downgrade", "n_cancel",
	"n_cancellation_confirmation", "n_other"}

// factSchema is gold fact_user_day per the gold contract (COMMON.md).
func factSchema() *arrow.Schema {
	f := []arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "dt", Type: arrow.FixedWidthTypes.Date32},
		{Name: "n_events", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n_sessions", Type: arrow.PrimitiveTypes.Int64},
	}
	for _, c := range goldPageCols {
		f = append(f, arrow.Field{Name: c, Type: arrow.PrimitiveTypes.Int64})
	}
	f = append(f,
		arrow.Field{Name: "songs", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "listen_seconds", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "distinct_artists", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "artist_sketch", Type: arrow.BinaryTypes.Binary},
		arrow.Field{Name: "n_paid_events", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "level_end", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "first_ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
		arrow.Field{Name: "last_ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	)
	return arrow.NewSchema(f, nil)
}

func dimSchema() *arrow.Schema {
	ts := arrow.FixedWidthTypes.Timestamp_ms
	s := arrow.BinaryTypes.String
	return arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: s}, {Name: "valid_from", Type: ts}, {Name: "valid_to", Type: ts, Nullable: true},
		{Name: "is_current", Type: arrow.FixedWidthTypes.Boolean}, {Name: "level", Type: s},
		{Name: "registration", Type: ts, Nullable: true}, {Name: "gender", Type: s, Nullable: true},
		{Name: "location", Type: s, Nullable: true}, {Name: "user_agent", Type: s, Nullable: true},
		{Name: "first_name", Type: s, Nullable: true}, {Name: "last_name", Type: s, Nullable: true},
	}, nil)
}

func artistHash(a string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(a))
	return h.Sum64()
}

// buildGold is a test-only gold builder following the contract: events →
// fact_user_day partitions and an SCD2 dim_user (a version per level run;
// attributes from the version's first event).
func buildGold(mem memory.Allocator, es []ev) *MemSource {
	es = slices.Clone(es)
	sortEvents(es)
	type key struct {
		dt Date
		id string
	}
	type agg struct {
		n, paid, songs int64
		pages          map[string]int64
		sessions       map[int64]bool
		artists        map[uint64]bool
		listen         float64
		first, last    int64
		level          string
	}
	aggs := map[key]*agg{}
	var keys []key
	for _, e := range es {
		k := key{DateOfMS(e.TS), e.UserID}
		a := aggs[k]
		if a == nil {
			a = &agg{pages: map[string]int64{}, sessions: map[int64]bool{}, artists: map[uint64]bool{}, first: e.TS}
			aggs[k] = a
			keys = append(keys, k)
		}
		a.n++
		if e.Level == "paid" {
			a.paid++
		}
		col, ok := pageColumn[e.Page]
		if !ok {
			col = "n_other"
		}
		a.pages[col]++
		a.sessions[e.SessionID] = true
		if e.Page == "NextSong" {
			a.songs++
			a.listen += e.Length
			a.artists[artistHash(e.Artist)] = true
		}
		a.last = e.TS
		a.level = e.Level
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].dt != keys[j].dt {
			return keys[i].dt < keys[j].dt
		}
		return keys[i].id < keys[j].id
	})
	src := &MemSource{Fact: map[Date][]arrow.RecordBatch{}}
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j].dt == keys[i].dt {
			j++
		}
		b := array.NewRecordBuilder(mem, factSchema())
		for _, k := range keys[i:j] {
			a := aggs[k]
			f := 0
			b.Field(f).(*array.StringBuilder).Append(k.id)
			b.Field(f + 1).(*array.Date32Builder).Append(arrow.Date32(k.dt))
			b.Field(f + 2).(*array.Int64Builder).Append(a.n)
			b.Field(f + 3).(*array.Int64Builder).Append(int64(len(a.sessions)))
			f = 4
			for _, c := range goldPageCols {
				b.Field(f).(*array.Int64Builder).Append(a.pages[c])
				f++
			}
			b.Field(f).(*array.Int64Builder).Append(a.songs)
			b.Field(f + 1).(*array.Float64Builder).Append(a.listen)
			b.Field(f + 2).(*array.Int64Builder).Append(int64(len(a.artists)))
			var hs []uint64
			for h := range a.artists {
				hs = append(hs, h)
			}
			slices.Sort(hs)
			sk := make([]byte, 8*len(hs))
			for x, h := range hs {
				binary.LittleEndian.PutUint64(sk[8*x:], h)
			}
			b.Field(f + 3).(*array.BinaryBuilder).Append(sk)
			b.Field(f + 4).(*array.Int64Builder).Append(a.paid)
			b.Field(f + 5).(*array.StringBuilder).Append(a.level)
			b.Field(f + 6).(*array.TimestampBuilder).Append(arrow.Timestamp(a.first))
			b.Field(f + 7).(*array.TimestampBuilder).Append(arrow.Timestamp(a.last))
		}
		src.Fact[keys[i].dt] = []arrow.RecordBatch{b.NewRecordBatch()}
		b.Release()
		i = j
	}
	if len(es) > 0 {
		src.Last, src.HasLast = DateOfMS(es[len(es)-1].TS), true
	}

	// dim_user: SCD2 on level, attributes type 1 (the user's latest values,
	// as gold's dim_user has them)
	byUser := map[string][]ev{}
	var ids []string
	for _, e := range es {
		if _, ok := byUser[e.UserID]; !ok {
			ids = append(ids, e.UserID)
		}
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	slices.Sort(ids)
	b := array.NewRecordBuilder(mem, dimSchema())
	defer b.Release()
	for _, id := range ids {
		ues := byUser[id]
		var starts []int
		for i, e := range ues {
			if i == 0 || e.Level != ues[i-1].Level {
				starts = append(starts, i)
			}
		}
		latest := ues[len(ues)-1]
		for v, s := range starts {
			e := ues[s]
			b.Field(0).(*array.StringBuilder).Append(id)
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(e.TS))
			cur := v == len(starts)-1
			if cur {
				b.Field(2).(*array.TimestampBuilder).AppendNull()
			} else {
				b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ues[starts[v+1]].TS))
			}
			b.Field(3).(*array.BooleanBuilder).Append(cur)
			b.Field(4).(*array.StringBuilder).Append(e.Level)
			appendAttrs(b, 5, latest)
		}
	}
	src.Users = []arrow.RecordBatch{b.NewRecordBatch()}

	// silver level_history: per user and day the first event and every
	// level change, with the attributes at that event
	src.Attrs = map[Date][]arrow.RecordBatch{}
	hb := map[Date]*array.RecordBuilder{}
	prev := map[string]ev{}
	for _, e := range es {
		d := DateOfMS(e.TS)
		p, seen := prev[e.UserID]
		prev[e.UserID] = e
		if seen && DateOfMS(p.TS) == d && p.Level == e.Level {
			continue
		}
		lb := hb[d]
		if lb == nil {
			lb = array.NewRecordBuilder(mem, levelHistorySchema())
			hb[d] = lb
		}
		lb.Field(0).(*array.StringBuilder).Append(e.UserID)
		lb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(e.TS))
		lb.Field(2).(*array.StringBuilder).Append(e.Level)
		appendAttrs(lb, 3, e)
	}
	for d, lb := range hb {
		src.Attrs[d] = []arrow.RecordBatch{lb.NewRecordBatch()}
		lb.Release()
	}
	return src
}

// appendAttrs appends registration, gender, location, user_agent,
// first_name, last_name of e at field f onwards.
func appendAttrs(b *array.RecordBuilder, f int, e ev) {
	if e.Registration == 0 {
		b.Field(f).(*array.TimestampBuilder).AppendNull()
	} else {
		b.Field(f).(*array.TimestampBuilder).Append(arrow.Timestamp(e.Registration))
	}
	for k, s := range []string{e.Gender, e.Location, e.UserAgent, "", ""} {
		if s == "" {
			b.Field(f + 1 + k).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(f + 1 + k).(*array.StringBuilder).Append(s)
		}
	}
}

func levelHistorySchema() *arrow.Schema {
	ts := arrow.FixedWidthTypes.Timestamp_ms
	s := arrow.BinaryTypes.String
	return arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: s}, {Name: "ts", Type: ts}, {Name: "level", Type: s},
		{Name: "registration", Type: ts, Nullable: true}, {Name: "gender", Type: s, Nullable: true},
		{Name: "location", Type: s, Nullable: true}, {Name: "user_agent", Type: s, Nullable: true},
		{Name: "first_name", Type: s, Nullable: true}, {Name: "last_name", Type: s, Nullable: true},
	}, nil)
}

func (m *MemSource) release() {
	for _, bs := range m.Fact {
		for _, b := range bs {
			b.Release()
		}
	}
	for _, b := range m.Users {
		b.Release()
	}
	for _, bs := range m.Attrs {
		for _, b := range bs {
			b.Release()
		}
	}
}

// reference computes a snapshot straight from raw events, by the
// definitions in defs.go, without daily aggregates: the independent check.
// It returns features by user and name, the labels, and whether labeled.
func reference(es []ev, T Date, H, W int) (map[string]map[string]float64, map[string]int8, bool) {
	tms := T.MS()
	last := int64(0)
	byUser := map[string][]ev{}
	for _, e := range es {
		byUser[e.UserID] = append(byUser[e.UserID], e)
		last = max(last, e.TS)
	}
	labeled := len(es) > 0 && DateOfMS(last) >= T+Date(H)-1
	feats := map[string]map[string]float64{}
	labels := map[string]int8{}
	for id, ues := range byUser {
		sortEvents(ues)
		var before []ev
		churned := false
		label := int8(0)
		for _, e := range ues {
			if e.TS < tms {
				before = append(before, e)
				if e.Page == "Cancellation Confirmation" {
					churned = true
				}
			} else if e.TS < tms+int64(H)*msPerDay && e.Page == "Cancellation Confirmation" {
				label = 1
			}
		}
		if len(before) == 0 || churned {
			continue
		}
		f := map[string]float64{}
		lastEv := before[len(before)-1]
		reg := lastEv.Registration
		if reg == 0 {
			reg = before[0].TS
		}
		tenure := float64(tms-reg) / float64(msPerDay)
		f["tenure_days"] = tenure
		f["days_since_last_activity"] = float64(tms-lastEv.TS) / float64(msPerDay)
		f["days_since_last_upgrade"], f["days_since_last_downgrade"] = tenure, tenure
		paid := 0
		for _, e := range before {
			if e.Page == "Submit Upgrade" {
				f["days_since_last_upgrade"] = float64(T - DateOfMS(e.TS))
			}
			if e.Page == "Submit Downgrade" {
				f["days_since_last_downgrade"] = float64(T - DateOfMS(e.TS))
			}
			if e.Level == "paid" {
				paid++
			}
		}
		f["level_paid"] = b2f(lastEv.Level == "paid")
		f["paid_share"] = float64(paid) / float64(len(before))
		f["gender"] = float64(GenderCode(lastEv.Gender))
		f["os"] = float64(OSCode(lastEv.UserAgent))
		f["state"] = float64(StateCode(lastEv.Location))

		from := tms - int64(W)*msPerDay
		days := map[Date]bool{}
		sessDays := map[[2]int64]bool{}
		artists := map[string]bool{}
		cnt := map[string]float64{}
		var listen float64
		var bucket [4][2]int64
		// per bucket: sessions (distinct day, session), thumbs up, thumbs down, adverts
		bses := [4]map[[2]int64]bool{{}, {}, {}, {}}
		var btu, btd, badv [4]float64
		days7 := map[Date]bool{}
		// the 21 days [T-28d, T-7d), counted on their own (not as the sum
		// of two buckets): events, songs, sessions, active days, thumbs
		// down, adverts
		var p21ev, p21so, p21td, p21adv float64
		p21ses := map[[2]int64]bool{}
		p21days := map[Date]bool{}
		var ses7 = map[[2]int64]bool{}
		var ev7, so7, td7, adv7, dgv14, dg14 float64
		for _, e := range before {
			d := DateOfMS(e.TS)
			age := int(T - d)
			song := int64(0)
			if e.Page == "NextSong" {
				song = 1
			}
			one := int64(1)
			if e.Page == "Cancel" || e.Page == "Cancellation Confirmation" {
				one = 0
			}
			if age >= 8 && age <= 28 {
				p21ev += float64(one)
				p21so += float64(song)
				p21ses[[2]int64{int64(d), e.SessionID}] = true
				p21days[d] = true
				p21td += b2f(e.Page == "Thumbs Down")
				p21adv += b2f(e.Page == "Roll Advert")
			}
			if age <= 7 {
				ev7 += float64(one)
				so7 += float64(song)
				ses7[[2]int64{int64(d), e.SessionID}] = true
				td7 += b2f(e.Page == "Thumbs Down")
				adv7 += b2f(e.Page == "Roll Advert")
			}
			if age <= 14 {
				dgv14 += b2f(e.Page == "Downgrade")
				dg14 += b2f(e.Page == "Submit Downgrade")
			}
			var ks []int
			if age <= 7 {
				ks = append(ks, 0)
				days7[d] = true
			} else if age <= 14 {
				ks = append(ks, 1)
			}
			if age <= 14 {
				ks = append(ks, 2)
			} else if age <= 28 {
				ks = append(ks, 3)
			}
			for _, k := range ks {
				bucket[k][0] += one
				bucket[k][1] += song
				bses[k][[2]int64{int64(d), e.SessionID}] = true
				switch e.Page {
				case "Thumbs Up":
					btu[k]++
				case "Thumbs Down":
					btd[k]++
				case "Roll Advert":
					badv[k]++
				}
			}
			if e.TS < from {
				continue
			}
			days[d] = true
			sessDays[[2]int64{int64(d), e.SessionID}] = true
			cnt[e.Page]++
			if e.Page == "NextSong" {
				artists[e.Artist] = true
				listen += e.Length
			}
		}
		songs := cnt["NextSong"]
		sessions := float64(len(sessDays))
		events := 0.0
		for p, v := range cnt {
			if p != "Cancel" && p != "Cancellation Confirmation" {
				events += v
			}
		}
		rat := func(a, b float64) float64 {
			if b == 0 {
				return 0
			}
			return a / b
		}
		f["active_days"] = float64(len(days))
		f["n_events"] = events
		f["n_sessions"] = sessions
		f["n_songs"] = songs
		f["listen_hours"] = listen / 3600
		f["songs_per_session"] = rat(songs, sessions)
		f["events_per_session"] = rat(events, sessions)
		f["songs_per_active_day"] = rat(songs, float64(len(days)))
		f["distinct_artists"] = float64(len(artists))
		f["artists_per_song"] = rat(float64(len(artists)), songs)
		if up, down := cnt["Thumbs Up"], cnt["Thumbs Down"]; up+down > 0 {
			f["thumbs_up_share"] = up / (up + down)
		} else {
			f["thumbs_up_share"] = 0.5
		}
		for _, p := range allPages[1:] {
			name := strings.ToLower(strings.ReplaceAll(p, " ", "_"))
			f["n_"+name] = cnt[p]
			f[name+"_per_session"] = rat(cnt[p], sessions)
			f[name+"_per_song"] = rat(cnt[p], songs)
		}
		tr := func(a, b int64) float64 { return rat(float64(a-b), float64(a+b)) }
		f["events_last_7d"] = float64(bucket[0][0])
		f["songs_last_7d"] = float64(bucket[0][1])
		f["active_days_last_7d"] = float64(len(days7))
		f["events_trend_7d"] = tr(bucket[0][0], bucket[1][0])
		f["events_trend_14d"] = tr(bucket[2][0], bucket[3][0])
		f["songs_trend_7d"] = tr(bucket[0][1], bucket[1][1])
		f["songs_trend_14d"] = tr(bucket[2][1], bucket[3][1])
		ns := func(k int) int64 { return int64(len(bses[k])) }
		f["sessions_last_7d"] = float64(ns(0))
		f["sessions_trend_7d"] = tr(ns(0), ns(1))
		f["sessions_trend_14d"] = tr(ns(2), ns(3))
		f["songs_per_session_last_7d"] = rat(float64(bucket[0][1]), float64(ns(0)))
		f["songs_per_session_trend_14d"] = rat(float64(bucket[2][1]), float64(ns(2))) - rat(float64(bucket[3][1]), float64(ns(3)))
		f["thumbs_up_share_last_14d"] = 0.5
		if btu[2]+btd[2] > 0 {
			f["thumbs_up_share_last_14d"] = btu[2] / (btu[2] + btd[2])
		}
		f["thumbs_down_per_song_trend_14d"] = rat(btd[2], float64(bucket[2][1])) - rat(btd[3], float64(bucket[3][1]))
		f["adverts_per_song_last_14d"] = rat(badv[2], float64(bucket[2][1]))
		perDay := func(a, b float64) float64 { return rat(a/7-b/21, a/7+b/21) }
		f["events_7d_vs_prior_21d"] = perDay(ev7, p21ev)
		f["songs_7d_vs_prior_21d"] = perDay(so7, p21so)
		f["sessions_7d_vs_prior_21d"] = perDay(float64(len(ses7)), float64(len(p21ses)))
		f["active_days_7d_vs_prior_21d"] = perDay(float64(len(days7)), float64(len(p21days)))
		f["thumbs_down_per_song_7d_vs_prior_21d"] = rat(td7, so7) - rat(p21td, p21so)
		f["adverts_per_song_7d_vs_prior_21d"] = rat(adv7, so7) - rat(p21adv, p21so)
		f["adverts_per_song_trend_14d"] = rat(badv[2], float64(bucket[2][1])) - rat(badv[3], float64(bucket[3][1]))
		f["downgrade_visits_last_14d"] = dgv14
		f["submit_downgrades_last_14d"] = dg14
		f["inactivity_ratio"] = f["days_since_last_activity"] / (float64(W) / math.Max(float64(len(days)), 1))
		feats[id] = f
		labels[id] = label
	}
	return feats, labels, labeled
}

// rawEvent is one Sparkify JSON line, decoded with encoding/json: the
// independent reading of the raw input (no bronze code involved).
type rawEvent struct {
	TS           *int64          `json:"ts"`
	UserID       json.RawMessage `json:"userId"`
	SessionID    int64           `json:"sessionId"`
	Page         *string         `json:"page"`
	Auth         string          `json:"auth"`
	Method       string          `json:"method"`
	Status       int32           `json:"status"`
	Level        string          `json:"level"`
	Item         int32           `json:"itemInSession"`
	Location     *string         `json:"location"`
	UserAgent    *string         `json:"userAgent"`
	LastName     *string         `json:"lastName"`
	FirstName    *string         `json:"firstName"`
	Registration *float64        `json:"registration"`
	Gender       *string         `json:"gender"`
	Artist       *string         `json:"artist"`
	Song         *string         `json:"song"`
	Length       *float64        `json:"length"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// readJSONEvents reads Sparkify JSON lines (plain or .gz) into logged-in user
// events: lines that do not decode, lack ts or page, or have an empty userId
// are skipped; exact duplicate events are kept once.
func readJSONEvents(t testing.TB, paths ...string) []ev {
	t.Helper()
	var out []ev
	seen := map[string]bool{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r = gz
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var e rawEvent
			if json.Unmarshal(line, &e) != nil || e.TS == nil || e.Page == nil {
				continue
			}
			var id string
			if json.Unmarshal(e.UserID, &id) != nil {
				var n json.Number
				if json.Unmarshal(e.UserID, &n) != nil {
					continue
				}
				id = n.String()
			}
			if id == "" {
				continue
			}
			key := fmt.Sprintf("%d|%s|%d|%d|%s|%s|%s|%s|%s|%v|%s|%s|%s|%v", *e.TS, id, e.SessionID, e.Item, *e.Page, e.Auth, e.Method, e.Level,
				deref(e.Location), e.Status, deref(e.UserAgent), deref(e.Artist), deref(e.Song), e.Length)
			if seen[key] {
				continue
			}
			seen[key] = true
			x := ev{TS: *e.TS, UserID: id, SessionID: e.SessionID, Page: *e.Page, Level: e.Level, Item: e.Item,
				Gender: deref(e.Gender), Location: deref(e.Location), UserAgent: deref(e.UserAgent), Artist: deref(e.Artist)}
			if e.Registration != nil {
				x.Registration = int64(*e.Registration)
			}
			if e.Length != nil {
				x.Length = *e.Length
			}
			out = append(out, x)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	sortEvents(out)
	return out
}

// writeJSONEvents writes events as Sparkify JSON lines (the generator's
// field order) so the real etl can ingest them.
func writeJSONEvents(t testing.TB, path string, es []ev) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for _, e := range es {
		m := []struct {
			k string
			v any
		}{
			{"ts", e.TS}, {"userId", e.UserID}, {"sessionId", e.SessionID}, {"page", e.Page}, {"auth", "Logged In"},
			{"method", "PUT"}, {"status", 200}, {"level", e.Level}, {"itemInSession", e.Item},
			{"location", str(e.Location)}, {"userAgent", str(e.UserAgent)}, {"lastName", "Doe"}, {"firstName", "Jo"},
			{"registration", nil}, {"gender", str(e.Gender)}, {"artist", nil}, {"song", nil}, {"length", nil},
		}
		if e.Registration != 0 {
			m[13].v = e.Registration
		}
		if e.Page == "NextSong" {
			m[15].v, m[16].v, m[17].v = e.Artist, "Song of "+e.Artist, e.Length
		}
		w.WriteByte('{')
		for i, kv := range m {
			if i > 0 {
				w.WriteByte(',')
			}
			k, _ := json.Marshal(kv.k)
			v, _ := json.Marshal(kv.v)
			w.Write(k)
			w.WriteByte(':')
			w.Write(v)
		}
		w.WriteString("}\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
