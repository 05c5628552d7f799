package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/churnctl/churnctl/internal/exitcode"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "churnctl.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	p := writeFile(t, "lake: /from/file\ntrain:\n  trees: 50\n  seed: 7\nfeatures:\n  horizon: 2w\n")
	c, err := Load(p, []string{"CHURNCTL_TRAIN_TREES=60", "CHURNCTL_DSN=postgres://u:secret@h/db", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var scratch Config
	BindFlags(fs, &scratch)
	if err := fs.Parse([]string{"--train.seed", "9", "--inputs", "a.json,b/"}); err != nil {
		t.Fatal(err)
	}
	ApplyChanged(fs, &scratch, &c)
	if len(c.Inputs) != 2 || c.Inputs[1] != "b/" {
		t.Errorf("inputs = %q, want the flag's two", c.Inputs)
	}
	if c.Lake != "/from/file" {
		t.Errorf("lake = %q, want the file's", c.Lake)
	}
	if c.Train.Trees != 60 {
		t.Errorf("trees = %d, want 60 (env beats file)", c.Train.Trees)
	}
	if c.Train.Seed != 9 {
		t.Errorf("seed = %d, want 9 (flag beats file)", c.Train.Seed)
	}
	if c.Features.Horizon != 14 {
		t.Errorf("horizon = %v, want 14d", c.Features.Horizon)
	}
	if c.Features.Window != 30 {
		t.Errorf("window = %v, want the default 30d", c.Features.Window)
	}
	if c.Load.DSN != "postgres://u:secret@h/db" {
		t.Errorf("dsn = %q, want CHURNCTL_DSN's", c.Load.DSN)
	}
	out, err := Masked(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "secret") || !strings.Contains(string(out), "u:***@h/db") {
		t.Errorf("masked config shows the password or lost the DSN:\n%s", out)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	tests := []struct {
		name, body string
		env        []string
		want       string
	}{
		{"unknown key", "train:\n  treez: 5\n", nil, "treez"},
		{"bad type", "train:\n  trees: many\n", nil, "many"},
		{"bad days", "features:\n  horizon: soon\n", nil, "soon"},
		{"bad env", "", []string{"CHURNCTL_TRAIN_TREES=x"}, "CHURNCTL_TRAIN_TREES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.body), tt.env)
			if err == nil || !errors.Is(err, exitcode.ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want a usage error naming %q", err, tt.want)
			}
		})
	}
}

func TestMaskDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://bob:pw@db:5432/x?sslmode=disable", "postgres://bob:***@db:5432/x?sslmode=disable"},
		{"postgres://bob@db/x", "postgres://bob@db/x"},
		{"host=/tmp user=bob password=pw dbname=x", "host=/tmp user=bob password=*** dbname=x"},
	}
	for _, tt := range tests {
		if got := MaskDSN(tt.in); got != tt.want {
			t.Errorf("MaskDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEverySettingHasEnvAndHelp(t *testing.T) {
	c := Default()
	seen := map[string]bool{}
	for _, s := range Settings(&c) {
		if s.Help == "" {
			t.Errorf("setting %s has no help text", s.Key)
		}
		if seen[s.Env] {
			t.Errorf("two settings share %s", s.Env)
		}
		seen[s.Env] = true
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../churnctl.example.yaml", nil)
	if err != nil {
		t.Fatalf("churnctl.example.yaml: %v", err)
	}
	if c.Lake == "" || c.Train.HoldoutUsers != 0.2 || c.ETL.Lookback != 2 {
		t.Errorf("example config read as %+v", c)
	}
}
