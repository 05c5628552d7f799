package eventsim

import (
	"math"
	"math/rand/v2"
	"strconv"
)

type page uint8

const (
	pNextSong page = iota
	pHome
	pThumbsUp
	pThumbsDown
	pAddToPlaylist
	pAddFriend
	pRollAdvert
	pLogout
	pLogin
	pSettings
	pSaveSettings
	pHelp
	pAbout
	pError
	pUpgrade
	pDowngrade
	pSubmitUpgrade
	pSubmitDowngrade
	pCancel
	pCancellationConfirmation
	pRegister
	pSubmitRegistration
	numPages
)

// Pages lists every page value the generator writes.
var Pages = [numPages]string{
	"NextSong", "Home", "Thumbs Up", "Thumbs Down", "Add to Playlist", "Add Friend", "Roll Advert",
	"Logout", "Login", "Settings", "Save Settings", "Help", "About", "Error", "Upgrade", "Downgrade",
	"Submit Upgrade", "Submit Downgrade", "Cancel", "Cancellation Confirmation", "Register",
	"Submit Registration",
}

// pageMethod and pageStatus follow the real service: PUTs that change state
// answer with a 307 redirect, Add to Playlist and NextSong answer 200, Error
// is a 404, every GET else 200.
var (
	pageMethod = [numPages]string{
		"PUT", "GET", "PUT", "PUT", "PUT", "PUT", "GET",
		"PUT", "PUT", "GET", "PUT", "GET", "GET", "GET", "GET", "GET",
		"PUT", "PUT", "PUT", "GET", "GET",
		"PUT",
	}
	pageStatus = [numPages]int{
		200, 200, 307, 307, 200, 307, 200,
		307, 307, 200, 307, 200, 200, 404, 200, 200,
		307, 307, 307, 200, 200,
		307,
	}
)

type auth uint8

const (
	aLoggedIn auth = iota
	aLoggedOut
	aGuest
	aCancelled
	numAuths
)

var authNames = [numAuths]string{"Logged In", "Logged Out", "Guest", "Cancelled"}

// identified reports whether rows with this auth carry the user's id and
// profile fields (Logged In, Cancelled) or "" and nulls (Logged Out, Guest).
func (a auth) identified() bool { return a == aLoggedIn || a == aCancelled }

var levelNames = [2]string{"free", "paid"}

// event is one generated row before encoding.
type event struct {
	ts      int64
	actor   int32 // user or guest index: ties on ts are broken by it
	sid     int32
	item    int32
	song    int32
	aux     uint32 // random bits for the bad-line and variant encoders
	page    page
	auth    auth
	level   uint8
	bad     uint8 // 0, or 1 + index in BadClasses
	variant uint8 // 0, or 1 + index in VariantKinds
}

const (
	msPerSec  = 1000
	msPerMin  = 60 * msPerSec
	msPerHour = 60 * msPerMin
	msPerDay  = 24 * msPerHour
)

// Calibration: per-user activity of the real Sparkify logs (TestActivity).
const (
	baseSessionsPerDay = 0.67
	baseSessionSteps   = 71.0
	churnLogit         = -2.0
	quietShare         = 0.15 // loyal users who drift without cancelling
	newUserShare       = 0.30 // users who register during the period
	guestPerUser       = 1.0 / 40
)

// actor is one simulated user or anonymous guest visitor.
type actor struct {
	idx   int32
	guest bool
	rng   *rand.Rand
	side  *rand.Rand // bad lines and variants only

	// profile (users)
	id       []byte // userId digits
	first    string
	last     string
	gender   string
	location string
	agent    string
	reg      int64 // registration ms; set at the first session for new users
	tail     []byte

	// state
	level    uint8
	sid      int32
	next     int64 // start of the next session
	end      int64 // exclusive end of the log
	newUser  bool
	churnAt  int64 // 0 if the user does not churn
	churned  bool
	done     bool
	lastTs   int64
	visits   int // guests: sessions left
	pending  []event
	pos      int
	sessions int

	// behaviour
	rate                   float64 // sessions per ms before the diurnal and drift factors
	steps                  float64 // mean steps per session
	tu, td, pl, af, ad, hp float64
	upP, downP             float64
	driftStart, driftEnd   int64
	driftMag               float64
}

