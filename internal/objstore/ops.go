package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tm "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ObjectInfo describes one object.
type ObjectInfo struct {
	URL       URL
	Size      int64
	ETag      string // as the store quotes it, e.g. "\"9bb58f26192e4ba00f01e2e7b136bbd8\""
	VersionID string // "" when the bucket is not versioned
	ModTime   time.Time
	// Metadata is the user metadata (x-amz-meta-*), from Stat only.
	Metadata map[string]string
}

// Stat returns an object's size, ETag, version id and modification time.
// A missing object is a KindNotFound error naming its URL (KindNoBucket when
// the bucket is missing).
func (c *Client) Stat(ctx context.Context, u URL) (ObjectInfo, error) {
	out, err := c.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.Bucket, Key: &u.Key})
	if err != nil {
		err = c.c.classify("stat", u, err)
		var e *Error
		if errors.As(err, &e) && e.Kind == KindOther && e.Status == 400 {
			// A HEAD response has no body to say what was wrong (a region
			// the store does not serve, a malformed header): ask with a
			// one-byte GET, whose error says it.
			rc, gerr := c.Open(ctx, u, 0, 1, "")
			if gerr != nil {
				if ge := (*Error)(nil); errors.As(gerr, &ge) {
					ge.Op = "stat"
				}
				return ObjectInfo{}, gerr
			}
			rc.Close()
		}
		// HEAD has no body, so a missing bucket looks like a missing key.
		if errors.As(err, &e) && e.Kind == KindNotFound {
			if berr := c.bucketExists(ctx, u); berr != nil {
				return ObjectInfo{}, berr
			}
		}
		return ObjectInfo{}, err
	}
	return ObjectInfo{URL: u, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		VersionID: aws.ToString(out.VersionId), ModTime: aws.ToTime(out.LastModified), Metadata: out.Metadata}, nil
}

// bucketExists returns a KindNoBucket error when u's bucket is missing, nil
// when it exists or cannot be told.
func (c *Client) bucketExists(ctx context.Context, u URL) error {
	_, err := c.c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &u.Bucket})
	if err == nil {
		return nil
	}
	err = c.c.classify("stat", u, err)
	var e *Error
	if errors.As(err, &e) && e.Kind == KindNotFound {
		e.Kind = KindNoBucket
		return e
	}
	return nil
}

// Open returns a streaming reader of n bytes of the object from offset off
// (n < 0: to the end), in one ranged GET. With etag set, the read fails
// with KindPrecondition if the object is no longer that version.
func (c *Client) Open(ctx context.Context, u URL, off, n int64, etag string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key}
	switch {
	case n == 0:
		return io.NopCloser(bytes.NewReader(nil)), nil
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := c.c.s3.GetObject(ctx, in)
	if err != nil {
		return nil, c.c.classify("get", u, err)
	}
	return &body{rc: out.Body, c: c.c, u: u}, nil
}

// body classifies the errors of a response body (a reset connection in
// the middle of a read is transient).
type body struct {
	rc io.ReadCloser
	c  *client
	u  URL
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.c.classify("read", b.u, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// NewReader returns a sequential reader of the whole object that fetches
// it by parallel ranged GETs (Config.Concurrency of Config.PartSize each,
// at most Concurrency × PartSize bytes buffered), all pinned to the ETag
// the first request saw: an object replaced mid-read fails the read rather
// than mixing versions. Close it to stop the downloads.
func (c *Client) NewReader(ctx context.Context, u URL) (io.ReadCloser, ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	out, err := c.c.tm.GetObject(ctx, &tm.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key})
	if err != nil {
		cancel()
		err = c.c.classify("get", u, err)
		var e *Error
		if errors.As(err, &e) && e.Kind == KindNotFound {
			if berr := c.bucketExists(context.WithoutCancel(ctx), u); berr != nil {
				return nil, ObjectInfo{}, berr
			}
		}
		return nil, ObjectInfo{}, err
	}
	info := ObjectInfo{URL: u, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		VersionID: aws.ToString(out.VersionID), ModTime: aws.ToTime(out.LastModified)}
	return &parallelBody{r: out.Body, cancel: cancel, c: c.c, u: u}, info, nil
}

type parallelBody struct {
	r      io.Reader
	cancel context.CancelFunc
	c      *client
	u      URL
	closed bool
}

func (p *parallelBody) Read(b []byte) (int, error) {
	if p.closed {
		return 0, errClosed
	}
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = p.c.classify("get", p.u, err)
	}
	return n, err
}

func (p *parallelBody) Close() error {
	p.closed = true
	p.cancel()
	return nil
}

