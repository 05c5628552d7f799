package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/internal/secret"
)

func TestMain(m *testing.M) {
	if os.Getenv("OBJSTORE_KILL_CHILD") == "1" {
		killChild() // never returns: the parent kills it
	}
	os.Exit(miniotest.Main(m))
}

// isolate shuts the machine's AWS settings out of the test.
func isolate(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// testConfig is a Config for env's server with static credentials, small
// parts and short backoffs.
func testConfig(env miniotest.Env) objstore.Config {
	return objstore.Config{
		Endpoint:        env.Endpoint,
		Region:          env.Region,
		AccessKeyID:     secret.NewValue(env.AccessKey),
		SecretAccessKey: secret.NewValue(env.SecretKey),
		MaxAttempts:     3,
		MaxBackoff:      20 * time.Millisecond,
		PartSize:        5 << 20,
		Concurrency:     2,
	}
}

func newClient(t *testing.T, cfg objstore.Config) *objstore.Client {
	t.Helper()
	c, err := objstore.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t *testing.T) (*objstore.Client, miniotest.Env) {
	t.Helper()
	isolate(t)
	env := miniotest.New(t)
	return newClient(t, testConfig(env)), env
}

// setupParallel is setup for a test that runs in parallel with others (the
// waits for leases to expire): it cannot shut the environment out, so it
// relies on testConfig's explicit endpoint and credentials.
func setupParallel(t *testing.T) (*objstore.Client, miniotest.Env) {
	t.Helper()
	t.Parallel()
	env := miniotest.New(t)
	return newClient(t, testConfig(env)), env
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    objstore.URL
		wantErr bool
	}{
		{"s3://bucket", objstore.URL{Bucket: "bucket"}, false},
		{"s3://bucket/", objstore.URL{Bucket: "bucket"}, false},
		{"s3://my.bucket-1/logs/2018/11/", objstore.URL{Bucket: "my.bucket-1", Key: "logs/2018/11/"}, false},
		{"s3://b-1/a b/c=d/*.json", objstore.URL{Bucket: "b-1", Key: "a b/c=d/*.json"}, false},
		{"s3://b-1//x", objstore.URL{Bucket: "b-1", Key: "/x"}, false},
		{"/local/path", objstore.URL{}, true},
		{"s3:/bucket/key", objstore.URL{}, true},
		{"s3://", objstore.URL{}, true},
		{"s3://ab/k", objstore.URL{}, true},
		{"s3://Bucket/k", objstore.URL{}, true},
		{"s3://bucket_x/k", objstore.URL{}, true},
		{"s3://-bucket/k", objstore.URL{}, true},
		{"s3://a..b/k", objstore.URL{}, true},
		{"s3://bucket/a\nb", objstore.URL{}, true},
	}
	for _, tc := range tests {
		got, err := objstore.ParseURL(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseURL(%q) error = %v, wantErr %t", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, exitcode.ErrUsage) {
				t.Errorf("ParseURL(%q) error %v does not wrap ErrUsage", tc.in, err)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if back, err := objstore.ParseURL(got.String()); err != nil || back != got {
			t.Errorf("ParseURL(%q).String() = %q does not parse back", tc.in, got.String())
		}
	}
	u := objstore.URL{Bucket: "b-1", Key: "lake"}
	if got := u.Join("bronze/events", "dt=2018-10-01", "part-0.parquet").String(); got != "s3://b-1/lake/bronze/events/dt=2018-10-01/part-0.parquet" {
		t.Errorf("Join = %s", got)
	}
	if got := u.Dir().String(); got != "s3://b-1/lake/" {
		t.Errorf("Dir = %s", got)
	}
}

func TestIntegrationPutStatRead(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	small := objstore.URL{Bucket: env.Bucket, Key: "dir/small.bin"}
	data := randBytes(100_000)
	before := time.Now().Add(-2 * time.Second)
	res, err := c.PutBytes(ctx, small, data, objstore.PutOptions{ContentType: "application/octet-stream", Metadata: map[string]string{"sha": "x1"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Stat(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.ETag == "" || info.ETag != res.ETag || info.ModTime.Before(before) || info.Metadata["sha"] != "x1" {
		t.Fatalf("Stat = %+v, put %+v; want size %d, same ETag, recent mtime, metadata", info, res, len(data))
	}
	// A ranged read from the middle.
	rc, err := c.Open(ctx, small, 1000, 5000, info.ETag)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[1000:6000]) {
		t.Fatalf("ranged read: %d bytes, err %v; want bytes 1000..6000", len(got), err)
	}
	// From an offset to the end.
	rc, err = c.Open(ctx, small, 99_000, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data[99_000:]) {
		t.Fatalf("tail read: %d bytes", len(got))
	}
	// ReaderAt, as a Parquet reader uses it (footer at the end, short read).
	ra, err := c.OpenReaderAt(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := ra.ReadAt(buf, ra.Size()-8); n != 8 || err != nil || !bytes.Equal(buf, data[len(data)-8:]) {
		t.Fatalf("ReadAt footer: n %d err %v", n, err)
	}
	if n, err := ra.ReadAt(make([]byte, 100), ra.Size()-10); n != 10 || err != io.EOF {
		t.Fatalf("ReadAt past the end: n %d err %v, want 10, EOF", n, err)
	}
	sr := io.NewSectionReader(ra, 0, ra.Size())
	if all, err := io.ReadAll(sr); err != nil || !bytes.Equal(all, data) {
		t.Fatalf("SectionReader over ReaderAt: %d bytes, %v", len(all), err)
	}
	// A read pinned to an ETag fails once the object is replaced.
	if _, err := c.PutBytes(ctx, small, []byte("replaced"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ra.ReadAt(buf, 0); objstore.KindOf(err) != objstore.KindPrecondition {
		t.Fatalf("ReadAt of a replaced object: %v, want KindPrecondition", err)
	}
}

// onlyReader hides io.Seeker so the upload cannot know the size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestIntegrationMultipartAndParallelRead(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	big := objstore.URL{Bucket: env.Bucket, Key: "big/events.json"}
	data := randBytes(23<<20 + 12345) // 5 parts of 5 MiB
	res, err := c.Put(ctx, big, onlyReader{bytes.NewReader(data)}, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart ETag is "<md5 of part md5s>-<parts>".
	if !strings.HasSuffix(strings.Trim(res.ETag, `"`), "-5") || res.Size != int64(len(data)) {
		t.Fatalf("Put = %+v; want a 5-part multipart upload of %d bytes", res, len(data))
	}
	r, info, err := c.NewReader(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) || info.Size != int64(len(data)) || info.ETag != res.ETag {
		t.Fatalf("parallel read: %d bytes, err %v, info %+v", len(got), err, info)
	}
	// Streaming writer: the same through Create.
	w := c.Create(ctx, objstore.URL{Bucket: env.Bucket, Key: "big/streamed.json"}, objstore.PutOptions{})
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := w.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	wres, err := w.Close()
	if err != nil || wres.Size != int64(len(data)) {
		t.Fatalf("Writer.Close = %+v, %v", wres, err)
	}
	r, _, err = c.NewReader(ctx, wres.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("streamed object differs")
	}
	// A reader closed early stops without error.
	r, _, err = c.NewReader(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestIntegrationConditionalPut(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "_commits/000001.json"}
	first, err := c.PutBytes(ctx, u, []byte("one"), objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutBytes(ctx, u, []byte("two"), objstore.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, objstore.ErrPrecondition) || exitcode.Code(err) != exitcode.Transient {
		t.Fatalf("second create-only PUT: %v (exit %d), want ErrPrecondition, exit 4", err, exitcode.Code(err))
	}
	// Compare-and-swap on the ETag.
	if _, err := c.PutBytes(ctx, u, []byte("three"), objstore.PutOptions{IfMatch: `"0123456789abcdef0123456789abcdef"`}); !errors.Is(err, objstore.ErrPrecondition) {
		t.Fatalf("PUT If-Match a wrong ETag: %v, want ErrPrecondition", err)
	}
	swapped, err := c.PutBytes(ctx, u, []byte("four"), objstore.PutOptions{IfMatch: first.ETag})
	if err != nil {
		t.Fatalf("PUT If-Match the current ETag: %v", err)
	}
	if _, err := c.PutBytes(ctx, u, []byte("five"), objstore.PutOptions{IfMatch: first.ETag}); !errors.Is(err, objstore.ErrPrecondition) {
		t.Fatalf("PUT If-Match a stale ETag: %v, want ErrPrecondition", err)
	}
	if _, err := c.PutBytes(ctx, objstore.URL{Bucket: env.Bucket, Key: "absent"}, []byte("x"), objstore.PutOptions{IfMatch: first.ETag}); objstore.KindOf(err) != objstore.KindPrecondition && objstore.KindOf(err) != objstore.KindNotFound {
		t.Fatalf("PUT If-Match on a missing key: %v, want a failure", err)
	}
	rc, _ := c.Open(ctx, u, 0, -1, swapped.ETag)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "four" {
		t.Fatalf("content %q, want four", b)
	}

	// Writers racing to create one key: exactly one wins, small and
	// multipart (the condition is checked when the upload completes).
	for _, size := range []int{10, 6 << 20} {
		key := objstore.URL{Bucket: env.Bucket, Key: fmt.Sprintf("race/%d", size)}
		var wins, lost atomic.Int32
		var g errgroup.Group
		for i := range 6 {
			g.Go(func() error {
				_, err := c.PutBytes(ctx, key, bytes.Repeat([]byte{byte('a' + i)}, size), objstore.PutOptions{IfNoneMatch: true})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, objstore.ErrPrecondition):
					lost.Add(1)
				default:
					return err
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if wins.Load() != 1 || lost.Load() != 5 {
			t.Fatalf("size %d: %d writers won and %d lost, want 1 and 5", size, wins.Load(), lost.Load())
		}
		if ups, err := c.ListUploads(ctx, key); err != nil || len(ups) != 0 {
			t.Fatalf("size %d: losers left uploads %v (%v)", size, ups, err)
		}
	}
}

func TestIntegrationMissing(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	missing := objstore.URL{Bucket: env.Bucket, Key: "no/such.json"}
	check := func(what string, err error, kind objstore.Kind, want ...string) {
		t.Helper()
		if objstore.KindOf(err) != kind || exitcode.Code(err) != exitcode.BadInput {
			t.Errorf("%s: %v (kind %v, exit %d), want %v, exit 3", what, err, objstore.KindOf(err), exitcode.Code(err), kind)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not name %q", what, err, w)
			}
		}
	}
	_, err := c.Stat(ctx, missing)
	check("stat", err, objstore.KindNotFound, missing.String())
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("stat of a missing object: %v is not fs.ErrNotExist", err)
	}
	_, err = c.Open(ctx, missing, 0, -1, "")
	check("get", err, objstore.KindNotFound, missing.String())
	_, _, err = c.NewReader(ctx, missing)
	check("parallel get", err, objstore.KindNotFound, missing.String())
	_, err = c.Expand(ctx, objstore.URL{Bucket: env.Bucket, Key: "logs/2018/"})
	check("expand", err, objstore.KindNotFound, "s3://"+env.Bucket+"/logs/2018/")

	nob := objstore.URL{Bucket: "no-such-bucket-x", Key: "lake/bronze/x.parquet"}
	_, err = c.Stat(ctx, nob)
	check("stat, no bucket", err, objstore.KindNoBucket, `"no-such-bucket-x"`, `"lake/bronze/x.parquet"`)
	_, err = c.Open(ctx, nob, 0, -1, "")
	check("get, no bucket", err, objstore.KindNoBucket, `"no-such-bucket-x"`)
	_, err = c.PutBytes(ctx, nob, []byte("x"), objstore.PutOptions{})
	check("put, no bucket", err, objstore.KindNoBucket, `"no-such-bucket-x"`, `"lake/bronze/x.parquet"`)
	_, err = c.ListAll(ctx, nob)
	check("list, no bucket", err, objstore.KindNoBucket, `"no-such-bucket-x"`)
	_, err = c.Expand(ctx, nob)
	check("expand, no bucket", err, objstore.KindNoBucket, `"no-such-bucket-x"`)
}

func TestIntegrationDenied(t *testing.T) {
	_, env := setup(t)
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "lake/runs/r1.json"}
	for name, cfg := range map[string]objstore.Config{
		"wrong secret": func() objstore.Config {
			c := testConfig(env)
			c.SecretAccessKey = secret.NewValue("wrong-secret-value-123")
			return c
		}(),
		"unknown key": func() objstore.Config {
			c := testConfig(env)
			c.AccessKeyID = secret.NewValue("AKIAUNKNOWNKEY000001")
			return c
		}(),
		"session token": func() objstore.Config {
			c := testConfig(env)
			c.SessionToken = secret.NewValue("bogus-session-token-xyz")
			return c
		}(),
	} {
		c := newClient(t, cfg)
		for op, f := range map[string]func() error{
			"stat": func() error { _, err := c.Stat(ctx, u); return err },
			"put":  func() error { _, err := c.PutBytes(ctx, u, []byte("x"), objstore.PutOptions{}); return err },
			"list": func() error { _, err := c.ListAll(ctx, u); return err },
		} {
			err := f()
			if objstore.KindOf(err) != objstore.KindDenied || exitcode.Code(err) != exitcode.BadInput {
				t.Errorf("%s, %s: %v (exit %d), want KindDenied, exit 3", name, op, err, exitcode.Code(err))
				continue
			}
			if !strings.Contains(err.Error(), `"`+env.Bucket+`"`) || !strings.Contains(err.Error(), `"lake/runs/r1.json"`) {
				t.Errorf("%s, %s: %q does not name the bucket and key", name, op, err)
			}
		}
	}
}

func TestIntegrationListGlobExpand(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	keys := []string{
		"lake/bronze/events/dt=2018-10-01/part-a.parquet",
		"lake/bronze/events/dt=2018-10-01/part-b.parquet",
		"lake/bronze/events/dt=2018-10-01/_manifest.json",
		"lake/bronze/events/dt=2018-10-02/part-a.parquet",
		"lake/bronze/events/dt=2018-10-02/nested/deeper.parquet",
		"lake/bronze/events.parquet",
		"lake/.tmp/run1/stage/bronze/events/dt=2018-10-03/part-a.parquet",
		"logs/2018/11/a.json",
		"logs/2018/11/b.json.gz",
		"logs/2018/11/",
		"logs/2018/12/c.json",
		"logs/2018/110.json",
	}
	for _, k := range keys {
		if _, err := c.PutBytes(ctx, objstore.URL{Bucket: env.Bucket, Key: k}, []byte(k), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(infos []objstore.ObjectInfo) []string {
		var out []string
		for _, o := range infos {
			out = append(out, o.URL.Key)
		}
		return out
	}
	u := func(k string) objstore.URL { return objstore.URL{Bucket: env.Bucket, Key: k} }
	tests := []struct {
		name string
		got  func() ([]objstore.ObjectInfo, error)
		want []string
	}{
		{"glob partitions", func() ([]objstore.ObjectInfo, error) { return c.Glob(ctx, u("lake/bronze/events/dt=*/*.parquet")) },
			[]string{keys[0], keys[1], keys[3]}},
		{"glob one day", func() ([]objstore.ObjectInfo, error) { return c.Glob(ctx, u("lake/bronze/events/dt=2018-10-0[2]/*")) },
			[]string{keys[3]}},
		{"glob no match", func() ([]objstore.ObjectInfo, error) { return c.Glob(ctx, u("lake/silver/*/*.parquet")) }, nil},
		{"list prefix as written", func() ([]objstore.ObjectInfo, error) { return c.ListAll(ctx, u("logs/2018/11")) },
			[]string{"logs/2018/11/", keys[7], keys[8], keys[11]}},
		{"expand dir with slash", func() ([]objstore.ObjectInfo, error) { return c.Expand(ctx, u("logs/2018/11/")) },
			[]string{keys[7], keys[8]}},
		{"expand dir without slash", func() ([]objstore.ObjectInfo, error) { return c.Expand(ctx, u("logs/2018")) },
			[]string{keys[7], keys[8], keys[11], keys[10]}},
		{"expand object", func() ([]objstore.ObjectInfo, error) { return c.Expand(ctx, u("logs/2018/11/a.json")) },
			[]string{keys[7]}},
		{"expand glob", func() ([]objstore.ObjectInfo, error) { return c.Expand(ctx, u("logs/2018/*/*.json")) },
			[]string{keys[7], keys[10]}},
		{"expand bucket", func() ([]objstore.ObjectInfo, error) { return c.Expand(ctx, u("")) },
			slices.DeleteFunc(slices.Sorted(slices.Values(keys)), func(k string) bool { return strings.HasSuffix(k, "/") })},
	}
	for _, tc := range tests {
		infos, err := tc.got()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := names(infos)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", tc.name, got, want)
		}
	}
	if _, err := c.Glob(ctx, u("lake/[")); !errors.Is(err, exitcode.ErrUsage) {
		t.Errorf("bad pattern: %v, want a usage error", err)
	}
}

func TestIntegrationDeleteMany(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	var keys []string
	defer objstore.SetDeleteBatch(7)()
	for i := range 40 { // several DeleteObjects requests
		keys = append(keys, fmt.Sprintf("many/%04d", i))
	}
	var g errgroup.Group
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error {
			_, err := c.PutBytes(ctx, objstore.URL{Bucket: env.Bucket, Key: k}, []byte("x"), objstore.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	keep := objstore.URL{Bucket: env.Bucket, Key: "keep"}
	if _, err := c.PutBytes(ctx, keep, []byte("x"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMany(ctx, env.Bucket, append(keys, "many/absent")); err != nil {
		t.Fatal(err)
	}
	left, err := c.ListAll(ctx, objstore.URL{Bucket: env.Bucket})
	if err != nil || len(left) != 1 || left[0].URL != keep {
		t.Fatalf("after DeleteMany: %d objects left (%v), want only keep", len(left), err)
	}
	if err := c.Delete(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, keep); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := c.Stat(ctx, keep); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after delete: %v", err)
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIntegrationUploadAbortedOnFailure(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	data := randBytes(16 << 20)

	// The reader fails after three parts: the upload is aborted and the
	// error is the reader's.
	u := objstore.URL{Bucket: env.Bucket, Key: "abort/reader-fails.parquet"}
	boom := errors.New("encoder failed")
	_, err := c.Put(ctx, u, &failingReader{data: data, err: boom}, objstore.PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("Put with a failing reader: %v, want the reader's error", err)
	}
	// The writer aborted by its user.
	u2 := objstore.URL{Bucket: env.Bucket, Key: "abort/writer-aborted.parquet"}
	w := c.Create(ctx, u2, objstore.PutOptions{})
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	// The context cancelled mid-upload.
	u3 := objstore.URL{Bucket: env.Bucket, Key: "abort/cancelled.parquet"}
	cctx, cancel := context.WithCancel(ctx)
	w = c.Create(cctx, u3, objstore.PutOptions{})
	if _, err := w.Write(data[:12<<20]); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel: %v, want context.Canceled", err)
	}
	for _, k := range []objstore.URL{u, u2, u3} {
		if _, err := c.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a failed upload: %v", k, err)
		}
		ups, err := c.ListUploads(ctx, k)
		if err != nil || len(ups) != 0 {
			t.Errorf("%s: incomplete uploads left: %v (%v)", k, ups, err)
		}
	}
}

// TestIntegrationAbortLeftUploads leaves incomplete uploads as a killed run
// does (parts uploaded, never completed) and cleans them up.
func TestIntegrationAbortLeftUploads(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	raw := c.S3()
	keys := []string{"lake/bronze/events/dt=2018-10-01/part-x.parquet", "lake/silver/events/dt=2018-10-01/part-x.parquet"}
	for _, k := range keys {
		out, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &env.Bucket, Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.UploadPart(ctx, &s3.UploadPartInput{Bucket: &env.Bucket, Key: aws.String(k), UploadId: out.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(randBytes(5 << 20))}); err != nil {
			t.Fatal(err)
		}
	}
	// Listed invisible: a reader sees no object.
	if objs, err := c.ListAll(ctx, objstore.URL{Bucket: env.Bucket, Key: "lake/"}); err != nil || len(objs) != 0 {
		t.Fatalf("incomplete uploads are visible to listing: %v (%v)", objs, err)
	}
	for _, k := range keys {
		ups, err := c.ListUploads(ctx, objstore.URL{Bucket: env.Bucket, Key: k})
		if err != nil || len(ups) != 1 || ups[0].URL.Key != k || ups[0].UploadID == "" || ups[0].Initiated.IsZero() {
			t.Fatalf("ListUploads(%s) = %+v (%v), want the one upload", k, ups, err)
		}
	}
	// What a whole-prefix listing finds is store-specific (MinIO lists the
	// uploads of one exact key only); say what this server does.
	ups, err := c.ListUploads(ctx, objstore.URL{Bucket: env.Bucket, Key: "lake/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ListUploads(prefix lake/) on this MinIO finds %d of the %d uploads", len(ups), len(keys))
	// Uploads initiated after the cutoff are kept.
	if n, err := c.AbortUploads(ctx, objstore.URL{Bucket: env.Bucket, Key: keys[0]}, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("AbortUploads(older than an hour) = %d, %v; want 0", n, err)
	}
	for _, k := range keys {
		n, err := c.AbortUploads(ctx, objstore.URL{Bucket: env.Bucket, Key: k}, time.Time{})
		if err != nil || n != 1 {
			t.Fatalf("AbortUploads(%s) = %d, %v; want 1", k, n, err)
		}
		if ups, _ := c.ListUploads(ctx, objstore.URL{Bucket: env.Bucket, Key: k}); len(ups) != 0 {
			t.Fatalf("%s: uploads left after abort: %v", k, ups)
		}
	}
	// Aborting again is fine.
	if err := c.AbortUpload(ctx, objstore.Upload{URL: objstore.URL{Bucket: env.Bucket, Key: keys[0]}, UploadID: "gone"}); err != nil {
		t.Fatalf("aborting a gone upload: %v", err)
	}
}

func TestIntegrationRandomRanges(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "ranges.bin"}
	data := randBytes(1 << 20)
	if _, err := c.PutBytes(ctx, u, data, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ra, err := c.OpenReaderAt(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		seed := rng.Uint64()
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(seed, 0))
			for range 20 {
				off := r.IntN(len(data))
				n := r.IntN(len(data)-off) + 1
				buf := make([]byte, n)
				if got, err := ra.ReadAt(buf, int64(off)); got != n || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[off:off+n]) {
					t.Errorf("ReadAt(%d, %d) = %d, %v", n, off, got, err)
				}
			}
		}()
	}
	wg.Wait()
}

// On a versioned bucket every write has a version id, and Stat gives the
// current one.
func TestIntegrationVersionedBucket(t *testing.T) {
	c, env := setup(t)
	ctx := context.Background()
	if _, err := c.S3().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &env.Bucket,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	u := objstore.URL{Bucket: env.Bucket, Key: "ledger/input.json"}
	first, err := c.PutBytes(ctx, u, []byte("v1"), objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.PutBytes(ctx, u, []byte("v2!"), objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Stat(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if first.VersionID == "" || second.VersionID == "" || first.VersionID == second.VersionID || info.VersionID != second.VersionID || info.Size != 3 {
		t.Fatalf("versions %q, %q; Stat %+v: want two distinct ids, Stat on the second", first.VersionID, second.VersionID, info)
	}
}
