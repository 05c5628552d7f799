// Package features builds leak-free per-user feature snapshots from the gold
// layer of a churnctl lake.
//
// A snapshot is taken as of a cutoff T (midnight UTC of a date). Every
// feature is computed only from gold fact_user_day partitions with dt < T,
// that is from events with ts < T; the label `churn` is 1 iff the user reaches
// "Cancellation Confirmation" in [T, T+H), read only from partitions with
// T <= dt < T+H. Partitions with dt >= T+H are never opened.
//
// Conventions:
//   - Rows are the users with at least one event before T who have not
//     churned before T, sorted by user_id (byte order).
//   - Count features cover the window [T-W, T) (W = Config.WindowDays,
//     default 30); trend features use fixed 7- and 14-day windows; tenure,
//     last activity, last level change and the paid share use the whole
//     history before T.
//   - Tenure is T - registration (dim_user), never measured to the last event.
//     A user without a registration falls back to T - first event.
//   - The page counts n_cancel and n_cancellation_confirmation of gold are read
//     for the label and for excluding users who churned before T, never for a
//     feature.
//   - Categorical features (gender, os, state) are integer codes into fixed
//     vocabularies (Categories); code 0 means unknown. The vocabularies do not
//     depend on the data, so codes mean the same in every snapshot.
//   - When the lake's data ends before T+H (its last day is before T+H-1 day)
//     the snapshot is unlabeled: churn is null, Snapshot.Labeled is false.
//   - Output is deterministic: same lake and T give byte-identical files.
package features
