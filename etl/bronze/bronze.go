// Package bronze turns Sparkify/eventsim JSON event logs into the typed
// bronze layer of the lake: DIR/bronze/events/dt=YYYY-MM-DD/*.parquet (dt =
// event day, UTC) and DIR/bronze/quarantine/dt=YYYY-MM-DD/*.parquet (dt =
// ingest day), every line accounted for:
//
//	lines_read = rows_written + rows_quarantined + rows_filtered
//
// (rows_filtered counts valid events outside --ds/--from/--to; it is 0
// without a day filter; empty lines are counted apart and skipped).
//
// Pipeline: plain inputs are memory-mapped (gzip and pipes are read) and cut
// into ~4 MiB chunks on newline boundaries; Config.Workers goroutines decode
// chunks with a decoder specialised to the 18-key schema (byte scanning, no
// reflection, no maps; a general path for odd but valid lines) straight into
// Arrow columns, one record batch per event day; a sequencer takes the
// results in chunk order (so nothing depends on goroutine scheduling) and
// buffers them per day. A day that has received no rows for a while (logs
// are nearly in time order) is flushed, and while the buffered rows exceed
// Config.MemoryBudget the least recently extended day is: its rows are
// sorted by (ts, source_file, line_number) and written by a pool of writers
// (both cores) as part-<ingest_run_id>-NNNNN.parquet (the rows of known
// users) and part-<ingest_run_id>-NNNNN-anon.parquet (logged-out rows,
// empty user_id; see lake.AnonymousSuffix): silver then keeps the users'
// file as its own when it has nothing to remove.
//
// Memory is bounded by the budget, not by the input size. A day larger
// than Config.PieceBytes is flushed in pieces as it comes; each flush is
// sorted, and a piece whose rows all come after those written (a log in
// time order) is appended to the day's open file, so time-ordered logs get
// one file per day (and one of logged-out rows) whatever its size. Instead
// of spilling sorted runs and merging them, a day whose flushes overlap
// (late events, or memory pressure on shuffled input) gets several files,
// each sorted; which rows go to which file depends only on the input and
// the options, so the output is deterministic.
package bronze

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/zeebo/xxh3"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// Config is one bronze run.
type Config struct {
	// Lake is the lake root directory.
	Lake string
	// Inputs are files, directories, globs, "-" (Stdin), or objects,
	// prefixes or globs on object storage (s3://bucket/key).
	Inputs []string
	Stdin  io.Reader
	// Store reads the s3:// inputs; nil: a client made from the AWS
	// environment (objstore.New) when there are any.
	Store *objstore.Client
	// From and To (inclusive, UTC days; zero: unbounded) keep only the
	// events of those days.
	From, To time.Time
	// MaxInvalidRatio: a run with rows_quarantined/lines_read above it
	// publishes only its quarantine and fails with errkind.BadInput.
	MaxInvalidRatio float64
	// AllowTruncated publishes what a truncated or corrupt gzip input
	// yielded; without it such a run publishes only its quarantine and
	// fails with errkind.BadInput.
	AllowTruncated bool
	// Force re-ingests inputs whose content was ingested before, replacing
	// the rows of the earlier run.
	Force bool
	// MaxLineBytes: longer lines are quarantined as line_too_long
	// (default 65536).
	MaxLineBytes int
	// RawLineCap caps the raw_line stored in quarantine (default 4096).
	RawLineCap int
	// IngestDate is the quarantine partition day (default: today, UTC).
	IngestDate time.Time
	// Version is the churnctl version written into manifests.
	Version string
	// RunID is this invocation's id (names the staging dir and the
	// runs/<RunID>.json record). The ingest_run_id stored in rows is
	// derived from the inputs and options instead, so re-runs are
	// byte-identical.
	RunID string
	// Workers decode chunks (default GOMAXPROCS); as many write Parquet.
	Workers int
	// MemoryBudget bounds the Arrow data buffered before it is written
	// (default 64 MiB).
	MemoryBudget int64
	// PieceBytes: a day whose buffered rows exceed it is flushed (a piece;
	// the pieces of a day in time order go to one file). Default
	// MemoryBudget/6 (16 MiB for etl's 96: a day of a 1 GB log is about
	// 12 MiB; larger logs keep the pieces in flight about that size).
	PieceBytes int64
	// ChunkBytes is the decode unit (default 4 MiB).
	ChunkBytes int
	Mem        memory.Allocator
	Log        *slog.Logger
	// CommitHook is passed to lake.Tx.Hook (tests).
	CommitHook func(step string)
	// Tx, if set, is a transaction of the lake that Run stages into and
	// leaves to the caller to commit or abort (churnctl etl publishes
	// bronze, silver and gold together). Without it Run begins and commits
	// its own. With a quality-gate failure the staged event partitions are
	// dropped, as on a run of its own.
	Tx *lake.Tx
	// OnEvents, if set, is called from the writer goroutines with each
	// flush of a day just staged, and when a day is complete (see Flush),
	// in no particular order (Flush.Piece numbers a day's flushes). It must
	// Retain what it keeps; it may block (the writers wait: back-pressure)
	// and its error fails the run.
	OnEvents func(ctx context.Context, f Flush) error
	// Progress, if set, is called with the number of input bytes read so
	// far (from the reader goroutine).
	Progress func(bytesRead int64)
}

// Flush is one flush of a day's rows (handed to Config.OnEvents), or the
// notice that a day is complete.
//
// A day's flushes are numbered by Piece (0, 1, ...) in the order the
// sequencer cut them: the rows of piece k came in before those of piece
// k+1 (for a log in time order, piece k+1's rows are not earlier). Last
// says bronze expects no more rows for the day: it received none in the
// last idleChunks chunks, or the input ended. The day is then pieces 0 to
// Piece, or 0 to Piece-1 when the Flush carries no rows (the notice for a
// day whose last rows were flushed earlier, under memory pressure). Rows
// that still come for a day after that (late events) make more pieces.
type Flush struct {
	Partition string              // "dt=YYYY-MM-DD"
	Files     []string            // the files written: the users' and the logged-out rows' (lake.AnonymousSuffix)
	Recs      []arrow.RecordBatch // the flush's rows, in no particular order
	Piece     int
	Last      bool
}

