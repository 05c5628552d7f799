package bronze

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
)

// write creates the file (and its directories) under dir.
func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// eventLines is n distinct good lines.
func eventLines(n int, user string) []byte {
	var b bytes.Buffer
	for i := range n {
		l := strings.Replace(goodLine, `"159"`, fmt.Sprintf(`"%s%d"`, user, i), 1)
		b.WriteString(strings.Replace(l, `1538352820116`, fmt.Sprint(1538352820116+int64(i)*1000), 1) + "\n")
	}
	return b.Bytes()
}

func names(in []Input) []string {
	var out []string
	for _, i := range in {
		out = append(out, i.Name)
	}
	return out
}

func skippedMap(sk []Skipped) map[string]string {
	m := map[string]string{}
	for _, s := range sk {
		m[s.Path] = s.Reason
	}
	return m
}

// TestResolveInputsEventFilesOnly: a directory yields its event files
// (*.json, *.jsonl, *.ndjson and their .gz, any case), recursively and
// sorted; other files are listed as skipped; dot files are ignored; a file
// named explicitly or matched by a glob is read whatever its name.
func TestResolveInputsEventFilesOnly(t *testing.T) {
	dir := t.TempDir()
	line := eventLines(1, "u")
	for _, n := range []string{"a.json", "b.jsonl", "c.ndjson", "d.json.gz", "E.JSON", "f.NDJSON.GZ", "sub/g.jsonl",
		"README.md", "notes.txt", "h.json.bak", "sub/x.csv", "i.gz", ".hidden.json", ".git/config.json"} {
		write(t, dir, n, line)
	}
	in, skipped, err := resolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"E.JSON", "a.json", "b.jsonl", "c.ndjson", "d.json.gz", "f.NDJSON.GZ", "sub/g.jsonl"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if got := names(in); !slices.Equal(got, want) {
		t.Errorf("inputs = %v\nwant %v", got, want)
	}
	var gotSkipped []string
	for _, s := range skipped {
		if !strings.Contains(s.Reason, "not an event file") {
			t.Errorf("%s skipped: %q", s.Path, s.Reason)
		}
		gotSkipped = append(gotSkipped, filepath.Base(s.Path))
	}
	slices.Sort(gotSkipped)
	if want := []string{"README.md", "h.json.bak", "i.gz", "notes.txt", "x.csv"}; !slices.Equal(gotSkipped, want) {
		t.Errorf("skipped = %v, want %v", gotSkipped, want)
	}

	// Named, or matched by a glob: read.
	in, skipped, err = resolveInputs([]string{filepath.Join(dir, "README.md"), filepath.Join(dir, "*.txt")}, nil)
	if err != nil || len(skipped) != 0 {
		t.Fatal(err, skipped)
	}
	if got := names(in); !slices.Equal(got, []string{filepath.Join(dir, "README.md"), filepath.Join(dir, "notes.txt")}) {
		t.Errorf("named inputs = %v", got)
	}
}

