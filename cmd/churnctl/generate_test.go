package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/internal/eventsim"
)

// generateStdout runs generate with --out - and returns stdout (the JSON
// lines, nothing else) and the decoded summary line (the last of stderr).
func generateStdout(t *testing.T, args ...string) ([]byte, map[string]any) {
	t.Helper()
	code, stdout, stderr := runWith(t, context.Background(), append([]string{"generate", "--out", "-"}, args...)...)
	if code != 0 {
		t.Fatalf("generate %q exit %d: %s", args, code, stderr)
	}
	return []byte(stdout), lastLine(t, stderr)
}

// topKeys returns the keys of a JSON object in the order they appear.
func genTopKeys(t *testing.T, line []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", line)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
	}
	if _, err := d.Token(); err != nil || d.More() {
		t.Fatalf("bad end of object: %s", line)
	}
	return keys
}

func genLines(b []byte) [][]byte {
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestGenerateSample100Users(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	one, sum := generateStdout(t, "--users", "100", "--seed", "7")
	runtime.GOMAXPROCS(2)
	two, _ := generateStdout(t, "--users", "100", "--seed", "7")
	again, _ := generateStdout(t, "--users", "100", "--seed", "7")
	runtime.GOMAXPROCS(prev)
	if !bytes.Equal(one, two) || !bytes.Equal(two, again) {
		t.Fatalf("generate --users 100 --seed 7 differs between runs or GOMAXPROCS 1 and 2 (%d, %d, %d bytes)", len(one), len(two), len(again))
	}
	// testdata/README.md: the committed sample is this command's output.
	if sample := genGunzip(t, filepath.Join("..", "..", "testdata", "sample", "events.json.gz")); !bytes.Equal(sample, one) {
		t.Errorf("testdata/sample/events.json.gz is not the output of generate --users 100 --seed 7 (regenerate it, see testdata/README.md)")
	}
	for _, k := range []string{"users", "events", "churners", "bytes", "files", "mb_per_s"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, sum)
		}
	}
	ls := genLines(one)
	if sum["events"] != float64(len(ls)) || sum["bytes"] != float64(len(one)) || sum["users"] != 100.0 {
		t.Errorf("summary %v, wrote %d lines, %d bytes", sum, len(ls), len(one))
	}
	type ev struct {
		TS     int64  `json:"ts"`
		UserID string `json:"userId"`
		Page   string `json:"page"`
		Auth   string `json:"auth"`
	}
	byUser := map[string][]ev{}
	var prevTS int64
	for i, l := range ls {
		if keys := genTopKeys(t, l); !slices.Equal(keys, eventsim.Keys[:]) {
			t.Fatalf("line %d keys %v, want %v", i+1, keys, eventsim.Keys)
		}
		var e ev
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		if e.TS < prevTS {
			t.Fatalf("line %d: ts %d before %d", i+1, e.TS, prevTS)
		}
		prevTS = e.TS
		if e.UserID != "" {
			byUser[e.UserID] = append(byUser[e.UserID], e)
		}
	}
	churners := 0
	for u, es := range byUser {
		n := len(es)
		if !slices.ContainsFunc(es, func(e ev) bool { return e.Page == "Cancellation Confirmation" }) {
			continue
		}
		churners++
		if n < 2 || es[n-2].Page != "Cancel" || es[n-1].Page != "Cancellation Confirmation" || es[n-1].Auth != "Cancelled" {
			t.Errorf("user %s ends with %+v, want Cancel then Cancellation Confirmation", u, es[max(0, n-2):])
		}
	}
	if sum["churners"] != float64(churners) || churners < 20 || churners > 70 {
		t.Errorf("%d churners of %d users (summary %v), want about 22%%", churners, len(byUser), sum["churners"])
	}
}

func genGunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func TestGenerateGzipAndFiles(t *testing.T) {
	args := []string{"--users", "60", "--days", "9", "--seed", "3"}
	want, _ := generateStdout(t, args...)
	dir := t.TempDir()

	gz := filepath.Join(dir, "one", "events.json.gz")
	for range 2 {
		if code, _, stderr := runWith(t, context.Background(), append([]string{"generate", "--out", gz}, args...)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	if got := genGunzip(t, gz); !bytes.Equal(got, want) {
		t.Errorf("genGunzip(%s) differs from the stdout output", gz)
	}
	raw1, _ := os.ReadFile(gz)
	gz2 := filepath.Join(dir, "two.json.gz")
	if code, _, stderr := runWith(t, context.Background(), append([]string{"generate", "--out", gz2}, args...)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if raw2, _ := os.ReadFile(gz2); !bytes.Equal(raw1, raw2) {
		t.Errorf("two gzip runs differ: the gzip header must hold no name or mtime")
	}

	split := filepath.Join(dir, "split", "events.json.gz")
	code, stdout, stderr := runWith(t, context.Background(), append([]string{"generate", "--out", split, "--files", "3"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if sum := lastLine(t, stdout); sum["files"] != 3.0 {
		t.Errorf("summary files = %v, want 3", sum["files"])
	}
	var cat []byte
	var prevTS int64
	for k := 1; k <= 3; k++ {
		p := filepath.Join(dir, "split", "events-0000"+string(rune('0'+k))+"-of-00003.json.gz")
		part := genGunzip(t, p)
		if len(part) == 0 {
			t.Errorf("%s is empty", p)
		}
		for _, l := range genLines(part) {
			var e struct{ TS int64 }
			if err := json.Unmarshal(l, &e); err != nil || e.TS < prevTS {
				t.Fatalf("%s: line out of ts order or invalid: %s", p, l)
			}
			prevTS = e.TS
		}
		cat = append(cat, part...)
	}
	if !bytes.Equal(cat, want) {
		t.Errorf("the 3 parts concatenated differ from the whole log")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "split"))
	if len(entries) != 3 {
		t.Errorf("split dir holds %d entries, want 3 (no temporary files left)", len(entries))
	}
}

func TestGenerateBadLinesEachClass(t *testing.T) {
	out, sum := generateStdout(t, "--users", "80", "--days", "15", "--seed", "5",
		"--bad-lines", "0.03", "--variants", "0.05", "--long-line-bytes", "5000")
	seen := map[string]int{}
	for _, l := range genLines(out) {
		seen[eventsim.Classify(bytes.TrimSuffix(l, []byte("\n")), 4096)]++
	}
	for _, c := range eventsim.BadClasses {
		if seen[c] == 0 {
			t.Errorf("no %s line: %v", c, seen)
		}
	}
	if sum["bad_lines"] != float64(len(genLines(out))-seen[""]) || sum["variant_lines"] == 0.0 {
		t.Errorf("summary %v, classified %v", sum, seen)
	}
}

func TestGenerateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"generate", "--users", "10"},
		{"generate", "--users", "0", "--out", "-"},
		{"generate", "--days", "0", "--out", "-"},
		{"generate", "--files", "2", "--out", "-"},
		{"generate", "--files", "100000", "--out", filepath.Join(dir, "x.json")},
		{"generate", "--start", "yesterday", "--out", "-"},
		{"generate", "--bad-lines", "1.5", "--out", "-"},
		{"generate", "--variants", "-0.1", "--out", "-"},
		{"generate", "--out", "-", "extra"},
		{"generate", "--gzip-level", "12", "--out", "-"},
		{"generate", "--out", dir},
	} {
		code, stdout, stderr := runWith(t, context.Background(), args...)
		if code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr: %s", args, code, stderr)
		}
		summaryOn := stdout
		if slices.Contains(args, "-") {
			if stdout != "" {
				t.Errorf("run(%q) wrote %q to stdout, the data stream", args, stdout)
			}
			summaryOn = stderr
		}
		if m := lastLine(t, summaryOn); m["status"] != "error" {
			t.Errorf("run(%q) summary %v", args, m)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors left files: %v", entries)
	}
}

func TestPartPath(t *testing.T) {
	for _, tt := range []struct {
		path string
		k, n int
		want string
	}{
		{"events.json.gz", 0, 1, "events.json.gz"},
		{"events.json.gz", 1, 4, "events-00002-of-00004.json.gz"},
		{"/tmp/logs/events.jsonl", 2, 3, "/tmp/logs/events-00003-of-00003.jsonl"},
		{"dir.d/events", 0, 2, "dir.d/events-00001-of-00002"},
		{".hidden.json", 0, 2, ".hidden-00001-of-00002.json"},
	} {
		if got := partPath(tt.path, tt.k, tt.n); got != tt.want {
			t.Errorf("partPath(%q, %d, %d) = %q, want %q", tt.path, tt.k, tt.n, got, tt.want)
		}
	}
}

// BenchmarkGenerateCommand runs the real command writing a plain file (the
// MB/s are of JSON written, file system included).
func BenchmarkGenerateCommand(b *testing.B) {
	for _, bc := range []struct{ name, users, ext string }{
		{"users=2000/json", "2000", ".json"},
		{"users=500/gzip", "500", ".json.gz"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "events"+bc.ext)
			var bytesOut float64
			for b.Loop() {
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), []string{"generate", "--users", bc.users, "--out", out}, strings.NewReader(""), &stdout, &stderr); code != 0 {
					b.Fatalf("exit %d: %s", code, stderr.String())
				}
				var sum map[string]any
				lastLineOf := strings.TrimSpace(stdout.String())
				if err := json.Unmarshal([]byte(lastLineOf[strings.LastIndexByte(lastLineOf, '\n')+1:]), &sum); err != nil {
					b.Fatal(err)
				}
				bytesOut = sum["bytes"].(float64)
			}
			b.SetBytes(int64(bytesOut))
		})
	}
}

func TestGenerateToDevNull(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skip(err)
	}
	code, stdout, stderr := runWith(t, context.Background(), "generate", "--users", "20", "--days", "4", "--files", "2", "--out", os.DevNull)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if sum := lastLine(t, stdout); sum["bytes"].(float64) == 0 {
		t.Errorf("summary %v", sum)
	}
}

func TestGenerateCancelledLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, _ := runWith(t, ctx, "generate", "--users", "500", "--out", filepath.Join(dir, "events.json.gz"))
	if code == 0 {
		t.Errorf("cancelled generate exit 0")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("cancelled generate left %v", entries)
	}
}
