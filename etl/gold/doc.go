// Package gold builds the star schema from silver tables: fact_user_day (one
// row per user and day with mergeable aggregates), fact_session, the SCD2
// dim_user, dim_date and dim_page. Column names and types follow the gold
// contract (COMMON.md); features and load read them.
//
// Mergeability: every fact_user_day column is a sum, count, min, max or an
// exact set (artist_sketch: sorted unique little-endian uint64 FNV-1a-64
// hashes of artist names), so any window of days is computed from the daily
// rows alone; SketchUnion and SketchCount do the set part.
package gold
