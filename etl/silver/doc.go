// Package silver turns bronze events into clean, conformed per-day tables.
//
// Layout under the lake root (dt = UTC event day; one part-0.parquet each):
//
//	silver/events/dt=D            user events: anonymous rows split off, exact duplicates removed;
//	                              bronze's columns (EventColumns) and order (ts, source_file, line_number)
//	silver/anonymous_events/dt=D  rows with an empty user_id or one of --anonymous-user-ids (same layout)
//	silver/session_parts/dt=D     per (user_id, session_id) the session's events of day D (two
//	                              parts when the id pauses longer than SessionGap: reused)
//	silver/sessions/dt=D          whole sessions starting on D (parts of the following days merged),
//	                              key (user_id, session_id, session_start)
//	silver/level_history/dt=D     per user: the day's first event and each level change, with the
//	                              user's attributes (registration, gender, location, user_agent, names)
//
// Conventions: timestamps are Unix milliseconds UTC. The event key is the
// natural key (user_id, session_id, item_in_session, ts); two rows are exact
// duplicates when all 18 event fields are equal (ingest metadata ignored).
// Of a group of duplicates the row with the smallest (source_file,
// line_number) is kept. Rows sharing an event key but differing otherwise
// are kept and counted (check silver.events.unique_event_key, warn).
//
// Sessions: a (user_id, session_id) whose next event comes more than
// SessionGap (6 h) after its previous one starts a new session: the id was
// reused (counted, check silver.sessions.reused_id, a warning). A session
// continues on day D+1 when its key's first part of D+1 begins at most
// SessionGap after its last event; at most MaxSessionDays are followed.
//
// Incremental runs: re-processing days [A, B] rebuilds their partitions and
// the sessions of A-1 and B+1 (a session belongs to the day it starts; late
// events can move a start across midnight).
//
// Bronze writes each day's logged-out rows to a file of their own, so a day
// with no duplicate and no --anonymous-user-ids row has, as its
// silver/events and silver/anonymous_events, exactly the rows of bronze's
// two files, in the same order: silver hard-links those files (lake.Tx.Link)
// instead of encoding the same rows a second time. A written file uses
// bronze's writer options. Either way silver/events carries bronze's
// lineage columns, ingest_run_id included, so it is byte-identical across
// re-runs of the same state but not across different ingest histories
// (the rows, lineage aside, are).
//
// The pure part is ProcessDay / ProcessDayBatches (one day's bronze rows in,
// arrays out) and AssembleSessions; Run adds the lake I/O. Early lets
// churnctl etl clean each day from the batches bronze has just written,
// in the same transaction, instead of reading bronze back, a day bronze
// writes in pieces piece by piece (dayBuilder: per-user and per-session
// state carried over, the tables those of the whole day at once). Run
// reads the small session parts and gold the level history back from the
// staged partitions, a few days at a time, rather than holding every
// day's: memory does not grow with the number of days or events.
package silver