// ReaderAt reads ranges of one version of an object (for Parquet footers and
// column chunks). Every ReadAt is one ranged GET pinned to the ETag Stat saw.
type ReaderAt struct {
	c    *Client
	ctx  context.Context
	info ObjectInfo
}

// OpenReaderAt stats the object and returns a ReaderAt of that version.
func (c *Client) OpenReaderAt(ctx context.Context, u URL) (*ReaderAt, error) {
	info, err := c.Stat(ctx, u)
	if err != nil {
		return nil, err
	}
	return &ReaderAt{c: c, ctx: ctx, info: info}, nil
}

// Info returns the object's description.
func (r *ReaderAt) Info() ObjectInfo { return r.info }

// Size returns the object's size.
func (r *ReaderAt) Size() int64 { return r.info.Size }

// ReadAt implements io.ReaderAt.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.info.Size {
		return 0, io.EOF
	}
	want := int64(len(p))
	short := false
	if off+want > r.info.Size {
		want, short = r.info.Size-off, true
	}
	rc, err := r.c.Open(r.ctx, r.info.URL, off, want, r.info.ETag)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err == nil && short {
		err = io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = r.c.c.classify("read", r.info.URL, err)
	}
	return n, err
}

// PutOptions are the conditions and headers of a write.
type PutOptions struct {
	// IfNoneMatch makes the write create-only: it fails with
	// KindPrecondition (ErrPrecondition) if the key exists, so of two
	// writers of one key exactly one succeeds.
	IfNoneMatch bool
	// IfMatch makes the write a compare-and-swap: it fails with
	// KindPrecondition unless the object's ETag is IfMatch.
	IfMatch     string
	ContentType string
	Metadata    map[string]string
}

// PutResult is what a successful write created.
type PutResult struct {
	URL       URL
	ETag      string
	VersionID string
	Size      int64
}

// Put writes r to u: one PUT for objects smaller than Config.PartSize,
// else a multipart upload with Config.Concurrency parts in flight and at
// most (Concurrency+1) × PartSize bytes of buffers. A failing reader, a
// failed part or a cancelled context aborts the multipart upload, so no
// parts are left behind (a killed process does leave them: see
// ListUploads). Conditions apply to the final PUT or to completing the
// upload.
func (c *Client) Put(ctx context.Context, u URL, r io.Reader, opts PutOptions) (PutResult, error) {
	cr := &countingReader{r: r}
	in := &tm.UploadObjectInput{Bucket: &u.Bucket, Key: &u.Key, Body: cr, Metadata: opts.Metadata}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		in.IfMatch = aws.String(opts.IfMatch)
	}
	out, err := c.c.tm.UploadObject(ctx, in)
	if err != nil {
		if cr.err != nil && !errors.Is(err, context.Canceled) {
			// The caller's reader failed: that is its error, not the store's.
			return PutResult{}, fmt.Errorf("objstore: put %s: reading the data: %w", u, cr.err)
		}
		return PutResult{}, c.c.classify("put", u, err)
	}
	return PutResult{URL: u, ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionID), Size: cr.n}, nil
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// PutBytes writes b to u (see Put).
func (c *Client) PutBytes(ctx context.Context, u URL, b []byte, opts PutOptions) (PutResult, error) {
	return c.Put(ctx, u, bytes.NewReader(b), opts)
}

// Writer streams an object: Write to it, then Close to commit the object
// or Abort to discard it. Close reports the store's verdict, so a
// conditional write's ErrPrecondition comes from Close.
type Writer struct {
	pw     *io.PipeWriter
	done   chan struct{}
	res    PutResult
	err    error
	once   sync.Once
	cancel context.CancelFunc
}

// Create starts a streaming write of u (see Put for memory and multipart
// behaviour). Cancelling ctx aborts it.
func (c *Client) Create(ctx context.Context, u URL, opts PutOptions) *Writer {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &Writer{pw: pw, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		w.res, w.err = c.Put(ctx, u, pr, opts)
		// Unblock a writer still writing after a failure.
		pr.CloseWithError(errors.Join(errClosed, w.err))
	}()
	return w
}

// Write writes to the object.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	if err != nil {
		<-w.done
		if w.err != nil {
			return n, w.err
		}
	}
	return n, err
}

// Close finishes the object and returns what was written.
func (w *Writer) Close() (PutResult, error) {
	w.once.Do(func() { _ = w.pw.Close() })
	<-w.done
	w.cancel()
	return w.res, w.err
}

