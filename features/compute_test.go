package features

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/day"
)

func snapshot(t *testing.T, mem memory.Allocator, es []ev, cfg Config) *Snapshot {
	t.Helper()
	src := buildGold(mem, es)
	defer src.release()
	return compute(t, src, cfg, true)
}

// compute: withHistory false hides silver level_history from the source, so
// static attributes come from gold dim_user.
func compute(t *testing.T, src *MemSource, cfg Config, withHistory bool) *Snapshot {
	t.Helper()
	if !withHistory {
		c := *src
		c.Attrs = nil
		src = &c
	}
	s, err := Compute(context.Background(), src, cfg)
	if err != nil {
		t.Fatalf("Compute(as_of %s): %v", cfg.AsOf, err)
	}
	return s
}

func TestFeatureSchema(t *testing.T) {
	fs := Features()
	if len(fs) < 30 {
		t.Fatalf("%d features, want at least 30", len(fs))
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Name == "" || f.Description == "" || seen[f.Name] {
			t.Errorf("feature %+v: empty or duplicate", f)
		}
		seen[f.Name] = true
		switch f.Type {
		case Float64, Int64, Bool:
		case Category:
			if len(f.Categories) < 2 {
				t.Errorf("category feature %s has no vocabulary", f.Name)
			}
		default:
			t.Errorf("feature %s: type %q", f.Name, f.Type)
		}
		for _, bad := range []string{"cancel"} {
			if bytes.Contains([]byte(f.Name), []byte(bad)) {
				t.Errorf("feature %s is built from a churn page", f.Name)
			}
		}
	}
}

func TestMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	es := genEvents(1, 100, 90)
	src := buildGold(mem, es)
	defer src.release()
	for _, tc := range []struct {
		asOf   string
		h, w   int
		labels bool
	}{
		{"2018-10-20", 30, 30, true},
		{"2018-11-15", 30, 30, true},
		{"2018-11-15", 14, 7, true},
		{"2018-12-05", 30, 45, false}, // data ends 2018-12-30: window to 2019-01-04 not covered
		{"2018-12-10", 14, 30, true},
	} {
		for _, hist := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s_h%d_w%d_history=%v", tc.asOf, tc.h, tc.w, hist), func(t *testing.T) {
				T, _ := day.Parse(tc.asOf)
				got := compute(t, src, Config{AsOf: T, HorizonDays: tc.h, WindowDays: tc.w}, hist)
				want, labels, labeled := reference(es, T, tc.h, tc.w)
				if got.Labeled != labeled || labeled != tc.labels {
					t.Fatalf("labeled = %v, reference %v, want %v", got.Labeled, labeled, tc.labels)
				}
				if len(got.UserIDs) != len(want) {
					t.Fatalf("%d rows, reference has %d", len(got.UserIDs), len(want))
				}
				if len(want) < 20 {
					t.Fatalf("only %d rows: fixture too small to mean anything", len(want))
				}
				pos := 0
				for i, id := range got.UserIDs {
					if i > 0 && got.UserIDs[i-1] >= id {
						t.Fatalf("rows not sorted: %q before %q", got.UserIDs[i-1], id)
					}
					w, ok := want[id]
					if !ok {
						t.Fatalf("user %s is a row, reference excludes it", id)
					}
					if labeled && got.Churn[i] != labels[id] {
						t.Errorf("user %s churn = %d, want %d", id, got.Churn[i], labels[id])
					}
					pos += int(labels[id])
					for j, f := range Features() {
						wv, ok := w[f.Name]
						if !ok {
							t.Fatalf("reference lacks feature %s", f.Name)
						}
						gv := got.Values[j][i]
						if math.Abs(gv-wv) > 1e-9*math.Max(1, math.Abs(wv)) {
							t.Errorf("user %s %s = %v, want %v", id, f.Name, gv, wv)
						}
					}
				}
				if labeled && (pos == 0 || pos == len(want)) {
					t.Errorf("%d positives of %d: labels cannot be checked", pos, len(want))
				}
			})
		}
	}
}