// Stats is what a run did; the command turns it into the summary line.
type Stats struct {
	LinesRead       int64            `json:"lines_read"`
	RowsWritten     int64            `json:"rows_written"`
	RowsQuarantined int64            `json:"rows_quarantined"`
	RowsFiltered    int64            `json:"rows_filtered"`
	EmptyLines      int64            `json:"empty_lines"`
	FilesRead       int              `json:"files_read"`
	SkippedInputs   int              `json:"skipped_inputs"`
	Partitions      int              `json:"partitions"`
	QuarantineParts int              `json:"quarantine_partitions"`
	FilesWritten    int              `json:"files_written"`
	BytesRead       int64            `json:"bytes_read"`
	JSONBytes       int64            `json:"json_bytes"`
	ByRule          map[string]int64 `json:"quarantine_by_rule,omitempty"`
	SchemaDrift     map[string]int64 `json:"schema_drift,omitempty"`
	IngestRunID     string           `json:"ingest_run_id"`
	Truncated       []string         `json:"truncated,omitempty"`
	// Skipped lists the inputs not read and why (SkippedInputs counts
	// them): files in directories that are not event files, second names
	// or copies of one content, inputs already ingested.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Warnings are about inputs read in spite of something odd (zero
	// padding after a gzip file's last member).
	Warnings  []string `json:"input_warnings,omitempty"`
	Published bool     `json:"published"`
	// Staged (with Config.Tx) means the transaction holds what is to be
	// published, even when Run returns a quality-gate error (then only
	// the quarantine).
	Staged bool `json:"-"`
}

// ledgerDir holds one record per ingested input content hash.
const ledgerDir = "bronze/_ingested"

type ledgerEntry struct {
	Path        string `json:"path"`
	Hash        string `json:"xxh3_128"`
	Fingerprint string `json:"fingerprint,omitempty"` // Input.Fingerprint (plain files)
	Bytes       int64  `json:"bytes"`
	IngestRunID string `json:"ingest_run_id"`
	// From and To are the day filter the input was ingested with ("" =
	// unbounded): a later run asking for days outside them re-ingests it.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// ETag and VersionID (inputs on object storage) let a later run skip
	// the object at Path without downloading it while the store reports
	// the same ETag, size and version.
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version_id,omitempty"`
}

// covers reports whether the entry's ingest included every day of the
// window [from, to] (zero times are unbounded).
func (e ledgerEntry) covers(from, to time.Time) bool {
	fromOK := e.From == "" || (!from.IsZero() && dayString(from) >= e.From)
	toOK := e.To == "" || (!to.IsZero() && dayString(to) <= e.To)
	return fromOK && toOK
}

// widen returns the smallest window holding both [from, to] and the
// entry's window (zero times are unbounded).
func (e ledgerEntry) widen(from, to time.Time) (time.Time, time.Time) {
	if e.From == "" {
		from = time.Time{}
	} else if !from.IsZero() {
		if f, err := time.Parse(time.DateOnly, e.From); err == nil && f.Before(from) {
			from = f
		}
	}
	if e.To == "" {
		to = time.Time{}
	} else if !to.IsZero() {
		if t, err := time.Parse(time.DateOnly, e.To); err == nil && t.After(to) {
			to = t
		}
	}
	return from, to
}