// TestResolveInputsSymlinks: links in a directory are followed, to files
// and to directories; a file reached twice (a link to a file also listed)
// is read once, the second name skipped; a broken link, a link loop and a
// FIFO in a directory are skipped with a warning.
func TestResolveInputsSymlinks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "in")
	line := eventLines(1, "u")
	write(t, dir, "real.json", line)
	write(t, root, "outside/o.json", line)
	write(t, root, "other/p.jsonl", line)
	for link, target := range map[string]string{
		"in/link.json":   "real.json",         // a second name of real.json
		"in/out.json":    "../outside/o.json", // a file outside the directory
		"in/broken.json": "nowhere.json",
		"in/linked":      "../other", // a directory outside
		"in/sub/loop":    "..",       // a loop
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755)
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mkfifo(filepath.Join(dir, "fifo.json")); err != nil {
		t.Fatal(err)
	}
	in, skipped, err := resolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"in/linked/p.jsonl", "in/out.json", "in/real.json"}
	for i := range want {
		want[i] = filepath.Join(root, want[i])
	}
	if got := names(in); !slices.Equal(got, want) {
		t.Errorf("inputs = %v\nwant %v", got, want)
	}
	got := skippedMap(skipped)
	for path, reason := range map[string]string{
		"in/link.json":   "same file as " + filepath.Join(dir, "real.json"),
		"in/broken.json": "broken symbolic link",
		"in/sub/loop":    "directory already read as " + dir,
		"in/fifo.json":   "not a regular file (a named pipe)",
	} {
		if r := got[filepath.Join(root, path)]; !strings.HasPrefix(r, reason) {
			t.Errorf("%s skipped as %q, want %q (skipped: %v)", path, r, reason, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("skipped %v, want 4", got)
	}
	for _, s := range skipped {
		if s.warn != !strings.HasSuffix(s.Path, "link.json") {
			t.Errorf("%s: warn %v", s.Path, s.warn)
		}
	}
}

// TestRunSkipsWhatIsNotEvents: a run over a directory reads its event
// files only and lists the others in Stats.Skipped; a directory with none
// is nothing to do.
func TestRunSkipsWhatIsNotEvents(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "events.json", eventLines(3, "u"))
	readme := write(t, dir, "README.md", []byte("# notes\n\nnot events\n"))
	root := t.TempDir()
	st, err := run(t, testConfig(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesRead != 1 || st.LinesRead != 3 || st.RowsQuarantined != 0 || st.SkippedInputs != 1 ||
		len(st.Skipped) != 1 || st.Skipped[0].Path != readme {
		t.Errorf("stats = %+v", st)
	}

	empty := t.TempDir()
	write(t, empty, "README.md", []byte("nothing\n"))
	st, err = run(t, testConfig(t.TempDir(), empty))
	if !errors.Is(err, exitcode.ErrNothingToDo) || st.SkippedInputs != 1 {
		t.Errorf("dir without events: %v, %+v", err, st)
	}
}

// TestRunDedupesContent: one content named twice in a call (a copy, a
// gzip copy, stdin) is read once, the second name listed as skipped, and
// the lake is byte for byte the lake of the call without the copies.
func TestRunDedupesContent(t *testing.T) {
	dir := t.TempDir()
	data := eventLines(20, "u")
	a := write(t, dir, "a.json", data)
	copyA := write(t, dir, "copy-of-a.json", data)
	other := write(t, dir, "b.json", eventLines(20, "v"))
	gz := gzipped(t, data)
	z1 := write(t, dir, "z1.json.gz", gz)
	z2 := write(t, dir, "z2.json.gz", gz)

	ref := t.TempDir()
	if _, err := run(t, testConfig(ref, a, other, z1)); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	c := testConfig(root, a, copyA, other, z1, z2, "-")
	c.Stdin = bytes.NewReader(data)
	st, err := run(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesRead != 3 || st.RowsWritten != 60 || st.SkippedInputs != 3 {
		t.Errorf("stats = %+v", st)
	}
	want := map[string]string{copyA: "same content as " + a, z2: "same content as " + z1, "-": "same content as " + a}
	if got := skippedMap(st.Skipped); !maps.Equal(got, want) {
		t.Errorf("skipped = %v\nwant %v", got, want)
	}
	if got, want := snapshot(t, root), snapshot(t, ref); !maps.Equal(got, want) {
		t.Errorf("lake differs from the lake without the copies:\n%v\n%v", got, want)
	}
	// A different content of the same size and first and last 64 KiB is
	// no copy: both are read.
	big := bytes.Repeat(data, 40) // > 2 × 64 KiB
	twin := bytes.Clone(big)
	mid := len(twin) / 2
	twin[bytes.Index(twin[mid:], []byte(`:"u`))+mid+2] = 'w' // a userId in the middle
	p1, p2 := write(t, dir, "big1.json", big), write(t, dir, "big2.json", twin)
	st, err = run(t, testConfig(t.TempDir(), p1, p2))
	if err != nil || st.FilesRead != 2 || st.SkippedInputs != 0 || st.RowsWritten != 2*20*40 {
		t.Errorf("same fingerprint, other content: %v, %+v", err, st)
	}
}

// TestRunStripsBOM: a UTF-8 byte order mark at the start of a file (plain,
// gzip, stdin) is not part of its first line; anywhere else it is data
// (malformed_json). Byte offsets stay the file's.
func TestRunStripsBOM(t *testing.T) {
	lines := eventLines(3, "u")
	first := bytes.IndexByte(lines, '\n') + 1
	bad := []byte("{\"ts\":\n")
	data := slices.Concat(utf8BOM, lines[:first], bad, utf8BOM, lines[first:])
	dir := t.TempDir()
	for name, in := range map[string]func(c *Config){
		"plain": func(c *Config) { c.Inputs = []string{write(t, dir, "bom.json", data)} },
		"gzip":  func(c *Config) { c.Inputs = []string{write(t, dir, "bom.json.gz", gzipped(t, data))} },
		"stdin": func(c *Config) { c.Inputs, c.Stdin = []string{"-"}, bytes.NewReader(data) },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			c := testConfig(root)
			in(&c)
			st, err := run(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if st.LinesRead != 4 || st.RowsWritten != 2 || st.ByRule[RuleMalformedJSON] != 2 {
				t.Errorf("stats = %+v", st)
			}
			lineNo := readColumn(t, root, lake.BronzeQuarantine, "line_number")
			off := readColumn(t, root, lake.BronzeQuarantine, "byte_offset")
			wantOff := []string{fmt.Sprint(3 + first), fmt.Sprint(3 + first + len(bad))}
			if !slices.Equal(lineNo, []string{"2", "3"}) || !slices.Equal(off, wantOff) {
				t.Errorf("quarantined lines %v at %v, want [2 3] at %v", lineNo, off, wantOff)
			}
			if users := readColumn(t, root, lake.BronzeEvents, "user_id"); !slices.Contains(users, "u0") {
				t.Errorf("user_id = %v: the first line is lost", users)
			}
		})
	}
}

// TestRunLineEndings: CRLF line ends, blank lines (empty, spaces, a lone
// CR) and a missing final newline give the rows of the plain LF file, in
// plain, gzip and stdin inputs, cut into chunks of two lines or so.
func TestRunLineEndings(t *testing.T) {
	lf := eventLines(40, "u")
	ref := t.TempDir()
	refSt, err := run(t, testConfig(ref, write(t, t.TempDir(), "lf.json", lf)))
	if err != nil {
		t.Fatal(err)
	}
	want := readColumn(t, ref, lake.BronzeEvents, "user_id")

	var odd bytes.Buffer
	for i, l := range bytes.SplitAfter(lf, []byte("\n")) {
		odd.Write(bytes.TrimSuffix(l, []byte("\n")))
		if len(l) == 0 {
			continue
		}
		if i < 39 {
			odd.WriteString("\r\n")
		}
		switch i % 5 {
		case 1:
			odd.WriteString("\n")
		case 2:
			odd.WriteString("  \t\r\n")
		case 3:
			odd.WriteString("\r\n")
		}
	}
	data := odd.Bytes() // no final newline
	if data[len(data)-1] == '\n' {
		t.Fatal("the input ends with a newline")
	}
	dir := t.TempDir()
	for name, in := range map[string]func(c *Config){
		"plain": func(c *Config) { c.Inputs = []string{write(t, dir, "crlf.json", data)} },
		"gzip":  func(c *Config) { c.Inputs = []string{write(t, dir, "crlf.json.gz", gzipped(t, data))} },
		"stdin": func(c *Config) { c.Inputs, c.Stdin = []string{"-"}, bytes.NewReader(data) },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			c := testConfig(root)
			c.MaxLineBytes, c.ChunkBytes = 1000, 1001 // a few lines per chunk
			in(&c)
			st, err := run(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if st.LinesRead != refSt.LinesRead || st.RowsWritten != refSt.RowsWritten || st.RowsQuarantined != 0 || st.EmptyLines != 24 {
				t.Errorf("stats = %+v", st)
			}
			if got := readColumn(t, root, lake.BronzeEvents, "user_id"); !slices.Equal(got, want) {
				t.Errorf("user_id = %v\nwant %v", got, want)
			}
		})
	}
}

// TestRunGzipPadding: zero bytes after the last gzip member (tape or block
// padding, which gzip -d accepts) are ignored with a warning, after one
// member or several; any other trailing data fails the run naming the
// file, as a damaged input (exit 3, quarantine only).
func TestRunGzipPadding(t *testing.T) {
	data := eventLines(30, "u")
	one := gzipped(t, data)
	two := slices.Concat(gzipped(t, data[:1000]), gzipped(t, data[1000:]))
	dir := t.TempDir()
	for _, tt := range []struct {
		name, file string
		body       []byte
		warn       string
		errPart    string
	}{
		{name: "padded", file: "padded.json.gz", body: slices.Concat(one, make([]byte, 10240)), warn: "10240 zero bytes"},
		{name: "one zero", file: "zero.json.gz", body: slices.Concat(one, []byte{0}), warn: "1 zero bytes"},
		{name: "multi-member padded", file: "multi.json.gz", body: slices.Concat(two, make([]byte, 512)), warn: "512 zero bytes"},
		{name: "multi-member", file: "multi2.json.gz", body: two},
		{name: "garbage", file: "garbage.json.gz", body: slices.Concat(one, []byte("garbage")), errPart: fmt.Sprintf("at compressed byte %d", len(one))},
		{name: "zeros then garbage", file: "zg.json.gz", body: slices.Concat(one, make([]byte, 100), []byte{7}), errPart: fmt.Sprintf("at compressed byte %d", len(one)+100)},
		{name: "bad second header", file: "hdr.json.gz", body: slices.Concat(one, []byte{0x1f, 0x8b, 0, 0}), errPart: "gzip:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, dir, tt.file, tt.body)
			root := t.TempDir()
			st, err := run(t, testConfig(root, p))
			if tt.errPart != "" {
				if !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), tt.errPart) || !strings.Contains(err.Error(), tt.file) {
					t.Fatalf("Run = %v, want bad input naming %s and %q", err, tt.file, tt.errPart)
				}
				if p, _ := lake.New(root).Partitions(lake.BronzeEvents); len(p) != 0 {
					t.Errorf("events published: %v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.RowsWritten != 30 || st.RowsQuarantined != 0 {
				t.Errorf("stats = %+v", st)
			}
			if tt.warn == "" && len(st.Warnings) != 0 || tt.warn != "" && (len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], tt.warn) ||
				!strings.Contains(st.Warnings[0], tt.file)) {
				t.Errorf("warnings = %q, want one naming %s and %q", st.Warnings, tt.file, tt.warn)
			}
		})
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