// mutateFuture changes or deletes every event at or after cut: pages
// (including churn pages), lengths, artists, sessions, levels and static
// attributes, and drops about a third of them; it also adds new users whose
// first event is after cut.
func mutateFuture(es []ev, cut int64, seed uint64) []ev {
	r := rand.New(rand.NewPCG(seed, 99))
	var out []ev
	for _, e := range es {
		if e.TS < cut {
			out = append(out, e)
			continue
		}
		if r.IntN(3) == 0 {
			continue
		}
		e.Page = []string{"NextSong", "Cancellation Confirmation", "Cancel", "Submit Upgrade", "Thumbs Down", "Error"}[r.IntN(6)]
		e.Level = []string{"free", "paid"}[r.IntN(2)]
		e.Artist = fmt.Sprint("Other ", r.IntN(1000))
		e.Length = r.Float64() * 1000
		e.SessionID += 7
		e.UserAgent = "Mozilla/5.0 (Linux; Android 9)"
		e.Location = "Austin, TX"
		e.Gender = "M"
		e.Registration = cut - msPerDay
		e.TS += r.Int64N(3600_000)
		out = append(out, e)
	}
	for u := range 5 {
		out = append(out, ev{TS: cut + int64(u)*1000, UserID: fmt.Sprint("new", u), SessionID: 1, Page: "NextSong", Level: "paid", Artist: "x", Length: 100})
	}
	sortEvents(out)
	return out
}