// Abort discards the object (aborting its multipart upload) and waits until
// the upload is gone. It is a no-op after Close.
func (w *Writer) Abort() {
	w.once.Do(func() {
		w.pw.CloseWithError(errAborted)
		w.cancel()
	})
	<-w.done
}

var errAborted = errors.New("objstore: write aborted")

// List calls fn for every object under prefix (recursively, in key order).
// A prefix is taken as written: s3://b/logs matches logs.json and
// logs/a.json; use u.Dir() for a directory.
func (c *Client) List(ctx context.Context, prefix URL, fn func(ObjectInfo) error) error {
	p := s3.NewListObjectsV2Paginator(c.c.s3, &s3.ListObjectsV2Input{Bucket: &prefix.Bucket, Prefix: aws.String(prefix.Key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return c.c.classify("list", prefix, err)
		}
		for _, o := range page.Contents {
			info := ObjectInfo{URL: URL{Bucket: prefix.Bucket, Key: aws.ToString(o.Key)}, Size: aws.ToInt64(o.Size),
				ETag: aws.ToString(o.ETag), ModTime: aws.ToTime(o.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListAll returns every object under prefix (see List).
func (c *Client) ListAll(ctx context.Context, prefix URL) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := c.List(ctx, prefix, func(o ObjectInfo) error { out = append(out, o); return nil })
	return out, err
}

// Delete removes an object. Deleting a missing key succeeds (as S3 does).
func (c *Client) Delete(ctx context.Context, u URL) error {
	_, err := c.c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &u.Bucket, Key: &u.Key})
	return c.c.classify("delete", u, err)
}

// deleteBatch is the most keys one DeleteObjects request takes.
var deleteBatch = 1000

// DeleteMany removes objects of one bucket, 1,000 per request; missing keys
// are fine. The first failure is returned, naming its key.
func (c *Client) DeleteMany(ctx context.Context, bucket string, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), deleteBatch)
		batch := keys[:n]
		keys = keys[n:]
		objs := make([]s3types.ObjectIdentifier, len(batch))
		for i := range batch {
			objs[i] = s3types.ObjectIdentifier{Key: aws.String(batch[i])}
		}
		out, err := c.c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket,
			Delete: &s3types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		if err != nil {
			return c.c.classify("delete", URL{Bucket: bucket, Key: batch[0]}, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			u := URL{Bucket: bucket, Key: aws.ToString(e.Key)}
			return c.c.classify("delete", u, &keyError{code: aws.ToString(e.Code), msg: aws.ToString(e.Message)})
		}
	}
	return nil
}

// keyError is one key's failure inside a DeleteObjects response.
type keyError struct{ code, msg string }

func (e *keyError) Error() string                 { return e.code + ": " + e.msg }
func (e *keyError) ErrorCode() string             { return e.code }
func (e *keyError) ErrorMessage() string          { return e.msg }
func (e *keyError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

// Upload is an incomplete multipart upload.
type Upload struct {
	URL       URL
	UploadID  string
	Initiated time.Time
}

// ListUploads returns the incomplete multipart uploads whose key starts with
// prefix.Key. MinIO lists uploads of one exact key only (a prefix that is
// not a whole key finds nothing there), so callers that must find every
// upload a killed run left behind record the keys they write (see
// COMMIT.md).
func (c *Client) ListUploads(ctx context.Context, prefix URL) ([]Upload, error) {
	var out []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &prefix.Bucket, Prefix: aws.String(prefix.Key)}
	for {
		page, err := c.c.s3.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, c.c.classify("list uploads", prefix, err)
		}
		for _, up := range page.Uploads {
			out = append(out, Upload{URL: URL{Bucket: prefix.Bucket, Key: aws.ToString(up.Key)},
				UploadID: aws.ToString(up.UploadId), Initiated: aws.ToTime(up.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// AbortUpload aborts one incomplete multipart upload; an upload already
// gone is fine.
func (c *Client) AbortUpload(ctx context.Context, up Upload) error {
	_, err := c.c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &up.URL.Bucket,
		Key: &up.URL.Key, UploadId: &up.UploadID})
	err = c.c.classify("abort upload", up.URL, err)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// AbortUploads aborts the incomplete multipart uploads under prefix (see
// ListUploads) initiated before the cutoff (zero: all), and returns how
// many it aborted.
func (c *Client) AbortUploads(ctx context.Context, prefix URL, before time.Time) (int, error) {
	ups, err := c.ListUploads(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, up := range ups {
		if !before.IsZero() && !up.Initiated.Before(before) {
			continue
		}
		if err := c.AbortUpload(ctx, up); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
