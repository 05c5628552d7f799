package errkind

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestKinds(t *testing.T) {
	wrapped := fmt.Errorf("%w: gold: read %s: %v", BadInput, "f.parquet", errors.New("EOF"))
	if !errors.Is(wrapped, BadInput) || errors.Is(wrapped, Transient) {
		t.Errorf("%v: kind lost", wrapped)
	}
	if !Cancelled(fmt.Errorf("stage x: %w", context.Canceled)) || !Cancelled(context.DeadlineExceeded) || Cancelled(wrapped) {
		t.Error("Cancelled is wrong")
	}
	if !DiskFull(&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}) || DiskFull(wrapped) {
		t.Error("DiskFull is wrong")
	}
}

// TestOnlyCmdKnowsExitCodes: no package but cmd/ (and exitcode itself)
// imports internal/exitcode; the libraries wrap errkind's kinds.
func TestOnlyCmdKnowsExitCodes(t *testing.T) {
	root := filepath.Join("..", "..")
	const exitcode = "github.com/churnctl/churnctl/internal/exitcode"
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch rel {
			case "cmd", filepath.Join("internal", "exitcode"), "bin", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, im := range f.Imports {
			if path, _ := strconv.Unquote(im.Path.Value); path == exitcode {
				t.Errorf("%s imports internal/exitcode: wrap an internal/errkind kind instead", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files", checked)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "churnctl", "exit.go")); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
}
