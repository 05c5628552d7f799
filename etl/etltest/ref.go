package etltest

import (
	"cmp"
	"slices"
	"strings"
)

// content is an event without its ingest metadata: the exact-duplicate key.
type content struct {
	TS                                                  int64
	UserID, Page, Auth, Method, Level                   string
	SessionID                                           int64
	Status, Item                                        int32
	Location, UserAgent, LastName, FirstName, Gender    string
	Artist, Song                                        string
	HasLoc, HasUA, HasLast, HasFirst, HasGender, HasArt bool
	HasSong, HasReg, HasLen                             bool
	Registration                                        int64
	Length                                              float64
}

func deref[T any](p *T) (T, bool) {
	var z T
	if p == nil {
		return z, false
	}
	return *p, true
}

func keyOf(e Event) content {
	c := content{TS: e.TS, UserID: e.UserID, Page: e.Page, Auth: e.Auth, Method: e.Method, Level: e.Level,
		SessionID: e.SessionID, Status: e.Status, Item: e.ItemInSession}
	c.Location, c.HasLoc = deref(e.Location)
	c.UserAgent, c.HasUA = deref(e.UserAgent)
	c.LastName, c.HasLast = deref(e.LastName)
	c.FirstName, c.HasFirst = deref(e.FirstName)
	c.Gender, c.HasGender = deref(e.Gender)
	c.Artist, c.HasArt = deref(e.Artist)
	c.Song, c.HasSong = deref(e.Song)
	c.Registration, c.HasReg = deref(e.Registration)
	c.Length, c.HasLen = deref(e.Length)
	return c
}

// RefSplit removes exact duplicates and splits anonymous rows (empty user
// id or one of anon). It returns user events sorted by (user_id, ts,
// session_id, item_in_session), the anonymous rows and the removed count.
func RefSplit(evs []Event, anon map[string]bool) (users, anonymous []Event, removed int) {
	seen := map[content]bool{}
	for _, e := range evs {
		k := keyOf(e)
		if seen[k] {
			removed++
			continue
		}
		seen[k] = true
		if e.UserID == "" || anon[e.UserID] {
			anonymous = append(anonymous, e)
		} else {
			users = append(users, e)
		}
	}
	slices.SortStableFunc(users, func(a, b Event) int {
		return cmp.Or(strings.Compare(a.UserID, b.UserID), cmp.Compare(a.TS, b.TS),
			cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(a.ItemInSession, b.ItemInSession))
	})
	return users, anonymous, removed
}

// RefSession is a whole session computed directly from its events.
type RefSession struct {
	User         string
	SID          int64
	Start, End   int64
	Items, Songs int64
	Listen       float64
	NonMono      int64
}

// RefSessions groups sorted user events by (user_id, session_id).
func RefSessions(users []Event) map[[2]string]*RefSession {
	out := map[[2]string]*RefSession{}
	last := map[[2]string]int32{}
	for _, e := range users {
		k := [2]string{e.UserID, itoa(e.SessionID)}
		s := out[k]
		if s == nil {
			s = &RefSession{User: e.UserID, SID: e.SessionID, Start: e.TS}
			out[k] = s
		} else if e.ItemInSession <= last[k] {
			s.NonMono++
		}
		last[k] = e.ItemInSession
		s.End = e.TS
		s.Items++
		if e.Page == "NextSong" {
			s.Songs++
			if e.Length != nil {
				s.Listen += *e.Length
			}
		}
	}
	return out
}

func itoa(v int64) string {
	var b [24]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// RefUserDay is one user's day computed directly from its events.
type RefUserDay struct {
	Events, Songs, Paid int64
	Sessions            map[int64]bool
	Pages               map[string]int64
	Listen              float64
	Artists             map[string]bool
	LevelEnd            string
	First, Last         int64
}

// RefUserDays aggregates sorted user events per (user_id, day start).
func RefUserDays(users []Event) map[string]map[int64]*RefUserDay {
	out := map[string]map[int64]*RefUserDay{}
	for _, e := range users {
		d := DayOf(e.TS)
		if out[e.UserID] == nil {
			out[e.UserID] = map[int64]*RefUserDay{}
		}
		r := out[e.UserID][d]
		if r == nil {
			r = &RefUserDay{Sessions: map[int64]bool{}, Pages: map[string]int64{}, Artists: map[string]bool{}, First: e.TS}
			out[e.UserID][d] = r
		}
		r.Events++
		r.Sessions[e.SessionID] = true
		r.Pages[e.Page]++
		if e.Page == "NextSong" {
			r.Songs++
			if e.Length != nil {
				r.Listen += *e.Length
			}
			if e.Artist != nil {
				r.Artists[*e.Artist] = true
			}
		}
		if e.Level == "paid" {
			r.Paid++
		}
		r.LevelEnd = e.Level
		r.Last = e.TS
	}
	return out
}

// RefVersion is one SCD2 row of a user's level history.
type RefVersion struct {
	Level    string
	From, To int64 // To = -1: current
}

// RefLevelVersions returns each user's level versions from sorted events.
func RefLevelVersions(users []Event) map[string][]RefVersion {
	out := map[string][]RefVersion{}
	for _, e := range users {
		v := out[e.UserID]
		if len(v) == 0 || v[len(v)-1].Level != e.Level {
			if len(v) > 0 {
				v[len(v)-1].To = e.TS
			}
			v = append(v, RefVersion{Level: e.Level, From: e.TS, To: -1})
			out[e.UserID] = v
		}
	}
	return out
}
