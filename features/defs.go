package features

import "fmt"

// calc is what a feature function may know besides the user: the cutoff.
type calc struct {
	asOf   Date
	asOfMS int64
	window int // W in days
}

type featureDef struct {
	Feature
	fn func(u *user, c *calc) float64
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// trend compares a recent window with the one before it: (a-b)/(a+b), in
// [-1, 1]; 0 when both are empty.
func trend(a, b int64) float64 { return ratio(float64(a-b), float64(a+b)) }

// rateTrend compares the daily rate of a recent window of da days with the
// one of the db days before it: (ra-rb)/(ra+rb) for ra = a/da, rb = b/db,
// in [-1, 1]; 0 when both are empty.
func rateTrend(a int64, da float64, b int64, db float64) float64 {
	ra, rb := float64(a)/da, float64(b)/db
	return ratio(ra-rb, ra+rb)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func tenureDays(u *user, c *calc) float64 {
	reg := u.firstTS
	if u.hasReg {
		reg = u.registration
	}
	return float64(c.asOfMS-reg) / float64(msPerDay)
}

// daysSince is the number of days from day d to T (1 = the day before T); a
// user who never did it gets their tenure.
func daysSince(u *user, c *calc, d Date) float64 {
	if d == noDay {
		return tenureDays(u, c)
	}
	return float64(c.asOf - d)
}

var featureDefs = func() []featureDef {
	w := func(k int) func(u *user, c *calc) float64 {
		return func(u *user, c *calc) float64 { return float64(u.win[k]) }
	}
	defs := []featureDef{
		{Feature{Name: "tenure_days", Type: Float64, Description: "days from registration to the cutoff T (first event when registration is unknown)"}, tenureDays},
		{Feature{Name: "days_since_last_activity", Type: Float64, Description: "days from the user's last event before T to T"}, func(u *user, c *calc) float64 {
			return float64(c.asOfMS-u.lastTS) / float64(msPerDay)
		}},
		{Feature{Name: "days_since_last_upgrade", Type: Float64, Description: "days from the last day with a Submit Upgrade before T to T (tenure if never)"}, func(u *user, c *calc) float64 {
			return daysSince(u, c, u.lastUp)
		}},
		{Feature{Name: "days_since_last_downgrade", Type: Float64, Description: "days from the last day with a Submit Downgrade before T to T (tenure if never)"}, func(u *user, c *calc) float64 {
			return daysSince(u, c, u.lastDown)
		}},
		{Feature{Name: "level_paid", Type: Bool, Description: "level of the user's last event before T is paid"}, func(u *user, c *calc) float64 { return b2f(u.paidLast) }},
		{Feature{Name: "paid_share", Type: Float64, Description: "share of the user's events before T made at level paid"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.nPaidAll), float64(u.nAll))
		}},
		{Feature{Name: "gender", Type: Category, Description: "gender from dim_user as of T: F, M or unknown", Categories: GenderCategories}, func(u *user, c *calc) float64 { return float64(u.gender) }},
		{Feature{Name: "os", Type: Category, Description: "operating system parsed from the user agent in dim_user as of T", Categories: OSCategories}, func(u *user, c *calc) float64 { return float64(u.os) }},
		{Feature{Name: "state", Type: Category, Description: "US state parsed from the location in dim_user as of T (first state of a multi-state metro)", Categories: StateCategories}, func(u *user, c *calc) float64 { return float64(u.state) }},
		{Feature{Name: "active_days", Type: Int64, Description: "days with at least one event in the window [T-W, T)"}, func(u *user, c *calc) float64 { return float64(u.active) }},
		{Feature{Name: "n_events", Type: Int64, Description: "events in the window (all pages but Cancel and Cancellation Confirmation)"}, w(wEvents)},
		{Feature{Name: "n_sessions", Type: Int64, Description: "sessions with events in the window (a session crossing midnight counts on each day)"}, w(wSessions)},
		{Feature{Name: "n_songs", Type: Int64, Description: "songs played (NextSong) in the window"}, w(wSongs)},
		{Feature{Name: "listen_hours", Type: Float64, Description: "hours of music played in the window (sum of song lengths)"}, func(u *user, c *calc) float64 { return u.listen / 3600 }},
		{Feature{Name: "songs_per_session", Type: Float64, Description: "songs per session in the window"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.win[wSongs]), float64(u.win[wSessions]))
		}},
		{Feature{Name: "events_per_session", Type: Float64, Description: "events per session in the window"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.win[wEvents]), float64(u.win[wSessions]))
		}},
		{Feature{Name: "songs_per_active_day", Type: Float64, Description: "songs per active day in the window"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.win[wSongs]), float64(u.active))
		}},
		{Feature{Name: "distinct_artists", Type: Int64, Description: "distinct artists played in the window (exact union of the daily artist sets)"}, func(u *user, c *calc) float64 { return float64(len(u.artists)) }},
		{Feature{Name: "artists_per_song", Type: Float64, Description: "distinct artists per song played in the window"}, func(u *user, c *calc) float64 {
			return ratio(float64(len(u.artists)), float64(u.win[wSongs]))
		}},
		{Feature{Name: "thumbs_up_share", Type: Float64, Description: "thumbs up / (thumbs up + thumbs down) in the window (0.5 when neither)"}, func(u *user, c *calc) float64 {
			up, down := u.win[wPages+1], u.win[wPages+2]
			if up+down == 0 {
				return 0.5
			}
			return float64(up) / float64(up+down)
		}},
	}
	for k, p := range pageCols {
		defs = append(defs, featureDef{Feature{Name: "n_" + p.name, Type: Int64, Description: fmt.Sprintf("%q page events in the window", p.page)}, w(wPages + k)})
	}
	for k, p := range pageCols {
		defs = append(defs, featureDef{Feature{Name: p.name + "_per_session", Type: Float64, Description: fmt.Sprintf("%q page events per session in the window", p.page)},
			func(u *user, c *calc) float64 { return ratio(float64(u.win[wPages+k]), float64(u.win[wSessions])) }})
	}
	for _, name := range perSongPages {
		k := pageIndex(name)
		defs = append(defs, featureDef{Feature{Name: name + "_per_song", Type: Float64, Description: fmt.Sprintf("%q page events per song played in the window", pageCols[k].page)},
			func(u *user, c *calc) float64 { return ratio(float64(u.win[wPages+k]), float64(u.win[wSongs])) }})
	}
	defs = append(defs,
		featureDef{Feature{Name: "events_last_7d", Type: Int64, Description: "events in [T-7d, T)"}, func(u *user, c *calc) float64 { return float64(u.ev[0]) }},
		featureDef{Feature{Name: "songs_last_7d", Type: Int64, Description: "songs played in [T-7d, T)"}, func(u *user, c *calc) float64 { return float64(u.so[0]) }},
		featureDef{Feature{Name: "active_days_last_7d", Type: Int64, Description: "days with events in [T-7d, T)"}, func(u *user, c *calc) float64 { return float64(u.active7) }},
		featureDef{Feature{Name: "events_trend_7d", Type: Float64, Description: "(a-b)/(a+b) for events a in [T-7d, T) and b in [T-14d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.ev[0], u.ev[1]) }},
		featureDef{Feature{Name: "events_trend_14d", Type: Float64, Description: "(a-b)/(a+b) for events a in [T-14d, T) and b in [T-28d, T-14d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.ev[2], u.ev[3]) }},
		featureDef{Feature{Name: "songs_trend_7d", Type: Float64, Description: "(a-b)/(a+b) for songs a in [T-7d, T) and b in [T-14d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.so[0], u.so[1]) }},
		featureDef{Feature{Name: "songs_trend_14d", Type: Float64, Description: "(a-b)/(a+b) for songs a in [T-14d, T) and b in [T-28d, T-14d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.so[2], u.so[3]) }},
		featureDef{Feature{Name: "sessions_last_7d", Type: Int64, Description: "sessions with events in [T-7d, T)"}, func(u *user, c *calc) float64 { return float64(u.ses[0]) }},
		featureDef{Feature{Name: "sessions_trend_7d", Type: Float64, Description: "(a-b)/(a+b) for sessions a in [T-7d, T) and b in [T-14d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.ses[0], u.ses[1]) }},
		featureDef{Feature{Name: "sessions_trend_14d", Type: Float64, Description: "(a-b)/(a+b) for sessions a in [T-14d, T) and b in [T-28d, T-14d); 0 when both are 0"}, func(u *user, c *calc) float64 { return trend(u.ses[2], u.ses[3]) }},
		featureDef{Feature{Name: "songs_per_session_last_7d", Type: Float64, Description: "songs per session in [T-7d, T)"}, func(u *user, c *calc) float64 { return ratio(float64(u.so[0]), float64(u.ses[0])) }},
		featureDef{Feature{Name: "songs_per_session_trend_14d", Type: Float64, Description: "songs per session in [T-14d, T) minus in [T-28d, T-14d)"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.so[2]), float64(u.ses[2])) - ratio(float64(u.so[3]), float64(u.ses[3]))
		}},
		featureDef{Feature{Name: "thumbs_up_share_last_14d", Type: Float64, Description: "thumbs up / (thumbs up + thumbs down) in [T-14d, T) (0.5 when neither)"}, func(u *user, c *calc) float64 {
			if u.tu[2]+u.td[2] == 0 {
				return 0.5
			}
			return float64(u.tu[2]) / float64(u.tu[2]+u.td[2])
		}},
		featureDef{Feature{Name: "thumbs_down_per_song_trend_14d", Type: Float64, Description: "thumbs down per song in [T-14d, T) minus in [T-28d, T-14d)"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.td[2]), float64(u.so[2])) - ratio(float64(u.td[3]), float64(u.so[3]))
		}},
		featureDef{Feature{Name: "adverts_per_song_last_14d", Type: Float64, Description: "Roll Advert events per song in [T-14d, T)"}, func(u *user, c *calc) float64 { return ratio(float64(u.adv[2]), float64(u.so[2])) }},
		// Recent weeks against the three before: a churn analyst's view of
		// "is this user fading", over [T-7d, T) vs [T-28d, T-7d).
		featureDef{Feature{Name: "events_7d_vs_prior_21d", Type: Float64, Description: "(a-b)/(a+b) for events per day a in [T-7d, T) and b in [T-28d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 {
			return rateTrend(u.ev[0], 7, u.ev[1]+u.ev[3], 21)
		}},
		featureDef{Feature{Name: "songs_7d_vs_prior_21d", Type: Float64, Description: "(a-b)/(a+b) for songs per day a in [T-7d, T) and b in [T-28d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 {
			return rateTrend(u.so[0], 7, u.so[1]+u.so[3], 21)
		}},
		featureDef{Feature{Name: "sessions_7d_vs_prior_21d", Type: Float64, Description: "(a-b)/(a+b) for sessions per day a in [T-7d, T) and b in [T-28d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 {
			return rateTrend(u.ses[0], 7, u.ses[1]+u.ses[3], 21)
		}},
		featureDef{Feature{Name: "active_days_7d_vs_prior_21d", Type: Float64, Description: "(a-b)/(a+b) for the share of active days a in [T-7d, T) and b in [T-28d, T-7d); 0 when both are 0"}, func(u *user, c *calc) float64 {
			return rateTrend(u.active7, 7, u.activePrior21, 21)
		}},
		featureDef{Feature{Name: "thumbs_down_per_song_7d_vs_prior_21d", Type: Float64, Description: "thumbs down per song in [T-7d, T) minus in [T-28d, T-7d)"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.td[0]), float64(u.so[0])) - ratio(float64(u.td[1]+u.td[3]), float64(u.so[1]+u.so[3]))
		}},
		featureDef{Feature{Name: "adverts_per_song_7d_vs_prior_21d", Type: Float64, Description: "Roll Advert events per song in [T-7d, T) minus in [T-28d, T-7d)"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.adv[0]), float64(u.so[0])) - ratio(float64(u.adv[1]+u.adv[3]), float64(u.so[1]+u.so[3]))
		}},
		featureDef{Feature{Name: "adverts_per_song_trend_14d", Type: Float64, Description: "Roll Advert events per song in [T-14d, T) minus in [T-28d, T-14d)"}, func(u *user, c *calc) float64 {
			return ratio(float64(u.adv[2]), float64(u.so[2])) - ratio(float64(u.adv[3]), float64(u.so[3]))
		}},
		featureDef{Feature{Name: "downgrade_visits_last_14d", Type: Int64, Description: "Downgrade page events in [T-14d, T)"}, func(u *user, c *calc) float64 { return float64(u.dgv[2]) }},
		featureDef{Feature{Name: "submit_downgrades_last_14d", Type: Int64, Description: "Submit Downgrade events in [T-14d, T)"}, func(u *user, c *calc) float64 { return float64(u.dg[2]) }},
		featureDef{Feature{Name: "inactivity_ratio", Type: Float64, Description: "days since the last activity divided by the mean days between active days in the window (W / max(active_days, 1))"}, func(u *user, c *calc) float64 {
			return float64(c.asOfMS-u.lastTS) / float64(msPerDay) / (float64(c.window) / float64(max(u.active, 1)))
		}},
	)
	return defs
}()

func pageIndex(name string) int {
	for k, p := range pageCols {
		if p.name == name {
			return k
		}
	}
	panic("features: unknown page " + name)
}
