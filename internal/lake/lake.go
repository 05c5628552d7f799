// Package lake knows the layout of a churnctl data lake and publishes sets of
// partitions atomically.
//
// Layout under the root (--lake DIR):
//
//	bronze/events/dt=YYYY-MM-DD/part-*.parquet + _manifest.json
//	bronze/quarantine/dt=YYYY-MM-DD/...
//	silver/<table>/dt=YYYY-MM-DD/...
//	gold/<table>/...
//	features/as_of=YYYY-MM-DD/...
//	predictions/as_of=YYYY-MM-DD/...
//	runs/<run>.json          one record per run (wall-clock times live here only)
//	.tmp/<run>/              staging area of a run in progress
//	.lock                    flock'ed by the run that publishes
//
// A table is a path relative to the root ("bronze/events", "features"); a
// partition is one directory "key=value" in it. Writers stage whole
// partitions under .tmp/<run>/ through a Tx and Commit them together (a
// staged partition left with no file is removed from the lake): the
// commit point is the atomic rename of a journal file; partitions are then
// swapped in by rename and the journal deleted. A process killed before the
// commit point leaves the lake as it was (the next run removes the stale
// staging dir); killed after it, the next Begin or Open replays the journal
// and completes the commit. Re-publishing a partition replaces it.
package lake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Tables of the standard layout.
const (
	BronzeEvents     = "bronze/events"
	BronzeQuarantine = "bronze/quarantine"
	Features         = "features"
	Predictions      = "predictions"
	Runs             = "runs"
	Models           = "models"
)

// AnonymousSuffix ends the name of a bronze/events file holding logged-out
// rows (empty user_id). Bronze writes each flush of a day as
// part-<run>-<n>.parquet (the rows of known users) and
// part-<run>-<n>-anon.parquet, both in (ts, source_file, line_number)
// order, so silver can take the users' file as it is.
const AnonymousSuffix = "-anon.parquet"

// Partition keys of the standard layout.
const (
	KeyDate = "dt"
	KeyAsOf = "as_of"
)

// ManifestName is the name of the manifest file in every partition.
const ManifestName = "_manifest.json"

const (
	tmpDir      = ".tmp"
	lockName    = ".lock"
	journalName = "COMMIT"
	stageDir    = "stage"
	trashDir    = "old"
)

// Silver returns the table path of a silver table.
func Silver(name string) string { return "silver/" + name }

// Gold returns the table path of a gold table.
func Gold(name string) string { return "gold/" + name }

// DayPartition returns the partition name key=YYYY-MM-DD for day (in UTC).
func DayPartition(key string, day time.Time) string {
	return key + "=" + day.UTC().Format(time.DateOnly)
}

// ParseDayPartition splits "key=YYYY-MM-DD" into key and day (UTC midnight).
func ParseDayPartition(partition string) (key string, day time.Time, err error) {
	k, v, ok := strings.Cut(partition, "=")
	if !ok || k == "" {
		return "", time.Time{}, fmt.Errorf("lake: partition %q: want key=YYYY-MM-DD", partition)
	}
	day, err = time.Parse(time.DateOnly, v)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("lake: partition %q: %w", partition, err)
	}
	return k, day, nil
}

// Lake is a lake rooted at a directory.
type Lake struct {
	root string
}

// New returns the lake rooted at root without touching the file system.
func New(root string) *Lake { return &Lake{root: filepath.Clean(root)} }

// Open returns the lake at root, first completing any commit that a
// crashed run left behind (a journal written after its commit point), so a
// reader never sees half a commit: part of a run's partitions new, the rest
// old. Every command that reads the lake calls Open before reading;
// writers call Begin, which also recovers.
//
// Recovery runs under the lake's lock. A committed journal while another
// process holds the lock is that process applying its own commit (Begin
// recovers before it hands out a transaction), which takes moments: Open
// waits up to OpenWait for the lock, then fails with errkind.Transient.
// A root that does not exist is an error wrapping fs.ErrNotExist; Open
// never creates it.
func Open(root string) (*Lake, error) {
	l := New(root)
	fi, err := os.Stat(l.root)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("lake: %s is not a directory", l.root)
	}
	if !l.pending() {
		return l, nil
	}
	deadline := time.Now().Add(OpenWait)
	for {
		lk, err := lock(l.root, "recovery")
		if err == nil {
			defer lk.unlock()
			break
		}
		if !errors.Is(err, errLocked) {
			return nil, err
		}
		if !l.pending() {
			return l, nil // the holder finished its commit meanwhile
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: lake %s: a commit in progress did not finish within %v (lock %s held by another process)",
				errkind.Transient, l.root, OpenWait, filepath.Join(l.root, lockName))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.recover(); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenWait is how long Open waits for a lock holder to finish applying a
// commit before it gives up.
var OpenWait = 30 * time.Second

// pending reports whether a committed journal waits to be applied.
func (l *Lake) pending() bool {
	journals, _ := filepath.Glob(filepath.Join(l.root, tmpDir, "*", journalName))
	return len(journals) > 0
}

// Find returns the root of the lake that path lies in: the nearest of path
// and its ancestors that holds a lake's lock file (every lake that was ever
// written has one). ok is false when path is in no lake (a feature table
// outside any lake, a path that does not exist).
func Find(path string) (root string, ok bool) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	for {
		if fi, err := os.Lstat(filepath.Join(p, lockName)); err == nil && fi.Mode().IsRegular() {
			return p, true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", false
		}
		p = parent
	}
}

