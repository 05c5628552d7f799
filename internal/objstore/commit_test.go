package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/churnctl/churnctl/internal/objstore"
)

// A data file whose name is derived from its content, as COMMIT.md asks:
// the same name always holds the same bytes.
type dataFile struct {
	name string
	data []byte
}

func mkFile(seed string, size int) dataFile {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s row %d\n", seed, i)
	}
	data := b.Bytes()[:size]
	sum := sha256.Sum256(data)
	return dataFile{name: "part-" + hex.EncodeToString(sum[:6]) + ".parquet", data: data}
}

// version is a lake state: partition -> files (no entry: no partition).
type version map[string][]dataFile

func (v version) names(part string) []string {
	var out []string
	for _, f := range v[part] {
		out = append(out, f.name)
	}
	slices.Sort(out)
	return out
}

var (
	fA1, fB1, fC1 = mkFile("a1", 3000), mkFile("b1", 2000), mkFile("c1", 4000)
	fA2, fD2      = mkFile("a2", 1000), mkFile("d2", 1500)
	fA3           = mkFile("a3", 800)
	fX4, fBig4    = mkFile("x4", 700), mkFile("big4", 5<<20+100) // a multipart upload
	v1            = version{"dt=1": {fA1, fB1}, "dt=2": {fA2}, "dt=3": {fA3}}
	// v2 replaces dt=1 (keeps a1, drops b1, adds c1), appends one file to
	// dt=2, removes dt=3 and adds dt=4.
	v2 = version{"dt=1": {fA1, fC1}, "dt=2": {fA2, fD2}, "dt=4": {fX4, fBig4}}
)

