// Package eventsim generates synthetic Sparkify/eventsim event logs: one JSON
// object per line, the 18 keys of the real data in their original order
//
//	ts, userId, sessionId, page, auth, method, status, level, itemInSession,
//	location, userAgent, lastName, firstName, registration, gender, artist,
//	song, length
//
// with ts and registration in milliseconds since the Unix epoch and lines
// ordered by ts across users.
//
// # Model
//
// Every user has a stable profile (gender, names, "City, ST" location,
// userAgent, registration, userId), an activity level (sessions per day,
// steps per session) and a latent satisfaction that shapes how
// often they thumb songs up or down, add friends and playlist entries, and
// whether they churn. About 22% of users churn: their last two events are
// Cancel then Cancellation Confirmation (auth "Cancelled") and nothing follows.
// Churners drift over their last weeks (fewer and shorter sessions, more
// thumbs down and adverts, fewer friends and playlist adds, more downgrades);
// some loyal users drift the same way without cancelling, so churn is
// learnable but noisy. Churn times spread over the whole date range, some
// users registered before the start date and new users keep arriving (their
// first session starts as a Guest: Home, Register, Submit Registration).
// Sessions count itemInSession from 0; sessionIds repeat across users but
// never within one: userIds are unique at any --users (1..N for users
// registered before the log, a range above N for new ones, see userID) and
// each user's sessionIds only grow (nextSession).
// Users are as active as real Sparkify users (TestActivity): about 1,180
// events in about 20 sessions of about 60 events (3 to 4 hours) over 60
// days, active on about 17 of them; a log is about 540 kB per user, as the
// full Sparkify dataset (12 GB, 22,278 users).
// Logged-out and guest rows have userId "" and null user fields; artist, song
// and length are set on NextSong rows only.
//
// # Determinism and speed
//
// Each user (and each anonymous guest visitor) draws from its own PCG stream
// seeded from (Config.Seed, index), so the output depends on the seed only,
// never on GOMAXPROCS or Config.Workers. Users are split into shards that
// generate one time window at a time in parallel; the windows are merged by
// (ts, index), which is a total order, and written with hand-made JSON
// encoding. Memory is bounded by the window size, not by the output size.
//
// # Bad lines and variants
//
// Config.BadLineRate inserts, after a fraction of events, a corrupted copy of
// the event of one of the classes in BadClasses (the quarantine rule ids of the
// bronze layer). Config.VariantRate re-encodes a fraction of events in valid
// but unusual forms seen in real files (VariantKinds). Both draw from a
// separate random stream, so the clean events are the same whatever the rates.
package eventsim
