package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// s3Logs writes the sample, split in three, under dir/logs/2018/ (a plain
// file, a .gz and a file that is not events) and puts the same files into
// the bucket under the same keys.
func s3Logs(t *testing.T, env miniotest.Env, dir string) {
	t.Helper()
	a, b := splitSample(t, dir, 0.5)
	logs := filepath.Join(dir, "logs", "2018")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	ab, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bb)
	zw.Close()
	files := map[string][]byte{"a.json": ab, "b.json.gz": gz.Bytes(), "notes.txt": []byte("not events\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(logs, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		key := "logs/2018/" + name
		if _, err := env.Server.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &env.Bucket, Key: &key,
			Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(a)
	os.Remove(b)
}

// getCounter fronts the MinIO server and counts the object GETs (not the
// listings) that pass through it.
type getCounter struct {
	proxy *httputil.ReverseProxy
	gets  atomic.Int64
}

func (g *getCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") && !r.URL.Query().Has("location") {
		g.gets.Add(1)
	}
	g.proxy.ServeHTTP(w, r)
}

func countGets(t *testing.T, env miniotest.Env) *getCounter {
	t.Helper()
	target, err := url.Parse(env.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	g := &getCounter{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	return g
}

var ingestRunIDRe = regexp.MustCompile(`\bb[0-9a-f]{16}\b`)

// lakeRows renders every Parquet file of a lake's bronze, silver and gold
// as JSON rows, by path, with the inputs' names rewritten by names and the
// ingest run ids (which hash the inputs' names) made one: what is left must
// not depend on where the inputs were read from.
func lakeRows(t *testing.T, root string, names *strings.Replacer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, layer := range []string{"bronze", "silver", "gold"} {
		err := filepath.WalkDir(filepath.Join(root, layer), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
				return err
			}
			rr, err := parquetio.ReadFiles(memory.DefaultAllocator, []string{p}, nil, 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			var b strings.Builder
			for rr.Next() {
				j, err := json.Marshal(rr.RecordBatch())
				if err != nil {
					t.Fatal(err)
				}
				b.Write(j)
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, p)
			out[ingestRunIDRe.ReplaceAllString(rel, "RUN")] = ingestRunIDRe.ReplaceAllString(names.Replace(b.String()), "RUN")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// goldFiles is the sha256 of every gold Parquet file, by path.
func goldFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, h := range lakeFiles(t, root) {
		if strings.HasPrefix(p, "gold"+string(filepath.Separator)) {
			out[p] = h
		}
	}
	return out
}

// TestETLInputsOnS3: etl over a prefix, and over a glob, of objects on a
// real MinIO (a plain file, a .gz, and a file that is not events, which the
// prefix skips) gives the lake of the same files read locally: gold byte
// for byte, bronze and silver row for row but for the source_file names and
// the ingest run ids derived from them. A re-run skips every object by its
// ETag without a single GET; --force downloads them again and changes
// nothing.
func TestETLInputsOnS3(t *testing.T) {
	env := miniotest.New(t)
	env.Setenv(t)
	dir := t.TempDir()
	s3Logs(t, env, dir)
	names := strings.NewReplacer("s3://"+env.Bucket+"/", dir+"/")
	same := strings.NewReplacer()

	for _, tc := range []struct{ name, local, remote string }{
		{"prefix", dir + "/logs/", "s3://" + env.Bucket + "/logs/"},
		{"glob", dir + "/logs/2018/*.json*", "s3://" + env.Bucket + "/logs/2018/*.json*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := countGets(t, env)
			local, remote := filepath.Join(t.TempDir(), "local"), filepath.Join(t.TempDir(), "s3")
			if code, _, stderr := runCLI(t, "etl", "--lake", local, tc.local); code != 0 {
				t.Fatalf("local etl: exit %d: %s", code, stderr)
			}
			code, stdout, stderr := runCLI(t, "etl", "--lake", remote, tc.remote)
			if code != 0 {
				t.Fatalf("s3 etl: exit %d: %s", code, stderr)
			}
			sum := summaryOf(t, stdout)
			if tc.name == "prefix" && sum["skipped_inputs"] != 1.0 {
				t.Errorf("skipped_inputs = %v, want 1 (notes.txt): %s", sum["skipped_inputs"], stdout)
			}
			if g.gets.Load() == 0 {
				t.Fatal("no GET went through the proxy: the objects were not read from it")
			}
			want, got := lakeRows(t, local, same), lakeRows(t, remote, names)
			if len(want) == 0 {
				t.Fatal("local lake has no Parquet file")
			}
			if !slices.Equal(pathsOf(want), pathsOf(got)) {
				t.Fatalf("files differ:\nlocal %v\ns3    %v", pathsOf(want), pathsOf(got))
			}
			for p := range want {
				if want[p] != got[p] {
					t.Errorf("%s: rows differ", p)
				}
			}
			gold := goldFiles(t, remote)
			if len(gold) == 0 {
				t.Fatal("no gold file")
			}
			for p, h := range goldFiles(t, local) {
				if gold[p] != h {
					t.Errorf("%s: gold bytes differ", p)
				}
			}
			if !strings.Contains(readSourceFiles(t, remote), "s3://"+env.Bucket+"/logs/2018/a.json") {
				t.Errorf("bronze's source_file does not name the object's URL")
			}

			if tc.name != "prefix" {
				return
			}
			// Re-run: every object is known by its ETag and size.
			before := lakeFiles(t, remote)
			g.gets.Store(0)
			code, stdout, stderr = runCLI(t, "etl", "--lake", remote, tc.remote)
			if code != 0 {
				t.Fatalf("re-run: exit %d: %s", code, stderr)
			}
			if n := g.gets.Load(); n != 0 {
				t.Errorf("re-run made %d object GETs, want 0 (skip by ETag)", n)
			}
			if !strings.Contains(stdout+stderr, "same ETag and size") {
				t.Errorf("re-run does not say the objects were skipped by ETag:\n%s\n%s", stdout, stderr)
			}
			code, _, stderr = runCLI(t, "etl", "--lake", remote, "--force", tc.remote)
			if code != 0 {
				t.Fatalf("--force: exit %d: %s", code, stderr)
			}
			if g.gets.Load() == 0 {
				t.Error("--force made no GET")
			}
			after := lakeFiles(t, remote)
			if !maps.Equal(before, after) {
				t.Error("--force re-ingest changed the lake's Parquet files")
			}

			// An object replaced under the same key (another ETag and
			// size) is downloaded and ingested again.
			key := "logs/2018/a.json"
			orig, err := os.ReadFile(filepath.Join(dir, "logs", "2018", "a.json"))
			if err != nil {
				t.Fatal(err)
			}
			head := orig[:bytes.LastIndexByte(orig[:len(orig)/2], '\n')+1]
			if _, err := env.Server.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &env.Bucket, Key: &key,
				Body: bytes.NewReader(head)}); err != nil {
				t.Fatal(err)
			}
			g.gets.Store(0)
			code, stdout, stderr = runCLI(t, "etl", "--lake", remote, "--skip-if-empty", tc.remote)
			if code != 0 {
				t.Fatalf("after replacing %s: exit %d: %s", key, code, stderr)
			}
			if g.gets.Load() == 0 {
				t.Errorf("the replaced object was not downloaded")
			}
			if strings.Contains(stdout+stderr, "a.json\",\"reason\":\"already ingested") {
				t.Errorf("the replaced object was skipped:\n%s", stdout)
			}
			if _, err := env.Server.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &env.Bucket, Key: &key,
				Body: bytes.NewReader(orig)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func readSourceFiles(t *testing.T, lake string) string {
	t.Helper()
	var b strings.Builder
	for p, rows := range lakeRows(t, lake, strings.NewReplacer()) {
		if strings.HasPrefix(p, "bronze") {
			b.WriteString(rows)
		}
	}
	return b.String()
}

func pathsOf(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestETLInputsOnS3Errors: a missing object exits 3 naming its URL; a
// missing bucket exits 3 naming the bucket and key; a store that does not
// answer exits 4 after the client's retries. No credential is printed.
func TestETLInputsOnS3Errors(t *testing.T) {
	env := miniotest.New(t)
	env.Setenv(t)
	lakeDir := t.TempDir()
	check := func(t *testing.T, wantCode int, input string, want ...string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, "etl", "--lake", lakeDir, input)
		if code != wantCode {
			t.Fatalf("exit %d, want %d: %s", code, wantCode, stderr)
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr does not name %q:\n%s", w, stderr)
			}
		}
		if strings.Contains(stdout+stderr, env.SecretKey) || strings.Contains(stdout+stderr, env.AccessKey) {
			t.Errorf("a credential was printed:\n%s\n%s", stdout, stderr)
		}
	}
	t.Run("missing object", func(t *testing.T) {
		check(t, 3, "s3://"+env.Bucket+"/logs/nope.json", "s3://"+env.Bucket+"/logs/nope.json")
	})
	t.Run("missing bucket", func(t *testing.T) {
		check(t, 3, "s3://churnctl-no-such-bucket/logs/", "churnctl-no-such-bucket", "logs/")
	})
	t.Run("store down", func(t *testing.T) {
		l := httptest.NewServer(http.NotFoundHandler())
		addr := l.URL
		l.Close() // nothing listens there any more: connection refused
		t.Setenv("AWS_ENDPOINT_URL_S3", addr)
		check(t, 4, "s3://"+env.Bucket+"/logs/")
	})
}
