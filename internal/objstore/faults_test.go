package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/internal/secret"
)

func wantTransient(t *testing.T, what string, err error, attempts int, words ...string) {
	t.Helper()
	var e *objstore.Error
	if !errors.As(err, &e) || e.Kind != objstore.KindTransient || exitcode.Code(err) != exitcode.Transient {
		t.Fatalf("%s: %v (exit %d), want a transient error, exit 4", what, err, exitcode.Code(err))
	}
	if attempts > 0 && e.Attempts != attempts {
		t.Errorf("%s: gave up after %d attempts, want %d: %v", what, e.Attempts, attempts, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
}

// The store goes down mid-run (connection refused): every operation is
// retried, then transient (exit 4); once it is back, the data is there.
func TestIntegrationStoreDown(t *testing.T) {
	isolate(t)
	env := miniotest.NewServer(t)
	c := newClient(t, testConfig(env))
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "lake/bronze/events/dt=2018-10-01/part-0.parquet"}
	if _, err := c.PutBytes(ctx, u, []byte("rows"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Server.Pause()
	_, err := c.Stat(ctx, u)
	wantTransient(t, "stat with the store down", err, 3, "connection refused", u.String())
	_, err = c.Put(ctx, u, bytes.NewReader(randBytes(12<<20)), objstore.PutOptions{})
	wantTransient(t, "multipart put with the store down", err, 0, u.String())
	_, err = c.ListAll(ctx, u)
	wantTransient(t, "list with the store down", err, 3)
	_, err = c.AcquireLease(ctx, objstore.URL{Bucket: env.Bucket, Key: "lake/.lock"}, "run", time.Minute)
	wantTransient(t, "lease with the store down", err, 3)
	if err := env.Server.Resume(); err != nil {
		t.Fatal(err)
	}
	info, err := c.Stat(ctx, u)
	if err != nil || info.Size != 4 {
		t.Fatalf("after restart: %+v, %v", info, err)
	}
}

// A store that accepts connections and never answers: the read timeout
// fires, the request is retried, then transient.
func TestIntegrationTimeout(t *testing.T) {
	isolate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn) // read nothing, answer nothing
		}
	}()
	cfg := objstore.Config{Endpoint: "http://" + ln.Addr().String(), Region: "us-east-1", AccessKeyID: secret.NewValue("k-timeout"),
		SecretAccessKey: secret.NewValue("s-timeout"), MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond, ReadTimeout: 200 * time.Millisecond}
	c := newClient(t, cfg)
	start := time.Now()
	_, err = c.Stat(context.Background(), objstore.URL{Bucket: "bucket", Key: "k"})
	wantTransient(t, "stat of a hung store", err, 2, "timeout")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}

// throttler fronts a real server and answers the first n requests with an
// S3 error response, then proxies.
type throttler struct {
	n, seen atomic.Int64
	status  int
	code    string
	proxy   *httputil.ReverseProxy
}

func (th *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if th.seen.Add(1) <= th.n.Load() {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(th.status)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + th.code +
			`</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>`))
		return
	}
	th.proxy.ServeHTTP(w, r)
}

// Throttling (503 SlowDown) and server errors (500 InternalError) are
// retried with backoff; while they last longer than the retries, the error
// is transient and says what the store said.
func TestIntegrationThrottled(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	target, _ := url.Parse(env.Endpoint)
	for _, tc := range []struct {
		status int
		code   string
	}{{503, "SlowDown"}, {500, "InternalError"}} {
		th := &throttler{status: tc.status, code: tc.code, proxy: httputil.NewSingleHostReverseProxy(target)}
		cfg := testConfig(env)
		cfg.Endpoint = serve(t, th)
		cfg.MaxAttempts = 4
		c := newClient(t, cfg)
		ctx := context.Background()
		u := objstore.URL{Bucket: env.Bucket, Key: "throttled/" + tc.code}

		th.n.Store(2) // two refusals, then through: the third attempt succeeds
		if _, err := c.PutBytes(ctx, u, []byte("x"), objstore.PutOptions{}); err != nil {
			t.Fatalf("%s: put after two refusals: %v", tc.code, err)
		}
		if got := th.seen.Load(); got != 3 {
			t.Errorf("%s: %d requests, want 3 (two refused, one retried through)", tc.code, got)
		}
		th.seen.Store(0)
		th.n.Store(1 << 30) // refuse for ever
		_, err := c.Stat(ctx, u)
		wantTransient(t, tc.code+": stat", err, 4, tc.code, u.String())
		if got := th.seen.Load(); got != 4 {
			t.Errorf("%s: %d requests, want 4 attempts", tc.code, got)
		}
	}
}

// A missing object is not retried (one request) and is bad input.
func TestIntegrationMissingNotRetried(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	target, _ := url.Parse(env.Endpoint)
	th := &throttler{proxy: httputil.NewSingleHostReverseProxy(target)}
	cfg := testConfig(env)
	cfg.Endpoint = serve(t, th)
	c := newClient(t, cfg)
	_, err := c.Open(context.Background(), objstore.URL{Bucket: env.Bucket, Key: "none"}, 0, -1, "")
	if !errors.Is(err, fs.ErrNotExist) || exitcode.Code(err) != exitcode.BadInput || th.seen.Load() != 1 {
		t.Fatalf("get of a missing object: %v (exit %d) after %d requests, want not found, exit 3, 1 request", err, exitcode.Code(err), th.seen.Load())
	}
}

// countingProxy fronts a real server and counts the response bytes it
// forwards.
type countingProxy struct {
	proxy *httputil.ReverseProxy
	bytes atomic.Int64
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.proxy.ServeHTTP(countingWriter{w, &p.bytes}, r)
}

// The parallel reader keeps a bounded window ahead of its consumer: a
// consumer that stops after 1 MiB of a 40 MiB object has had at most
// Concurrency × PartSize (plus the part in hand) fetched for it.
func TestIntegrationParallelReadBounded(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	target, _ := url.Parse(env.Endpoint)
	cp := &countingProxy{proxy: httputil.NewSingleHostReverseProxy(target)}
	cfg := testConfig(env) // 5 MiB parts, 2 at a time
	direct := newClient(t, cfg)
	cfg.Endpoint = serve(t, cp)
	c := newClient(t, cfg)
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "big.json"}
	if _, err := direct.PutBytes(ctx, u, randBytes(40<<20), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, _, err := c.NewReader(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// Wait until the prefetching settles (no byte for 300 ms).
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		n := cp.bytes.Load()
		if n == last {
			break
		}
		last = n
	}
	bound := int64(cfg.Concurrency+1) * cfg.PartSize
	if got := cp.bytes.Load(); got > bound {
		t.Fatalf("after reading 1 MiB, %d MiB were fetched; want at most %d MiB", got>>20, bound>>20)
	} else {
		t.Logf("after reading 1 MiB of 40 MiB, %.1f MiB fetched (bound %d MiB)", float64(got)/(1<<20), bound>>20)
	}
}

// serve runs h on a loopback port until the test ends and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