// splitmix64 derives well-spread PCG seeds from (seed, index).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func stream(seed uint64, idx int32, salt uint64) *rand.Rand {
	a := splitmix64(seed ^ salt)
	b := splitmix64(a ^ uint64(idx)*0xd1342543de82ef95)
	return rand.New(rand.NewPCG(splitmix64(b), splitmix64(b^0x632be59bd9b4e019)))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func lognormal(r *rand.Rand, sigma float64) float64 { return math.Exp(sigma * r.NormFloat64()) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// newActor draws the profile and behaviour of actor idx. Indices below
// cfg.Users are users, the others anonymous guests.
func newActor(cfg *Config, idx int32, start, end int64) *actor {
	a := &actor{
		idx:  idx,
		rng:  stream(cfg.Seed, idx, 0x5ac7e1),
		side: stream(cfg.Seed, idx, 0xbadb17e5),
		end:  end,
		sid:  int32(1 + stream(cfg.Seed, idx, 0x5e55).IntN(2500)),
	}
	r := a.rng
	if int(idx) >= cfg.Users {
		a.guest = true
		a.visits = 1 + r.IntN(2)
		a.next = start + int64(r.Float64()*float64(end-start-msPerHour))
		a.steps = 3
		return a
	}
	sat := r.NormFloat64() // latent satisfaction
	if r.Float64() < 0.53 {
		a.gender = "M"
		a.first = pick(r, firstNamesM)
	} else {
		a.gender = "F"
		a.first = pick(r, firstNamesF)
	}
	a.last = pick(r, lastNames)
	a.location = locations[int(float64(len(locations))*math.Pow(r.Float64(), 1.7))]
	a.agent = userAgents[int(float64(len(userAgents))*math.Pow(r.Float64(), 1.4))]

	a.rate = baseSessionsPerDay / msPerDay * lognormal(r, 0.6) * math.Exp(0.25*sat)
	a.steps = baseSessionSteps * lognormal(r, 0.3)
	a.tu = 0.042 * lognormal(r, 0.35) * math.Exp(0.35*sat)
	a.td = 0.0095 * lognormal(r, 0.4) * math.Exp(-0.6*sat)
	a.pl = 0.024 * lognormal(r, 0.35) * math.Exp(0.3*sat)
	a.af = 0.0135 * lognormal(r, 0.4) * math.Exp(0.3*sat)
	a.ad = 0.029 * lognormal(r, 0.3)
	a.hp = 0.006 * lognormal(r, 0.4)
	a.upP = min(0.9, 0.22*math.Exp(0.3*sat))
	a.downP = min(0.9, 0.05*math.Exp(-0.3*sat))

	span := end - start
	a0 := start
	if r.Float64() < newUserShare {
		a.newUser = true
		a0 = start + int64(r.Float64()*float64(span-12*msPerHour))
		a.next = a0
		if r.Float64() < 0.12 {
			a.level = 1
		}
	} else {
		a.reg = start - int64(uniform(r, 0.5, 240)*msPerDay)
		a.next = start + a.gap(start)
		if r.Float64() < sigmoid(0.1+0.4*sat) {
			a.level = 1
		}
	}
	// Churn: likelier for unsatisfied users, at a time spread over the range.
	churnP := sigmoid(churnLogit - 2.1*sat)
	if end-a0 >= 4*msPerDay && r.Float64() < churnP {
		lo := a0 + 2*msPerDay
		hi := end - 36*msPerHour
		a.churnAt = lo + int64(r.Float64()*float64(hi-lo))
		d := int64(uniform(r, 14, 42) * msPerDay)
		a.driftEnd = a.churnAt
		a.driftStart = a.churnAt - d
		a.driftMag = uniform(r, 0.6, 1.0)
		a.next = min(a.next, a.churnAt)
	} else if r.Float64() < quietShare {
		a.driftStart = start - 20*msPerDay + int64(r.Float64()*float64(span+20*msPerDay))
		a.driftEnd = a.driftStart + int64(uniform(r, 10, 42)*msPerDay)
		a.driftMag = uniform(r, 0.3, 0.9)
	}
	a.id = strconv.AppendInt(nil, userID(cfg.Users, idx, a.newUser), 10)
	if !a.newUser {
		a.buildTail()
	}
	return a
}

// newUserBase is the first userId of the users who register during the
// log: 100001 (Sparkify's six-digit "1000xx" ids) while that is above
// every id of the users registered before it (1..users), else the next
// 10^k+1 above users. Below 100,001 users the ids are those of earlier
// versions, so their logs are unchanged.
func newUserBase(users int) int64 {
	base := int64(100001)
	for base <= int64(users) {
		base = (base-1)*10 + 1
	}
	return base
}

// userID is the userId of user idx (0 <= idx < users): idx+1 for a user
// registered before the log starts, newUserBase(users)+idx for one who
// registers during it. The two ranges never meet, and idx is unique, so no
// two users share an id (with a shared id, two users' session counters
// would collide: the same (userId, sessionId) starting two sessions).
func userID(users int, idx int32, newUser bool) int64 {
	if newUser {
		return newUserBase(users) + int64(idx)
	}
	return int64(idx) + 1
}

// nextSession allocates the sessionId of the actor's next session: a
// per-actor counter that only grows (by 1 to 30), so an actor never
// reuses an id, and with userIds unique (userID) neither does a user.
// A session starts at least 10 minutes after the previous one ends, so an
// actor of a log Validate accepts (at most 3660 days) has fewer than
// 530,000 sessions: the counter (at most 2500, then +30 per session at
// most) stays below 2500 + 30 * 530,000, far under the int32 limit.
func (a *actor) nextSession() int32 {
	a.sid += int32(1 + a.rng.IntN(30))
	return a.sid
}

// buildTail pre-encodes the profile fields of identified rows:
// "location":...,"userAgent":...,"lastName":...,"firstName":...,"registration":...,"gender":...,
func (a *actor) buildTail() {
	b := append([]byte(nil), `"location":`...)
	b = appendString(b, a.location)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, a.agent)
	b = append(b, `,"lastName":`...)
	b = appendString(b, a.last)
	b = append(b, `,"firstName":`...)
	b = appendString(b, a.first)
	b = append(b, `,"registration":`...)
	b = strconv.AppendInt(b, a.reg, 10)
	b = append(b, `,"gender":`...)
	b = appendString(b, a.gender)
	a.tail = append(b, ',')
}

