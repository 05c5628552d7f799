package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShellQuoteRoundTrip: a --dry-run line's arguments, parsed by sh,
// give back the exact argv.
func TestShellQuoteRoundTrip(t *testing.T) {
	args := []string{"plain", "", "a b", `a,b"c'd$e`, "'", "''", `\`, "*", "x\ny", "-", "$(echo no)", "`no`", "~", "a=b", "--lake"}
	cmd := exec.Command("sh", "-c", `printf '%s\0' `+strings.Join(quoteArgs(args), " "))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "\x00") != strings.Join(args, "\x00") {
		t.Errorf("sh parsed %q, want %q", got, args)
	}
}

// TestRunLakeWithSpecialCharacters: run on the sample into a lake whose path
// holds a space , " ' and $ writes the same Parquet files as at a plain path,
// and its --dry-run lines paste back into a shell as the stages' argv.
func TestRunLakeWithSpecialCharacters(t *testing.T) {
	if testing.Short() {
		t.Skip("two whole runs on the sample")
	}
	sample, _ := filepath.Abs("../../testdata/sample")
	dir := t.TempDir()
	plain, odd := filepath.Join(dir, "plain"), filepath.Join(dir, `a b,c"d'e$f`)
	for _, lk := range []string{plain, odd} {
		args := []string{"--run-id", "fixed", "run", "--lake", lk, "--inputs", sample, "--trees", "5", "--folds", "2", "--log-level", "warn"}
		if code, _, errs := runWith(t, context.Background(), args...); code != 0 {
			t.Fatalf("run --lake %q: exit %d: %s", lk, code, errs)
		}
	}
	n := 0
	_ = filepath.WalkDir(plain, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(plain, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(odd, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the plain and the special-character lake", rel)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("no Parquet files in the plain lake")
	}
	code, out, errs := runWith(t, context.Background(), "run", "--lake", odd, "--inputs", sample, "--trees", "5", "--folds", "2", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errs)
	}
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "churnctl ")
		if i < 0 || !strings.Contains(line, "--lake") && !strings.Contains(line, "--features") && !strings.Contains(line, "--registry") {
			continue
		}
		got, err := exec.Command("sh", "-c", `printf '%s\0' `+line[i+len("churnctl "):]).Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", line, err)
		}
		if !strings.Contains(string(got), "\x00"+odd) {
			t.Errorf("sh parsed %q from %q: no argument that is or starts with the lake %q", got, line, odd)
		}
		seen++
	}
	if seen == 0 {
		t.Fatalf("no stage line naming the lake in the dry run:\n%s", out)
	}
}
