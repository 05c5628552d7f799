package objstore

// A prototype of the commit protocol of COMMIT.md, so that the design is
// tested against a real store before issue 16's lake layer adopts it: stage
// under ROOT/.tmp/<run>/, verify, one create-only commit record in
// ROOT/.commits/ as the commit point, apply by server-side copies and
// deletes, replay on the next Begin. Files are given whole ([]byte); the
// lake layer will stream them through Writer.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Names under the lake root. Dot-prefixed, so no table glob matches them
// and Spark and Hive skip them when listing recursively.
const (
	txTmp      = ".tmp/"
	txCommits  = ".commits/"
	txLock     = ".lock"
	txManifest = "_manifest.json"
	txIntent   = "intent/"
	txStage    = "stage/"
)

// TxLake is a lake rooted at an s3:// prefix, committed with the protocol of
// COMMIT.md.
type TxLake struct {
	c    *Client
	root URL // a prefix ending in "/"
	// LeaseTTL of the lake lock (default 1 min).
	LeaseTTL time.Duration
}

// NewTxLake returns the lake at root.
func NewTxLake(c *Client, root URL) *TxLake {
	return &TxLake{c: c, root: root.Dir(), LeaseTTL: time.Minute}
}

func (l *TxLake) key(rel string) URL { return URL{Bucket: l.root.Bucket, Key: l.root.Key + rel} }

// TxManifest lists a committed partition's files.
type TxManifest struct {
	Table     string        `json:"table"`
	Partition string        `json:"partition"`
	Files     []TxFileEntry `json:"files"`
}

// TxFileEntry is one data file of a partition.
type TxFileEntry struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// commitRecord is the journal: its create-only PUT is the commit point.
type commitRecord struct {
	Seq      int64       `json:"seq"`
	RunID    string      `json:"run_id"`
	LeaseSeq int64       `json:"lease_seq"`
	Parts    []commitOps `json:"partitions"`
	Applied  bool        `json:"applied,omitempty"`
}

type commitOps struct {
	Dir    string   `json:"dir"`    // table/partition, relative to the root
	Copy   []string `json:"copy"`   // names staged under .tmp/<run>/stage/<dir>/, manifest last
	Delete []string `json:"delete"` // names under <dir>/ to remove after the copies
}

// Tx stages partitions of one run and publishes them with one commit point.
type Tx struct {
	l     *TxLake
	runID string
	lease *Lease
	next  int64 // the commit seq this tx will create

	// Hook, if set, is called at named steps of Commit ("staged",
	// "committed", "copied <dir>", "deleted <dir>", "applied"); a
	// non-nil return stops Commit there, as a kill would (nothing is
	// cleaned up). Tests use it to crash at every step.
	Hook func(step string) error

	mu     sync.Mutex
	parts  map[string]*TxManifest // by table/partition
	intent int
	done   bool
}

func partDir(table, partition string) string { return table + "/" + partition }

// Begin takes the lake lock (a lease: a held one is ErrLeaseHeld, exit 4),
// completes a committed transaction a crashed run did not finish applying,
// discards what uncommitted runs left (staged objects and incomplete
// multipart uploads), and returns a transaction.
func (l *TxLake) Begin(ctx context.Context, runID string) (*Tx, error) {
	if runID == "" || strings.ContainsAny(runID, "/\\") {
		return nil, fmt.Errorf("%w: objstore: bad run id %q", errkind.Usage, runID)
	}
	lease, err := l.c.AcquireLease(ctx, l.key(txLock), runID, l.LeaseTTL)
	if err != nil {
		return nil, err
	}
	last, err := l.recover(ctx)
	if err != nil {
		_ = lease.Release(ctx)
		return nil, err
	}
	return &Tx{l: l, runID: runID, lease: lease, next: last + 1, parts: map[string]*TxManifest{}}, nil
}

// Lease returns the transaction's lake lock.
func (t *Tx) Lease() *Lease { return t.lease }