// drift is the strength (0..1) of the pre-churn (or quiet) behaviour at t.
func (a *actor) drift(t int64) float64 {
	if a.driftMag == 0 || t <= a.driftStart {
		return 0
	}
	if t >= a.driftEnd {
		return a.driftMag
	}
	return a.driftMag * float64(t-a.driftStart) / float64(a.driftEnd-a.driftStart)
}

// diurnal is the relative session-start intensity at t (UTC): highest in the
// US evening, lowest in the US early morning.
func diurnal(t int64) float64 {
	h := float64(t%msPerDay) / msPerHour
	return 0.55 + 0.45*math.Cos(2*math.Pi*(h-2)/24)
}

// gap draws the time to the next session start after t by thinning: the
// intensity is rate * diurnal * (1 - 0.75 drift).
func (a *actor) gap(t int64) int64 {
	r := a.rng
	cur := t
	for {
		cur += int64(r.ExpFloat64()/a.rate) + 1
		if cur >= a.end {
			return cur - t
		}
		if r.Float64() < diurnal(cur)*(1-0.85*a.drift(cur)) {
			return cur - t
		}
	}
}

// weights of the in-session page choice; they sum to about 1.
type stepTable struct {
	pages [16]page
	cum   [16]float64
	n     int
}

func (st *stepTable) add(p page, w float64) {
	if w <= 0 {
		return
	}
	prev := 0.0
	if st.n > 0 {
		prev = st.cum[st.n-1]
	}
	st.pages[st.n] = p
	st.cum[st.n] = prev + w
	st.n++
}

func (st *stepTable) draw(r *rand.Rand) page {
	x := r.Float64() * st.cum[st.n-1]
	for i := 0; i < st.n-1; i++ {
		if x < st.cum[i] {
			return st.pages[i]
		}
	}
	return st.pages[st.n-1]
}

func (a *actor) table(d float64) stepTable {
	var st stepTable
	st.add(pNextSong, 0.87)
	st.add(pThumbsUp, a.tu*(1-0.5*d))
	st.add(pThumbsDown, a.td*(1+3.5*d))
	st.add(pAddToPlaylist, a.pl*(1-0.6*d))
	st.add(pAddFriend, a.af*(1-0.7*d))
	if a.level == 0 {
		st.add(pRollAdvert, a.ad*(1+2.5*d))
		st.add(pUpgrade, 0.0045*(1-0.5*d))
	} else {
		st.add(pRollAdvert, 0.002)
		st.add(pDowngrade, 0.011*(1+d))
	}
	st.add(pHome, 0.019)
	st.add(pLogout, 0.0105)
	st.add(pSettings, 0.0055)
	st.add(pHelp, a.hp*(1+d))
	st.add(pAbout, 0.0032)
	st.add(pError, 0.0009*(1+d))
	return st
}

