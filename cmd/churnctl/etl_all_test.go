package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/lakeio"
	"github.com/churnctl/churnctl/etl/silver"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// splitSample writes the sample's lines into two JSON files: a holds the
// first share of the lines, b the rest plus every tenth line of a (late
// events: b then adds rows to days a already ingested).
func splitSample(t *testing.T, dir string, share float64) (a, b string) {
	t.Helper()
	f, err := os.Open("../../testdata/sample/events.json.gz")
	if err != nil {
		t.Skip("no sample")
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	cut := int(float64(len(lines)) * share)
	var late []string
	for i := 0; i < cut; i += 10 {
		late = append(late, lines[i])
	}
	a, b = filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := os.WriteFile(a, []byte(strings.Join(lines[:cut:cut], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rest := append(late, lines[cut:]...)
	if err := os.WriteFile(b, []byte(strings.Join(rest, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestETLEarlyDaysRedoneWhenBronzeGrows: etl cleans each day from the
// bronze rows it has just written; when the day's bronze partition also
// holds other files (an earlier ingest, late events) the day is processed
// again from the whole partition. Two runs (a, then b with late events for
// a's days) must give byte-identical gold, and silver with the same rows,
// to one run over both. (silver's event tables keep bronze's lineage
// column ingest_run_id, which names the ingest a row came from: that one
// differs.)
func TestETLEarlyDaysRedoneWhenBronzeGrows(t *testing.T) {
	in := t.TempDir()
	a, b := splitSample(t, in, 0.6)
	inc, once := t.TempDir(), t.TempDir()
	if code, sum := cli(t, "etl", "--lake", inc, a); code != 0 {
		t.Fatalf("etl a: exit %d %v", code, sum)
	}
	code, sum := cli(t, "etl", "--lake", inc, b)
	if code != 0 {
		t.Fatalf("etl b: exit %d %v", code, sum)
	}
	if code, sum := cli(t, "etl", "--lake", once, a, b); code != 0 {
		t.Fatalf("etl a b: exit %d %v", code, sum)
	}
	byteTables := []string{"gold", "silver/sessions", "silver/session_parts", "silver/level_history"}
	got, want := snapshot(t, inc, byteTables...), snapshot(t, once, byteTables...)
	if len(want) == 0 {
		t.Fatal("no silver/gold files")
	}
	if d := diffSnap(want, got); len(d) > 0 {
		t.Errorf("incremental etl differs from one run over both inputs in %d files, e.g. %v", len(d), d[:min(5, len(d))])
	}
	for _, table := range []string{silver.TableEvents, silver.TableAnonymous} {
		g, w := tableRows(t, inc, table, silver.ColIngestRunID), tableRows(t, once, table, silver.ColIngestRunID)
		if len(w) == 0 {
			t.Fatalf("no %s rows", table)
		}
		if d := diffSnap(w, g); len(d) > 0 {
			t.Errorf("%s: incremental etl has other rows than one run over both inputs in %d partitions, e.g. %v",
				table, len(d), d[:min(5, len(d))])
		}
	}
	got = snapshot(t, inc, "silver", "gold")
	// The lake as a whole must agree with silver and gold rebuilt from
	// the committed bronze alone.
	if code, sum := cli(t, "etl", "--lake", inc); code != 0 {
		t.Fatalf("etl rebuild: exit %d %v", code, sum)
	}
	if d := diffSnap(got, snapshot(t, inc, "silver", "gold")); len(d) > 0 {
		t.Errorf("rebuild from bronze changed %d files, e.g. %v", len(d), d[:min(5, len(d))])
	}
}

// TestETLGateFailurePublishesQuarantineOnly: when bronze's quality gate
// fails, etl (one transaction for all layers) publishes the quarantine and
// nothing of silver or gold, exactly like `etl bronze`.
func TestETLGateFailurePublishesQuarantineOnly(t *testing.T) {
	in := t.TempDir()
	a, _ := splitSample(t, in, 0.5)
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(in, "bad.json")
	if err := os.WriteFile(bad, append(data, []byte(strings.Repeat("{not json\n", 2000))...), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, sum := cli(t, "etl", "--lake", dir, bad)
	if code != 3 {
		t.Fatalf("etl: exit %d, want 3 (%v)", code, sum)
	}
	if sum["published"] != true || sum["rows_quarantined"].(float64) != 2000 {
		t.Errorf("summary %v: want the quarantine of 2000 lines published", sum)
	}
	for _, layer := range []string{"bronze/events", "silver", "gold"} {
		if _, err := os.Stat(filepath.Join(dir, layer)); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed gate (err %v)", layer, err)
		}
	}
	if snap := snapshot(t, dir, "bronze/quarantine"); len(snap) == 0 {
		t.Error("no quarantine published")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, ".tmp"))
	if len(ents) > 0 {
		t.Errorf("staging left behind: %v", ents)
	}
}

// tableRows returns, per partition of table, a digest of its rows in file
// order, all columns but skip.
func tableRows(t *testing.T, dir, table string, skip ...string) map[string]string {
	t.Helper()
	l := lake.New(dir)
	parts, err := l.Partitions(table)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range parts {
		files, err := l.Files(table, p)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, f := range files {
			pf, err := parquetio.OpenFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, fl := range pf.Schema().Fields() {
				if !slices.Contains(skip, fl.Name) {
					cols = append(cols, fl.Name)
				}
			}
			rdr, err := pf.Records(memory.DefaultAllocator, cols, 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			for rdr.Next() {
				rec := rdr.RecordBatch()
				for i := 0; i < int(rec.NumRows()); i++ {
					for _, c := range rec.Columns() {
						fmt.Fprintf(h, "%s\x1f", c.ValueStr(i))
					}
					h.Write([]byte{'\n'})
				}
			}
			if err := rdr.Err(); err != nil {
				t.Fatal(err)
			}
			rdr.Release()
			pf.Close()
		}
		out[p] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// TestETLSilverEventsAreBronzeFilesWhenClean: bronze writes each day's
// logged-out rows apart, so a day with nothing to remove or move keeps
// bronze's files as its silver/events and silver/anonymous_events (hard
// links); a day with duplicates, or with rows of an --anonymous-user-ids
// user, is written. Either way the rows are the reference's, in bronze
// order.
func TestETLSilverEventsAreBronzeFilesWhenClean(t *testing.T) {
	in := t.TempDir()
	a, _ := splitSample(t, in, 1)
	evs, err := etltest.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	// Duplicates of five lines of one day, and one user made anonymous.
	dupDay := etltest.DayOf(evs[len(evs)/3].TS)
	var extra []string
	lines := readLines(t, a)
	for i, e := range evs {
		if etltest.DayOf(e.TS) == dupDay && e.UserID != "" && len(extra) < 5 {
			extra = append(extra, lines[i])
		}
	}
	listed := evs[len(evs)*2/3].UserID
	if err := os.WriteFile(a, []byte(strings.Join(append(lines, extra...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if evs, err = etltest.ReadFile(a); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if code, sum := cli(t, "etl", "--lake", dir, "--anonymous-user-ids", listed, a); code != 0 {
		t.Fatalf("etl: exit %d %v", code, sum)
	}

	users, anon, removed := etltest.RefSplit(evs, map[string]bool{listed: true})
	if removed != len(extra) {
		t.Fatalf("reference removed %d duplicates, want %d", removed, len(extra))
	}
	written := map[int64]bool{dupDay: true} // days whose users' file is not silver's
	anonWritten := map[int64]bool{}
	for _, e := range evs {
		if e.UserID == listed {
			written[etltest.DayOf(e.TS)] = true
			anonWritten[etltest.DayOf(e.TS)] = true
		}
	}
	for _, c := range []struct {
		table   string
		ref     []etltest.Event
		written map[int64]bool
		suffix  func(string) bool
	}{
		{silver.TableEvents, users, written, func(n string) bool { return !strings.HasSuffix(n, lake.AnonymousSuffix) }},
		{silver.TableAnonymous, anon, anonWritten, func(n string) bool { return strings.HasSuffix(n, lake.AnonymousSuffix) }},
	} {
		byDay := etltest.ByDay(c.ref)
		links, writes := 0, 0
		for d, want := range byDay {
			part := lakeio.DayPartition(d)
			slices.SortFunc(want, func(x, y etltest.Event) int {
				return cmp.Or(cmp.Compare(x.TS, y.TS), strings.Compare(x.SourceFile, y.SourceFile), cmp.Compare(x.LineNumber, y.LineNumber))
			})
			got := dayRows(t, filepath.Join(dir, c.table, part, "part-0.parquet"))
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d rows, want %d", c.table, part, len(got), len(want))
			}
			for i, w := range want {
				if g := got[i]; g != fmt.Sprintf("%d %s %d", w.TS, w.UserID, w.LineNumber) {
					t.Fatalf("%s %s row %d: %s, want %d %s %d", c.table, part, i, g, w.TS, w.UserID, w.LineNumber)
				}
			}
			// Is the silver file one of the day's bronze files?
			silverFile, err := os.Stat(filepath.Join(dir, c.table, part, "part-0.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			bronzeFiles, _ := filepath.Glob(filepath.Join(dir, lake.BronzeEvents, part, "*.parquet"))
			linked := false
			for _, f := range bronzeFiles {
				if fi, err := os.Stat(f); err == nil && c.suffix(f) && os.SameFile(fi, silverFile) {
					linked = true
				}
			}
			if linked == c.written[d] {
				t.Errorf("%s %s: linked to bronze = %v, want %v", c.table, part, linked, !c.written[d])
			}
			if linked {
				links++
			} else {
				writes++
			}
		}
		if links == 0 || writes == 0 {
			t.Errorf("%s: %d days linked, %d written: the fixture must have both", c.table, links, writes)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// dayRows returns "ts user_id line_number" for each row of a silver events
// file, in file order.
func dayRows(t *testing.T, path string) []string {
	t.Helper()
	pf, err := parquetio.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	rdr, err := pf.Records(memory.DefaultAllocator, []string{"ts", "user_id", "line_number"}, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var out []string
	for rdr.Next() {
		b := rdr.RecordBatch()
		for i := 0; i < int(b.NumRows()); i++ {
			out = append(out, fmt.Sprintf("%d %s %d", int64(b.Column(0).(*array.Timestamp).Value(i)),
				b.Column(1).(*array.String).Value(i), b.Column(2).(*array.Int64).Value(i)))
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