// recover replays the newest commit record if it is not applied, removes
// the staging areas of every other run, aborting their incomplete uploads,
// and returns the newest commit seq (0 for none). The caller holds the
// lease. Before it discards a staging area it fences: it creates the next
// commit record itself (empty, applied), so that a writer that lost the
// lease while paused cannot commit afterwards a record naming staged files
// that are gone (its create-only commit record finds the seq taken).
func (l *TxLake) recover(ctx context.Context) (int64, error) {
	for attempt := 0; ; attempt++ {
		last, err := l.replayLast(ctx)
		if err != nil {
			return 0, err
		}
		staged, err := l.c.ListAll(ctx, l.key(txTmp))
		if err != nil || len(staged) == 0 {
			return last, err
		}
		fence := &commitRecord{Seq: last + 1, RunID: "fence", Applied: true}
		b, _ := json.Marshal(fence)
		_, err = l.c.PutBytes(ctx, l.recordURL(fence.Seq), b, PutOptions{IfNoneMatch: true, ContentType: "application/json"})
		if errors.Is(err, ErrPrecondition) && attempt < 3 {
			continue // a stale writer committed just now: replay it first
		}
		if err != nil {
			return 0, err
		}
		var keys []string
		for _, o := range staged {
			keys = append(keys, o.URL.Key)
			if rel := strings.TrimPrefix(o.URL.Key, l.key(txTmp).Key); strings.Contains(rel, "/"+txIntent) {
				// An intent names a key an upload was started for; MinIO
				// lists incomplete uploads by exact key only.
				rc, err := l.c.Open(ctx, o.URL, 0, -1, "")
				if err != nil {
					return 0, err
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return 0, l.c.c.classify("read", o.URL, err)
				}
				if _, err := l.c.AbortUploads(ctx, URL{Bucket: l.root.Bucket, Key: string(b)}, time.Time{}); err != nil {
					return 0, err
				}
			}
		}
		if err := l.c.DeleteMany(ctx, l.root.Bucket, keys); err != nil {
			return 0, err
		}
		return fence.Seq, nil
	}
}

func (l *TxLake) recordURL(seq int64) URL { return l.key(txCommits + fmt.Sprintf("%020d.json", seq)) }

// replayLast applies the newest commit record if it is not marked applied
// and returns its seq.
func (l *TxLake) replayLast(ctx context.Context) (int64, error) {
	recs, err := l.c.ListAll(ctx, l.key(txCommits))
	if err != nil {
		return 0, err
	}
	var last int64
	for _, o := range recs {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(o.URL.Key, l.key(txCommits).Key), ".json"), 10, 64)
		if err == nil && n > last {
			last = n
		}
	}
	if last == 0 {
		return 0, nil
	}
	rec, etag, err := l.readRecord(ctx, l.recordURL(last))
	if err != nil {
		return 0, err
	}
	if !rec.Applied {
		if err := l.apply(ctx, rec, etag, nil); err != nil {
			return 0, fmt.Errorf("objstore: replay commit %d of run %s: %w", rec.Seq, rec.RunID, err)
		}
	}
	return last, nil
}

func (l *TxLake) readRecord(ctx context.Context, u URL) (*commitRecord, string, error) {
	out, err := l.c.c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key})
	if err != nil {
		return nil, "", l.c.c.classify("read", u, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", l.c.c.classify("read", u, err)
	}
	var rec commitRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, "", fmt.Errorf("%w: objstore: commit record %s: %v", errkind.BadInput, u, err)
	}
	return &rec, aws.ToString(out.ETag), nil
}

func (t *Tx) stageKey(dir, name string) URL {
	return t.l.key(txTmp + t.runID + "/" + txStage + dir + "/" + name)
}

// Stage marks a partition as part of the transaction (with no files, the
// commit removes it).
func (t *Tx) Stage(table, partition string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := partDir(table, partition)
	if t.parts[d] == nil {
		t.parts[d] = &TxManifest{Table: table, Partition: partition}
	}
}