// TestLeakage is the leakage audit's guarantee: changing or deleting any
// event at or after T leaves every feature (and the row set) unchanged. It
// also shows the test catches the whole-history mistake, and the subtler
// one of taking static attributes from gold dim_user, whose attributes are
// the user's latest values (type 1), when silver level_history is missing.
func TestLeakage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	es := genEvents(2, 80, 90)
	src := buildGold(mem, es)
	defer src.release()
	for _, asOf := range []string{"2018-10-15", "2018-11-10", "2018-12-20"} {
		T, _ := day.Parse(asOf)
		mut := buildGold(mem, mutateFuture(es, T.MS(), 3))
		defer mut.release()
		for _, mode := range []string{"as-of", "wholeHistory", "dimUserType1"} {
			whole := mode == "wholeHistory"
			leaky := mode != "as-of"
			t.Run(asOf+"/"+mode, func(t *testing.T) {
				cfg := Config{AsOf: T, HorizonDays: 30, wholeHistory: whole}
				hist := mode != "dimUserType1"
				a := compute(t, src, cfg, hist)
				b := compute(t, mut, cfg, hist)
				var ab, bb bytes.Buffer
				// compare features only: the label legitimately depends on the future
				a.Labeled, b.Labeled = false, false
				if err := a.WriteCSV(&ab); err != nil {
					t.Fatal(err)
				}
				if err := b.WriteCSV(&bb); err != nil {
					t.Fatal(err)
				}
				same := bytes.Equal(ab.Bytes(), bb.Bytes())
				if leaky && same {
					t.Fatalf("%s features did not change when the future changed: the test cannot catch the leak", mode)
				}
				if !leaky && !same {
					t.Fatalf("features changed when only events at or after T changed:\n%s", firstDiff(ab.String(), bb.String()))
				}
			})
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	for i := 0; i < len(al) && i < len(bl); i++ {
		if !bytes.Equal(al[i], bl[i]) {
			return fmt.Sprintf("line %d:\n  %s\n  %s\n(header %s)", i, al[i], bl[i], al[0])
		}
	}
	return fmt.Sprintf("%d vs %d lines", len(al), len(bl))
}

// TestLabelWindow: churn exactly at T is inside [T, T+H); churn 1 ms before
// T removes the user; churn exactly at T+H is outside; data that ends before
// the window does gives an unlabeled snapshot.
func TestLabelWindow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	T, _ := day.Parse("2018-11-01")
	const H = 30
	tms, endms := T.MS(), (T + H).MS()
	base := func(id string, ts int64) ev {
		return ev{TS: ts, UserID: id, SessionID: 1, Page: "NextSong", Level: "free", Registration: tms - 40*msPerDay, Artist: "a", Length: 200}
	}
	churn := func(id string, ts int64) []ev {
		c := base(id, ts-1)
		c.Page = "Cancel"
		d := base(id, ts)
		d.Page = "Cancellation Confirmation"
		return []ev{c, d}
	}
	var es []ev
	for _, id := range []string{"at_T", "before_T", "at_T_plus_H", "last_ms", "stays", "new_at_T"} {
		if id != "new_at_T" {
			es = append(es, base(id, tms-5*msPerDay))
		}
	}
	es = append(es, churn("at_T", tms)...)
	es = append(es, churn("before_T", tms-1)...)
	es = append(es, churn("at_T_plus_H", endms)...)
	es = append(es, churn("last_ms", endms-1)...)
	es = append(es, base("new_at_T", tms), base("stays", endms+msPerDay))
	sortEvents(es)

	want := map[string]int8{"at_T": 1, "at_T_plus_H": 0, "last_ms": 1, "stays": 0}
	s := snapshot(t, mem, es, Config{AsOf: T, HorizonDays: H})
	if !s.Labeled {
		t.Fatal("snapshot unlabeled, data reaches past T+H")
	}
	got := map[string]int8{}
	for i, id := range s.UserIDs {
		got[id] = s.Churn[i]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("labels = %v, want %v", got, want)
	}

	// data ending early: drop everything from T+H-1 day on
	var early []ev
	for _, e := range es {
		if e.TS < endms-msPerDay {
			early = append(early, e)
		}
	}
	s = snapshot(t, mem, early, Config{AsOf: T, HorizonDays: H})
	if s.Labeled {
		t.Fatalf("data ends %s, label window ends %s: snapshot should be unlabeled", s.LastDay, T+H)
	}
	rec := s.Record(mem)
	defer rec.Release()
	if c := rec.Column(rec.Schema().FieldIndices(LabelColumn)[0]); c.NullN() != c.Len() {
		t.Errorf("unlabeled snapshot: %d of %d churn values null, want all", c.NullN(), c.Len())
	}
	var csv bytes.Buffer
	if err := s.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(bytes.Split(csv.Bytes(), []byte("\n"))[1], []byte(",")) {
		t.Errorf("unlabeled CSV row should end with an empty churn field: %s", bytes.Split(csv.Bytes(), []byte("\n"))[1])
	}

	// data reaching into the last day of the window labels the snapshot
	lastDay := append(early, base("stays", endms-msPerDay+3600_000))
	s = snapshot(t, mem, lastDay, Config{AsOf: T, HorizonDays: H})
	if !s.Labeled {
		t.Errorf("data reaches %s, the window's last day: snapshot should be labeled", s.LastDay)
	}
}

