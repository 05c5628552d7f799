// Package miniotest gives tests a real, throwaway MinIO server: one private
// server per test package, a fresh bucket per test.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }
//
// and call New(t) in each test that needs a bucket. The server is started on
// first use from the MinIO binary that Build installs (pinned to Version) under
// the Go cache, `$(go env GOCACHE)/../churnctl-minio/<Version>/minio`, or from
// CHURNCTL_MINIO if set. It listens on a loopback port, keeps its data in a
// temp dir, has freshly generated root credentials, and is stopped when the
// package's tests end (and when the test binary dies: parent-death signal).
//
// Build the binary once per machine (a few minutes from a cold module cache):
//
//	go run ./internal/miniotest/buildminio
//
// Tests are skipped, with the reason, under -short or when the binary is
// missing; when the CI variable is set, a missing binary fails them instead.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the pinned github.com/minio/minio module version (the proxy's
// @latest on 2026-12-02). Changing it makes every machine build it anew.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Module is the MinIO server's module path.
const Module = "github.com/minio/minio"

// Region is the region the servers and the clients use.
const Region = "us-east-1"

// CacheDir returns the directory the pinned MinIO binary lives in:
// $(go env GOCACHE)/../churnctl-minio/<Version>.
func CacheDir() (string, error) {
	gocache := os.Getenv("GOCACHE")
	if gocache == "" {
		if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
			gocache = strings.TrimSpace(string(out))
		}
	}
	if gocache == "" || gocache == "off" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("miniotest: no Go cache dir: %w", err)
		}
		gocache = filepath.Join(d, "go-build")
	}
	return filepath.Join(filepath.Dir(gocache), "churnctl-minio", Version), nil
}

// BinaryPath returns the MinIO binary to run: CHURNCTL_MINIO if set, else
// the one Build installs under CacheDir. It does not check that it exists.
func BinaryPath() (string, error) {
	if p := os.Getenv("CHURNCTL_MINIO"); p != "" {
		return p, nil
	}
	d, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "minio"), nil
}

// Build installs the pinned MinIO server into CacheDir unless it is already
// there (go install from the module proxy, no cgo), and returns its path.
// Concurrent builds on one machine wait for each other.
func Build(ctx context.Context, log io.Writer) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "minio")
	if isExec(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("miniotest: %w", err)
	}
	lk, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("miniotest: %w", err)
	}
	defer lk.Close()
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("miniotest: lock %s: %w", dir, err)
	}
	if isExec(bin) { // built while we waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("miniotest: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", "-ldflags=-s -w", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("miniotest: go install %s@%s: %w", Module, Version, err)
	}
	if err := os.Rename(filepath.Join(tmp, "minio"), bin); err != nil {
		return "", fmt.Errorf("miniotest: %w", err)
	}
	return bin, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Server is one running MinIO server.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the generated root credentials.
	AccessKey, SecretKey string

	bin, dir string
	port     int
	extraEnv []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

