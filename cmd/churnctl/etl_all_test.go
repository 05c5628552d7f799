package main

import (
	"bufio"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// a's days) must give byte-identical silver and gold to one run over both.
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
	got, want := snapshot(t, inc, "silver", "gold"), snapshot(t, once, "silver", "gold")
	if len(want) == 0 {
		t.Fatal("no silver/gold files")
	}
	if d := diffSnap(want, got); len(d) > 0 {
		t.Errorf("incremental etl differs from one run over both inputs in %d files, e.g. %v", len(d), d[:min(5, len(d))])
	}
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