func (c *Config) defaults() {
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 64 * 1024
	}
	if c.RawLineCap <= 0 {
		c.RawLineCap = 4096
	}
	if c.IngestDate.IsZero() {
		c.IngestDate = time.Now().UTC()
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = 64 << 20
	}
	if c.PieceBytes <= 0 {
		c.PieceBytes = c.MemoryBudget / 6
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 4 << 20
	}
	if c.ChunkBytes < c.MaxLineBytes+1 {
		c.ChunkBytes = c.MaxLineBytes + 1
	}
	if c.Mem == nil {
		c.Mem = memory.NewGoAllocator()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.RunID == "" {
		c.RunID = "bronze-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	}
}

// Run ingests the inputs into the lake. Errors wrap errkind kinds:
// ErrBadInput for missing/unreadable/damaged inputs and failed quality
// gates, ErrNothingToDo when every input was already ingested,
// ErrTransient when another run holds the lake lock.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	cfg.defaults()
	var st Stats
	if len(cfg.Inputs) == 0 {
		return st, fmt.Errorf("%w: no input", errkind.Usage)
	}
	inputs, listed, err := resolveInputs(cfg.Inputs, func(arg string) ([]Input, []Skipped, error) {
		store, err := cfg.objectStore(ctx)
		if err != nil {
			return nil, nil, err
		}
		return resolveObjects(ctx, store, arg)
	})
	if err != nil {
		return st, err
	}
	skip := func(sk Skipped) {
		st.Skipped = append(st.Skipped, sk)
		st.SkippedInputs = len(st.Skipped)
		if sk.warn {
			cfg.Log.Warn("input skipped", "input", sk.Path, "reason", sk.Reason)
		} else {
			cfg.Log.Info("input skipped", "input", sk.Path, "reason", sk.Reason)
		}
	}
	for _, sk := range listed {
		skip(sk)
	}
	l := lake.New(cfg.Lake)
	tx := cfg.Tx
	if tx == nil {
		if tx, err = l.Begin(cfg.RunID); err != nil {
			return st, err
		}
		defer tx.Abort()
		tx.Version = cfg.Version
	}
	if cfg.CommitHook != nil {
		tx.Hook = cfg.CommitHook
	}

	ledger, err := readLedger(l)
	if err != nil {
		return st, err
	}
	// An object the ledger records as ingested, by URL, ETag, size and
	// version id, is skipped without being downloaded (unless --force, or
	// a day filter it was not ingested with); the others are spooled, and
	// their content hash decides, as for local files.
	byPath := map[string]ledgerEntry{}
	for _, e := range ledger {
		if e.ETag != "" {
			byPath[e.Path] = e
		}
	}
	objectsSkipped := 0
	kept := inputs[:0]
	for _, in := range inputs {
		if e, ok := ingestedObject(&in, byPath); ok && !cfg.Force && e.covers(cfg.From, cfg.To) {
			skip(Skipped{Path: in.Name, Reason: "already ingested by " + e.IngestRunID + " (same ETag and size; use --force to re-ingest)"})
			objectsSkipped++
			continue
		}
		kept = append(kept, in)
	}
	inputs = kept
	for i := range inputs {
		in := &inputs[i]
		if in.object != nil {
			dir, err := tx.TempDir()
			if err != nil {
				return st, err
			}
			if err := download(ctx, cfg.Store, in, dir); err != nil {
				return st, err
			}
			continue
		}
		if in.Name != "-" && in.pipe == "" {
			continue
		}
		dir, err := tx.TempDir()
		if err != nil {
			return st, err
		}
		r := cfg.Stdin
		if in.pipe != "" {
			f, err := openPipe(ctx, in.pipe)
			if err != nil {
				if ctx.Err() != nil {
					return st, err
				}
				return st, fmt.Errorf("%w: input %s: %v", errkind.BadInput, in.Name, cause(err))
			}
			defer f.Close()
			r = f
		}
		if r == nil {
			return st, fmt.Errorf("%w: stdin input but no stdin", errkind.Usage)
		}
		if err := spool(ctx, in, r, dir); err != nil {
			return st, err
		}
	}
	if err := hashFirst(inputs, ledger); err != nil {
		return st, err
	}

	// Skip a second input of the same content, and inputs already
	// ingested (unless --force); remember the runs a forced re-ingest
	// replaces. An input hashed only while it is read has no ledger entry
	// and no twin among the inputs (hashFirst).
	var todo []Input
	replaced := map[string]bool{}
	byHash := map[string]string{}
	for _, in := range inputs {
		if in.Hash != "" {
			if first, dup := byHash[in.Hash]; dup {
				skip(Skipped{Path: in.Name, Reason: "same content as " + first})
				continue
			}
			byHash[in.Hash] = in.Name
		}
		if e, ok := ledger[in.Hash]; ok && in.Hash != "" {
			if !cfg.Force && e.covers(cfg.From, cfg.To) {
				skip(Skipped{Path: in.Name, Reason: "already ingested by " + e.IngestRunID + " (use --force to re-ingest)"})
				continue
			}
			if !cfg.Force {
				// Ingested before with a day filter that left out some of the
				// days asked for now: ingest it again over both windows,
				// replacing the earlier rows (never duplicating them).
				cfg.From, cfg.To = e.widen(cfg.From, cfg.To)
				cfg.Log.Info("input ingested before for other days; re-ingesting it for both", "input", in.Name,
					"earlier_from", e.From, "earlier_to", e.To, "from", dayString(cfg.From), "to", dayString(cfg.To))
			}
			replaced[e.IngestRunID] = true
		}
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		if len(inputs)+objectsSkipped == 0 {
			return st, fmt.Errorf("%w: no event file among the inputs (%d skipped)", errkind.NothingToDo, len(st.Skipped))
		}
		return st, fmt.Errorf("%w: all %d inputs already ingested", errkind.NothingToDo, len(inputs)+objectsSkipped)
	}
	todoHash := map[string]bool{}
	for _, in := range todo {
		todoHash[in.Hash] = true
	}
	for _, e := range ledger {
		if replaced[e.IngestRunID] && !todoHash[e.Hash] {
			return st, fmt.Errorf("%w: --force would drop the rows of %s, ingested by the same run %s; re-ingest it too", errkind.Usage, e.Path, e.IngestRunID)
		}
	}
	st.IngestRunID = ingestRunID(&cfg, todo)
	replaced[st.IngestRunID] = true
	tx.SetOwner(lake.BronzeEvents, st.IngestRunID)
	tx.SetOwner(lake.BronzeQuarantine, st.IngestRunID)
	st.FilesRead = len(todo)

	hashedFirst := make([]bool, len(todo))
	for i, in := range todo {
		hashedFirst[i] = in.Hash != ""
	}
	pipe := &pipeline{cfg: &cfg, tx: tx, inputs: todo, runID: st.IngestRunID}
	if err := pipe.run(ctx); err != nil {
		return st, err
	}
	for i, in := range todo {
		switch {
		case in.Hash == "":
			return st, fmt.Errorf("bronze: input %s was read but not hashed", in.Name)
		case !hashedFirst[i] && ledger[in.Hash].Hash != "":
			// Its fingerprint matched no entry before reading: the file
			// changed in between.
			return st, fmt.Errorf("%w: input %s changed while it was read", errkind.BadInput, in.Name)
		}
	}
	s := pipe.stats
	st.LinesRead, st.EmptyLines = s.lines, s.empty
	st.RowsWritten, st.RowsQuarantined, st.RowsFiltered = s.written, s.quarantined, s.filtered
	st.BytesRead, st.JSONBytes = pipe.bytesRead, pipe.jsonBytes
	st.SchemaDrift = s.drift
	st.ByRule = map[string]int64{}
	for i, r := range Rules {
		if s.byRule[i] > 0 {
			st.ByRule[r] = s.byRule[i]
		}
	}
	st.Truncated = pipe.truncated
	st.Warnings = pipe.warnings
	if st.LinesRead != st.RowsWritten+st.RowsQuarantined+st.RowsFiltered {
		return st, fmt.Errorf("bronze: accounting identity broken: lines_read %d != rows_written %d + rows_quarantined %d + rows_filtered %d",
			st.LinesRead, st.RowsWritten, st.RowsQuarantined, st.RowsFiltered)
	}

	// A quality gate that fails publishes the quarantine only: the exit
	// code table promises it for bad input, and a re-run (a looser gate,
	// --allow-truncated, a repaired file) replaces it.
	var gateErr error
	status := "ok"
	ratio := 0.0
	if st.LinesRead > 0 {
		ratio = float64(st.RowsQuarantined) / float64(st.LinesRead)
	}
	switch {
	case len(pipe.truncated) > 0 && !cfg.AllowTruncated:
		gateErr = fmt.Errorf("%w: %s; only the quarantine was published (use --allow-truncated to keep what decoded)", errkind.BadInput, strings.Join(pipe.truncated, "; "))
		status = "damaged_input"
	case ratio > cfg.MaxInvalidRatio:
		gateErr = fmt.Errorf("%w: %d of %d lines quarantined (%.4f > --max-invalid-ratio %g); only the quarantine was published",
			errkind.BadInput, st.RowsQuarantined, st.LinesRead, ratio, cfg.MaxInvalidRatio)
		status = "quality_gate_failed"
	}

	// Restage every partition this run writes to or that holds rows of a
	// run it replaces, keeping the files of other runs.
	accounting := map[string]any{
		"lines_read": st.LinesRead, "rows_written": st.RowsWritten, "rows_quarantined": st.RowsQuarantined,
		"rows_filtered": st.RowsFiltered, "empty_lines": st.EmptyLines,
	}
	var inputsM []lake.Input
	for _, in := range todo {
		inputsM = append(inputsM, lake.Input{Path: in.Name, Hash: "xxh3-128:" + in.Hash, Bytes: in.Size, RunID: st.IngestRunID})
	}
	tables := []string{lake.BronzeQuarantine}
	if gateErr == nil {
		tables = append(tables, lake.BronzeEvents)
	}
	for _, table := range tables {
		written := pipe.partitions[table]
		n, err := restage(l, tx, table, written, replaced, inputsM, st.IngestRunID, accounting, s.drift)
		if err != nil {
			return st, err
		}
		if table == lake.BronzeEvents {
			st.Partitions = n
		} else {
			st.QuarantineParts = n
		}
	}
	if gateErr != nil {
		// Drop the staged event partitions: only the quarantine goes out.
		if err := tx.Unstage(lake.BronzeEvents); err != nil {
			return st, err
		}
	} else {
		for _, in := range todo {
			e := ledgerEntry{Path: in.Name, Hash: in.Hash, Fingerprint: in.Fingerprint, Bytes: in.Size, IngestRunID: st.IngestRunID,
				From: dayString(cfg.From), To: dayString(cfg.To)}
			if in.object != nil {
				e.ETag, e.VersionID = in.object.ETag, in.object.VersionID
			}
			b, _ := json.MarshalIndent(e, "", "  ")
			if err := tx.PutFile(ledgerDir+"/"+in.Hash+".json", append(b, '\n')); err != nil {
				return st, err
			}
		}
	}
	st.FilesWritten = pipe.files
	rec := map[string]any{
		"stage": "bronze", "run_id": cfg.RunID, "ingest_run_id": st.IngestRunID, "finished_at": time.Now().UTC().Format(time.RFC3339Nano),
		"stats": st, "inputs": inputsM, "status": status,
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	// The run's own record (runs/RUN_ID.json, written by the command) is
	// churnctl's; bronze keeps its ingest details beside its ledger.
	if err := tx.PutFile("bronze/_runs/"+cfg.RunID+".json", append(b, '\n')); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if cfg.Tx != nil {
		st.Staged = true
		return st, gateErr // the caller commits
	}
	if err := tx.Commit(); err != nil {
		return st, err
	}
	st.Published = true
	return st, gateErr
}

// ingestRunID derives the run id stored in rows from the options that
// shape the output and the inputs' names and contents (runKey).
func ingestRunID(cfg *Config, inputs []Input) string {
	h := xxh3.New()
	fmt.Fprintf(h, "bronze/v2\x00%d\x00%d\x00%s\x00%s\x00", cfg.MaxLineBytes, cfg.RawLineCap, dayString(cfg.From), dayString(cfg.To))
	for _, in := range inputs {
		fmt.Fprintf(h, "%s\x00%s\x00", in.Name, in.runKey)
	}
	b := h.Sum128().Bytes()
	return "b" + hex.EncodeToString(b[:8])
}

// hashFirst prepares the inputs' identities before a run. A plain file
// gets a fingerprint and is hashed while it is read, so that the run reads
// it once; a gzip file is hashed now. So is a plain file that the ledger
// may already hold (an entry of the same size and fingerprint, or of the
// same size and no fingerprint, written before fingerprints were), to tell
// a re-ingest from new content, and a plain file that shares its size and
// fingerprint with another input, to tell a second copy of one content
// (skipped) from two contents. runKey, which names the content in the
// ingest run id, is the fingerprint unless it is shared with a different
// content (in the ledger or among the inputs), or there is none: then the
// hash.
func hashFirst(inputs []Input, ledger map[string]ledgerEntry) error {
	bySize := map[int64][]ledgerEntry{}
	for _, e := range ledger {
		bySize[e.Bytes] = append(bySize[e.Bytes], e)
	}
	type key struct {
		size int64
		fp   string
	}
	twins := map[key]int{}
	for i := range inputs {
		in := &inputs[i]
		if in.plain = isPlain(in.path); in.plain {
			if err := fingerprintInput(in); err != nil {
				return err
			}
			twins[key{in.Size, in.Fingerprint}]++
		}
	}
	var now []int
	inLedger := make([]bool, len(inputs)) // hashed now for a ledger entry
	for i := range inputs {
		in := &inputs[i]
		if !in.plain {
			now = append(now, i)
			continue
		}
		for _, e := range bySize[in.Size] {
			if e.Fingerprint == "" || e.Fingerprint == in.Fingerprint {
				inLedger[i] = true
				break
			}
		}
		if inLedger[i] || twins[key{in.Size, in.Fingerprint}] > 1 {
			now = append(now, i)
		}
	}
	sub := make([]Input, len(now))
	for j, i := range now {
		sub[j] = inputs[i]
	}
	if err := hashInputs(sub); err != nil {
		return err
	}
	contents := map[key]map[string]bool{} // the hashes of the inputs of one size and fingerprint
	for j, i := range now {
		in := &inputs[i]
		in.Hash = sub[j].Hash
		if in.plain {
			k := key{in.Size, in.Fingerprint}
			if contents[k] == nil {
				contents[k] = map[string]bool{}
			}
			contents[k][in.Hash] = true
		}
	}
	for i := range inputs {
		in := &inputs[i]
		_, known := ledger[in.Hash]
		oneContent := !inLedger[i] && len(contents[key{in.Size, in.Fingerprint}]) == 1
		if in.Fingerprint != "" && (in.Hash == "" || known || oneContent) {
			in.runKey = "fingerprint:" + in.Fingerprint
		} else {
			in.runKey = "xxh3_128:" + in.Hash
		}
	}
	return nil
}

func dayString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func readLedger(l *lake.Lake) (map[string]ledgerEntry, error) {
	dir := l.Path(filepath.FromSlash(ledgerDir))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]ledgerEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]ledgerEntry{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var le ledgerEntry
		if err := json.Unmarshal(b, &le); err != nil {
			return nil, fmt.Errorf("bronze: ledger %s: %w", e.Name(), err)
		}
		out[le.Hash] = le
	}
	return out, nil
}

