// Package gold builds the star schema from silver tables: fact_user_day (one
// row per user and day with mergeable aggregates), fact_session, the SCD2
// dim_user, dim_date and dim_page. Column names and types follow the gold
// contract (COMMON.md); features and load read them.
//
// Layout under the lake root:
//
//	gold/fact_user_day/dt=YYYY-MM-DD/part-0.parquet  users with events that day, sorted by user_id
//	gold/fact_session/dt=YYYY-MM-DD/part-0.parquet   sessions starting that day (whole, even across midnight)
//	gold/dim_user/part-0.parquet                     SCD2 on level, sorted by user_id, valid_from
//	gold/dim_date/part-0.parquet                     one row per day present in fact_user_day
//	gold/dim_page/part-0.parquet                     known pages plus any seen, with page_group
//	gold/_manifest.json                              {"min_ts","max_ts" (Unix ms),"first_day","last_day","days","users"}
//
// Every partition directory also has the lake's _manifest.json; the
// fact_user_day ones carry stats min_ts/max_ts/events of their day.
//
// Mergeability: every fact_user_day column is a sum, count, min, max or an
// exact set (artist_sketch: sorted unique little-endian uint64 FNV-1a-64
// hashes of the artist names of the day's NextSong events), so any window of
// days is computed from the daily rows alone; SketchUnion and SketchCount do
// the set part. n_sessions counts the sessions with events that day (a
// session crossing midnight counts on both days); level_end is the level of
// the day's last event.
//
// dim_user: a version starts at a user's first event and at every event
// whose level differs from the previous event's; valid_to is the next
// version's valid_from (null and is_current for the last). Registration,
// gender, location, user agent and names are type 1 (the latest values, on
// every version). It is rebuilt whole from silver/level_history (the day's
// first event and the level changes of each user-day: a few rows per user
// and day), so a daily run never re-reads events to rebuild it.
package gold