// Root returns the lake's root directory.
func (l *Lake) Root() string { return l.root }

// Path joins elements onto the root.
func (l *Lake) Path(elem ...string) string {
	return filepath.Join(append([]string{l.root}, elem...)...)
}

// PartitionDir returns the directory of a committed partition.
func (l *Lake) PartitionDir(table, partition string) string {
	return filepath.Join(l.root, filepath.FromSlash(table), partition)
}

// Partitions returns the sorted names of the table's partitions ("key=..."
// directories). A missing table has none.
func (l *Lake) Partitions(table string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.root, filepath.FromSlash(table)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.Contains(e.Name(), "=") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Files returns the sorted paths of the *.parquet files of the given
// partitions of table (all partitions if none are given).
func (l *Lake) Files(table string, partitions ...string) ([]string, error) {
	if len(partitions) == 0 {
		var err error
		if partitions, err = l.Partitions(table); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, p := range partitions {
		m, err := filepath.Glob(filepath.Join(l.PartitionDir(table, p), "*.parquet"))
		if err != nil {
			return nil, err
		}
		slices.Sort(m)
		out = append(out, m...)
	}
	return out, nil
}

// Manifest describes one committed partition. Its JSON encoding is
// deterministic (fixed field order, sorted lists, no wall-clock time), so a
// re-run on identical input writes identical bytes.
type Manifest struct {
	Table     string `json:"table"`
	Partition string `json:"partition"`
	// Rows is the sum of the files' rows.
	Rows  int64       `json:"rows"`
	Files []FileEntry `json:"files"`
	// Inputs are the sources the partition was built from.
	Inputs []Input `json:"inputs,omitempty"`
	// Version is the churnctl version that wrote the partition.
	Version string `json:"churnctl_version"`
	// RunID identifies the (deterministic) run that wrote the partition;
	// its wall-clock record, if any, is runs/<RunID>.json.
	RunID string `json:"run_id"`
	// Stats holds stage-specific counters (e.g. the bronze accounting).
	Stats map[string]int64 `json:"stats,omitempty"`
	// Extra holds stage-specific detail (e.g. schema drift).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// FileEntry is one data file of a partition.
type FileEntry struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// RunID is the run that wrote the file (files carried over from an
	// earlier run keep theirs).
	RunID string `json:"run_id,omitempty"`
}

// Input is one source of a partition.
type Input struct {
	Path string `json:"path"`
	// Hash is the content hash, prefixed by its algorithm
	// ("sha256:...", "xxh3-128:...").
	Hash  string `json:"hash"`
	Bytes int64  `json:"bytes"`
	RunID string `json:"run_id,omitempty"`
}

// Encode returns the manifest's canonical JSON.
func (m *Manifest) Encode() ([]byte, error) {
	c := *m
	c.Files = slices.Clone(m.Files)
	slices.SortFunc(c.Files, func(a, b FileEntry) int { return strings.Compare(a.Name, b.Name) })
	c.Inputs = slices.Clone(m.Inputs)
	slices.SortFunc(c.Inputs, func(a, b Input) int {
		return cmpOr(strings.Compare(a.Hash, b.Hash), strings.Compare(a.Path, b.Path))
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// ReadManifest reads a committed partition's manifest. A missing manifest
// is an error wrapping fs.ErrNotExist.
func (l *Lake) ReadManifest(table, partition string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(l.PartitionDir(table, partition), ManifestName))
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("lake: %s/%s/%s: %w", table, partition, ManifestName, err)
	}
	return &m, nil
}

// Manifests returns the manifests of every partition of table that has one.
func (l *Lake) Manifests(table string) ([]*Manifest, error) {
	parts, err := l.Partitions(table)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, p := range parts {
		m, err := l.ReadManifest(table, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
