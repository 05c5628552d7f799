package eventsim

import "testing"

// TestUserIDsUnique draws every actor of logs of 110,000 users (the full
// Sparkify size, where ids of new users used to run into those of the
// others) and checks that no two users share a userId, without generating
// any event.
func TestUserIDsUnique(t *testing.T) {
	for _, users := range []int{200, 100_000, 100_001, 110_000} {
		cfg := &Config{Users: users, Days: 60, Start: start, Seed: 11}
		s, e := start.UnixMilli(), start.UnixMilli()+60*msPerDay
		seen := make(map[string]int32, users)
		newUsers := 0
		for idx := range int32(users) {
			a := newActor(cfg, idx, s, e)
			if a.newUser {
				newUsers++
			}
			if prev, dup := seen[string(a.id)]; dup {
				t.Fatalf("users=%d: actors %d and %d share userId %s", users, prev, idx, a.id)
			}
			seen[string(a.id)] = idx
		}
		if newUsers == 0 || newUsers == users && users > 1 {
			t.Fatalf("users=%d: %d new users; the test needs both kinds", users, newUsers)
		}
	}
}

// TestUserIDRanges checks the allocator alone up to the largest --users:
// the ids of users registered before the log (1..users) stay below every
// id of users registering during it, and the small logs keep the ids of
// earlier versions (the bundled sample's bytes depend on them).
func TestUserIDRanges(t *testing.T) {
	for _, tc := range []struct {
		users int
		base  int64
	}{{1, 100001}, {200, 100001}, {100_000, 100001}, {100_001, 1000001}, {110_000, 1000001},
		{1_000_000, 1000001}, {1_000_001, 10000001}, {50_000_000, 100000001}} {
		if got := newUserBase(tc.users); got != tc.base {
			t.Errorf("newUserBase(%d) = %d, want %d", tc.users, got, tc.base)
		}
		last := int32(tc.users - 1)
		if old, nu := userID(tc.users, last, false), userID(tc.users, 0, true); old >= nu {
			t.Errorf("users=%d: largest old id %d >= smallest new id %d", tc.users, old, nu)
		}
	}
}

// TestSessionIDsGrow checks the session id allocator: per actor strictly
// increasing over many sessions (so, with unique userIds, a (userId,
// sessionId) never starts two sessions).
func TestSessionIDsGrow(t *testing.T) {
	cfg := &Config{Users: 1000, Days: 60, Start: start, Seed: 3}
	s, e := start.UnixMilli(), start.UnixMilli()+60*msPerDay
	for idx := range int32(1000) {
		a := newActor(cfg, idx, s, e)
		prev := a.sid
		for range 2000 {
			sid := a.nextSession()
			if sid <= prev {
				t.Fatalf("actor %d: session id %d after %d", idx, sid, prev)
			}
			prev = sid
		}
	}
}
