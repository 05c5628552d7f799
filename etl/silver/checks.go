package silver

import (
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/etl/quality"
)

// Stable names of the silver quality checks.
const (
	CheckNotNull        = "silver.events.not_null"
	CheckAcceptedLevel  = "silver.events.accepted_values.level"
	CheckAcceptedMethod = "silver.events.accepted_values.method"
	CheckAcceptedAuth   = "silver.events.accepted_values.auth"
	CheckAcceptedStatus = "silver.events.accepted_values.status"
	CheckTSInPartition  = "silver.events.ts_in_partition"
	CheckUniqueEventKey = "silver.events.unique_event_key"
	CheckMonotonicItems = "silver.sessions.monotonic_item_in_session"
	CheckSessionsUnique = "silver.sessions.unique_key"
	CheckReconciliation = "silver.reconciliation.bronze_rows"
)

// CheckDay records the per-day checks of one ProcessDay result. bronzeRows
// is the row count the bronze layer recorded for the day (its manifest), or
// -1 when unknown (then the rows read are used); written is the number of
// user and anonymous rows actually written.
func CheckDay(rep *quality.Report, day string, st DayStats, bronzeRows, writtenUser, writtenAnon int64) {
	in := func(what string) string { return fmt.Sprintf("%s on %s", what, day) }
	rep.Check(CheckNotNull, quality.Error, st.NullRequired, in("null in a required column"))
	rep.Check(CheckAcceptedLevel, quality.Error, st.BadLevel, in("level not in {free, paid}"))
	rep.Check(CheckAcceptedMethod, quality.Error, st.BadMethod, in("method not in {GET, PUT}"))
	rep.Check(CheckAcceptedAuth, quality.Error, st.BadAuth, in("auth not in {Logged In, Logged Out, Guest, Cancelled}"))
	rep.Check(CheckAcceptedStatus, quality.Warn, st.BadStatus, in("status not in {200, 307, 404}"))
	rep.Check(CheckTSInPartition, quality.Error, st.OutsideDay, in("event ts outside its dt partition"))
	rep.Check(CheckUniqueEventKey, quality.Warn, st.KeyConflicts, in("rows share (user_id, session_id, item_in_session, ts) but differ"))
	rep.Check(CheckMonotonicItems, quality.Warn, st.NonMonotonic, in("item_in_session not increasing within a session"))
	if bronzeRows < 0 {
		bronzeRows = st.BronzeRows
	}
	var bad int64
	if d := bronzeRows - (writtenUser + writtenAnon + st.DuplicatesRemoved); d != 0 {
		bad = max(d, -d)
	}
	rep.Check(CheckReconciliation, quality.Error, bad, fmt.Sprintf("%s: bronze rows %d != silver user rows %d + anonymous rows %d + duplicates removed %d",
		day, bronzeRows, writtenUser, writtenAnon, st.DuplicatesRemoved))
}

// CheckSessionsReused is the check (a warning) counting sessions whose
// (user_id, session_id) is that of an earlier session of the run.
const CheckSessionsReused = "silver.sessions.reused_id"

// SessionKeys accumulates hashes of the keys of assembled sessions: to
// check that the session key (user_id, session_id, session_start) is
// unique (checked per batch: a session belongs to the day it starts, so
// two sessions with one start are in one day's batch), and to count the
// sessions that reuse the (user_id, session_id) of another among the days
// of a run (split after a pause longer than SessionGap): 8 bytes per
// session.
type SessionKeys struct {
	seed maphash.Seed
	ids  []uint64 // (user_id, session_id)
	dups int64    // repeated (user_id, session_id, session_start)
	mu   sync.Mutex
}

// NewSessionKeys returns an empty key set.
func NewSessionKeys() *SessionKeys { return &SessionKeys{seed: maphash.MakeSeed()} }

func (k *SessionKeys) hash(u string, vals ...int64) uint64 {
	var h maphash.Hash
	h.SetSeed(k.seed)
	h.WriteString(u)
	var b [8]byte
	for _, v := range vals {
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		h.Write(b[:])
	}
	return h.Sum64()
}

// Add adds the keys of a sessions batch (one start day). Safe for
// concurrent use.
func (k *SessionKeys) Add(sessions arrow.RecordBatch) {
	u := sessions.Column(0).(*array.String)
	s := sessions.Column(1).(*array.Int64)
	start := sessions.Column(2).(*array.Timestamp)
	n := int(sessions.NumRows())
	ids := make([]uint64, n)
	full := make([]uint64, n)
	for i := range n {
		ids[i] = k.hash(u.Value(i), s.Value(i))
		full[i] = k.hash(u.Value(i), s.Value(i), int64(start.Value(i)))
	}
	d := dups(full)
	k.mu.Lock()
	k.ids = append(k.ids, ids...)
	k.dups += d
	k.mu.Unlock()
}

// dups sorts hashes and counts equal neighbours (a 64-bit collision would
// count as a duplicate: ~n²/2⁶⁵).
func dups(hashes []uint64) int64 {
	slices.Sort(hashes)
	var n int64
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] {
			n++
		}
	}
	return n
}

// Check records CheckSessionsUnique (an error: two sessions with one key)
// and CheckSessionsReused (a warning), and returns the number of sessions
// that reuse an id.
func (k *SessionKeys) Check(rep *quality.Report) int64 {
	rep.Check(CheckSessionsUnique, quality.Error, k.dups, "a (user_id, session_id, session_start) repeats")
	reused := dups(k.ids)
	rep.Check(CheckSessionsReused, quality.Warn, reused, fmt.Sprintf(
		"a (user_id, session_id) starts more than one session: the id was reused after a pause of more than %d h, the sessions were split", SessionGap/3_600_000))
	return reused
}
