package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigShowSources: config show prints every setting's effective value
// and where it came from, each source beating the ones before it, with the
// DSN's password masked whatever its source.
func TestConfigShowSources(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	body := "lake: /file/lake\ntrain:\n  trees: 50\n  seed: 3\nload:\n  dsn: host=h password=filepw\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHURNCTL_TRAIN_SEED", "5")
	t.Setenv("CHURNCTL_TRAIN_FOLDS", "3")
	code, stdout, stderr := runIn(t, context.Background(), strings.NewReader(""),
		"config", "show", "--config", p, "--folds", "4", "--window", "2w")
	if code != 0 {
		t.Fatalf("config show: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"lake: /file/lake # file " + p,          // file over default
		"trees: 50 # file " + p,                 // file
		"seed: 5 # env CHURNCTL_TRAIN_SEED",     // env over file
		"folds: 4 # flag --folds",               // flag over env
		"window: 14d # flag --window",           // flag over default
		"max_depth: 0 # default",                // nothing set
		"dsn: host=h password=**** # file " + p, // masked
	} {
		if !strings.Contains(stdout, want+"\n") {
			t.Errorf("config show has no line %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "filepw") {
		t.Errorf("config show printed the password:\n%s%s", stdout, stderr)
	}
}

// TestSubcommandsTakeEnvAndFile: a subcommand's setting flags resolve as
// run's do, flag > env > file > default, through the real command: load's
// --lake and --tables decide what it reports before connecting, and etl
// silver fails on the lake it was given.
func TestSubcommandsTakeEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	fileLake := filepath.Join(dir, "file-lake")
	envLake := filepath.Join(dir, "env-lake")
	flagLake := filepath.Join(dir, "flag-lake")
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("lake: "+fileLake+"\netl:\n  lookback: -3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(wantLake string, args ...string) {
		t.Helper()
		code, _, stderr := runIn(t, ctx, strings.NewReader(""), args...)
		if code != 3 || !strings.Contains(stderr, "lake "+wantLake+" does not exist") {
			t.Errorf("%v: exit %d, want 3 naming lake %s:\n%s", args, code, wantLake, stderr)
		}
	}
	check(fileLake, "features", "--config", p, "--as-of", "2018-10-01")
	t.Setenv("CHURNCTL_CONFIG", p)
	check(fileLake, "features", "--as-of", "2018-10-01")
	t.Setenv("CHURNCTL_LAKE", envLake)
	check(envLake, "features", "--as-of", "2018-10-01")
	check(flagLake, "features", "--lake", flagLake, "--as-of", "2018-10-01")

	// A setting from the file reaches the flag of the same name: the
	// file's lookback -3 is refused as --lookback would be.
	if err := os.MkdirAll(envLake, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, ctx, strings.NewReader(""), "etl", "silver")
	if code != 2 || !strings.Contains(stderr, "--lookback must be >= 0") {
		t.Errorf("etl silver with lookback -3 in the file: exit %d, want 2:\n%s", code, stderr)
	}
	t.Setenv("CHURNCTL_ETL_LOOKBACK", "0")
	code, _, stderr = runIn(t, ctx, strings.NewReader(""), "etl", "silver", "--lookback", "-1")
	if code != 2 || !strings.Contains(stderr, "--lookback must be >= 0") {
		t.Errorf("etl silver --lookback -1 over env 0: exit %d, want 2:\n%s", code, stderr)
	}
	code, _, stderr = runIn(t, ctx, strings.NewReader(""), "etl", "silver")
	if code == 2 {
		t.Errorf("etl silver with env lookback 0 over the file's -3: exit 2:\n%s", stderr)
	}
	// The registry is LAKE/models of the lake in the environment.
	code, stdout, stderr := runIn(t, ctx, strings.NewReader(""), "models", "list", "--json")
	if code != 0 {
		t.Errorf("models list with CHURNCTL_LAKE: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Setenv("CHURNCTL_LAKE", "")
	t.Setenv("CHURNCTL_CONFIG", "")
	code, _, stderr = runIn(t, ctx, strings.NewReader(""), "models", "list")
	if code != 2 || !strings.Contains(stderr, "no model registry") {
		t.Errorf("models list with no registry or lake: exit %d, want 2:\n%s", code, stderr)
	}
}