// Put stages one data file (see Create).
func (t *Tx) Put(ctx context.Context, table, partition, name string, data []byte) error {
	w, err := t.Create(ctx, table, partition, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// TxWriter streams one staged data file, hashing what it writes.
type TxWriter struct {
	t    *Tx
	dir  string
	name string
	dst  URL
	w    *Writer
	h    hash.Hash
	n    int64
}

// Create starts a staged data file. Names must be deterministic (the same
// content under the same name: COMMIT.md). The intent record naming its key
// is written before the upload starts, so a kill mid-upload leaves nothing
// Begin cannot find.
func (t *Tx) Create(ctx context.Context, table, partition, name string) (*TxWriter, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") || name == txManifest {
		return nil, fmt.Errorf("objstore: bad file name %q", name)
	}
	t.Stage(table, partition)
	d := partDir(table, partition)
	dst := t.stageKey(d, name)
	t.mu.Lock()
	t.intent++
	in := t.l.key(txTmp + t.runID + "/" + txIntent + strconv.Itoa(t.intent))
	t.mu.Unlock()
	if _, err := t.l.c.PutBytes(ctx, in, []byte(dst.Key), PutOptions{}); err != nil {
		return nil, err
	}
	return &TxWriter{t: t, dir: d, name: name, dst: dst, w: t.l.c.Create(ctx, dst, PutOptions{}), h: sha256.New()}, nil
}

// Write writes to the file.
func (w *TxWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Abort discards the file.
func (w *TxWriter) Abort() { w.w.Abort() }

// Close finishes the upload, verifies that the store holds what was written
// and adds the file to its partition's manifest.
func (w *TxWriter) Close() error {
	res, err := w.w.Close()
	if err != nil {
		return err
	}
	t := w.t
	if info, err := t.l.c.Stat(context.Background(), w.dst); err != nil {
		return err
	} else if info.Size != w.n || info.ETag != res.ETag {
		return fmt.Errorf("%w: objstore: staged %s: store has %d bytes, ETag %s; wrote %d, %s", errkind.Transient, w.dst, info.Size, info.ETag, w.n, res.ETag)
	}
	t.mu.Lock()
	m := t.parts[w.dir]
	m.Files = slices.DeleteFunc(m.Files, func(e TxFileEntry) bool { return e.Name == w.name })
	m.Files = append(m.Files, TxFileEntry{Name: w.name, Bytes: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil))})
	t.mu.Unlock()
	return nil
}

func (t *Tx) hook(step string) error {
	if t.Hook == nil {
		return nil
	}
	return t.Hook(step)
}

// Commit writes the manifests, creates the commit record (the commit
// point: create-only, so of two writers only one commits a given seq),
// applies it and releases the lock. An error before the commit point
// leaves the lake as it was; after it, the next Begin completes the commit.
func (t *Tx) Commit(ctx context.Context) error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return errors.New("objstore: transaction already finished")
	}
	t.done = true
	dirs := make([]string, 0, len(t.parts))
	for d := range t.parts {
		dirs = append(dirs, d)
	}
	t.mu.Unlock()
	slices.Sort(dirs)
	rec := &commitRecord{Seq: t.next, RunID: t.runID, LeaseSeq: t.lease.Record().Seq}
	for _, d := range dirs {
		m := t.parts[d]
		slices.SortFunc(m.Files, func(a, b TxFileEntry) int { return strings.Compare(a.Name, b.Name) })
		ops := commitOps{Dir: d}
		keep := map[string]bool{}
		if len(m.Files) > 0 {
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return err
			}
			if _, err := t.l.c.PutBytes(ctx, t.stageKey(d, txManifest), b, PutOptions{ContentType: "application/json"}); err != nil {
				return err
			}
			for _, f := range m.Files {
				ops.Copy = append(ops.Copy, f.Name)
				keep[f.Name] = true
			}
			ops.Copy = append(ops.Copy, txManifest) // the manifest last
			keep[txManifest] = true
		}
		// Everything under the partition the new one does not name goes:
		// the old files and any stray.
		cur, err := t.l.c.ListAll(ctx, t.l.key(d+"/"))
		if err != nil {
			return err
		}
		for _, o := range cur {
			if name := strings.TrimPrefix(o.URL.Key, t.l.key(d+"/").Key); !keep[name] {
				ops.Delete = append(ops.Delete, name)
			}
		}
		rec.Parts = append(rec.Parts, ops)
	}
	if err := t.hook("staged"); err != nil {
		return err
	}
	if !t.lease.Valid() {
		return fmt.Errorf("%w: objstore: the lake lock expired before the commit", errkind.Transient)
	}
	if err := t.hook("validated"); err != nil { // a pause here is what the fence is for
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	recURL := t.l.recordURL(rec.Seq)
	res, err := t.l.c.PutBytes(ctx, recURL, b, PutOptions{IfNoneMatch: true, ContentType: "application/json"}) // commit point
	if err != nil {
		if errors.Is(err, ErrPrecondition) {
			return fmt.Errorf("objstore: another writer committed %s first; nothing of run %s was published: %w", recURL, t.runID, err)
		}
		return err
	}
	if err := t.hook("committed"); err != nil {
		return err
	}
	if err := t.l.apply(ctx, rec, res.ETag, t.hook); err != nil {
		return fmt.Errorf("objstore: publish (the next Begin completes it): %w", err)
	}
	if err := t.hook("cleaned"); err != nil {
		return err
	}
	return t.lease.Release(ctx)
}

