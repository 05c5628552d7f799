package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/eventsim"
)

func init() { register(newGenerateCmd) }

type generateOptions struct {
	users, days, files int
	start              string
	seed               uint64
	out                string
	badLines, variants float64
	longLine           int
	gzipLevel          int
}

func newGenerateCmd(a *App) *cobra.Command {
	o := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate --out PATH",
		Short: "Write synthetic Sparkify/eventsim JSON event logs (demos, tests, benchmarks)",
		Long: `generate writes a synthetic Sparkify/eventsim event log: one JSON object per
line with the 18 keys of the real data in their original order, lines ordered
by ts, about 22% of users churning (Cancel, then Cancellation Confirmation).
The same flags and seed give the same bytes on any machine and any GOMAXPROCS.
Users are as active as real Sparkify users: about 1,180 events in 20 sessions
over 60 days, about 540 kB each (--users 2000 --days 60 writes about 1.1 GB,
--users 22000 about 11.9 GB, the size of the full Sparkify dataset).

--out PATH: a file; PATH ending in .gz is gzip-compressed; "-" is stdout, which
then carries the JSON lines only (the summary line goes to stderr), so
"generate --out - | churnctl etl bronze --lake L -" reads nothing else. Files
are written to a temporary name and renamed when complete.
--files K splits the log by time into K files of equal time spans, named with
-0000k-of-0000K before the extension: --out logs/events.json.gz --files 3
writes logs/events-00001-of-00003.json.gz ... logs/events-00003-of-00003.json.gz.
--bad-lines R inserts, after a fraction R of events, a malformed copy of one of
the classes malformed_json, missing_field, wrong_type, ts_out_of_range,
invalid_utf8, line_too_long, negative_length (the bronze quarantine rules).
--variants R writes a fraction R of events in valid but unusual forms of real
files: userId as a number, registration as a float, absent keys instead of
null, keys in alphabetical order, an extra unknown key.`,
		Example: `  churnctl generate --users 100 --seed 7 --out testdata/sample/events.json.gz
  churnctl generate --users 2000 --days 60 --out /tmp/events.json
  churnctl generate --users 6400 --out /tmp/logs/events.json.gz --files 8
  churnctl generate --users 50 --days 7 --bad-lines 0.01 --variants 0.05 --out - | head`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(cmd, a, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.users, "users", 1000, "number of users (anonymous guest visitors are added, about one per 40 users)")
	f.IntVar(&o.days, "days", 60, "length of the log in days")
	f.StringVar(&o.start, "start", "2018-10-01", "first day of the log (UTC), YYYY-MM-DD or RFC 3339")
	f.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed gives the same bytes")
	f.StringVar(&o.out, "out", "", `output path, required ("-" for stdout: the summary line then goes to stderr; .gz for gzip)`)
	f.IntVar(&o.files, "files", 1, "split the log by time into this many files")
	f.Float64Var(&o.badLines, "bad-lines", 0, "fraction of events followed by a malformed copy (for tests)")
	f.Float64Var(&o.variants, "variants", 0, "fraction of events written in valid but unusual forms")
	f.IntVar(&o.longLine, "long-line-bytes", eventsim.DefaultLongLineBytes, "length of line_too_long bad lines")
	f.IntVar(&o.gzipLevel, "gzip-level", gzip.DefaultCompression, "gzip level for .gz outputs: 1 (fastest, about 2.5x faster) to 9 (smallest); -1 is the default level 6")
	return cmd
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func runGenerate(cmd *cobra.Command, a *App, o *generateOptions) error {
	if o.out == "" {
		return usageErrorf("--out is required (a file, or - for stdout)")
	}
	start, err := parseStart(o.start)
	if err != nil {
		return usageErrorf("--start %q: want YYYY-MM-DD or RFC 3339", o.start)
	}
	cfg := eventsim.Config{
		Users: o.users, Days: o.days, Start: start, Seed: o.seed,
		BadLineRate: o.badLines, VariantRate: o.variants, LongLineBytes: o.longLine,
	}
	if err := cfg.Validate(o.files); err != nil {
		return usageErrorf("%v", err)
	}
	if o.out == "-" && o.files > 1 {
		return usageErrorf("--files %d needs a file --out, not stdout", o.files)
	}
	if o.gzipLevel != gzip.DefaultCompression && (o.gzipLevel < 1 || o.gzipLevel > 9) {
		return usageErrorf("--gzip-level must be between 1 and 9")
	}
	if o.longLine < 1 {
		return usageErrorf("--long-line-bytes must be positive")
	}

	if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
		return usageErrorf("--out %s is a directory: give a file name such as %s", o.out, filepath.Join(o.out, "events.json.gz"))
	}
	outs := newPartOutputs(a.Stdout, o.out, o.files)
	outs.level = o.gzipLevel
	defer outs.abort()
	ws := make([]io.Writer, o.files)
	for i := range ws {
		ws[i] = outs.writer(i)
	}
	if a.ShowProgress() {
		cfg.Progress = generateProgress(a)
	}
	a.Log.Info("generate start", "stage", "generate", "users", o.users, "days", o.days, "seed", o.seed, "out", o.out, "files", o.files)
	t0 := time.Now()
	st, err := eventsim.Generate(cmd.Context(), cfg, ws...)
	if err == nil {
		err = outs.commit()
	}
	secs := time.Since(t0).Seconds()
	a.Summary.Set("users", st.Users)
	a.Summary.Set("guests", st.Guests)
	a.Summary.Set("events", st.Events)
	a.Summary.Set("churners", st.Churners)
	a.Summary.Set("bad_lines", st.BadLines)
	a.Summary.Set("variant_lines", st.VariantLines)
	a.Summary.Set("lines", st.Lines)
	a.Summary.Set("bytes", st.Bytes)
	if outs.gzip {
		a.Summary.Set("compressed_bytes", outs.compressed)
	}
	a.Summary.Set("files", o.files)
	mbps := 0.0
	if secs > 0 {
		mbps = float64(st.Bytes) / 1e6 / secs
	}
	a.Summary.Set("mb_per_s", float64(int64(mbps*10))/10)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	a.Log.Info("generate end", "stage", "generate", "rows_out", st.Lines, "bytes", st.Bytes, "duration_ms", time.Since(t0).Milliseconds())
	return nil
}

