package lake

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/churnctl/churnctl/internal/errkind"
)

var errLocked = errors.New("locked")

type lockFile struct{ f *os.File }

// lock takes the lake's exclusive lock without blocking and records who
// holds it. A busy lock is errLocked wrapped with the holder's run id.
func lock(root, runID string) (*lockFile, error) {
	f, err := os.OpenFile(filepath.Join(root, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lake: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 200))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %w: lake %s is locked by run %s", errkind.Transient, errLocked, root, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lake: lock: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(runID+"\n"), 0)
	}
	return &lockFile{f: f}, nil
}

func (l *lockFile) unlock() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// journal is the commit record: renames from the run's staging dir into
// the lake. Its atomic creation is the commit point.
type journal struct {
	RunID string      `json:"run_id"`
	Ops   []journalOp `json:"ops"`
}

type journalOp struct {
	Src string `json:"src"` // relative to the run dir (slash separated); "" removes Dst
	Dst string `json:"dst"` // relative to the lake root (slash separated)
}

// recover completes committed runs and removes uncommitted staging dirs.
// The caller holds the lock.
func (l *Lake) recover() error {
	ents, err := os.ReadDir(filepath.Join(l.root, tmpDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lake: recover: %w", err)
	}
	for _, e := range ents {
		dir := filepath.Join(l.root, tmpDir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, journalName))
		switch {
		case err == nil:
			var j journal
			if err := json.Unmarshal(b, &j); err != nil {
				return fmt.Errorf("lake: recover %s: bad journal: %w", dir, err)
			}
			if err := l.apply(dir, &j, nil); err != nil {
				return fmt.Errorf("lake: recover %s: %w", dir, err)
			}
		case errors.Is(err, fs.ErrNotExist):
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("lake: remove stale %s: %w", dir, err)
			}
		default:
			return fmt.Errorf("lake: recover: %w", err)
		}
	}
	return nil
}