// restage completes the staged partitions of table: partitions written by
// this run get the files of other runs carried over; partitions holding
// files of replaced runs are rewritten without them (and removed when
// empty). It returns how many partitions the run wrote.
func restage(l *lake.Lake, tx *lake.Tx, table string, written map[string]int64, replaced map[string]bool,
	inputs []lake.Input, runID string, accounting map[string]any, drift map[string]int64) (int, error) {
	parts, err := l.Partitions(table)
	if err != nil {
		return 0, err
	}
	touched := map[string]bool{}
	for p := range written {
		touched[p] = true
	}
	old := map[string]*lake.Manifest{}
	for _, p := range parts {
		m, err := l.ReadManifest(table, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		old[p] = m
		for _, f := range m.Files {
			if replaced[f.RunID] {
				touched[p] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(touched))
	for _, p := range names {
		if _, err := tx.Stage(table, p); err != nil {
			return 0, err
		}
		var ins []lake.Input
		extra := map[string]any{}
		runs := map[string]any{}
		if m := old[p]; m != nil {
			for _, f := range m.Files {
				if !replaced[f.RunID] {
					if err := tx.Keep(table, p, f); err != nil {
						return 0, err
					}
				}
			}
			for _, in := range m.Inputs {
				if !replaced[in.RunID] {
					ins = append(ins, in)
				}
			}
			var oldExtra struct {
				Runs map[string]json.RawMessage `json:"runs"`
			}
			if len(m.Extra) > 0 && json.Unmarshal(m.Extra, &oldExtra) == nil {
				for id, v := range oldExtra.Runs {
					if !replaced[id] {
						runs[id] = v
					}
				}
			}
		}
		if written[p] > 0 {
			ins = append(ins, inputs...)
			run := map[string]any{"accounting": accounting, "rows_in_partition": written[p]}
			if len(drift) > 0 {
				run["schema_drift"] = drift
			}
			runs[runID] = run
		}
		extra["runs"] = runs
		eb, err := json.Marshal(extra)
		if err != nil {
			return 0, err
		}
		if err := tx.SetManifest(table, p, lake.Manifest{Inputs: ins, RunID: runID, Extra: eb}); err != nil {
			return 0, err
		}
	}
	return len(written), nil
}

// pipeline is the read → decode → sequence → write machinery of one run.
type pipeline struct {
	cfg    *Config
	tx     *lake.Tx
	inputs []Input
	runID  string

	stats      chunkStats
	bytesRead  int64
	jsonBytes  int64
	truncated  []string
	warnings   []string
	partitions map[string]map[string]int64 // table -> partition -> rows
	files      int
	open       map[string]*dayFiles // events partition -> its files being written

	mu sync.Mutex
}

type writeJob struct {
	table, partition, name string
	recs                   []arrow.RecordBatch
	quarantine             bool
	piece                  int  // the day's flush number
	last                   bool // Flush.Last
}

func (p *pipeline) run(ctx context.Context) error {
	cfg := p.cfg
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.partitions = map[string]map[string]int64{lake.BronzeEvents: {}, lake.BronzeQuarantine: {}}
	p.open = map[string]*dayFiles{}

	fromDay, toDay := int32(math.MinInt32), int32(math.MaxInt32)
	if !cfg.From.IsZero() {
		fromDay = int32(cfg.From.UTC().Unix() / 86400)
	}
	if !cfg.To.IsZero() {
		toDay = int32(cfg.To.UTC().Unix() / 86400)
	}
	sources := make([]string, len(p.inputs))
	for i, in := range p.inputs {
		sources[i] = in.Name
	}

	pool := &sync.Pool{New: func() any { b := make([]byte, cfg.ChunkBytes); return &b }}
	chunks := make(chan *chunk, cfg.Workers)
	results := make(chan *result, cfg.Workers*2)
	jobs := make(chan writeJob)

	// Reader.
	var readErr error
	go func() {
		defer close(chunks)
		seq := 0
		send := func(ch *chunk) bool {
			ch.seq = seq
			seq++
			p.mu.Lock()
			p.jsonBytes += int64(len(ch.data))
			if ch.long {
				p.jsonBytes += ch.longLen - int64(len(ch.data))
			}
			p.mu.Unlock()
			select {
			case chunks <- ch:
				return true
			case <-ctx.Done():
				ch.done()
				return false
			}
		}
		for i, in := range p.inputs {
			if in.plain {
				// Plain files are memory-mapped: chunks are slices of the map.
				m, err := mmapFile(in.path)
				if err == nil && int64(len(m.data)) != in.Size {
					m.release()
					err = fmt.Errorf("changed since it was listed: %d bytes, now %d", in.Size, len(m.data))
				}
				if err != nil {
					readErr = fmt.Errorf("%w: input %s: %v", errkind.BadInput, in.Name, err)
					cancel(readErr)
					return
				}
				mr := &mapReader{m: m, size: cfg.ChunkBytes, rawCap: cfg.RawLineCap, inputIdx: i}
				if in.Hash == "" {
					mr.hash = newTreeHash()
				}
				for ctx.Err() == nil {
					ch := mr.next()
					if ch == nil || !send(ch) {
						break
					}
					if cfg.Progress != nil {
						cfg.Progress(p.bytesReadSoFar() + int64(mr.pos))
					}
				}
				size := int64(len(m.data))
				m.release()
				if mr.hash != nil && ctx.Err() == nil {
					// Every byte was cut into a chunk and hashed (the reader
					// stops early only on cancellation).
					p.inputs[i].Hash, _ = mr.hash.sum()
				}
				p.mu.Lock()
				p.bytesRead += size
				p.mu.Unlock()
				if ctx.Err() != nil {
					return
				}
				continue
			}
			rc, counter, err := openInput(in.path)
			if err != nil {
				readErr = fmt.Errorf("%w: input %s: %v", errkind.BadInput, in.Name, err)
				cancel(readErr)
				return
			}
			cr := &chunkReader{r: rc, pool: pool, size: cfg.ChunkBytes, rawCap: cfg.RawLineCap, inputIdx: i}
			for ctx.Err() == nil {
				ch := cr.next()
				if ch == nil || !send(ch) {
					break
				}
				if cfg.Progress != nil {
					cfg.Progress(p.bytesReadSoFar() + counter.n)
				}
			}
			rc.Close()
			if ctx.Err() != nil {
				return
			}
			p.mu.Lock()
			p.bytesRead += counter.n
			if cr.err != nil {
				p.truncated = append(p.truncated, (&readError{input: in.Name, lastLine: cr.complete, err: cr.err}).Error())
			}
			var padding int64
			if g, ok := rc.(*gzipFile); ok && cr.err == nil {
				padding = g.padding
			}
			if padding > 0 {
				p.warnings = append(p.warnings, fmt.Sprintf("input %s: %d zero bytes after the last gzip member, ignored (block padding)", in.Name, padding))
			}
			p.mu.Unlock()
			if cr.err != nil {
				cfg.Log.Warn("damaged input: kept the lines before the damage", "input", in.Name, "last_good_line", cr.complete, "err", cr.err)
			}
			if padding > 0 {
				cfg.Log.Warn("zero bytes after the last gzip member, ignored (block padding)", "input", in.Name, "bytes", padding)
			}
		}
	}()

	// Decoders.
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{mem: cfg.Mem, maxLine: cfg.MaxLineBytes, rawCap: cfg.RawLineCap, fromDay: fromDay, toDay: toDay, runID: p.runID, sources: sources}
			for ch := range chunks {
				res := w.process(ch)
				ch.done()
				select {
				case results <- res:
				case <-ctx.Done():
					res.release()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Writers.
	var wwg sync.WaitGroup
	for range cfg.Workers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for j := range jobs {
				// write releases the job's rows (an events piece that
				// comes before its turn waits, rows and all, for the
				// writer of the piece before it).
				if err := p.write(ctx, j); err != nil {
					cancel(err)
				}
			}
		}()
	}

	// Sequencer (this goroutine).
	seqErr := p.sequence(ctx, results, jobs)
	close(jobs)
	wwg.Wait()
	// Every day ends with a Last flush, which closes its files; after a
	// failure some are still open.
	for _, df := range p.open {
		for _, f := range []*openFile{df.users, df.anon} {
			if f != nil {
				f.w.Close()
				f.f.Close()
			}
		}
	}
	for r := range results { // drain after an error
		r.release()
	}
	if seqErr != nil {
		return seqErr
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		if readErr != nil {
			return readErr
		}
		return err
	}
	return nil
}

func (p *pipeline) bytesReadSoFar() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytesRead
}

func (r *result) release() {
	for _, d := range r.days {
		d.rec.Release()
	}
	if r.quarantine != nil {
		r.quarantine.Release()
	}
}

// dayBuf is the buffered, not yet written, rows of one day.
type dayBuf struct {
	recs    []arrow.RecordBatch
	bytes   int64
	lastSeq int
	files   int
	// done: the day went idle and was flushed (or noticed) with Last;
	// rows that come later wait for memory pressure or the end.
	done bool
}

// idleChunks: a day that got no rows in this many chunks is flushed.
const idleChunks = 12

// sequence consumes results in chunk order and dispatches write jobs.
func (p *pipeline) sequence(ctx context.Context, results <-chan *result, jobs chan<- writeJob) error {
	cfg := p.cfg
	pending := map[int]*result{}
	next := 0
	days := map[int32]*dayBuf{}
	var buffered int64
	var qrecs []arrow.RecordBatch
	var qbytes int64
	qfiles := 0
	qpart := lake.DayPartition(lake.KeyDate, cfg.IngestDate)

	send := func(j writeJob) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			for _, r := range j.recs {
				r.Release()
			}
			return context.Cause(ctx)
		}
	}
	// flushDay writes the buffered rows of day (or, with none, only says
	// the day is complete when last is set).
	flushDay := func(day int32, last bool) error {
		d := days[day]
		delete(days, day)
		buffered -= d.bytes
		part := lake.DayPartition(lake.KeyDate, time.Unix(int64(day)*86400, 0))
		// Keep the piece counter for a day flushed again later.
		days[day] = &dayBuf{files: d.files, lastSeq: d.lastSeq, done: d.done || last}
		if len(d.recs) == 0 {
			return send(writeJob{table: lake.BronzeEvents, partition: part, piece: d.files, last: true})
		}
		days[day].files++
		return send(writeJob{table: lake.BronzeEvents, partition: part, recs: d.recs, piece: d.files, last: last})
	}
	flushQuarantine := func() error {
		if len(qrecs) == 0 {
			return nil
		}
		name := fmt.Sprintf("part-%s-%05d.parquet", p.runID, qfiles)
		qfiles++
		recs := qrecs
		qrecs, qbytes = nil, 0
		return send(writeJob{table: lake.BronzeQuarantine, partition: qpart, name: name, recs: recs, quarantine: true})
	}

	for res := range results {
		if res.err != nil {
			res.release()
			return res.err
		}
		pending[res.seq] = res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			p.stats.add(&r.stats)
			for _, db := range r.days {
				d := days[db.day]
				if d == nil {
					d = &dayBuf{}
					days[db.day] = d
				}
				d.recs = append(d.recs, db.rec)
				d.bytes += db.bytes
				d.lastSeq = next
				buffered += db.bytes
				if d.bytes > cfg.PieceBytes {
					// A day larger than a piece goes out in pieces, so
					// what is in flight (here, in the writers and in
					// OnEvents) does not grow with the size of a day.
					if err := flushDay(db.day, false); err != nil {
						return err
					}
				}
			}
			if r.quarantine != nil {
				qrecs = append(qrecs, r.quarantine)
				qbytes += batchBytes(r.quarantine)
				if qbytes > 32<<20 {
					if err := flushQuarantine(); err != nil {
						return err
					}
				}
			}
			// Flush days that went idle, as complete (Last; with no rows
			// left, only the notice), once: late rows of such a day wait
			// for the end or for memory pressure, so they make one more
			// file, not many. Then, while over budget, the least recently
			// extended day.
			for _, day := range sortedDays(days) {
				if d := days[day]; !d.done && d.lastSeq < next-idleChunks {
					if err := flushDay(day, true); err != nil {
						return err
					}
				}
			}
			for buffered > cfg.MemoryBudget {
				var lru int32
				lruSeq := math.MaxInt
				for _, day := range sortedDays(days) {
					if d := days[day]; len(d.recs) > 0 && d.lastSeq < lruSeq {
						lru, lruSeq = day, d.lastSeq
					}
				}
				if err := flushDay(lru, false); err != nil {
					return err
				}
			}
			next++
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
	}
	if len(pending) > 0 && ctx.Err() == nil {
		return fmt.Errorf("bronze: internal error: %d chunks never sequenced", len(pending))
	}
	if ctx.Err() != nil {
		for _, r := range pending {
			r.release()
		}
		for _, d := range days {
			for _, r := range d.recs {
				r.Release()
			}
		}
		for _, r := range qrecs {
			r.Release()
		}
		return context.Cause(ctx)
	}
	for _, day := range sortedDays(days) {
		if d := days[day]; len(d.recs) > 0 || !d.done {
			if err := flushDay(day, true); err != nil {
				return err
			}
		}
	}
	return flushQuarantine()
}