// apply copies a commit record's staged files into place, deletes what the
// new partitions do not name, marks the record applied (compare-and-swap on
// etag) and removes the run's staging area. It is idempotent: replaying it
// after a crash at any point finishes the job.
func (l *TxLake) apply(ctx context.Context, rec *commitRecord, etag string, hook func(string) error) error {
	if hook == nil {
		hook = func(string) error { return nil }
	}
	stage := l.key(txTmp + rec.RunID + "/" + txStage)
	for _, p := range rec.Parts {
		var g errgroup.Group
		g.SetLimit(8)
		data, manifest := p.Copy, []string(nil)
		if n := len(p.Copy); n > 0 && p.Copy[n-1] == txManifest {
			data, manifest = p.Copy[:n-1], p.Copy[n-1:]
		}
		for _, batch := range [][]string{data, manifest} { // data files, then the manifest
			for _, name := range batch {
				g.Go(func() error {
					return l.c.copyObject(ctx, URL{Bucket: stage.Bucket, Key: stage.Key + p.Dir + "/" + name}, l.key(p.Dir+"/"+name))
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
		}
		if err := hook("copied " + p.Dir); err != nil {
			return err
		}
		keys := make([]string, len(p.Delete))
		for i, name := range p.Delete {
			keys[i] = l.key(p.Dir + "/" + name).Key
		}
		if err := l.c.DeleteMany(ctx, l.root.Bucket, keys); err != nil {
			return err
		}
		if err := hook("deleted " + p.Dir); err != nil {
			return err
		}
	}
	done := *rec
	done.Applied = true
	b, err := json.MarshalIndent(&done, "", "  ")
	if err != nil {
		return err
	}
	recURL := l.recordURL(rec.Seq)
	if _, err := l.c.PutBytes(ctx, recURL, b, PutOptions{IfMatch: etag, ContentType: "application/json"}); err != nil && !errors.Is(err, ErrPrecondition) {
		return err // a lost swap: a concurrent replay marked it first
	}
	if err := hook("applied"); err != nil {
		return err
	}
	staged, err := l.c.ListAll(ctx, l.key(txTmp+rec.RunID+"/"))
	if err != nil {
		return err
	}
	keys := make([]string, len(staged))
	for i, o := range staged {
		keys[i] = o.URL.Key
	}
	return l.c.DeleteMany(ctx, l.root.Bucket, keys)
}

// copyObject copies src to dst inside the store (no bytes through us).
// Objects over 5 GiB would need a multipart copy; the lake's files are far
// smaller.
func (c *Client) copyObject(ctx context.Context, src, dst URL) error {
	segs := strings.Split(src.Key, "/")
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
	}
	_, err := c.c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst.Bucket, Key: &dst.Key,
		CopySource: aws.String(src.Bucket + "/" + strings.Join(segs, "/"))})
	return c.c.classify("copy", dst, err)
}

// Abort discards the transaction's staged files and releases the lock. It is
// a no-op after Commit.
func (t *Tx) Abort(ctx context.Context) error {
	t.mu.Lock()
	done := t.done
	t.done = true
	t.mu.Unlock()
	if done {
		return nil
	}
	staged, err := t.l.c.ListAll(ctx, t.l.key(txTmp+t.runID+"/"))
	if err == nil {
		keys := make([]string, len(staged))
		for i, o := range staged {
			keys[i] = o.URL.Key
		}
		err = t.l.c.DeleteMany(ctx, t.l.root.Bucket, keys)
	}
	if rerr := t.lease.Release(ctx); err == nil {
		err = rerr
	}
	return err
}

// ReadManifest reads a committed partition's manifest (fs.ErrNotExist when
// there is none).
func (l *TxLake) ReadManifest(ctx context.Context, table, partition string) (*TxManifest, error) {
	u := l.key(partDir(table, partition) + "/" + txManifest)
	rc, err := l.c.Open(ctx, u, 0, -1, "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m TxManifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: objstore: %s: %v", errkind.BadInput, u, err)
	}
	return &m, nil
}