// partPath names part k (0-based) of n: events.json.gz -> events-00002-of-00004.json.gz.
func partPath(path string, k, n int) string {
	if n == 1 {
		return path
	}
	dir, base := filepath.Split(path)
	stem, ext := base, ""
	if i := strings.IndexByte(base[min(1, len(base)):], '.'); i >= 0 {
		stem, ext = base[:i+1], base[i+1:]
	}
	return dir + fmt.Sprintf("%s-%05d-of-%05d%s", stem, k+1, n, ext)
}

// partOutputs opens the output files lazily, one at a time (Generate writes
// the parts in order), each under a temporary name renamed by commit.
type partOutputs struct {
	stdout     io.Writer
	path       string
	n          int
	gzip       bool
	level      int
	compressed int64
	cur        int
	file       *os.File
	zw         *gzip.Writer
	cw         *countWriter
	temps      []string // temporary names, renamed to finals on commit
	finals     []string
	err        error
}

func newPartOutputs(stdout io.Writer, path string, n int) *partOutputs {
	return &partOutputs{stdout: stdout, path: path, n: n, cur: -1, level: gzip.DefaultCompression, gzip: strings.HasSuffix(path, ".gz")}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type partWriter struct {
	p *partOutputs
	k int
}

func (w partWriter) Write(b []byte) (int, error) {
	if err := w.p.open(w.k); err != nil {
		return 0, err
	}
	if w.p.zw != nil {
		return w.p.zw.Write(b)
	}
	return w.p.cw.Write(b)
}

func (p *partOutputs) writer(k int) io.Writer { return partWriter{p, k} }

// open makes part k current, closing and opening parts up to it (parts
// without events are written empty).
func (p *partOutputs) open(k int) error {
	for p.cur < k {
		if err := p.closeCur(); err != nil {
			return err
		}
		p.cur++
		var raw io.Writer
		if p.path == "-" {
			raw = p.stdout
		} else {
			final := partPath(p.path, p.cur, p.n)
			if fi, err := os.Stat(p.path); err == nil && !fi.Mode().IsRegular() {
				// A device or pipe such as /dev/null takes every part as it is.
				f, err := os.OpenFile(p.path, os.O_WRONLY, 0)
				if err != nil {
					return err
				}
				p.file = f
			} else {
				if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
					return err
				}
				f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".tmp-*")
				if err != nil {
					return err
				}
				p.file = f
				p.temps = append(p.temps, f.Name())
				p.finals = append(p.finals, final)
			}
			raw = p.file
		}
		p.cw = &countWriter{w: raw}
		if p.gzip {
			zw, err := gzip.NewWriterLevel(p.cw, p.level)
			if err != nil {
				return err
			}
			p.zw = zw // zero Header: no name, no mtime, so the bytes are reproducible
		}
	}
	return nil
}

func (p *partOutputs) closeCur() error {
	if p.cur < 0 || p.cw == nil {
		return nil
	}
	if p.zw != nil {
		if err := p.zw.Close(); err != nil {
			return err
		}
		p.zw = nil
	}
	p.compressed += p.cw.n
	p.cw = nil
	if p.file != nil {
		f := p.file
		p.file = nil
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// commit closes the last part (creating any empty trailing parts) and renames
// the temporary files into place.
func (p *partOutputs) commit() error {
	if err := p.open(p.n - 1); err != nil {
		return err
	}
	if err := p.closeCur(); err != nil {
		return err
	}
	for i, t := range p.temps {
		if err := os.Chmod(t, 0o644); err != nil {
			return err
		}
		if err := os.Rename(t, p.finals[i]); err != nil {
			return err
		}
	}
	p.temps = nil
	return nil
}

// abort removes temporary files left by a failed or interrupted run.
func (p *partOutputs) abort() {
	if p.file != nil {
		_ = p.file.Close()
		p.file = nil
	}
	for _, t := range p.temps {
		_ = os.Remove(t)
	}
	p.temps = nil
}

// generateProgress draws a progress bar over the log's time on stderr.
func generateProgress(a *App) func(done, total int) {
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(a.Stderr),
				progressbar.OptionSetDescription("generate"),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set(done)
		if done == total {
			_ = bar.Finish()
		}
	}
}
