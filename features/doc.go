// Package features builds leak-free per-user feature snapshots from the gold
// layer of a churnctl lake.
//
// A snapshot is taken as of a cutoff T (midnight UTC of a date). Every
// feature is computed only from gold fact_user_day partitions with dt < T,
// that is from events with ts < T; the label `churn` is 1 iff the user reaches
// "Cancellation Confirmation" in [T, T+H), read only from partitions with
// T <= dt < T+H. Partitions with dt >= T+H are never opened, so many cutoffs
// are cheap: each reads a few columns of small daily aggregates.
//
// Conventions:
//   - Rows are the users with at least one event before T who have not
//     churned before T, sorted by user_id (byte order).
//   - Count features cover the window [T-W, T) (W = Config.WindowDays,
//     default 30); trend features use fixed 7- and 14-day windows
//     ((a-b)/(a+b) of the last 7 vs the 7 before, last 14 vs the 14 before;
//     the *_7d_vs_prior_21d features compare daily rates of the last 7
//     days with the 21 before them, [T-28d, T-7d), and the rate deltas
//     (thumbs down, adverts per song) subtract the earlier rate);
//     tenure, last activity, last upgrade/downgrade and the paid share use
//     the whole history before T. Rates with an empty denominator are 0.
//   - Tenure is T - registration, never measured to the last event (a user
//     without a registration falls back to T - first event). "Days since the
//     last upgrade/downgrade" is the tenure when there was none.
//   - Static attributes (registration, gender, user agent → OS, location →
//     US state) are the user's values at their last silver level_history row
//     before T. Gold dim_user is only used when the lake has no level
//     history: its attributes are type 1 (the user's latest values, possibly
//     from after T), which the leakage test shows can leak.
//   - Cancel and Cancellation Confirmation never feed a feature: gold's
//     n_cancellation_confirmation is read only for the label and to exclude
//     users who churned before T, n_cancel is never read, and event counts
//     are the sum of the other pages' counts. Caveat: gold's first_ts,
//     last_ts, n_paid_events and level_end cover every page of a day, so a
//     Cancel just before T whose confirmation lands at or after T (the pair
//     straddling midnight) still moves days_since_last_activity by seconds
//     and paid_share by one event.
//   - Categorical features (gender, os, state) are int64 codes into fixed
//     vocabularies (Feature.Categories, also in the schema file); code 0
//     means unknown. The vocabularies do not depend on the data, so a code
//     means the same in every snapshot. Bool features are Arrow booleans in
//     Parquet/Arrow and 0/1 in CSV.
//   - CSV has user_id, the features, churn: every column but user_id and
//     churn is numeric, so pandas/scikit-learn load it as is. as_of is not a
//     CSV column (it is in the schema file); Parquet and Arrow have it as
//     date32 after user_id.
//   - When the lake's data does not reach the last day of the label window
//     (the day of the gold manifest's max_ts is before T+H-1 day), the
//     snapshot is unlabeled: churn is null, Snapshot.Labeled and the schema
//     file's "labeled" are false, and the command warns. A missing future is
//     never labeled "stayed".
//   - Leakage audit: a test (TestLeakage, TestPipelineLeakage) changes or
//     deletes every event at or after T and checks every feature is
//     unchanged, and that the check fails for whole-history features; every
//     labeled snapshot also gets each feature's ROC-AUC against the label,
//     with a warning when one alone exceeds 0.95 (Audit).
//   - Output is deterministic: same lake and T give byte-identical files.
package features
