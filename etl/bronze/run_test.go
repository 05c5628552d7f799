package bronze

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pq "github.com/apache/arrow-go/v18/parquet"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
)

var ingestDay = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

func testConfig(root string, inputs ...string) Config {
	return Config{Lake: root, Inputs: inputs, IngestDate: ingestDay, MaxInvalidRatio: 1, Version: "test", RunID: "test-run"}
}

func run(t *testing.T, c Config) (Stats, error) {
	t.Helper()
	st, err := Run(context.Background(), c)
	if err == nil || errors.Is(err, exitcode.ErrBadInput) {
		if st.LinesRead != st.RowsWritten+st.RowsQuarantined+st.RowsFiltered {
			t.Errorf("identity broken: %+v", st)
		}
	}
	return st, err
}

// snapshot maps the published files of a lake (not .tmp, .lock, runs/) to
// a hash of their bytes.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == ".tmp" || rel == "runs" || rel == filepath.Join("bronze", "_runs") {
			return filepath.SkipDir
		}
		if d.IsDir() || rel == ".lock" {
			return nil
		}
		b, _ := os.ReadFile(p)
		h := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:6])
		return nil
	})
	return out
}

// readColumn reads one column of every Parquet file of a table with
// arrow-go's low-level reader (independent of parquet-go), as strings.
func readColumn(t *testing.T, root, table, column string) []string {
	t.Helper()
	files, err := lake.New(root).Files(table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, path := range files {
		r, err := pqfile.OpenParquetFile(path, false)
		if err != nil {
			t.Fatalf("arrow-go cannot open %s: %v", path, err)
		}
		ci := r.MetaData().Schema.ColumnIndexByName(column)
		if ci < 0 {
			t.Fatalf("%s: no column %s", path, column)
		}
		maxDef := r.MetaData().Schema.Column(ci).MaxDefinitionLevel()
		for g := range r.NumRowGroups() {
			rg := r.RowGroup(g)
			n := rg.NumRows()
			cr, err := rg.Column(ci)
			if err != nil {
				t.Fatal(err)
			}
			def := make([]int16, n)
			var vals []string
			switch cr := cr.(type) {
			case *pqfile.ByteArrayColumnChunkReader:
				v := make([]pq.ByteArray, n)
				_, m, err := cr.ReadBatch(n, v, def, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v[:m] {
					vals = append(vals, string(x))
				}
			case *pqfile.Int64ColumnChunkReader:
				v := make([]int64, n)
				_, m, err := cr.ReadBatch(n, v, def, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v[:m] {
					vals = append(vals, fmt.Sprint(x))
				}
			case *pqfile.Int32ColumnChunkReader:
				v := make([]int32, n)
				_, m, err := cr.ReadBatch(n, v, def, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v[:m] {
					vals = append(vals, fmt.Sprint(x))
				}
			case *pqfile.Float64ColumnChunkReader:
				v := make([]float64, n)
				_, m, err := cr.ReadBatch(n, v, def, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v[:m] {
					vals = append(vals, fmt.Sprint(x))
				}
			default:
				t.Fatalf("unexpected column reader %T", cr)
			}
			k := 0
			for i := range n {
				if maxDef > 0 && def[i] == 0 {
					out = append(out, "<null>")
					continue
				}
				out = append(out, vals[k])
				k++
			}
		}
		r.Close()
	}
	return out
}

// TestMalformedFixtures runs every file of testdata/malformed: the rule
// counts match the fixtures' README and every line is accounted for.
func TestMalformedFixtures(t *testing.T) {
	tests := []struct {
		file                           string
		lines, written, empty          int64
		rule                           string
		quarantined                    int64
		wantErr                        error
		allowTruncated, wantTruncation bool
	}{
		{file: "malformed_json.jsonl", lines: 8, written: 5, rule: RuleMalformedJSON, quarantined: 3},
		{file: "missing_field.jsonl", lines: 8, written: 5, rule: RuleMissingField, quarantined: 3},
		{file: "wrong_type.jsonl", lines: 9, written: 5, rule: RuleWrongType, quarantined: 4},
		{file: "ts_out_of_range.jsonl", lines: 8, written: 5, rule: RuleTSOutOfRange, quarantined: 3},
		{file: "invalid_utf8.jsonl", lines: 7, written: 5, rule: RuleInvalidUTF8, quarantined: 2},
		{file: "line_too_long.jsonl", lines: 6, written: 5, rule: RuleLineTooLong, quarantined: 1},
		{file: "negative_length.jsonl", lines: 7, written: 5, rule: RuleNegativeLength, quarantined: 2},
		{file: "nul_character.jsonl", lines: 8, written: 4, rule: RuleNULCharacter, quarantined: 4},
		{file: "valid_variants.jsonl", lines: 12, written: 12},
		{file: "empty_lines.jsonl", lines: 3, written: 3, empty: 2},
		{file: "truncated.json.gz", lines: 13, written: 12, rule: RuleMalformedJSON, quarantined: 1, wantErr: exitcode.ErrBadInput, wantTruncation: true},
		{file: "truncated.json.gz", lines: 13, written: 12, rule: RuleMalformedJSON, quarantined: 1, allowTruncated: true, wantTruncation: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allow=%v", tt.file, tt.allowTruncated), func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "malformed", tt.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("fixture missing: %v", err)
			}
			root := t.TempDir()
			c := testConfig(root, path)
			c.AllowTruncated = tt.allowTruncated
			st, err := run(t, c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Run = %v, want %v", err, tt.wantErr)
			}
			if st.LinesRead != tt.lines || st.RowsWritten != tt.written || st.EmptyLines != tt.empty || st.RowsQuarantined != tt.quarantined {
				t.Errorf("stats = %+v, want lines %d written %d empty %d quarantined %d", st, tt.lines, tt.written, tt.empty, tt.quarantined)
			}
			if tt.rule != "" && st.ByRule[tt.rule] != tt.quarantined {
				t.Errorf("by rule = %v, want %s: %d", st.ByRule, tt.rule, tt.quarantined)
			}
			if (len(st.Truncated) > 0) != tt.wantTruncation {
				t.Errorf("truncated = %v", st.Truncated)
			}
			if tt.wantErr != nil {
				// Exit 3 writes the quarantine (the exit code table says
				// so), and nothing else: no events, no ledger entry.
				if !strings.Contains(err.Error(), "last good line 12") || !strings.Contains(err.Error(), tt.file) {
					t.Errorf("error %q does not name the file and its last good line", err)
				}
				for p := range snapshot(t, root) {
					if !strings.HasPrefix(p, lake.BronzeQuarantine+"/") {
						t.Errorf("a failed run published %s", p)
					}
				}
				if got := int64(len(readColumn(t, root, lake.BronzeQuarantine, "rule"))); got != tt.quarantined {
					t.Errorf("quarantine has %d rows, want %d", got, tt.quarantined)
				}
				return
			}
			if got := int64(len(readColumn(t, root, lake.BronzeEvents, "ts"))); got != tt.written {
				t.Errorf("bronze has %d rows, want %d", got, tt.written)
			}
			if got := int64(len(readColumn(t, root, lake.BronzeQuarantine, "rule"))); got != tt.quarantined {
				t.Errorf("quarantine has %d rows, want %d", got, tt.quarantined)
			}
		})
	}
}

// mixedInput writes lines exercising every rule, variants, empty and CRLF
// lines; it returns the path and the expected counts.
func mixedInput(t *testing.T, dir string) string {
	var b bytes.Buffer
	line := func(s string) { b.WriteString(s); b.WriteByte('\n') }
	line(goodLine)
	line(strings.Replace(goodLine, `"userId":"159"`, `"userId":160`, 1))
	line("")
	b.WriteString(strings.Replace(goodLine, `1538352820116`, `1538439220116`, 1) + "\r\n")       // next day, CRLF
	line(goodLine[:50])                                                                          // malformed_json
	line(strings.Replace(goodLine, `"page":"Home",`, ``, 1))                                     // missing_field
	line(strings.Replace(goodLine, `"status":200`, `"status":"OK"`, 1))                          // wrong_type
	line(strings.Replace(goodLine, `1538352820116`, `1538352820`, 1))                            // ts_out_of_range
	line(strings.Replace(goodLine, `"Boyd"`, "\"Bo\xffyd\"", 1))                                 // invalid_utf8
	line(strings.Replace(goodLine, `"song":null`, `"song":"`+strings.Repeat("x", 70000)+`"`, 1)) // line_too_long
	line(strings.Replace(goodLine, `"length":null`, `"length":-1.5`, 1))                         // negative_length
	line(strings.Replace(goodLine, `"Boyd"`, `"Bo\u0000yd"`, 1))                                 // nul_character
	line(strings.Replace(goodLine, `"length":null}`, `"length":null,"zip":"123"}`, 1))           // drift
	b.WriteString("   \n")
	b.WriteString(goodLine) // last line without newline
	p := filepath.Join(dir, "mixed.json")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAccountsEveryLine(t *testing.T) {
	root := t.TempDir()
	in := mixedInput(t, t.TempDir())
	st, err := run(t, testConfig(root, in))
	if err != nil {
		t.Fatal(err)
	}
	if st.LinesRead != 13 || st.RowsWritten != 5 || st.RowsQuarantined != 8 || st.EmptyLines != 2 || st.Partitions != 2 || st.QuarantineParts != 1 {
		t.Errorf("stats = %+v", st)
	}
	for _, r := range Rules {
		if st.ByRule[r] != 1 {
			t.Errorf("rule %s: %d rows, want 1", r, st.ByRule[r])
		}
	}
	if st.SchemaDrift["zip"] != 1 {
		t.Errorf("schema drift = %v", st.SchemaDrift)
	}
	users := readColumn(t, root, lake.BronzeEvents, "user_id")
	slices.Sort(users)
	if want := []string{"159", "159", "159", "159", "160"}; !slices.Equal(users, want) {
		t.Errorf("user_id = %v, want %v", users, want)
	}
	ua := readColumn(t, root, lake.BronzeEvents, "user_agent")
	if ua[0] != `"Mozilla/5.0 (Windows NT 6.1)"` {
		t.Errorf("user_agent = %q", ua[0])
	}
	if a := readColumn(t, root, lake.BronzeEvents, "artist"); a[0] != "<null>" {
		t.Errorf("artist = %q, want null", a[0])
	}
	lines := readColumn(t, root, lake.BronzeQuarantine, "line_number")
	rules := readColumn(t, root, lake.BronzeQuarantine, "rule")
	offs := readColumn(t, root, lake.BronzeQuarantine, "byte_offset")
	raw := readColumn(t, root, lake.BronzeQuarantine, "raw_line")
	got := map[string]string{}
	for i := range rules {
		got[rules[i]] = lines[i]
	}
	want := map[string]string{RuleMalformedJSON: "5", RuleMissingField: "6", RuleWrongType: "7", RuleTSOutOfRange: "8", RuleInvalidUTF8: "9", RuleLineTooLong: "10", RuleNegativeLength: "11", RuleNULCharacter: "12"}
	if !maps.Equal(got, want) {
		t.Errorf("quarantine rule -> line = %v, want %v", got, want)
	}
	data, _ := os.ReadFile(in)
	for i := range rules {
		var off int
		fmt.Sscan(offs[i], &off)
		if !bytes.HasPrefix(data[off:], []byte(raw[i])) || len(raw[i]) > 4096 || len(raw[i]) == 0 {
			t.Errorf("quarantine row %d (%s): raw line does not match byte offset %d", i, rules[i], off)
		}
	}
	// The manifest carries the accounting.
	m, err := lake.New(root).ReadManifest(lake.BronzeEvents, "dt=2018-10-01")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 4 || !strings.Contains(string(m.Extra), `"lines_read": 13`) || !strings.Contains(string(m.Extra), `"rows_quarantined": 8`) {
		t.Errorf("manifest rows %d extra %s", m.Rows, m.Extra)
	}
}

func TestRunIdempotentAndSkip(t *testing.T) {
	root := t.TempDir()
	in := mixedInput(t, t.TempDir())
	if _, err := run(t, testConfig(root, in)); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, root)
	// Same content again: skipped, nothing changes.
	st, err := run(t, testConfig(root, in))
	if !errors.Is(err, exitcode.ErrNothingToDo) || st.SkippedInputs != 1 {
		t.Fatalf("second run = %v, skipped %d; want ErrNothingToDo", err, st.SkippedInputs)
	}
	// --force: replaced, byte-identical (other workers, other chunking).
	c := testConfig(root, in)
	c.Force, c.Workers, c.ChunkBytes, c.RunID = true, 4, 70000, "other-run"
	if _, err := run(t, c); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, root); !maps.Equal(got, first) {
		t.Errorf("forced re-run changed the lake:\n got %v\nwant %v", got, first)
	}
}

func TestRunIncrementalAndForce(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	b := filepath.Join(dir, "b.json")
	os.WriteFile(a, []byte(goodLine+"\n"+goodLine+"\n"), 0o644)
	os.WriteFile(b, []byte(strings.Replace(goodLine, `"159"`, `"200"`, 1)+"\n"), 0o644)
	for _, in := range []string{a, b} {
		if _, err := run(t, testConfig(root, in)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readColumn(t, root, lake.BronzeEvents, "ts")); n != 3 {
		t.Fatalf("after two inputs: %d rows, want 3", n)
	}
	c := testConfig(root, a)
	c.Force = true
	if _, err := run(t, c); err != nil {
		t.Fatal(err)
	}
	users := readColumn(t, root, lake.BronzeEvents, "user_id")
	slices.Sort(users)
	if !slices.Equal(users, []string{"159", "159", "200"}) {
		t.Errorf("after --force a: user_id = %v, want [159 159 200]", users)
	}
	// Both in one run, then --force on one of them alone is refused.
	root2 := t.TempDir()
	if _, err := run(t, testConfig(root2, a, b)); err != nil {
		t.Fatal(err)
	}
	c = testConfig(root2, a)
	c.Force = true
	if _, err := run(t, c); !errors.Is(err, exitcode.ErrUsage) {
		t.Errorf("--force on half a run = %v, want ErrUsage", err)
	}
}

func TestRunInputs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755)
	plain := []byte(goodLine + "\n" + strings.Replace(goodLine, `"159"`, `"7"`, 1) + "\n")
	os.WriteFile(filepath.Join(dir, "sub", "x.json"), plain, 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "sub", "deeper", "y.json.gz"), gz.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", ".hidden"), []byte("junk\n"), 0o644)

	t.Run("dir recursive with gzip", func(t *testing.T) {
		root := t.TempDir()
		st, err := run(t, testConfig(root, filepath.Join(dir, "sub")))
		if err != nil {
			t.Fatal(err)
		}
		if st.FilesRead != 2 || st.RowsWritten != 4 || st.RowsQuarantined != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("glob and stdin", func(t *testing.T) {
		root := t.TempDir()
		c := testConfig(root, filepath.Join(dir, "sub", "*.json"), "-")
		c.Stdin = strings.NewReader(strings.ReplaceAll(string(plain), "Boyd", "Kim"))
		st, err := run(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if st.FilesRead != 2 || st.RowsWritten != 4 {
			t.Errorf("stats = %+v", st)
		}
		src := readColumn(t, root, lake.BronzeEvents, "source_file")
		if !slices.Contains(src, "-") {
			t.Errorf("source_file = %v, want stdin as -", src)
		}
	})
	t.Run("missing input writes nothing", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "lake")
		_, err := run(t, testConfig(root, filepath.Join(dir, "sub", "x.json"), filepath.Join(dir, "nope.json")))
		if !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), "nope.json") {
			t.Fatalf("Run = %v, want bad input naming nope.json", err)
		}
		if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lake created: %v", err)
		}
	})
	t.Run("day filter", func(t *testing.T) {
		root := t.TempDir()
		c := testConfig(root, mixedInput(t, t.TempDir()))
		c.From, c.To = time.Date(2018, 10, 2, 0, 0, 0, 0, time.UTC), time.Date(2018, 10, 2, 0, 0, 0, 0, time.UTC)
		st, err := run(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if st.RowsWritten != 1 || st.RowsFiltered != 4 || st.Partitions != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestRunMaxInvalidRatio(t *testing.T) {
	root := t.TempDir()
	c := testConfig(root, mixedInput(t, t.TempDir()))
	c.MaxInvalidRatio = 0.1
	st, err := run(t, c)
	if !errors.Is(err, exitcode.ErrBadInput) {
		t.Fatalf("Run = %v, want ErrBadInput", err)
	}
	if !st.Published {
		t.Error("quarantine not published")
	}
	l := lake.New(root)
	if p, _ := l.Partitions(lake.BronzeEvents); len(p) != 0 {
		t.Errorf("events published: %v", p)
	}
	if n := len(readColumn(t, root, lake.BronzeQuarantine, "rule")); n != 8 {
		t.Errorf("quarantine rows = %d, want 8", n)
	}
	// Not recorded as ingested: a re-run with a looser gate ingests it,
	// replacing (not duplicating) the quarantine.
	c.MaxInvalidRatio = 1
	if _, err := run(t, c); err != nil {
		t.Fatal(err)
	}
	if n := len(readColumn(t, root, lake.BronzeQuarantine, "rule")); n != 8 {
		t.Errorf("quarantine rows after re-run = %d, want 8", n)
	}
}

// TestRunSpillAndOrder shuffles days and lines, forces many small flushes
// and checks that files are sorted and the output does not depend on the
// number of workers.
func TestRunSpillAndOrder(t *testing.T) {
	var lines []string
	var loggedOut int64
	for i := range 3000 {
		ts := int64(1538352000000) + int64(i)*60_000*7 // ~14.6 days
		line := strings.Replace(goodLine, `1538352820116`, fmt.Sprint(ts), 1)
		if i%7 == 3 { // logged out
			line = strings.Replace(line, `"userId":"159"`, `"userId":""`, 1)
			loggedOut++
		}
		lines = append(lines, line)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	in := filepath.Join(t.TempDir(), "shuffled.json")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	var snaps []map[string]string
	for _, workers := range []int{1, 3} {
		root := t.TempDir()
		c := testConfig(root, in)
		c.Workers, c.ChunkBytes, c.MemoryBudget = workers, 66000, 200_000
		st, err := run(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if st.RowsWritten != 3000 || st.Partitions != 15 {
			t.Fatalf("stats = %+v", st)
		}
		l := lake.New(root)
		files, _ := l.Files(lake.BronzeEvents)
		if len(files) <= st.Partitions {
			t.Errorf("%d files for %d partitions: the memory budget did not force spills", len(files), st.Partitions)
		}
		var anonRows int64
		for _, f := range files {
			r, err := pqfile.OpenParquetFile(f, false)
			if err != nil {
				t.Fatal(err)
			}
			cr, _ := r.RowGroup(0).Column(0)
			n := r.RowGroup(0).NumRows()
			ts := make([]int64, n)
			cr.(*pqfile.Int64ColumnChunkReader).ReadBatch(n, ts, nil, nil)
			if !slices.IsSorted(ts) {
				t.Errorf("%s: ts not sorted", f)
			}
			// Logged-out rows (empty user_id) are in the -anon files, and only there.
			ur, _ := r.RowGroup(0).Column(1)
			uids := make([]pq.ByteArray, n)
			ur.(*pqfile.ByteArrayColumnChunkReader).ReadBatch(n, uids, nil, nil)
			anon := strings.HasSuffix(f, lake.AnonymousSuffix)
			for _, u := range uids {
				if (len(u) == 0) != anon {
					t.Fatalf("%s: user_id %q in a file with anonymous=%v", f, u, anon)
				}
			}
			if anon {
				anonRows += n
			}
			r.Close()
		}
		if anonRows != loggedOut {
			t.Errorf("%d rows in -anon files, want %d", anonRows, loggedOut)
		}
		snaps = append(snaps, snapshot(t, root))
	}
	if !maps.Equal(snaps[0], snaps[1]) {
		t.Error("output depends on the number of workers")
	}
}

// TestRunDayWindowsReingest ingests one file day by day, the way a daily
// `--ds` run over a growing file does: a later window re-ingests the input
// for both windows, so the lake ends up with every day once.
func TestRunDayWindowsReingest(t *testing.T) {
	sample, err := filepath.Abs("../../testdata/sample/events.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }

	whole := t.TempDir()
	c := testConfig(whole, sample)
	c.To = day("2018-10-06")
	if _, err := run(t, c); err != nil {
		t.Fatal(err)
	}

	steps := t.TempDir()
	for _, w := range [][2]string{{"", "2018-10-03"}, {"2018-10-04", "2018-10-04"}, {"2018-10-05", "2018-10-06"}} {
		c := testConfig(steps, sample)
		if w[0] != "" {
			c.From = day(w[0])
		}
		c.To = day(w[1])
		if _, err := run(t, c); err != nil {
			t.Fatalf("window %v: %v", w, err)
		}
	}
	// The same window again is already covered: nothing to do.
	c = testConfig(steps, sample)
	c.From, c.To = day("2018-10-05"), day("2018-10-06")
	if st, err := run(t, c); !errors.Is(err, exitcode.ErrNothingToDo) || st.SkippedInputs != 1 {
		t.Errorf("covered window again = %v (skipped %d), want ErrNothingToDo", err, st.SkippedInputs)
	}
	for _, col := range []string{"ts", "user_id", "page"} {
		got, want := readColumn(t, steps, lake.BronzeEvents, col), readColumn(t, whole, lake.BronzeEvents, col)
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("column %s: day by day has %d values, one window %d (or they differ)", col, len(got), len(want))
		}
	}
}
