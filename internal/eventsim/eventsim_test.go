package eventsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC)

func generate(t *testing.T, cfg Config) ([]byte, Stats) {
	t.Helper()
	if cfg.Start.IsZero() {
		cfg.Start = start
	}
	var b bytes.Buffer
	st, err := Generate(context.Background(), cfg, &b)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	if int64(b.Len()) != st.Bytes {
		t.Fatalf("Stats.Bytes = %d, wrote %d", st.Bytes, b.Len())
	}
	return b.Bytes(), st
}

func splitLines(b []byte) [][]byte {
	ls := bytes.Split(b, []byte("\n"))
	if len(ls) > 0 && len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// row is a decoded canonical line.
type row struct {
	TS            int64    `json:"ts"`
	UserID        string   `json:"userId"`
	SessionID     int64    `json:"sessionId"`
	Page          string   `json:"page"`
	Auth          string   `json:"auth"`
	Method        string   `json:"method"`
	Status        int      `json:"status"`
	Level         string   `json:"level"`
	ItemInSession int      `json:"itemInSession"`
	Location      *string  `json:"location"`
	UserAgent     *string  `json:"userAgent"`
	LastName      *string  `json:"lastName"`
	FirstName     *string  `json:"firstName"`
	Registration  *int64   `json:"registration"`
	Gender        *string  `json:"gender"`
	Artist        *string  `json:"artist"`
	Song          *string  `json:"song"`
	Length        *float64 `json:"length"`
}

// keysInOrder returns the top-level keys of a JSON object in file order.
func keysInOrder(line []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v", err)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return keys, nil
}

func decodeRows(t *testing.T, b []byte) []row { return decode(t, b, true) }

// decode decodes every line; with checkKeys it also checks the 18 keys in order.
func decode(t *testing.T, b []byte, checkKeys bool) []row {
	t.Helper()
	var rows []row
	for i, l := range splitLines(b) {
		if !checkKeys {
			var r row
			if err := json.Unmarshal(l, &r); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			rows = append(rows, r)
			continue
		}
		keys, err := keysInOrder(l)
		if err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if !slices.Equal(keys, Keys[:]) {
			t.Fatalf("line %d keys = %v, want %v", i+1, keys, Keys)
		}
		var r row
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestDeterministicWhateverWorkers(t *testing.T) {
	cfg := Config{Users: 30, Days: 20, Seed: 7, BadLineRate: 0.01, VariantRate: 0.02}
	cfg.Workers = 1
	want, _ := generate(t, cfg)
	for _, w := range []int{2, 3, 8} {
		cfg.Workers = w
		if got, _ := generate(t, cfg); !bytes.Equal(got, want) {
			t.Errorf("Workers=%d output differs from Workers=1 (%d vs %d bytes)", w, len(got), len(want))
		}
	}
	cfg.Seed = 8
	if got, _ := generate(t, cfg); bytes.Equal(got, want) {
		t.Errorf("seed 8 gives the same bytes as seed 7")
	}
}

func TestCanonicalRows(t *testing.T) {
	b, st := generate(t, Config{Users: 40, Days: 30, Seed: 3})
	rows := decodeRows(t, b)
	if int64(len(rows)) != st.Events || st.Lines != st.Events || st.BadLines != 0 || st.VariantLines != 0 {
		t.Fatalf("rows %d, stats %+v", len(rows), st)
	}
	method := map[string]string{}
	status := map[string]int{}
	for p := range numPages {
		method[Pages[p]] = pageMethod[p]
		status[Pages[p]] = pageStatus[p]
	}
	type prof struct {
		loc, ua, last, first, gender string
		reg                          int64
	}
	profiles := map[string]prof{}
	lastLevel := map[string]string{}
	lastPage := map[string]string{}
	type sk struct {
		user string
		sid  int64
	}
	lastItem := map[sk]int{}
	sidUsers := map[int64]map[string]bool{}
	lo, hi := start.UnixMilli(), start.AddDate(0, 0, 30).UnixMilli()
	for i, r := range rows {
		where := fmt.Sprintf("row %d (%+v)", i+1, r)
		if i > 0 && r.TS < rows[i-1].TS {
			t.Fatalf("%s: ts goes back", where)
		}
		if r.TS < lo || r.TS >= hi {
			t.Fatalf("%s: ts outside the range", where)
		}
		if m, ok := method[r.Page]; !ok || m != r.Method || status[r.Page] != r.Status {
			t.Fatalf("%s: page/method/status %q %q %d", where, r.Page, r.Method, r.Status)
		}
		if (r.Page == "NextSong") != (r.Song != nil) || (r.Song != nil) != (r.Artist != nil) || (r.Song != nil) != (r.Length != nil) {
			t.Fatalf("%s: artist/song/length must be set exactly on NextSong", where)
		}
		if r.Length != nil && (*r.Length <= 0 || math.IsNaN(*r.Length)) {
			t.Fatalf("%s: length", where)
		}
		if r.Level != "free" && r.Level != "paid" {
			t.Fatalf("%s: level", where)
		}
		switch r.Auth {
		case "Logged Out", "Guest":
			if r.UserID != "" || r.Location != nil || r.UserAgent != nil || r.LastName != nil ||
				r.FirstName != nil || r.Registration != nil || r.Gender != nil {
				t.Fatalf("%s: anonymous row with user fields", where)
			}
			continue
		case "Logged In", "Cancelled":
		default:
			t.Fatalf("%s: auth %q", where, r.Auth)
		}
		if r.UserID == "" || r.Location == nil || r.UserAgent == nil || r.LastName == nil ||
			r.FirstName == nil || r.Registration == nil || r.Gender == nil {
			t.Fatalf("%s: identified row without user fields", where)
		}
		if !strings.Contains(*r.Location, ", ") {
			t.Fatalf("%s: location is not \"City, ST\"", where)
		}
		p := prof{*r.Location, *r.UserAgent, *r.LastName, *r.FirstName, *r.Gender, *r.Registration}
		if old, ok := profiles[r.UserID]; ok && old != p {
			t.Fatalf("%s: profile changed from %+v", where, old)
		}
		profiles[r.UserID] = p
		if old, ok := lastLevel[r.UserID]; ok && old != r.Level {
			want := map[string]string{"free": "Submit Upgrade", "paid": "Submit Downgrade"}[old]
			if lastPage[r.UserID] != want {
				t.Fatalf("%s: level %s -> %s after %q, want after %q", where, old, r.Level, lastPage[r.UserID], want)
			}
		}
		lastLevel[r.UserID], lastPage[r.UserID] = r.Level, r.Page
		k := sk{r.UserID, r.SessionID}
		if it, ok := lastItem[k]; ok && r.ItemInSession <= it {
			t.Fatalf("%s: itemInSession not increasing within the session", where)
		} else if !ok && r.ItemInSession > 3 {
			t.Fatalf("%s: session starts at item %d", where, r.ItemInSession)
		}
		lastItem[k] = r.ItemInSession
		if sidUsers[r.SessionID] == nil {
			sidUsers[r.SessionID] = map[string]bool{}
		}
		sidUsers[r.SessionID][r.UserID] = true
	}
	shared := 0
	for _, us := range sidUsers {
		if len(us) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("no sessionId is shared by two users; real sessionIds repeat across users")
	}
	quoted := 0
	for _, p := range profiles {
		if strings.HasPrefix(p.ua, `"`) {
			quoted++
		}
	}
	if quoted == 0 || quoted == len(profiles) {
		t.Errorf("%d of %d user agents have embedded quotes, want some but not all", quoted, len(profiles))
	}
	regBefore := 0
	for _, p := range profiles {
		if p.reg < lo {
			regBefore++
		}
	}
	if regBefore == 0 || regBefore == len(profiles) {
		t.Errorf("%d of %d users registered before the start, want some but not all", regBefore, len(profiles))
	}
}

// checkChurners verifies that every user with a Cancellation Confirmation
// has Cancel then Cancellation Confirmation as last two rows, and returns
// the number of churners and of users.
func checkChurners(t *testing.T, rows []row) (churners, users int) {
	t.Helper()
	byUser := map[string][]row{}
	for _, r := range rows {
		if r.UserID != "" {
			byUser[r.UserID] = append(byUser[r.UserID], r)
		}
	}
	for u, rs := range byUser {
		n := len(rs)
		cancelled := slices.ContainsFunc(rs, func(r row) bool { return r.Page == "Cancellation Confirmation" })
		if !cancelled {
			if slices.ContainsFunc(rs, func(r row) bool { return r.Page == "Cancel" || r.Auth == "Cancelled" }) {
				t.Errorf("user %s: Cancel without Cancellation Confirmation", u)
			}
			continue
		}
		churners++
		if n < 2 || rs[n-2].Page != "Cancel" || rs[n-1].Page != "Cancellation Confirmation" ||
			rs[n-1].Auth != "Cancelled" || rs[n-2].Auth != "Logged In" {
			t.Errorf("user %s: last rows %+v, want Cancel then Cancellation Confirmation (Cancelled)", u, rs[max(0, n-2):])
		}
	}
	return churners, len(byUser)
}

func TestChurnersAndPageShares(t *testing.T) {
	users := 400
	if testing.Short() {
		users = 120
	}
	b, st := generate(t, Config{Users: users, Days: 60, Seed: 11})
	rows := decode(t, b, false)
	churners, seen := checkChurners(t, rows)
	if churners != st.Churners {
		t.Errorf("Stats.Churners = %d, counted %d", st.Churners, churners)
	}
	rate := float64(churners) / float64(seen)
	// Real Sparkify: 22% of users churn. tol covers the binomial noise.
	tol := 3 * math.Sqrt(0.22*0.78/float64(seen))
	if math.Abs(rate-0.22) > tol {
		t.Errorf("churn rate = %.3f (%d/%d), want 0.22±%.3f", rate, churners, seen, tol)
	}
	// Churn times spread over the range: some in each third.
	var thirds [3]int
	span := float64(60 * msPerDay)
	for _, r := range rows {
		if r.Page == "Cancellation Confirmation" {
			thirds[min(2, int(3*float64(r.TS-start.UnixMilli())/span))]++
		}
	}
	for i, n := range thirds {
		if n < churners/6 {
			t.Errorf("churns per third of the range = %v: third %d too empty", thirds, i)
		}
	}
	count := map[string]int{}
	for _, r := range rows {
		count[r.Page]++
	}
	// Shares of the real Sparkify logs (Udacity mini set, 286k events).
	for _, c := range []struct {
		page     string
		want, at float64
	}{
		{"NextSong", 0.80, 0.03},
		{"Home", 0.045, 0.01},
		{"Thumbs Up", 0.045, 0.01},
		{"Add to Playlist", 0.025, 0.007},
		{"Add Friend", 0.015, 0.005},
		{"Roll Advert", 0.015, 0.005},
		{"Thumbs Down", 0.01, 0.004},
		{"Logout", 0.011, 0.004},
	} {
		got := float64(count[c.page]) / float64(len(rows))
		if math.Abs(got-c.want) > c.at {
			t.Errorf("share of %s = %.4f, want %.3f±%.3f", c.page, got, c.want, c.at)
		}
	}
	for p := range numPages {
		if count[Pages[p]] == 0 {
			t.Errorf("page %q never written", Pages[p])
		}
	}
	if count["Submit Upgrade"] == 0 || count["Submit Downgrade"] == 0 {
		t.Errorf("levels never change: %d upgrades, %d downgrades", count["Submit Upgrade"], count["Submit Downgrade"])
	}
}

// Per-user activity of the real Sparkify logs over their ~60 days
// (2018-10-01 to 2018-12-03). Events per user: the full dataset's 26.3M
// events of 22,278 users (1,180; its 12 GB make about 540 kB per user) and
// the Udacity mini set's 286,500 events of 225 users (1,273). Sessions,
// their length and the days active are not published as exact figures;
// the ranges below are the ones the mini set's public analyses show: tens
// of sessions per user, a few dozen songs (some hours) per session, a user
// active on about one day in four.
var sparkifyActivity = []struct {
	name   string
	lo, hi float64
}{
	{"events per user", 1000, 1400},
	{"sessions per user", 14, 28},
	{"events per session", 40, 80},
	{"session hours", 2, 5},
	{"days active per user", 12, 24},
}

// TestActivity checks that generated users are as active as real ones
// (sparkifyActivity): means over the identified users of a 60-day log.
func TestActivity(t *testing.T) {
	users := 300
	if testing.Short() {
		users = 80
	}
	b, _ := generate(t, Config{Users: users, Days: 60, Seed: 11})
	type key struct {
		user string
		sid  int64
	}
	events := map[string]int{}
	days := map[string]map[int64]bool{}
	sessions := map[key][2]int64{} // first and last ts
	for _, r := range decode(t, b, false) {
		if r.UserID == "" {
			continue
		}
		events[r.UserID]++
		if days[r.UserID] == nil {
			days[r.UserID] = map[int64]bool{}
		}
		days[r.UserID][r.TS/msPerDay] = true
		k := key{r.UserID, r.SessionID}
		if s, ok := sessions[k]; ok {
			sessions[k] = [2]int64{s[0], r.TS}
		} else {
			sessions[k] = [2]int64{r.TS, r.TS}
		}
	}
	var nEvents, nDays int
	for u, n := range events {
		nEvents += n
		nDays += len(days[u])
	}
	var hours float64
	for _, s := range sessions {
		hours += float64(s[1]-s[0]) / msPerHour
	}
	n, ns := float64(len(events)), float64(len(sessions))
	got := map[string]float64{
		"events per user":      float64(nEvents) / n,
		"sessions per user":    ns / n,
		"events per session":   float64(nEvents) / ns,
		"session hours":        hours / ns,
		"days active per user": float64(nDays) / n,
	}
	for _, c := range sparkifyActivity {
		if g := got[c.name]; g < c.lo || g > c.hi {
			t.Errorf("%s = %.1f, want %g..%g (real Sparkify)", c.name, g, c.lo, c.hi)
		}
	}
}

// TestSizeCalibration keeps the size per user the benchmarks size their
// inputs by (scripts/gen_users.sh): about 540 kB per user over 60 days, as
// the full Sparkify dataset (12 GB for 22,278 users).
func TestSizeCalibration(t *testing.T) {
	users := 400
	if testing.Short() {
		users = 200
	}
	st, err := Generate(context.Background(), Config{Users: users, Days: 60, Start: start, Seed: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if per := float64(st.Bytes) / float64(users); per < 480e3 || per > 600e3 {
		t.Errorf("bytes per user over 60 days = %.0f, want about 540,000", per)
	}
}

func TestSplitByTime(t *testing.T) {
	cfg := Config{Users: 25, Days: 10, Start: start, Seed: 5}
	whole, _ := generate(t, cfg)
	parts := make([]bytes.Buffer, 4)
	ws := make([]io.Writer, len(parts))
	for i := range parts {
		ws[i] = &parts[i]
	}
	st, err := Generate(context.Background(), cfg, ws...)
	if err != nil {
		t.Fatal(err)
	}
	var cat []byte
	for i := range parts {
		p := st.Parts[i]
		if p.Bytes != int64(parts[i].Len()) || p.Lines != int64(bytes.Count(parts[i].Bytes(), []byte("\n"))) {
			t.Errorf("part %d stats %+v, wrote %d bytes", i, p, parts[i].Len())
		}
		if got, want := p.To.Sub(p.From), 60*time.Hour; got != want {
			t.Errorf("part %d spans %v, want %v", i, got, want)
		}
		for _, r := range decodeRows(t, parts[i].Bytes()) {
			if r.TS < p.From.UnixMilli() || r.TS >= p.To.UnixMilli() {
				t.Fatalf("part %d [%v, %v) holds ts %d", i, p.From, p.To, r.TS)
			}
		}
		cat = append(cat, parts[i].Bytes()...)
	}
	if !bytes.Equal(cat, whole) {
		t.Errorf("parts concatenated differ from the whole log")
	}
}

func TestBadLines(t *testing.T) {
	cfg := Config{Users: 30, Days: 30, Seed: 9, LongLineBytes: 5000}
	clean, _ := generate(t, cfg)
	cfg.BadLineRate = 0.02
	dirty, st := generate(t, cfg)
	seen := map[string]int{}
	var kept [][]byte
	for _, l := range splitLines(dirty) {
		c := Classify(l, 4096)
		seen[c]++
		if c == "" {
			kept = append(kept, l)
		}
	}
	for _, c := range BadClasses {
		if seen[c] == 0 {
			t.Errorf("no %s line among %d bad lines (%v)", c, st.BadLines, seen)
		}
	}
	if bad := int64(len(splitLines(dirty)) - len(kept)); bad != st.BadLines || st.Lines != st.Events+st.BadLines {
		t.Errorf("classified %d bad lines, stats %+v", bad, st)
	}
	// Bad lines are inserted: the valid lines are exactly the clean log.
	if got := append(bytes.Join(kept, []byte("\n")), '\n'); !bytes.Equal(got, clean) {
		t.Errorf("valid lines of the dirty log differ from the clean log")
	}
	// The clean log is all valid.
	for i, l := range splitLines(clean) {
		if c := Classify(l, 4096); c != "" {
			t.Fatalf("clean line %d classified %s: %s", i+1, c, l)
		}
	}
}

// normalize decodes a line, variant or not, into the canonical form's values.
func normalize(t *testing.T, l []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(l))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, l)
	}
	out := map[string]any{}
	for _, k := range Keys {
		v, ok := m[k]
		if !ok {
			v = nil
		}
		if n, isNum := v.(json.Number); isNum {
			f, _ := n.Float64()
			v = f
		}
		if k == "userId" {
			if f, ok := v.(float64); ok {
				v = fmt.Sprint(int64(f))
			}
		}
		out[k] = v
	}
	return out
}

func TestVariants(t *testing.T) {
	cfg := Config{Users: 20, Days: 20, Seed: 4}
	clean, _ := generate(t, cfg)
	cfg.VariantRate = 0.3
	odd, st := generate(t, cfg)
	cl, ol := splitLines(clean), splitLines(odd)
	if len(cl) != len(ol) {
		t.Fatalf("%d clean lines, %d with variants", len(cl), len(ol))
	}
	kinds := map[string]int{}
	for i := range cl {
		if c := Classify(ol[i], 1<<20); c != "" {
			t.Fatalf("variant line %d classified %s: %s", i+1, c, ol[i])
		}
		want, got := normalize(t, cl[i]), normalize(t, ol[i])
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("line %d: variant %s\nmeans %v\nwant %v", i+1, ol[i], got, want)
		}
		if bytes.Equal(cl[i], ol[i]) {
			continue
		}
		keys, _ := keysInOrder(ol[i])
		switch {
		case slices.Contains(keys, "zip"):
			kinds["extra_key"]++
		case len(keys) < 18:
			kinds["absent_keys"]++
		case !slices.Equal(keys, Keys[:]):
			kinds["key_order"]++
		case bytes.Contains(ol[i], []byte(`"userId":1`)) || bytes.Contains(ol[i], []byte(`"userId":2`)) ||
			bytes.Contains(ol[i], []byte(`"userId":`)) && !bytes.Contains(ol[i], []byte(`"userId":"`)):
			kinds["userid_number"]++
		case bytes.Contains(ol[i], []byte(`.0,"gender"`)):
			kinds["registration_float"]++
		default:
			t.Errorf("line %d differs but matches no variant kind: %s", i+1, ol[i])
		}
	}
	for _, k := range VariantKinds {
		if kinds[k] == 0 {
			t.Errorf("variant %s never written (%v)", k, kinds)
		}
	}
	total := 0
	for _, n := range kinds {
		total += n
	}
	if int64(total) != st.VariantLines {
		t.Errorf("%d lines differ, Stats.VariantLines = %d", total, st.VariantLines)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `say "hi"`, `back\slash`, "tab\tnew\nline\r", "\x00\x1f", "BjÃ¶rk", "Corazón"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("appendString(%q) = %s, decodes to %q (%v)", s, got, back, err)
		}
	}
}

func TestConfigErrorsAndCancel(t *testing.T) {
	for _, cfg := range []Config{
		{Users: 0, Days: 1},
		{Users: 1, Days: 0},
		{Users: 1, Days: 1, BadLineRate: 2},
		{Users: 1, Days: 1, VariantRate: -1},
	} {
		if _, err := Generate(context.Background(), cfg, io.Discard); !errors.Is(err, ErrConfig) {
			t.Errorf("Generate(%+v) error = %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := Generate(context.Background(), Config{Users: 1, Days: 1}, make([]io.Writer, 25)...); !errors.Is(err, ErrConfig) {
		t.Errorf("25 outputs for 24 hours: error = %v, want ErrConfig", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Config{Users: 100, Days: 5, Start: start}, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Generate error = %v, want context.Canceled", err)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n += len(p); f.n > 1<<20 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	_, err := Generate(context.Background(), Config{Users: 60, Days: 30, Start: start}, &failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error = %v, want disk full", err)
	}
}
