package silver

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/internal/exitcode"
)

// sortedFromBatch converts a batch with the SortedColumns, sorted by user,
// into a Sorted: the straightforward way, for tests. Rows of one user must
// be adjacent and users in increasing order.
func sortedFromBatch(b arrow.RecordBatch) (*Sorted, error) {
	e, err := bindSorted(b)
	if err != nil {
		return nil, err
	}
	n := e.n
	s := &Sorted{TS: make([]int64, n), Sess: make([]int64, n), Item: make([]int32, n), Page: make([]int32, n),
		Level: make([]int32, n), Length: make([]float64, n), LengthOK: make([]bool, n), ArtistHash: make([]uint64, n),
		ArtistOK: make([]bool, n)}
	pages, levels := newInterner(), newInterner()
	for k := 0; k < n; k++ {
		if u := e.user.Value(k); k == 0 || u != s.Users[len(s.Users)-1] {
			if k > 0 && u < s.Users[len(s.Users)-1] {
				return nil, fmt.Errorf("%w: events not sorted by user_id (%q after %q)", exitcode.ErrBadInput, u, s.Users[len(s.Users)-1])
			}
			s.Users = append(s.Users, u)
			s.Starts = append(s.Starts, int32(k))
		}
		s.TS[k] = int64(e.ts.Value(k))
		s.Sess[k] = e.session.Value(k)
		s.Item[k] = e.item.Value(k)
		s.Page[k] = pages.code(e.page.Value(k))
		s.Level[k] = levels.code(e.level.Value(k))
		if e.length.IsValid(k) {
			s.Length[k], s.LengthOK[k] = e.length.Value(k), true
		}
		if e.artist.IsValid(k) {
			s.ArtistHash[k], s.ArtistOK[k] = HashArtist(e.artist.Value(k)), true
		}
	}
	s.Starts = append(s.Starts, int32(n))
	s.Pages, s.Levels = pages.values, levels.values
	return s, nil
}

// TestSortedMatchesGather checks buildSorted (codes taken in one pass over
// the input) against gathering the sorted columns row by row (takeRows) and
// converting them, on random days with duplicates, anonymous ids and many
// input batches.
func TestSortedMatchesGather(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	users, dups := 0, int64(0)
	for seed := range uint64(4) {
		for d, evs := range etltest.ByDay(etltest.Random(seed+11, 30, 3, day0, 20)) {
			one := etltest.Batch(mem, evs)
			var parts []arrow.RecordBatch
			for lo := 0; lo < len(evs); {
				hi := min(len(evs), lo+1+lo%29)
				parts = append(parts, one.NewSlice(int64(lo), int64(hi)))
				lo = hi
			}
			res, err := ProcessDayBatches(t.Context(), mem, d, parts, Options{AnonymousUserIDs: map[string]bool{"1004": true}})
			if err != nil {
				t.Fatal(err)
			}
			gathered, err := takeRows(mem, parts, columnIndexes(parts[0].Schema(), SortedColumns), res.EventRows)
			if err != nil {
				t.Fatal(err)
			}
			want, err := sortedFromBatch(gathered)
			if err != nil {
				t.Fatal(err)
			}
			// The code tables may number values in another order: compare
			// the values.
			got := res.Events
			if !reflect.DeepEqual(got.Users, want.Users) || !reflect.DeepEqual(got.Starts, want.Starts) ||
				!reflect.DeepEqual(got.TS, want.TS) || !reflect.DeepEqual(got.Sess, want.Sess) ||
				!reflect.DeepEqual(got.Item, want.Item) || !reflect.DeepEqual(got.LengthOK, want.LengthOK) ||
				!reflect.DeepEqual(got.ArtistOK, want.ArtistOK) {
				t.Fatalf("seed %d day %s: sorted columns differ", seed, DayString(d))
			}
			for k := range got.TS {
				if got.Pages[got.Page[k]] != want.Pages[want.Page[k]] || got.Levels[got.Level[k]] != want.Levels[want.Level[k]] ||
					(got.LengthOK[k] && got.Length[k] != want.Length[k]) || (got.ArtistOK[k] && got.ArtistHash[k] != want.ArtistHash[k]) {
					t.Fatalf("seed %d day %s: row %d differs", seed, DayString(d), k)
				}
			}
			users += len(got.Users)
			dups += res.Stats.DuplicatesRemoved
			gathered.Release()
			res.Release()
			for _, p := range parts {
				p.Release()
			}
			one.Release()
		}
	}
	if users < 100 || dups == 0 {
		t.Fatalf("fixture too easy: %d user-days, %d duplicates", users, dups)
	}
}

// TestInterner checks codes against a plain map, with values that share
// their length and first 8 bytes (the cache key) and enough values to evict
// cache entries.
func TestInterner(t *testing.T) {
	vals := []string{"", "a", "paid", "free", "NextSong", "Submit Upgrade", "Submit Upgradf", "Submit Downgrade",
		"12345678", "123456789", "12345678X", "Cancellation Confirmation", "Cancellation Confirmatioo"}
	for i := range 300 {
		vals = append(vals, fmt.Sprintf("page %03d tail", i), fmt.Sprintf("p%d", i))
	}
	in := newInterner()
	want := map[string]int32{}
	r := rand.New(rand.NewPCG(1, 1))
	for range 20000 {
		v := vals[r.IntN(len(vals))]
		c := in.code(v)
		if w, ok := want[v]; ok && w != c {
			t.Fatalf("code(%q) = %d, earlier %d", v, c, w)
		}
		want[v] = c
		if in.values[c] != v {
			t.Fatalf("code(%q) = %d, which is %q", v, c, in.values[c])
		}
	}
	if len(in.values) != len(want) {
		t.Fatalf("%d codes for %d values", len(in.values), len(want))
	}
}

// columnIndexes returns the indexes of the named columns of s.
func columnIndexes(s *arrow.Schema, names []string) []int {
	out := make([]int, len(names))
	for j, c := range names {
		out[j] = s.FieldIndices(c)[0]
	}
	return out
}