// Start starts a server from the MinIO binary bin with a fresh data dir and
// root credentials; env adds environment variables (MINIO_*) to its process.
// Call Stop.
func Start(bin string, env ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "churnctl-miniotest-")
	if err != nil {
		return nil, fmt.Errorf("miniotest: %w", err)
	}
	s := &Server{
		AccessKey: "mt" + randHex(9),
		SecretKey: "mts" + randHex(18),
		bin:       bin,
		dir:       dir,
		extraEnv:  env,
	}
	var lastErr error
	for range 5 { // a freshly probed port can be taken before we bind it
		s.port = freePort()
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 39000
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs the server process on s.port and waits until it is ready.
func (s *Server) start() error {
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.port)
	logPath := filepath.Join(s.dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("miniotest: %w", err)
	}
	done := make(chan error, 1)
	started := make(chan error, 1)
	// The server is our child with a parent-death signal, so a killed test
	// binary does not leave it running. Pdeathsig fires when the thread that
	// forked exits: keep that goroutine locked to its thread until the
	// server has stopped.
	go func() {
		runtime.LockOSThread()
		defer logf.Close()
		cmd := exec.Command(s.bin, "server", "--quiet", "--address", "127.0.0.1:"+strconv.Itoa(s.port),
			"--console-address", "127.0.0.1:"+strconv.Itoa(freePort()),
			"--certs-dir", filepath.Join(s.dir, "certs"), filepath.Join(s.dir, "data"))
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_REGION="+Region, "HOME="+s.dir)
		cmd.Env = append(cmd.Env, s.extraEnv...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			started <- err
			done <- err
			return
		}
		s.mu.Lock()
		s.cmd, s.done = cmd, done
		s.mu.Unlock()
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("miniotest: start %s: %w", s.bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		// Ready means an authenticated request works: the health
		// endpoint answers 200 before the object layer is initialized
		// (requests then get 503 XMinioServerNotInitialized).
		resp, err := hc.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				_, err = s.Client().ListBuckets(rctx, &s3.ListBucketsInput{})
				rcancel()
				if err == nil {
					return nil
				}
			}
		}
		select {
		case werr := <-done:
			done <- werr
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("miniotest: minio exited: %v\n%s", werr, log)
		case <-ctx.Done():
			log, _ := os.ReadFile(logPath)
			s.kill()
			return fmt.Errorf("miniotest: minio not ready after 60s\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill stops the process (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Pause stops the server process but keeps its data and port, so Resume
// brings the same server (buckets, objects, credentials) back.
func (s *Server) Pause() { s.kill() }

// Resume restarts a paused server on the same port with the same data.
func (s *Server) Resume() error { return s.start() }

// Stop stops the server and removes its data.
func (s *Server) Stop() {
	s.kill()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// Client returns an S3 client with the root credentials (path-style, no
// environment or shared config consulted): the tests' mc-free way to make
// buckets and look at objects.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// MakeBucket creates a bucket.
func (s *Server) MakeBucket(ctx context.Context, name string) error {
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("miniotest: make bucket %s: %w", name, err)
	}
	return nil
}

// Env is what a test needs to talk to a bucket of a server.
type Env struct {
	Endpoint, Region     string
	AccessKey, SecretKey string
	Bucket               string
	Server               *Server
}

// Setenv points the AWS environment of this test at the server: the root
// credentials, region and AWS_ENDPOINT_URL_S3, with the machine's shared
// config and credentials files, profile, session token and instance
// metadata shut out.
func (e Env) Setenv(t testing.TB) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           e.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       e.SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  e.Region,
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_ENDPOINT_URL_S3":         e.Endpoint,
		"AWS_ENDPOINT_URL":            "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ROLE_ARN":                "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// shared is the package's server, started at most once.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
	skip string
}

var bucketSeq atomic.Int64

// Main runs the tests of a package and stops the shared server afterwards.
// Call it from TestMain: os.Exit(miniotest.Main(m)).
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	return code
}

// binary returns the MinIO binary, or a reason to skip, or (under CI) an
// error.
func binary() (bin, skip string, err error) {
	if testing.Short() {
		return "", "MinIO integration test skipped under -short", nil
	}
	bin, err = BinaryPath()
	if err == nil && !isExec(bin) {
		err = fmt.Errorf("no MinIO binary at %s", bin)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			return "", "", fmt.Errorf("miniotest: %v (CI is set, so this fails instead of skipping; run: go run ./internal/miniotest/buildminio)", err)
		}
		return "", fmt.Sprintf("miniotest: %v; build it with: go run ./internal/miniotest/buildminio", err), nil
	}
	return bin, "", nil
}

func ensure(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		bin, skip, err := binary()
		shared.skip, shared.err = skip, err
		if bin != "" {
			shared.srv, shared.err = Start(bin)
		}
	})
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

var nonBucket = regexp.MustCompile(`[^a-z0-9-]+`)

// New creates a fresh, empty bucket for this test on the package's shared
// server and returns how to reach it.
func New(t testing.TB) Env {
	t.Helper()
	s := ensure(t)
	return newBucket(t, s)
}

// NewServer starts a server of this test's own (for tests that stop and
// restart it), with one fresh bucket; it is stopped when the test ends. env
// adds MINIO_* settings to the server's environment.
func NewServer(t testing.TB, env ...string) Env {
	t.Helper()
	bin, skip, err := binary()
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(bin, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return newBucket(t, s)
}

func newBucket(t testing.TB, s *Server) Env {
	t.Helper()
	name := nonBucket.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	name = fmt.Sprintf("t%d-%s", bucketSeq.Add(1), name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.MakeBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	return Env{Endpoint: s.Endpoint, Region: Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Bucket: name, Server: s}
}

// Stop stops the package's shared server if one was started: for a TestMain
// that runs its tests through another helper's Main (os.Exit(pgtest.Main(m))
// then miniotest.Stop()).
func Stop() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
}
