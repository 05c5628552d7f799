package lake

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// snapshot maps every published file (not .tmp, not .lock) to its hash.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == tmpDir || rel == lockName {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:8])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// publish stages the given partitions, each with one file holding content.
func publish(t *testing.T, l *Lake, run string, content string, parts ...string) *Tx {
	t.Helper()
	tx, err := l.Begin(run)
	if err != nil {
		t.Fatal(err)
	}
	tx.Version = "test"
	for _, p := range parts {
		f, err := tx.Create(BronzeEvents, p, "part-"+run+".parquet")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content + p)); err != nil {
			t.Fatal(err)
		}
		f.SetRows(int64(len(content)))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tx.SetManifest(BronzeEvents, p, Manifest{Inputs: []Input{{Path: "b.json", Hash: "sha256:bb"}, {Path: "a.json", Hash: "sha256:aa"}}, Stats: map[string]int64{"lines_read": 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.PutFile("runs/"+run+".json", []byte(`{"run":"`+run+`"}`)); err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestPublishReplaceAndManifest(t *testing.T) {
	root := t.TempDir()
	l := New(root)
	tx := publish(t, l, "r1", "aaa", "dt=2018-10-01", "dt=2018-10-02")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	parts, err := l.Partitions(BronzeEvents)
	if err != nil || strings.Join(parts, ",") != "dt=2018-10-01,dt=2018-10-02" {
		t.Fatalf("Partitions = %v, %v", parts, err)
	}
	m, err := l.ReadManifest(BronzeEvents, "dt=2018-10-02")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 3 || len(m.Files) != 1 || m.Files[0].Bytes != 16 || m.Version != "test" || m.RunID != "r1" || m.Inputs[0].Path != "a.json" {
		t.Errorf("manifest = %+v", m)
	}
	h := sha256.Sum256([]byte("aaadt=2018-10-02"))
	if m.Files[0].SHA256 != hex.EncodeToString(h[:]) {
		t.Errorf("sha256 = %s, want %x", m.Files[0].SHA256, h)
	}
	if _, err := os.Stat(filepath.Join(root, "runs", "r1.json")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(root, tmpDir, "r1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging dir left behind: %v", err)
	}

	// Same content under the same run id: identical bytes.
	before := snapshot(t, root)
	if err := publish(t, l, "r1", "aaa", "dt=2018-10-01", "dt=2018-10-02").Commit(); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, root); !maps.Equal(before, after) {
		t.Errorf("re-publish of identical content changed the lake:\n%v\n%v", before, after)
	}

	// A new run replaces dt=2018-10-02, keeping the old file by link.
	tx, err = l.Begin("r2")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Keep(BronzeEvents, "dt=2018-10-02", m.Files[0]); err != nil {
		t.Fatal(err)
	}
	f, _ := tx.Create(BronzeEvents, "dt=2018-10-02", "part-r2.parquet")
	f.Write([]byte("x"))
	f.SetRows(1)
	f.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	files, _ := l.Files(BronzeEvents, "dt=2018-10-02")
	if len(files) != 2 || filepath.Base(files[0]) != "part-r1.parquet" || filepath.Base(files[1]) != "part-r2.parquet" {
		t.Errorf("Files = %v", files)
	}
	m2, _ := l.ReadManifest(BronzeEvents, "dt=2018-10-02")
	if m2.Rows != 4 || len(m2.Files) != 2 {
		t.Errorf("manifest after keep = %+v", m2)
	}
	all, _ := l.Files(BronzeEvents)
	if len(all) != 3 {
		t.Errorf("all files = %v", all)
	}
}

func TestLock(t *testing.T) {
	l := New(t.TempDir())
	tx, err := l.Begin("first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Begin("second")
	if !errors.Is(err, exitcode.ErrTransient) || !strings.Contains(err.Error(), "locked by run first") {
		t.Fatalf("second Begin = %v, want transient 'locked by run first'", err)
	}
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	tx2, err := l.Begin("second")
	if err != nil {
		t.Fatalf("Begin after Abort: %v", err)
	}
	tx2.Abort()
}

type crash struct{}

// TestCrashAtEveryStep kills a commit (by panicking from the hook) at each
// step: before the commit point the lake is unchanged; after it, Open
// completes the commit.
func TestCrashAtEveryStep(t *testing.T) {
	steps := []string{"before", "journal", "swap 0", "swap 1", "swap 2", "renamed"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			l := New(root)
			if err := publish(t, l, "old", "old", "dt=2018-10-01", "dt=2018-10-02").Commit(); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)

			// The expected final state, built in another lake.
			ref := t.TempDir()
			if err := publish(t, New(ref), "old", "old", "dt=2018-10-01", "dt=2018-10-02").Commit(); err != nil {
				t.Fatal(err)
			}
			if err := publish(t, New(ref), "new", "new", "dt=2018-10-02", "dt=2018-10-03").Commit(); err != nil {
				t.Fatal(err)
			}
			want := snapshot(t, ref)

			tx := publish(t, l, "new", "new", "dt=2018-10-02", "dt=2018-10-03")
			tx.Hook = func(s string) {
				if s == step {
					panic(crash{})
				}
			}
			func() {
				defer func() {
					if r := recover(); r != nil && r != (crash{}) {
						panic(r)
					}
				}()
				if step == "before" {
					panic(crash{})
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}()
			tx.release() // the kernel drops the flock of a dead process
			if step == "before" {
				if got := snapshot(t, root); !maps.Equal(got, before) {
					t.Fatalf("crash before commit changed the lake:\n got %v\nwant %v", got, before)
				}
			}
			if _, err := Open(root); err != nil {
				t.Fatal(err)
			}
			got := snapshot(t, root)
			if step == "before" {
				want = before
			}
			if !maps.Equal(got, want) {
				t.Fatalf("after recovery:\n got %v\nwant %v", got, want)
			}
			if ents, _ := os.ReadDir(filepath.Join(root, tmpDir)); step != "before" && len(ents) != 0 {
				t.Errorf("recovery left %v in .tmp", ents)
			}
			// A writer cleans up the uncommitted staging dir.
			tx2, err := l.Begin("next")
			if err != nil {
				t.Fatal(err)
			}
			tx2.Abort()
			if ents, _ := os.ReadDir(filepath.Join(root, tmpDir)); len(ents) != 0 {
				t.Errorf("Begin left %v in .tmp", ents)
			}
		})
	}
}

func TestDayPartition(t *testing.T) {
	d := time.Date(2018, 10, 1, 23, 59, 0, 0, time.FixedZone("x", -3600))
	p := DayPartition(KeyDate, d)
	if p != "dt=2018-10-02" {
		t.Errorf("DayPartition = %q, want dt=2018-10-02 (UTC)", p)
	}
	k, day, err := ParseDayPartition(p)
	if err != nil || k != "dt" || !day.Equal(time.Date(2018, 10, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseDayPartition(%q) = %q, %v, %v", p, k, day, err)
	}
	for _, bad := range []string{"2018-10-01", "dt=2018-13-01", "=2018-10-01"} {
		if _, _, err := ParseDayPartition(bad); err == nil {
			t.Errorf("ParseDayPartition(%q) = nil error", bad)
		}
	}
}

func TestBadNames(t *testing.T) {
	l := New(t.TempDir())
	if _, err := l.Begin("../x"); err == nil {
		t.Error("Begin(../x) = nil error")
	}
	tx, err := l.Begin("r")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	for _, c := range [][3]string{{BronzeEvents, "../dt=1", "f"}, {BronzeEvents, "dt=1", "../f"}, {"../x", "dt=1", "f"}, {BronzeEvents, ".tmp", "f"}} {
		if _, err := tx.Create(c[0], c[1], c[2]); err == nil {
			t.Errorf("Create(%q) = nil error", c)
		}
	}
}

func TestRemoveEmptyAndUnstage(t *testing.T) {
	root := t.TempDir()
	l := New(root)
	if err := publish(t, l, "r1", "aaa", "dt=2018-10-01", "dt=2018-10-02").Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err := l.Begin("r2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Stage(BronzeEvents, "dt=2018-10-01"); err != nil { // no files: removed
		t.Fatal(err)
	}
	f, _ := tx.Create(BronzeQuarantine, "dt=2018-10-09", "q.parquet") // unstaged below
	f.Close()
	if err := tx.Unstage(BronzeQuarantine); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	parts, _ := l.Partitions(BronzeEvents)
	if strings.Join(parts, ",") != "dt=2018-10-02" {
		t.Errorf("events partitions = %v, want [dt=2018-10-02]", parts)
	}
	if q, _ := l.Partitions(BronzeQuarantine); len(q) != 0 {
		t.Errorf("quarantine partitions = %v, want none", q)
	}
}

// TestLinkStagedAndCommitted: Link publishes an existing file of the lake
// under another table without copying it, with the source's rows, bytes
// and hash and the table's owner; the link outlives the source's removal.
func TestLinkStagedAndCommitted(t *testing.T) {
	l := New(t.TempDir())
	if err := publish(t, l, "r1", "committed bytes", "dt=2024-01-01").Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := l.ReadManifest(BronzeEvents, "dt=2024-01-01")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := l.Begin("r2")
	if err != nil {
		t.Fatal(err)
	}
	tx.SetOwner(Silver("events"), "silver-owner")
	src := filepath.Join(l.PartitionDir(BronzeEvents, "dt=2024-01-01"), m.Files[0].Name)
	if err := tx.Link(Silver("events"), "dt=2024-01-01", "part-0.parquet", src, m.Files[0]); err != nil {
		t.Fatal(err)
	}
	f, err := tx.Create(BronzeEvents, "dt=2024-01-02", "part-r2.parquet")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("staged bytes"))
	f.SetRows(3)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dir, staged, ok := tx.StagedEntries(BronzeEvents, "dt=2024-01-02")
	if !ok || len(staged) != 1 {
		t.Fatalf("StagedEntries = %v %v", staged, ok)
	}
	if err := tx.Link(Silver("events"), "dt=2024-01-02", "part-0.parquet", filepath.Join(dir, staged[0].Name), staged[0]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Link(Silver("events"), "dt=2024-01-02", "x.parquet", filepath.Join(dir, "missing.parquet"), staged[0]); err == nil {
		t.Error("Link of a missing file succeeded")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		part, content string
		src           FileEntry
	}{{"dt=2024-01-01", "committed bytesdt=2024-01-01", m.Files[0]}, {"dt=2024-01-02", "staged bytes", staged[0]}} {
		got, err := l.ReadManifest(Silver("events"), c.part)
		if err != nil {
			t.Fatal(err)
		}
		e := got.Files[0]
		if len(got.Files) != 1 || e.Name != "part-0.parquet" || e.RunID != "silver-owner" || e.SHA256 != c.src.SHA256 ||
			e.Bytes != c.src.Bytes || e.Rows != c.src.Rows {
			t.Errorf("%s: manifest files %+v, source %+v", c.part, got.Files, c.src)
		}
		b, err := os.ReadFile(filepath.Join(l.PartitionDir(Silver("events"), c.part), "part-0.parquet"))
		if err != nil || string(b) != c.content {
			t.Errorf("%s: linked file %q, %v", c.part, b, err)
		}
	}
	// Replacing the source partition leaves the link's bytes in place.
	if err := publish(t, l, "r3", "other bytes", "dt=2024-01-01").Commit(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.PartitionDir(Silver("events"), "dt=2024-01-01"), "part-0.parquet"))
	if err != nil || string(b) != "committed bytesdt=2024-01-01" {
		t.Errorf("after the source was replaced: %q, %v", b, err)
	}
}

// TestOpenWaitsForACommitInProgress: a reader that finds a committed
// journal while the writer still holds the lock (it is applying the
// commit, or dying) waits for the lock and reads the completed lake, never
// half of it; a holder that never lets go makes Open fail as transient.
func TestOpenWaitsForACommitInProgress(t *testing.T) {
	setup := func(t *testing.T) (root string, want map[string]string) {
		root = t.TempDir()
		ref := t.TempDir()
		for _, r := range []string{root, ref} {
			if err := publish(t, New(r), "old", "old", "dt=2018-10-01", "dt=2018-10-02").Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if err := publish(t, New(ref), "new", "new", "dt=2018-10-02", "dt=2018-10-03").Commit(); err != nil {
			t.Fatal(err)
		}
		return root, snapshot(t, ref)
	}
	// commitStuck starts a commit that stops after its commit point, holding
	// the lock, until release is closed; then it dies (panics) there.
	commitStuck := func(t *testing.T, root string, release chan struct{}) (atJournal, dead chan struct{}) {
		tx := publish(t, New(root), "new", "new", "dt=2018-10-02", "dt=2018-10-03")
		atJournal, dead = make(chan struct{}), make(chan struct{})
		tx.Hook = func(s string) {
			if s == "journal" {
				close(atJournal)
				<-release
				panic(crash{})
			}
		}
		go func() {
			defer close(dead)
			defer func() { _ = recover() }()
			_ = tx.Commit()
		}()
		return atJournal, dead
	}

	t.Run("holder dies", func(t *testing.T) {
		root, want := setup(t)
		release := make(chan struct{})
		atJournal, dead := commitStuck(t, root, release)
		<-atJournal
		time.AfterFunc(200*time.Millisecond, func() { close(release) })
		if _, err := Open(root); err != nil {
			t.Fatal(err)
		}
		<-dead
		if got := snapshot(t, root); !maps.Equal(got, want) {
			t.Fatalf("Open returned before the pending commit was completed:\n got %v\nwant %v", got, want)
		}
		if ents, _ := os.ReadDir(filepath.Join(root, tmpDir)); len(ents) != 0 {
			t.Errorf("recovery left %v in .tmp", ents)
		}
	})
	t.Run("holder never lets go", func(t *testing.T) {
		root, _ := setup(t)
		release := make(chan struct{})
		atJournal, dead := commitStuck(t, root, release)
		<-atJournal
		defer func() { close(release); <-dead }()
		old := OpenWait
		OpenWait = 100 * time.Millisecond
		defer func() { OpenWait = old }()
		if _, err := Open(root); !errors.Is(err, exitcode.ErrTransient) || !strings.Contains(err.Error(), "commit in progress") {
			t.Fatalf("Open = %v, want a transient 'commit in progress' error", err)
		}
	})
}

func TestOpenMissingRoot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	if _, err := Open(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%s) = %v, want fs.ErrNotExist", missing, err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("Open created %s", missing)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	if err := publish(t, New(root), "r", "x", "dt=2018-10-01").Commit(); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(root)
	for _, p := range []string{root, filepath.Join(root, "features", "as_of=2018-10-31"), filepath.Join(root, "models")} {
		if got, ok := Find(p); !ok || got != abs {
			t.Errorf("Find(%s) = %q, %v; want %s", p, got, ok, abs)
		}
	}
	if got, ok := Find(t.TempDir()); ok {
		t.Errorf("Find(a dir in no lake) = %q, want none", got)
	}
}