// apply performs the journal's renames (idempotently: a replay after a
// crash in the middle finishes the job), then deletes the journal and the
// run dir.
func (l *Lake) apply(dir string, j *journal, hook func(string)) error {
	for i, op := range j.Ops {
		src := filepath.Join(dir, filepath.FromSlash(op.Src))
		dst := filepath.Join(l.root, filepath.FromSlash(op.Dst))
		old := filepath.Join(dir, trashDir, filepath.FromSlash(op.Dst))
		if op.Src == "" {
			if _, err := os.Lstat(dst); err == nil {
				if err := os.RemoveAll(old); err != nil {
					return err
				}
				if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
					return err
				}
				if err := os.Rename(dst, old); err != nil {
					return err
				}
			}
			if hook != nil {
				hook(fmt.Sprintf("swap %d", i))
			}
			continue
		}
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			continue // already moved into place
		}
		if _, err := os.Lstat(dst); err == nil {
			if err := os.RemoveAll(old); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
				return err
			}
			if err := os.Rename(dst, old); err != nil {
				return err
			}
		}
		if hook != nil {
			hook(fmt.Sprintf("swap %d", i))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
	}
	if hook != nil {
		hook("renamed")
	}
	if err := os.Remove(filepath.Join(dir, journalName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(dir)
}

// Tx stages partitions (and plain files) of one run and publishes them
// together. Its methods are safe for concurrent use.
type Tx struct {
	l     *Lake
	runID string
	dir   string // .tmp/<run>
	lk    *lockFile

	// Version and RunID fill the manifests of partitions that got no
	// explicit SetManifest, and the fields left empty by it.
	Version string

	// Owner tags the files Create adds (FileEntry.RunID); empty means the
	// run id. Stages with deterministic output set it to a run id derived
	// from their inputs.
	Owner string

	// Hook, if set, is called at named points of Commit ("journal",
	// "swap N", "renamed"); tests use it to simulate crashes.
	Hook func(step string)

	mu     sync.Mutex
	owners map[string]string      // table -> owner (SetOwner)
	parts  map[string]*stagedPart // key table + "\x00" + partition
	files  map[string]string      // staged plain files: dst -> src (relative)
	done   bool
	closed bool
}

type stagedPart struct {
	table, partition string
	files            []FileEntry
	manifest         *Manifest
}

// Begin takes the lake's lock (a held lock is errkind.Transient
// "locked by run X"), completes or discards whatever a crashed run left
// behind, and returns a transaction staging under .tmp/<runID>/. runID
// must be a valid file name. Call Commit or Abort.
func (l *Lake) Begin(runID string) (*Tx, error) {
	if runID == "" || strings.ContainsAny(runID, `/\`) || runID == "." || runID == ".." {
		return nil, fmt.Errorf("lake: bad run id %q", runID)
	}
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	lk, err := lock(l.root, runID)
	if err != nil {
		return nil, err
	}
	if err := l.recover(); err != nil {
		lk.unlock()
		return nil, err
	}
	dir := filepath.Join(l.root, tmpDir, runID)
	if err := os.MkdirAll(filepath.Join(dir, stageDir), 0o755); err != nil {
		lk.unlock()
		return nil, fmt.Errorf("lake: %w", err)
	}
	return &Tx{l: l, runID: runID, dir: dir, lk: lk, parts: map[string]*stagedPart{}, files: map[string]string{}}, nil
}

// RunID returns the transaction's run id.
func (t *Tx) RunID() string { return t.runID }

// TempDir returns a scratch directory inside the run's staging area
// (removed with it), for spill files.
func (t *Tx) TempDir() (string, error) {
	d := filepath.Join(t.dir, "scratch")
	return d, os.MkdirAll(d, 0o755)
}

func (t *Tx) stagedDir(table, partition string) string {
	return filepath.Join(t.dir, stageDir, filepath.FromSlash(table), partition)
}

func checkName(kind, s string) error {
	if s == "" || strings.HasPrefix(s, ".") || strings.ContainsAny(s, `/\`) {
		return fmt.Errorf("lake: bad %s name %q", kind, s)
	}
	return nil
}

// part returns (creating) the staged partition.
func (t *Tx) part(table, partition string) (*stagedPart, error) {
	if err := checkName("partition", partition); err != nil {
		return nil, err
	}
	if table == "" || strings.HasPrefix(table, ".") || strings.Contains(table, "..") {
		return nil, fmt.Errorf("lake: bad table %q", table)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, errors.New("lake: transaction already finished")
	}
	k := table + "\x00" + partition
	p := t.parts[k]
	if p == nil {
		if err := os.MkdirAll(t.stagedDir(table, partition), 0o755); err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		p = &stagedPart{table: table, partition: partition}
		t.parts[k] = p
	}
	return p, nil
}

// Stage marks a partition as part of the transaction (even if it ends up
// with no files) and returns its staging directory.
func (t *Tx) Stage(table, partition string) (string, error) {
	if _, err := t.part(table, partition); err != nil {
		return "", err
	}
	return t.stagedDir(table, partition), nil
}

// StagedFile is a data file being written into a staged partition; it
// hashes what is written. Set its row count before Close.
type StagedFile struct {
	t    *Tx
	p    *stagedPart
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
	name string
	rows int64
}

// Create starts a data file in a staged partition.
func (t *Tx) Create(table, partition, name string) (*StagedFile, error) {
	if err := checkName("file", name); err != nil {
		return nil, err
	}
	p, err := t.part(table, partition)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(t.stagedDir(table, partition), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(f)
	return &StagedFile{t: t, p: p, f: f, bw: bw, h: sha256.New(), name: name}, nil
}

// writers recycles the 1 MiB buffers of staged files (a fresh one is
// zeroed by Go for every file a run writes).
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// Write writes to the file.
func (s *StagedFile) Write(b []byte) (int, error) {
	if s.f == nil {
		return 0, fmt.Errorf("lake: write to closed file %s", s.name)
	}
	s.h.Write(b)
	n, err := s.bw.Write(b)
	s.n += int64(n)
	return n, err
}

// SetRows records the number of rows the file holds.
func (s *StagedFile) SetRows(n int64) { s.rows = n }

// Close finishes the file and adds it to the partition's manifest.
func (s *StagedFile) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.bw.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	s.bw.Reset(nil)
	writers.Put(s.bw)
	s.bw = nil
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	s.t.mu.Lock()
	s.p.files = append(s.p.files, FileEntry{Name: s.name, Rows: s.rows, Bytes: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil)),
		RunID: s.t.ownerLocked(s.p.table)})
	s.t.mu.Unlock()
	return nil
}

// Keep carries a file of the committed partition over into the staged one
// (hard link, no copy), with its existing manifest entry.
func (t *Tx) Keep(table, partition string, e FileEntry) error {
	return t.link(table, partition, filepath.Join(t.l.PartitionDir(table, partition), e.Name), e, "keep")
}

// Link adds the data file src (a file of this lake, staged or committed,
// described by e) to a staged partition under name, as a hard link: no
// copy, and the manifest entry keeps e's rows, bytes and hash. The entry
// gets the table's owner, as Create's files do. Files are never modified
// in place, so the two names stay the same bytes.
func (t *Tx) Link(table, partition, name, src string, e FileEntry) error {
	t.mu.Lock()
	e.Name, e.RunID = name, t.ownerLocked(table)
	t.mu.Unlock()
	return t.link(table, partition, src, e, "link")
}

// link hard-links src into a staged partition as e.Name and adds e to the
// partition's files.
func (t *Tx) link(table, partition, src string, e FileEntry, op string) error {
	if err := checkName("file", e.Name); err != nil {
		return err
	}
	p, err := t.part(table, partition)
	if err != nil {
		return err
	}
	if err := os.Link(src, filepath.Join(t.stagedDir(table, partition), e.Name)); err != nil {
		return fmt.Errorf("lake: %s: %w", op, err)
	}
	t.mu.Lock()
	p.files = append(p.files, e)
	t.mu.Unlock()
	return nil
}

// ownerLocked is the run id that the files of table are tagged with.
func (t *Tx) ownerLocked(table string) string {
	if o := t.owners[table]; o != "" {
		return o
	}
	if t.Owner != "" {
		return t.Owner
	}
	return t.runID
}

// SetManifest sets the manifest fields of a staged partition; Commit fills
// Table, Partition, Files and Rows (and Version/RunID if empty).
func (t *Tx) SetManifest(table, partition string, m Manifest) error {
	p, err := t.part(table, partition)
	if err != nil {
		return err
	}
	t.mu.Lock()
	p.manifest = &m
	t.mu.Unlock()
	return nil
}

// PutFile stages a plain file at rel (slash separated, relative to the
// root, e.g. "runs/<id>.json"), published with the partitions.
func (t *Tx) PutFile(rel string, data []byte) error {
	rel = filepath.ToSlash(filepath.Clean(rel))
	if strings.HasPrefix(rel, ".") || strings.HasPrefix(rel, "/") {
		return fmt.Errorf("lake: bad path %q", rel)
	}
	src := "files/" + rel
	p := filepath.Join(t.dir, filepath.FromSlash(src))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	t.mu.Lock()
	t.files[rel] = src
	t.mu.Unlock()
	return nil
}

// Unstage drops every staged partition of table from the transaction.
func (t *Tx) Unstage(table string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, p := range t.parts {
		if p.table == table {
			delete(t.parts, k)
		}
	}
	if err := os.RemoveAll(filepath.Join(t.dir, stageDir, filepath.FromSlash(table))); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return nil
}

// SetOwner tags the files Create adds to table with owner, overriding
// Owner (one transaction staging several layers, each with its own run id).
func (t *Tx) SetOwner(table, owner string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owners == nil {
		t.owners = map[string]string{}
	}
	t.owners[table] = owner
}

// StagedPartitions returns the staged partitions of table, sorted.
func (t *Tx) StagedPartitions(table string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, p := range t.parts {
		if p.table == table {
			out = append(out, p.partition)
		}
	}
	slices.Sort(out)
	return out
}

// StagedFiles returns the paths of a staged partition's data files (those
// written and those kept, sorted by name) and their rows; ok is false when
// the partition is not staged. A staged partition with no files is one the
// commit removes.
func (t *Tx) StagedFiles(table, partition string) (paths []string, rows int64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[table+"\x00"+partition]
	if p == nil {
		return nil, 0, false
	}
	dir := t.stagedDir(table, partition)
	for _, f := range p.files {
		paths = append(paths, filepath.Join(dir, f.Name))
		rows += f.Rows
	}
	slices.Sort(paths)
	return paths, rows, true
}

// StagedEntries returns the staging directory and the manifest entries of
// a staged partition's data files (sorted by name); ok is false when the
// partition is not staged.
func (t *Tx) StagedEntries(table, partition string) (dir string, files []FileEntry, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[table+"\x00"+partition]
	if p == nil {
		return "", nil, false
	}
	files = slices.Clone(p.files)
	slices.SortFunc(files, func(a, b FileEntry) int { return strings.Compare(a.Name, b.Name) })
	return t.stagedDir(table, partition), files, true
}

// Discard drops a staged partition (files and manifest) from the
// transaction; the committed partition stays as it is.
func (t *Tx) Discard(table, partition string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errors.New("lake: transaction already finished")
	}
	delete(t.parts, table+"\x00"+partition)
	if err := os.RemoveAll(t.stagedDir(table, partition)); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return nil
}

// Partitions returns the staged partitions as "table/partition", sorted.
func (t *Tx) Partitions() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, p := range t.parts {
		out = append(out, p.table+"/"+p.partition)
	}
	slices.Sort(out)
	return out
}

// Commit writes the manifests, atomically records the commit, swaps the
// staged partitions into the lake (replacing existing ones) and releases
// the lock. After an error before the commit point the lake is unchanged.
func (t *Tx) Commit() error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return errors.New("lake: transaction already finished")
	}
	t.done = true
	t.mu.Unlock()
	defer t.release()

	var j journal
	j.RunID = t.runID
	keys := make([]string, 0, len(t.parts))
	for k := range t.parts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Manifests are written by several goroutines: creating a file costs
	// a metadata round trip that dominates a commit of hundreds of
	// partitions (0.3 to 1 ms each on the VMs measured).
	var g errgroup.Group
	g.SetLimit(8)
	for _, k := range keys {
		p := t.parts[k]
		if len(p.files) == 0 {
			j.Ops = append(j.Ops, journalOp{Src: "", Dst: p.table + "/" + p.partition})
			continue
		}
		m := Manifest{}
		if p.manifest != nil {
			m = *p.manifest
		}
		m.Table, m.Partition = p.table, p.partition
		if m.Version == "" {
			m.Version = t.Version
		}
		if m.RunID == "" {
			m.RunID = t.runID
		}
		m.Files, m.Rows = p.files, 0
		for _, f := range p.files {
			m.Rows += f.Rows
		}
		b, err := m.Encode()
		if err != nil {
			return err
		}
		path := filepath.Join(t.stagedDir(p.table, p.partition), ManifestName)
		g.Go(func() error {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return fmt.Errorf("lake: %w", err)
			}
			return nil
		})
		j.Ops = append(j.Ops, journalOp{Src: stageDir + "/" + p.table + "/" + p.partition, Dst: p.table + "/" + p.partition})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	dsts := make([]string, 0, len(t.files))
	for d := range t.files {
		dsts = append(dsts, d)
	}
	slices.Sort(dsts)
	for _, d := range dsts {
		j.Ops = append(j.Ops, journalOp{Src: t.files[d], Dst: d})
	}
	b, err := json.MarshalIndent(&j, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(t.dir, journalName+".tmp")
	if err := writeSync(tmp, b); err != nil {
		return fmt.Errorf("lake: journal: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(t.dir, journalName)); err != nil { // commit point
		return fmt.Errorf("lake: journal: %w", err)
	}
	if t.Hook != nil {
		t.Hook("journal")
	}
	if err := t.l.apply(t.dir, &j, t.Hook); err != nil {
		return fmt.Errorf("lake: publish (the next run completes it): %w", err)
	}
	return nil
}

func writeSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Abort discards everything staged and releases the lock. It is a no-op
// after Commit, so `defer tx.Abort()` is the usual pattern.
func (t *Tx) Abort() error {
	t.mu.Lock()
	done := t.done
	t.done = true
	t.mu.Unlock()
	if done {
		return nil
	}
	defer t.release()
	if err := os.RemoveAll(t.dir); err != nil {
		return fmt.Errorf("lake: abort: %w", err)
	}
	return nil
}

func (t *Tx) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.lk.unlock()
	}
}
