package objstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/internal/secret"
)

// killChild is what the child process of TestIntegrationKilledMidUpload
// runs: a transaction staging a large file slowly, until it is killed.
func killChild() {
	cfg := objstore.Config{Endpoint: os.Getenv("KILL_ENDPOINT"), Region: "us-east-1",
		AccessKeyID: secret.NewValue(os.Getenv("KILL_KEY")), SecretAccessKey: secret.NewValue(os.Getenv("KILL_SECRET")),
		PartSize: 5 << 20, Concurrency: 2}
	ctx := context.Background()
	c, err := objstore.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l := objstore.NewTxLake(c, objstore.URL{Bucket: os.Getenv("KILL_BUCKET"), Key: "lake/"})
	l.LeaseTTL = time.Second
	tx, err := l.Begin(ctx, "killed")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := tx.Put(ctx, "events", "dt=1", fA1.name, fA1.data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w, err := tx.Create(ctx, "events", "dt=2", "part-slow.parquet")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chunk := randBytes(1 << 20)
	for {
		if _, err := w.Write(chunk); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A run killed with SIGKILL in the middle of a multipart upload leaves its
// lease, staged files and an incomplete upload with parts in it; the next
// run takes the lake over once the lease expires, and removes all of it.
func TestIntegrationKilledMidUpload(t *testing.T) {
	c, env := setupParallel(t)
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OBJSTORE_KILL_CHILD=1", "KILL_ENDPOINT="+env.Endpoint, "KILL_KEY="+env.AccessKey,
		"KILL_SECRET="+env.SecretKey, "KILL_BUCKET="+env.Bucket)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	slow := objstore.URL{Bucket: env.Bucket, Key: "lake/.tmp/killed/stage/events/dt=2/part-slow.parquet"}
	// Kill it once the slow file's upload has two parts stored.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the child never got two parts uploaded")
		}
		ups, err := c.ListUploads(ctx, slow)
		if err != nil || len(ups) == 0 {
			continue
		}
		parts, err := c.S3().ListParts(ctx, &s3.ListPartsInput{Bucket: &env.Bucket, Key: &slow.Key, UploadId: &ups[0].UploadID})
		if err == nil && len(parts.Parts) >= 2 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ups, err := c.ListUploads(ctx, slow); err != nil || len(ups) != 1 {
		t.Fatalf("after the kill: uploads %v (%v), want the one left behind", ups, err)
	}
	l := objstore.NewTxLake(c, objstore.URL{Bucket: env.Bucket, Key: "lake/"})
	var tx *objstore.Tx
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if tx, err = l.Begin(ctx, "next"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the next run never got the lake: %v", err)
		}
	}
	if err := tx.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if ups, err := c.ListUploads(ctx, slow); err != nil || len(ups) != 0 {
		t.Fatalf("after recovery: uploads %v (%v), want none", ups, err)
	}
	left, err := c.ListAll(ctx, objstore.URL{Bucket: env.Bucket, Key: "lake/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range left {
		if o.URL.Key != "lake/.lock" && o.URL.Key != "lake/.commits/"+fmt.Sprintf("%020d.json", 1) {
			t.Errorf("left after recovery: %s", o.URL)
		}
	}
}