// TestCancelPagesNeverFeed: Cancel events before T (a Cancel whose
// confirmation falls at or after T) change no count, rate or trend feature.
// They are inserted at the timestamp of an existing event of the same
// session and level, so the day's first/last timestamps and sessions stay.
// paid_share is n_paid_events/n_events of gold, which count every page, so
// it is the one feature allowed to move.
func TestCancelPagesNeverFeed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	es := genEvents(4, 60, 60)
	T, _ := day.Parse("2018-11-10")
	var more []ev
	added := 0
	for _, e := range es {
		more = append(more, e)
		if e.TS < T.MS() && e.Page == "NextSong" && e.Length > 250 {
			e.Page = "Cancel"
			more = append(more, e)
			added++
		}
	}
	if added < 50 {
		t.Fatalf("only %d Cancel events added", added)
	}
	a := snapshot(t, mem, es, Config{AsOf: T, HorizonDays: 14})
	b := snapshot(t, mem, more, Config{AsOf: T, HorizonDays: 14})
	if fmt.Sprint(a.UserIDs) != fmt.Sprint(b.UserIDs) {
		t.Fatal("Cancel events changed the rows")
	}
	for j, f := range Features() {
		if f.Name == "paid_share" {
			continue
		}
		for i := range a.UserIDs {
			if a.Values[j][i] != b.Values[j][i] {
				t.Errorf("user %s %s = %v with Cancel events, %v without", a.UserIDs[i], f.Name, b.Values[j][i], a.Values[j][i])
				break
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	es := genEvents(5, 80, 60)
	T, _ := day.Parse("2018-11-05")
	var outs [][]byte
	for _, readers := range []int{1, 2, 4} {
		s := snapshot(t, mem, es, Config{AsOf: T, HorizonDays: 20, Readers: readers})
		var csv, ipc bytes.Buffer
		if err := s.WriteCSV(&csv); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteArrow(&ipc, mem); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, append(csv.Bytes(), ipc.Bytes()...))
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Errorf("run %d differs from run 0", i)
		}
	}
}

func TestRankAUC(t *testing.T) {
	const tol = 1e-12
	for _, tc := range []struct {
		score []float64
		label []int8
		want  float64
	}{
		{[]float64{1, 2, 3, 4}, []int8{0, 0, 1, 1}, 1},
		{[]float64{1, 2, 3, 4}, []int8{1, 1, 0, 0}, 0},
		{[]float64{1, 1, 1, 1}, []int8{0, 1, 0, 1}, 0.5},
		// hand count: pairs (pos,neg): (0.8,0.1)>,(0.8,0.4)>,(0.35,0.1)>,(0.35,0.4)< → 3/4
		{[]float64{0.1, 0.4, 0.35, 0.8}, []int8{0, 0, 1, 1}, 0.75},
		// tie between a positive and a negative counts 1/2: (2,1)>,(2,2)= → 1.5/2
		{[]float64{1, 2, 2}, []int8{0, 0, 1}, 0.75},
	} {
		if got := RankAUC(tc.score, tc.label); math.Abs(got-tc.want) > tol {
			t.Errorf("RankAUC(%v, %v) = %v, want %v", tc.score, tc.label, got, tc.want)
		}
	}
}

func TestAuditWarnsOnSeparatingFeature(t *testing.T) {
	n := 40
	s := &Snapshot{Labeled: true, UserIDs: make([]string, n), Churn: make([]int8, n), Values: make([][]float64, len(featureDefs))}
	r := rand.New(rand.NewPCG(1, 1))
	for j := range s.Values {
		s.Values[j] = make([]float64, n)
		for i := range n {
			s.Values[j][i] = r.Float64()
		}
	}
	for i := range n {
		s.Churn[i] = int8(i % 2)
		s.Values[1][i] = float64(1 - i%2) // days_since_last_activity perfectly (inversely) separates
	}
	w := AuditWarnings(s)
	if len(w) != 1 || !bytes.Contains([]byte(w[0]), []byte(featureDefs[1].Name)) {
		t.Errorf("AuditWarnings = %q, want one warning about %s", w, featureDefs[1].Name)
	}
	s.Labeled = false
	if w := AuditWarnings(s); len(w) != 0 {
		t.Errorf("unlabeled snapshot: warnings %q", w)
	}
}

// TestJSONRoundTrip checks the test's own raw-JSON writer and reader.
func TestJSONRoundTrip(t *testing.T) {
	es := genEvents(6, 20, 20)
	p := filepath.Join(t.TempDir(), "ev.json")
	writeJSONEvents(t, p, es)
	got := readJSONEvents(t, p)
	if len(got) != len(es) {
		t.Fatalf("%d events back, wrote %d", len(got), len(es))
	}
	for i := range es {
		if got[i] != es[i] {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], es[i])
		}
	}
}