func writeVersion(t *testing.T, l *objstore.TxLake, runID string, v version, drop []string, hook func(string) error) error {
	t.Helper()
	ctx := context.Background()
	tx, err := l.Begin(ctx, runID)
	if err != nil {
		t.Fatalf("begin %s: %v", runID, err)
	}
	tx.Hook = hook
	for _, part := range slices.Sorted(maps.Keys(v)) {
		for _, f := range v[part] {
			if err := tx.Put(ctx, "events", part, f.name, f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, part := range drop {
		tx.Stage("events", part)
	}
	err = tx.Commit(ctx)
	if err != nil && hook != nil {
		// The run was "killed": its lease stays behind. Expiry is
		// tested with the lease itself; here the next run may go on.
		_ = tx.Lease().Release(ctx)
	}
	return err
}

// lakeState lists the table as a plain reader would (a glob over the
// partitions) and reads every manifest.
func lakeState(t *testing.T, c *objstore.Client, root objstore.URL) (map[string][]string, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	objs, err := c.Glob(ctx, root.Join("events/dt=*/*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]string{}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.URL.Key, root.Dir().Key+"events/")
		part, name, _ := strings.Cut(rel, "/")
		files[part] = append(files[part], name)
	}
	l := objstore.NewTxLake(c, root)
	manifests := map[string][]string{}
	for part := range files {
		m, err := l.ReadManifest(ctx, "events", part)
		if err != nil {
			t.Fatalf("manifest of %s: %v", part, err)
		}
		for _, f := range m.Files {
			manifests[part] = append(manifests[part], f.Name)
		}
	}
	return files, manifests
}

func wantVersion(t *testing.T, what string, c *objstore.Client, root objstore.URL, v version, recovered bool) {
	t.Helper()
	files, manifests := lakeState(t, c, root)
	want := map[string][]string{}
	for part := range v {
		want[part] = v.names(part)
	}
	if !maps.EqualFunc(files, want, slices.Equal) || !maps.EqualFunc(manifests, want, slices.Equal) {
		t.Fatalf("%s: listing %v, manifests %v; want %v", what, files, manifests, want)
	}
	if !recovered {
		return
	}
	// Nothing staged is left.
	ctx := context.Background()
	left, err := c.ListAll(ctx, root.Join(".tmp/"))
	if err != nil || len(left) != 0 {
		t.Fatalf("%s: staging left behind: %v (%v)", what, left, err)
	}
}

// TestIntegrationCommitCrashAtEveryStep kills a transaction at every step of
// its commit while a plain reader lists the partitions in a loop, then lets
// the next run recover, and checks: before the commit point the lake is
// exactly v1, from it on exactly v2; the reader never saw an object that is
// in neither version (nothing staged, nothing stray), never a partial or
// corrupt object, and saw the partition that gains one file (dt=2) always
// whole; what it saw of a partition changing several files is logged (the
// window COMMIT.md describes).
func TestIntegrationCommitCrashAtEveryStep(t *testing.T) {
	c, env := setupParallel(t)
	// Find the steps.
	var steps []string
	root0 := objstore.URL{Bucket: env.Bucket, Key: "steps/"}
	l0 := objstore.NewTxLake(c, root0)
	if err := writeVersion(t, l0, "v1", v1, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeVersion(t, l0, "v2", v2, []string{"dt=3"}, func(s string) error { steps = append(steps, s); return nil }); err != nil {
		t.Fatal(err)
	}
	wantVersion(t, "uninterrupted", c, root0, v2, true)
	if len(steps) < 8 {
		t.Fatalf("steps %q: too few", steps)
	}
	crash := errors.New("killed")
	for i, step := range steps {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			t.Parallel()
			crashAt(t, c, objstore.URL{Bucket: env.Bucket, Key: fmt.Sprintf("crash-%02d/", i)}, step, crash)
		})
	}
}

func crashAt(t *testing.T, c *objstore.Client, root objstore.URL, step string, crash error) {
	ctx := context.Background()
	l := objstore.NewTxLake(c, root)
	if err := writeVersion(t, l, "v1", v1, nil, nil); err != nil {
		t.Fatal(err)
	}
	reader := startReader(t, c, root)
	err := writeVersion(t, l, "v2", v2, []string{"dt=3"}, func(s string) error {
		if s == step {
			return crash
		}
		return nil
	})
	if !errors.Is(err, crash) {
		t.Fatalf("step %s: commit returned %v, want the crash", step, err)
	}
	committed := step != "staged" && step != "validated"
	if !committed {
		wantVersion(t, "killed at "+step+", before the next run", c, root, v1, false)
	}
	// What a kill in the middle of staging a large file leaves: its intent
	// record and an incomplete multipart upload with a part in it.
	killed := root.Join(".tmp/v2/stage/events/dt=9/part-killed.parquet")
	if !committed {
		raw := c.S3()
		if _, err := c.PutBytes(ctx, root.Join(".tmp/v2/intent/99"), []byte(killed.Key), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		up, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &killed.Bucket, Key: &killed.Key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.UploadPart(ctx, &s3.UploadPartInput{Bucket: &killed.Bucket, Key: &killed.Key, UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(randBytes(5 << 20))}); err != nil {
			t.Fatal(err)
		}
	}
	// The next run recovers (and commits nothing of its own).
	tx, err := l.Begin(ctx, "next")
	if err != nil {
		t.Fatalf("step %s: recovery: %v", step, err)
	}
	if err := tx.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	snaps := reader.stop()
	want := v1
	if committed {
		want = v2
	}
	wantVersion(t, "killed at "+step+", recovered", c, root, want, true)
	for _, u := range []objstore.URL{root.Join(".tmp/v2/stage/events/dt=4/" + fBig4.name), killed} {
		if ups, err := c.ListUploads(ctx, u); err != nil || len(ups) != 0 {
			t.Fatalf("step %s: uploads left at %s: %v %v", step, u, ups, err)
		}
	}
	mixed := checkSnapshots(t, step, snaps, committed)
	t.Logf("killed at %-14s: reader took %d listings, %d showed dt=1 neither as v1 nor as v2", step, len(snaps), mixed)
}

// TestIntegrationCommitTwoWriters: the lake lock keeps a second writer out;
// a writer that lost the lock while paused just before its commit point
// cannot commit after the next writer recovered the lake (the fence).
func TestIntegrationCommitTwoWriters(t *testing.T) {
	a, env := setup(t)
	b := newClient(t, testConfig(env))
	ctx := context.Background()
	root := objstore.URL{Bucket: env.Bucket, Key: "lake/"}
	la, lb := objstore.NewTxLake(a, root), objstore.NewTxLake(b, root)
	la.LeaseTTL, lb.LeaseTTL = time.Second, time.Second
	if err := writeVersion(t, la, "v1", v1, nil, nil); err != nil {
		t.Fatal(err)
	}
	txA, err := la.Begin(ctx, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Begin(ctx, "run-b"); !errors.Is(err, objstore.ErrLeaseHeld) {
		t.Fatalf("second writer: %v, want ErrLeaseHeld", err)
	}
	for _, f := range v2["dt=2"] {
		if err := txA.Put(ctx, "events", "dt=2", f.name, f.data); err != nil {
			t.Fatal(err)
		}
	}
	// A passes its lease check, then pauses past its TTL; B takes the
	// lake over meanwhile and recovers it.
	var bErr error
	txA.Hook = func(step string) error {
		if step != "validated" {
			return nil
		}
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			var txB *objstore.Tx
			if txB, bErr = lb.Begin(ctx, "run-b"); bErr == nil {
				bErr = txB.Abort(ctx)
				return nil
			}
			if !errors.Is(bErr, objstore.ErrLeaseHeld) {
				return nil
			}
		}
		return nil
	}
	err = txA.Commit(ctx)
	if bErr != nil {
		t.Fatalf("B's takeover: %v", bErr)
	}
	if !errors.Is(err, objstore.ErrPrecondition) {
		t.Fatalf("A's commit after losing the lake: %v, want ErrPrecondition", err)
	}
	wantVersion(t, "after the fenced commit", a, root, v1, true)
}

type snapshot map[string][]string

type listingReader struct {
	closeOnce *sync.Once
	stopc     chan struct{}
	done      chan struct{}
	snaps     []snapshot
}

// startReader lists the table's partitions in a loop, as DuckDB or Spark
// would, and reads every object it lists: each must be whole (its content
// hash is its name) or gone (deleted after the listing).
func startReader(t *testing.T, c *objstore.Client, root objstore.URL) *listingReader {
	r := &listingReader{stopc: make(chan struct{}), done: make(chan struct{})}
	ctx := context.Background()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(r.stopc) }); <-r.done })
	r.closeOnce = &once
	go func() {
		defer close(r.done)
		verified := map[string]string{} // ETag -> name
		for {
			select {
			case <-r.stopc:
				return
			default:
			}
			objs, err := c.Glob(ctx, root.Join("events/dt=*/*.parquet"))
			if err != nil {
				t.Errorf("reader: %v", err)
				return
			}
			s := snapshot{}
			for _, o := range objs {
				rel := strings.TrimPrefix(o.URL.Key, root.Dir().Key+"events/")
				part, name, _ := strings.Cut(rel, "/")
				s[part] = append(s[part], name)
				if verified[o.ETag] == name {
					continue // this version of the object was read whole already
				}
				rc, err := c.Open(ctx, o.URL, 0, -1, o.ETag)
				if k := objstore.KindOf(err); k == objstore.KindNotFound || k == objstore.KindPrecondition {
					continue // deleted or replaced since the listing
				}
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				sum := sha256.Sum256(b)
				if err != nil || "part-"+hex.EncodeToString(sum[:6])+".parquet" != name {
					t.Errorf("reader: %s: %d bytes that are not its content (%v)", o.URL, len(b), err)
				}
				verified[o.ETag] = name
			}
			r.snaps = append(r.snaps, s)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return r
}

func (r *listingReader) stop() []snapshot {
	r.closeOnce.Do(func() { close(r.stopc) })
	<-r.done
	return r.snaps
}

// checkSnapshots checks what the reader saw and returns how many listings
// showed dt=1 mixed.
func checkSnapshots(t *testing.T, step string, snaps []snapshot, committed bool) int {
	t.Helper()
	mixed := 0
	for _, s := range snaps {
		for part, names := range s {
			allowed := map[string]bool{}
			for _, n := range append(v1.names(part), v2.names(part)...) {
				allowed[n] = true
			}
			for _, n := range names {
				if !allowed[n] {
					t.Errorf("killed at %s: the reader saw %s/%s, in neither version", step, part, n)
				}
			}
		}
		if !committed && !equalNames(s, v1) {
			t.Errorf("killed at %s (before the commit point): the reader saw %v, want v1", step, s)
		}
		// One object added: the partition flips whole.
		if got := s["dt=2"]; !slices.Equal(got, v1.names("dt=2")) && !slices.Equal(got, v2.names("dt=2")) {
			t.Errorf("killed at %s: the reader saw dt=2 as %v: neither v1 nor v2", step, got)
		}
		if got := s["dt=1"]; !slices.Equal(got, v1.names("dt=1")) && !slices.Equal(got, v2.names("dt=1")) {
			mixed++
		}
	}
	return mixed
}

func equalNames(s snapshot, v version) bool {
	if len(s) != len(v) {
		return false
	}
	for part := range v {
		if !slices.Equal(s[part], v.names(part)) {
			return false
		}
	}
	return true
}
