package miniotest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestIntegrationFreshBuckets(t *testing.T) {
	a := New(t)
	b := New(t)
	if a.Bucket == b.Bucket || a.Endpoint != b.Endpoint || !strings.HasPrefix(a.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("two tests' buckets: %+v and %+v; want distinct buckets on one loopback server", a, b)
	}
	ctx := context.Background()
	c := a.Server.Client()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &a.Bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.Bucket})
	if err != nil || len(out.Contents) != 0 {
		t.Fatalf("the second bucket is not empty: %v, %v", out, err)
	}
}

func TestIntegrationPauseResume(t *testing.T) {
	env := NewServer(t)
	ctx := context.Background()
	c := env.Server.Client()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &env.Bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	env.Server.Pause()
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &env.Bucket, Key: aws.String("k")}); err == nil {
		t.Fatal("a paused server answered")
	}
	if err := env.Server.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &env.Bucket, Key: aws.String("k")}); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

// A missing binary skips, except under CI, where it fails.
func TestMissingBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("binary() skips everything under -short")
	}
	t.Setenv("CHURNCTL_MINIO", t.TempDir()+"/no-minio")
	t.Setenv("CI", "")
	if bin, skip, err := binary(); bin != "" || err != nil || !strings.Contains(skip, "buildminio") {
		t.Fatalf("without CI: %q, %q, %v; want a skip naming the build command", bin, skip, err)
	}
	t.Setenv("CI", "true")
	if bin, skip, err := binary(); bin != "" || skip != "" || err == nil || !strings.Contains(err.Error(), "CI is set") {
		t.Fatalf("under CI: %q, %q, %v; want an error", bin, skip, err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("GOCACHE", "/x/cache/go-build")
	d, err := CacheDir()
	if err != nil || d != "/x/cache/churnctl-minio/"+Version {
		t.Fatalf("CacheDir = %q, %v", d, err)
	}
}
