// Command buildminio installs the MinIO server that the tests run (the
// version pinned in miniotest.Version) into the Go cache, unless it is
// already there, and prints its path. .ci/run runs it before make test.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/churnctl/churnctl/internal/miniotest"
)

func main() {
	start := time.Now()
	bin, err := miniotest.Build(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildminio:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "buildminio: %s@%s ready in %s\n", miniotest.Module, miniotest.Version, time.Since(start).Round(time.Second))
	fmt.Println(bin)
}
