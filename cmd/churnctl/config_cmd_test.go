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
