package silver

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// Sorted holds a day's user events in (user_id, ts, session_id,
// item_in_session) order, in the compact form sessions and gold's daily
// facts read: user ids once per user, page and level as codes into small
// tables, artists as their sketch hashes. Row k of every column is event k.
type Sorted struct {
	// Users are the day's user ids in order (copies, which outlive the
	// input batches: they may be kept); the events of Users[u] are rows
	// Starts[u] to Starts[u+1]-1.
	Users  []string
	Starts []int32
	TS     []int64 // Unix ms
	Sess   []int64
	Item   []int32
	// Page[k] indexes Pages; Level[k] indexes Levels.
	Page   []int32
	Pages  []string
	Level  []int32
	Levels []string
	// Length[k] is valid when LengthOK[k]; ArtistHash[k] (HashArtist of the
	// name) when ArtistOK[k].
	Length     []float64
	LengthOK   []bool
	ArtistHash []uint64
	ArtistOK   []bool
}

// NumRows returns the number of events.
func (s *Sorted) NumRows() int64 { return int64(len(s.TS)) }

// HashArtist is the artist_sketch hash: FNV-1a 64 of the name's bytes.
func HashArtist(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// interner numbers strings by first appearance. Its cache, direct-mapped on
// the length and first 8 bytes, answers most lookups of short repeated
// values (pages, levels) without hashing the string.
type interner struct {
	index  map[string]int32
	values []string
	cache  [64]struct {
		w    uint64
		n    int
		code int32
		s    string
	}
}

func newInterner() *interner {
	in := &interner{index: map[string]int32{}}
	for i := range in.cache {
		in.cache[i].n = -1
	}
	return in
}

func (in *interner) code(s string) int32 {
	var w uint64
	if len(s) >= 8 {
		w = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
	} else {
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
	}
	e := &in.cache[((w^uint64(len(s)))*0x9e3779b97f4a7c15)>>58]
	if e.n == len(s) && e.w == w && (len(s) <= 8 || e.s == s) {
		return e.code
	}
	c, ok := in.index[s]
	if !ok {
		c = int32(len(in.values))
		s = strings.Clone(s)
		in.index[s] = c
		in.values = append(in.values, s)
	} else {
		s = in.values[c]
	}
	e.w, e.n, e.code, e.s = w, len(s), c, s
	return c
}

// buildSorted builds the Sorted of the user rows: refs into the bound input
// batches es (offs: each batch's first global row), whose sort keys are
// keys, in order (rank r's id is names[order[r]]). ts, session and item
// come from the keys; page, level and artist are coded in one sequential
// pass over the input, then taken by row: taking strings in user order
// would read the input at random.
func buildSorted(es []*events, offs []int32, refs []parquetio.RowRef, keys []sortKey, names []string, order []int32) *Sorted {
	total := int(offs[len(es)])
	pageOf, levelOf := make([]int32, total), make([]int32, total)
	artistOf, artistOK := make([]uint64, total), make([]bool, total)
	pages, levels := newInterner(), newInterner()
	for b, e := range es {
		base := int(offs[b])
		for i := 0; i < e.n; i++ {
			pageOf[base+i] = pages.code(e.page.Value(i))
			levelOf[base+i] = levels.code(e.level.Value(i))
			if e.artist.IsValid(i) {
				artistOf[base+i], artistOK[base+i] = HashArtist(e.artist.Value(i)), true
			}
		}
	}
	n := len(keys)
	s := &Sorted{TS: make([]int64, n), Sess: make([]int64, n), Item: make([]int32, n), Page: make([]int32, n),
		Level: make([]int32, n), Length: make([]float64, n), LengthOK: make([]bool, n), ArtistHash: make([]uint64, n),
		ArtistOK: make([]bool, n), Pages: pages.values, Levels: levels.values}
	lenv := make([][]float64, len(es))
	for b, e := range es {
		lenv[b] = e.length.Float64Values()
	}
	// The user ids, copied into one buffer.
	var idBytes int
	prev := int32(-1)
	for _, key := range keys {
		if key.rank != prev {
			idBytes += len(names[order[key.rank]])
			prev = key.rank
		}
	}
	arena := make([]byte, 0, idBytes)
	prev = -1
	for k, key := range keys {
		if key.rank != prev {
			id := names[order[key.rank]]
			arena = append(arena, id...)
			s.Users = append(s.Users, unsafe.String(unsafe.SliceData(arena[len(arena)-len(id):]), len(id)))
			s.Starts = append(s.Starts, int32(k))
			prev = key.rank
		}
		g := key.row
		s.TS[k], s.Sess[k], s.Item[k] = key.ts, key.sid, key.item
		s.Page[k], s.Level[k] = pageOf[g], levelOf[g]
		s.ArtistHash[k], s.ArtistOK[k] = artistOf[g], artistOK[g]
		if ref := refs[k]; es[ref.Batch].length.IsValid(int(ref.Row)) {
			s.Length[k], s.LengthOK[k] = lenv[ref.Batch][ref.Row], true
		}
	}
	s.Starts = append(s.Starts, int32(n))
	return s
}