// session generates the actor's next session into buf and schedules the one
// after it. It returns buf unchanged when the actor has nothing left.
func (a *actor) session(buf []event, cfg *Config) []event {
	if a.guest {
		return a.guestSession(buf, cfg)
	}
	r := a.rng
	start := a.next
	last := false
	if a.churnAt > 0 && start >= a.churnAt {
		last = true // a.next never passes churnAt: this session starts at it
	}
	if start >= a.end {
		a.done = true
		return buf
	}
	a.nextSession()
	d := a.drift(start)
	t := start
	item := int32(0)
	emit := func(p page, au auth, dt int64) {
		e := event{ts: t, actor: a.idx, sid: a.sid, item: item, song: -1, page: p, auth: au, level: a.level}
		if p == pNextSong {
			e.song = pickSong(r)
			dt = int64(catalog[e.song].length*msPerSec) + int64(r.IntN(400))
		}
		buf = append(buf, e)
		item++
		t += max(dt, 1)
	}
	short := func() int64 { return int64(2*msPerSec + r.IntN(45*msPerSec)) }

	if a.newUser && a.sessions == 0 {
		lv := a.level
		a.level = 0
		emit(pHome, aGuest, short())
		emit(pRegister, aGuest, short())
		a.reg = t
		emit(pSubmitRegistration, aGuest, short())
		a.level = lv
		a.buildTail()
	} else if r.Float64() < 0.08 {
		emit(pHome, aLoggedOut, short())
		emit(pLogin, aLoggedOut, short())
	}
	a.sessions++
	emit(pHome, aLoggedIn, short())

	st := a.table(d)
	endP := 1 / (a.steps * (1 - 0.4*d))
	maxSteps := 400
	if last {
		maxSteps = 5 + r.IntN(40)
	}
	open := true
	for steps := 0; steps < maxSteps; steps++ {
		if r.Float64() < endP {
			break
		}
		p := st.draw(r)
		switch p {
		case pUpgrade:
			emit(p, aLoggedIn, short())
			if r.Float64() < a.upP*(1-0.8*d) {
				emit(pSubmitUpgrade, aLoggedIn, short())
				a.level = 1
				st = a.table(d)
			}
		case pDowngrade:
			emit(p, aLoggedIn, short())
			if r.Float64() < a.downP*(1+4*d) {
				emit(pSubmitDowngrade, aLoggedIn, short())
				a.level = 0
				st = a.table(d)
			}
		case pSettings:
			emit(p, aLoggedIn, short())
			if r.Float64() < 0.2 {
				emit(pSaveSettings, aLoggedIn, short())
			}
		case pLogout:
			emit(p, aLoggedIn, short())
			emit(pHome, aLoggedOut, short())
			if last || r.Float64() < 0.7 {
				emit(pLogin, aLoggedOut, short())
			} else {
				open = false
			}
		default:
			emit(p, aLoggedIn, short())
		}
		if !open {
			break
		}
	}
	if last {
		if !open {
			emit(pLogin, aLoggedOut, short())
		}
		if r.Float64() < 0.5 {
			if a.level == 1 {
				emit(pDowngrade, aLoggedIn, short())
			} else {
				emit(pSettings, aLoggedIn, short())
			}
		}
		emit(pCancel, aLoggedIn, short())
		emit(pCancellationConfirmation, aCancelled, short())
		a.churned = true
		a.done = true
	}
	a.lastTs = t
	if !a.done {
		a.next = max(t+10*msPerMin, start+a.gap(start))
		if a.churnAt > 0 {
			// The cancelling session must happen even if the next ordinary
			// one would fall after the end of the log.
			a.next = min(a.next, max(a.churnAt, t+10*msPerMin))
		}
	}
	return a.finish(buf, cfg)
}

// guestSession is an anonymous visit: Home and a few of Help, About,
// Register, Error, never a song.
func (a *actor) guestSession(buf []event, cfg *Config) []event {
	r := a.rng
	if a.visits == 0 || a.next >= a.end {
		a.done = true
		return buf
	}
	a.visits--
	a.nextSession()
	t := a.next
	item := int32(0)
	emit := func(p page) {
		buf = append(buf, event{ts: t, actor: a.idx, sid: a.sid, item: item, song: -1, page: p, auth: aGuest})
		item++
		t += int64(2*msPerSec + r.IntN(60*msPerSec))
	}
	emit(pHome)
	for n := r.IntN(4); n > 0; n-- {
		switch x := r.Float64(); {
		case x < 0.3:
			emit(pHelp)
		case x < 0.55:
			emit(pAbout)
		case x < 0.9:
			emit(pRegister)
		default:
			emit(pError)
		}
	}
	a.next = t + int64(uniform(r, 0.5, 10)*msPerDay)
	return a.finish(buf, cfg)
}

// finish drops the events at or after the end of the log and marks the bad
// lines and variants from the side stream.
func (a *actor) finish(buf []event, cfg *Config) []event {
	for len(buf) > 0 && buf[len(buf)-1].ts >= a.end {
		buf = buf[:len(buf)-1]
	}
	if cfg.BadLineRate <= 0 && cfg.VariantRate <= 0 {
		return buf
	}
	s := a.side
	for i := range buf {
		e := &buf[i]
		if cfg.VariantRate > 0 && s.Float64() < cfg.VariantRate {
			e.variant = uint8(1 + s.IntN(len(VariantKinds)))
			e.aux = s.Uint32()
		}
		if cfg.BadLineRate > 0 && s.Float64() < cfg.BadLineRate &&
			e.page != pCancel && e.page != pCancellationConfirmation {
			e.bad = uint8(1 + s.IntN(len(BadClasses)))
			e.aux = s.Uint32()
		}
	}
	return buf
}