// TestRunCancelledWhileReadingAPipe: a run reading stdin that never ends,
// or a FIFO nobody opens for writing (or whose writer never closes), stops
// when its context is cancelled, with the cause, publishing nothing and
// leaving the lake unlocked.
func TestRunCancelledWhileReadingAPipe(t *testing.T) {
	stopped := errors.New("stopped by the test")
	for _, tt := range []string{"stdin", "fifo without writer", "fifo with writer"} {
		t.Run(tt, func(t *testing.T) {
			root := t.TempDir()
			c := testConfig(root)
			switch tt {
			case "stdin":
				pr, pw := io.Pipe()
				defer pw.Close()
				go pw.Write(eventLines(2, "u"))
				c.Inputs, c.Stdin = []string{"-"}, pr
			default:
				fifo := filepath.Join(t.TempDir(), "in.fifo")
				if err := mkfifo(fifo); err != nil {
					t.Fatal(err)
				}
				c.Inputs = []string{fifo}
				if tt == "fifo with writer" {
					// O_RDWR: a writer that does not wait for the reader
					// (Linux), and never closes during the run.
					f, err := os.OpenFile(fifo, os.O_RDWR, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					f.Write(eventLines(2, "u"))
				}
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			time.AfterFunc(200*time.Millisecond, func() { cancel(stopped) })
			if _, err := Run(ctx, c); !errors.Is(err, stopped) {
				t.Fatalf("Run = %v, want the cancellation cause", err)
			}
			if got := snapshot(t, root); len(got) != 0 {
				t.Errorf("published %v", got)
			}
			if _, err := run(t, testConfig(root, write(t, t.TempDir(), "x.json", eventLines(1, "v")))); err != nil {
				t.Errorf("a run after the cancelled one: %v", err)
			}
		})
	}
}
