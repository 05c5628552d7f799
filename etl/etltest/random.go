package etltest

import (
	"fmt"
	"math/rand/v2"
)

// Random returns a deterministic eventsim-like event log over days days
// starting at day0 (Unix ms): users with sessions (some crossing midnight),
// level changes, anonymous rows, exact duplicates (dups of them) and the
// rows shuffled. It is for property tests against the reference code.
func Random(seed uint64, users, days int, day0 int64, dups int) []Event {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pages := []string{"NextSong", "NextSong", "NextSong", "NextSong", "Home", "Thumbs Up", "Thumbs Down",
		"Add to Playlist", "Add Friend", "Roll Advert", "Logout", "Settings", "Save Settings", "Help",
		"About", "Error", "Upgrade", "Downgrade", "Submit Upgrade", "Submit Downgrade", "Login"}
	artists := []string{"Muse", "Coldplay", "Kings Of Leon", "Björk", "Daft Punk", "Radiohead", "Dwight Yoakam"}
	var out []Event
	for u := 0; u < users; u++ {
		sid := int64(100)
		uid := fmt.Sprint(1000 + u)
		if u%7 == 3 {
			uid = fmt.Sprint(u) // short ids sort differently from numbers
		}
		level := "free"
		if u%3 == 0 {
			level = "paid"
		}
		reg := day0 - int64(r.IntN(90))*86400000
		loc, ua := S(fmt.Sprintf("City %d, CA", u%5)), S(fmt.Sprintf(`"Mozilla/5.0 (%d)"`, u%4))
		gender := S([]string{"M", "F"}[u%2])
		first, last := S(fmt.Sprint("F", u)), S(fmt.Sprint("L", u))
		t := day0 + int64(r.IntN(86400000))
		for t < day0+int64(days)*86400000 {
			sid++
			s := sid - 100 // per-user counters: session ids repeat across users
			if u%11 == 5 {
				s = sid * 1_000_003 // and some are large
			}
			n := 1 + r.IntN(40)
			item := int32(r.IntN(3))
			for k := 0; k < n; k++ {
				p := pages[r.IntN(len(pages))]
				e := Event{TS: t, UserID: uid, SessionID: s, Page: p, Auth: "Logged In", Method: "GET", Status: 200,
					Level: level, ItemInSession: item, Location: loc, UserAgent: ua, LastName: last, FirstName: first,
					Registration: I(reg), Gender: gender}
				if p == "NextSong" {
					a := artists[r.IntN(len(artists))]
					e.Artist, e.Song, e.Length = S(a), S("song "+a), F(120+float64(r.IntN(20000))/100)
					e.Method = "PUT"
				}
				if r.IntN(97) == 0 {
					e.ItemInSession -= 2 // non-monotonic
				}
				if p == "Submit Upgrade" {
					level = "paid"
				} else if p == "Submit Downgrade" {
					level = "free"
				}
				out = append(out, e)
				item++
				t += int64(1000 + r.IntN(400000))
			}
			if r.IntN(4) == 0 {
				// anonymous traffic between sessions
				out = append(out, Event{TS: t + 1, SessionID: s + 1, Page: "Home", Auth: "Logged Out", Method: "GET",
					Status: 200, Level: "free", ItemInSession: 0})
			}
			t += int64(r.IntN(3 * 86400000))
		}
	}
	for k := 0; k < dups && len(out) > 0; k++ {
		out = append(out, out[r.IntN(len(out))])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		out[i].SourceFile = "random.json"
		out[i].LineNumber = int64(i + 1)
	}
	return out
}
