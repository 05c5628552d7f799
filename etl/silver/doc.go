// Package silver turns bronze events into clean, conformed per-day tables:
// user events (anonymous traffic split off, exact duplicates removed, sorted by
// user_id, ts, session_id, item_in_session), per-day session fragments that
// assemble into whole sessions (a session belongs to the day it starts, even
// when it crosses midnight), and a per-user level history for the SCD2 user
// dimension.
//
// Conventions: all timestamps are Unix milliseconds UTC; a day is a UTC
// calendar day written YYYY-MM-DD. The event key is the natural key
// (user_id, session_id, item_in_session, ts); two rows are exact duplicates
// when all 18 event fields are equal (ingest metadata is ignored). Of a group
// of duplicates the row with the smallest (source_file, line_number) is kept.
//
// The pure part is ProcessDay (one day's bronze batch in, arrays out) and
// AssembleSessions; Run adds the lake I/O.
package silver