func sortedDays(m map[int32]*dayBuf) []int32 {
	out := make([]int32, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// write writes one job's rows into the staged partition, and releases
// them: one Parquet file for quarantine; for events, the rows go to the
// day's open users' and logged-out rows' files (see dayFiles), then to
// OnEvents.
func (p *pipeline) write(ctx context.Context, j writeJob) error {
	defer j.release()
	if err := ctx.Err(); err != nil {
		return nil
	}
	if j.quarantine {
		return p.writeFile(j, j.name, QuarantineSchema, nil, true)
	}
	var users, anon []parquetio.RowRef
	split := false
	if len(j.recs) > 0 {
		users, anon, split = sortedRefs(j.recs)
	}
	df := p.dayFiles(j.partition)
	if err := df.await(ctx, j.piece); err != nil {
		return err
	}
	names, err := p.appendPiece(df, j, users, anon, split)
	df.advance()
	if err != nil {
		return err
	}
	// Out of the day's turn: the next piece is appended meanwhile.
	if p.cfg.OnEvents != nil {
		f := Flush{Partition: j.partition, Piece: j.piece, Last: j.last}
		if len(j.recs) > 0 {
			f.Files, f.Recs = names, j.recs
		}
		return p.cfg.OnEvents(ctx, f)
	}
	return nil
}

func (j *writeJob) release() {
	for _, r := range j.recs {
		r.Release()
	}
	j.recs = nil
}

// dayFiles is the events files of one day being written: the pieces of a
// day (its flushes) are appended in piece order to one users' file and
// one logged-out rows' file while each piece's rows come after the rows
// written (in (ts, source_file, line_number) order), as they do for a
// log in time order; a piece that does not starts new files. A day is
// then one file (two with logged-out rows) whatever its size, with the
// bytes of the day written at once (parquetio's bytes depend on the rows
// only). The files are closed with the day's Last flush. A writer holding
// a piece before its turn waits (the writers of the pieces before it hold
// them: jobs are taken in order), which also holds the sequencer back.
type dayFiles struct {
	mu          sync.Mutex
	next        int           // the next piece to append
	turn        chan struct{} // closed when next changes
	files       int           // files started (names the next ones)
	users, anon *openFile
}

// await blocks until piece is the day's next to append.
func (df *dayFiles) await(ctx context.Context, piece int) error {
	for {
		df.mu.Lock()
		next, turn := df.next, df.turn
		df.mu.Unlock()
		if next >= piece {
			return nil
		}
		select {
		case <-turn:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// advance passes the turn to the next piece.
func (df *dayFiles) advance() {
	df.mu.Lock()
	df.next++
	close(df.turn)
	df.turn = make(chan struct{})
	df.mu.Unlock()
}

// openFile is an events file being appended to.
type openFile struct {
	partition, name string
	f               *lake.StagedFile
	w               *parquetio.Writer
	// the key of the last row written
	ts     arrow.Timestamp
	source string
	line   int64
}

func (p *pipeline) dayFiles(partition string) *dayFiles {
	p.mu.Lock()
	defer p.mu.Unlock()
	df := p.open[partition]
	if df == nil {
		df = &dayFiles{turn: make(chan struct{})}
		p.open[partition] = df
	}
	return df
}

// appendPiece writes the rows of job j (users and anon: refs in key
// order, or all rows of j in order when !split) to the day's files and
// returns the names of the files they went to; with j.last it closes the
// files. It runs in the day's turn.
func (p *pipeline) appendPiece(df *dayFiles, j writeJob, users, anon []parquetio.RowRef, split bool) ([]string, error) {
	keys := make([]keyCols, len(j.recs))
	for i, r := range j.recs {
		keys[i] = keysOf(r)
	}
	first := func(refs []parquetio.RowRef, all bool) (parquetio.RowRef, bool) {
		if all {
			for bi, r := range j.recs {
				if r.NumRows() > 0 {
					return parquetio.RowRef{Batch: int32(bi)}, true
				}
			}
			return parquetio.RowRef{}, false
		}
		if len(refs) == 0 {
			return parquetio.RowRef{}, false
		}
		return refs[0], true
	}
	lastRef := func(refs []parquetio.RowRef, all bool) parquetio.RowRef {
		if all {
			for bi := len(j.recs) - 1; bi >= 0; bi-- {
				if n := j.recs[bi].NumRows(); n > 0 {
					return parquetio.RowRef{Batch: int32(bi), Row: int32(n - 1)}
				}
			}
		}
		return refs[len(refs)-1]
	}
	// after reports whether the row ref comes after (or at) the last row
	// written to f.
	after := func(f *openFile, ref parquetio.RowRef) bool {
		k := &keys[ref.Batch]
		r := int(ref.Row)
		if c := cmp.Compare(k.ts[r], f.ts); c != 0 {
			return c > 0
		}
		if c := strings.Compare(k.source.Value(r), f.source); c != 0 {
			return c > 0
		}
		return k.line[r] >= f.line
	}
	parts := []struct {
		f    **openFile
		refs []parquetio.RowRef
		all  bool
		anon bool
	}{{&df.users, users, !split, false}, {&df.anon, anon, false, true}}
	// A piece that does not come after the rows written starts new files.
	for _, pt := range parts {
		if ref, ok := first(pt.refs, pt.all); ok && *pt.f != nil && !after(*pt.f, ref) {
			if err := p.closeDay(df); err != nil {
				return nil, err
			}
			break
		}
	}
	var names []string
	for _, pt := range parts {
		if _, ok := first(pt.refs, pt.all); !ok {
			continue
		}
		f := *pt.f
		if f == nil {
			if df.users == nil && df.anon == nil {
				df.files++
			}
			name := fmt.Sprintf("part-%s-%05d.parquet", p.runID, df.files-1)
			if pt.anon {
				name = strings.TrimSuffix(name, ".parquet") + lake.AnonymousSuffix
			}
			sf, err := p.tx.Create(lake.BronzeEvents, j.partition, name)
			if err != nil {
				return nil, err
			}
			w, err := parquetio.NewWriter(sf, EventsSchema, eventWriteOpts...)
			if err != nil {
				sf.Close()
				return nil, err
			}
			f = &openFile{partition: j.partition, name: name, f: sf, w: w}
			*pt.f = f
		}
		var err error
		if pt.all {
			for _, r := range j.recs {
				if err = f.w.Write(r); err != nil {
					break
				}
			}
		} else {
			err = f.w.WriteRows(j.recs, pt.refs)
		}
		if err != nil {
			return nil, fmt.Errorf("bronze: write %s/%s/%s: %w", lake.BronzeEvents, j.partition, f.name, err)
		}
		ref := lastRef(pt.refs, pt.all)
		k := &keys[ref.Batch]
		f.ts, f.source, f.line = k.ts[ref.Row], strings.Clone(k.source.Value(int(ref.Row))), k.line[ref.Row]
		names = append(names, f.name)
	}
	if j.last {
		if err := p.closeDay(df); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// closeDay finishes the day's open files (they join the partition).
func (p *pipeline) closeDay(df *dayFiles) error {
	var first error
	for _, pf := range []**openFile{&df.users, &df.anon} {
		f := *pf
		if f == nil {
			continue
		}
		*pf = nil
		err := f.w.Close()
		rows := f.w.NumRows()
		f.f.SetRows(rows)
		if cerr := f.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("bronze: write %s/%s: %w", lake.BronzeEvents, f.name, err)
			}
			continue
		}
		p.mu.Lock()
		p.partitions[lake.BronzeEvents][f.partition] += rows
		p.files++
		p.mu.Unlock()
	}
	return first
}

// writeFile writes the rows of j that refs references (all, in batch
// order, when all is set) as the file name of j's partition.
func (p *pipeline) writeFile(j writeJob, name string, schema *arrow.Schema, refs []parquetio.RowRef, all bool) error {
	f, err := p.tx.Create(j.table, j.partition, name)
	if err != nil {
		return err
	}
	var rows int64
	if j.quarantine {
		rows, err = writePlain(f, schema, j.recs, parquetio.WithDictionary(quarantineDictColumns...))
	} else {
		rows, err = writeRows(f, j.recs, refs, all, eventWriteOpts...)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("bronze: write %s/%s/%s: %w", j.table, j.partition, name, err)
	}
	f.SetRows(rows)
	if err := f.Close(); err != nil {
		return err
	}
	p.mu.Lock()
	p.partitions[j.table][j.partition] += rows
	p.files++
	p.mu.Unlock()
	return nil
}

func writePlain(w io.Writer, schema *arrow.Schema, recs []arrow.RecordBatch, opts ...parquetio.WriterOption) (int64, error) {
	pw, err := parquetio.NewWriter(w, schema, opts...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range recs {
		if err := pw.Write(r); err != nil {
			return 0, err
		}
		n += r.NumRows()
	}
	return n, pw.Close()
}
