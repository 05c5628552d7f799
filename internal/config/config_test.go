package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if c.Load.DSN.Reveal() != "postgres://u:secret@h/db" {
		t.Errorf("dsn = %q, want CHURNCTL_DSN's", c.Load.DSN)
	}
	out, err := Masked(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "secret") || !strings.Contains(string(out), "u:****@h/db") {
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

func TestValidateNamesTheKey(t *testing.T) {
	if err := Default().Validate(); err == nil || !strings.Contains(err.Error(), "lake") {
		t.Fatalf("the defaults (no lake) validate: %v, want an error naming lake", err)
	}
	for _, top := range []string{"10%", "2.5", " 100 % "} {
		c := Default()
		c.Lake = "/lake"
		c.Score.Top = top
		if err := c.Validate(); err != nil {
			t.Errorf("score.top %q: %v", top, err)
		}
	}
	for _, tt := range []struct {
		key string
		set func(*Config)
	}{
		{"lake", func(c *Config) { c.Lake = "" }},
		{"etl.max_invalid_ratio", func(c *Config) { c.ETL.MaxInvalidRatio = 1.5 }},
		{"etl.lookback", func(c *Config) { c.ETL.Lookback = -1 }},
		{"features.horizon", func(c *Config) { c.Features.Horizon = 0 }},
		{"features.train_every", func(c *Config) { c.Features.TrainEvery = 0 }},
		{"train.trees", func(c *Config) { c.Train.Trees = 0 }},
		{"train.min_samples_split", func(c *Config) { c.Train.MinSamplesSplit = 1 }},
		{"train.folds", func(c *Config) { c.Train.Folds = 1 }},
		{"train.holdout_users", func(c *Config) { c.Train.HoldoutUsers = 1 }},
		{"train.jobs", func(c *Config) { c.Train.Jobs = -2 }},
		{"train.calibration", func(c *Config) { c.Train.Calibration = "beta" }},
		{"score.top", func(c *Config) { c.Score.Top = "0%" }},
		{"score.top", func(c *Config) { c.Score.Top = "ten" }},
		{"score.top", func(c *Config) { c.Score.Top, c.Score.Budget = "10%", 5 }},
		{"score.budget", func(c *Config) { c.Score.Budget = -1 }},
		{"load.statement_timeout", func(c *Config) { c.Load.StatementTimeout = time.Microsecond }},
		{"load.lock_timeout", func(c *Config) { c.Load.LockTimeout = -time.Second }},
	} {
		c := Default()
		c.Lake = "/lake"
		if err := c.Validate(); err != nil {
			t.Fatalf("the defaults with a lake are invalid: %v", err)
		}
		tt.set(&c)
		err := c.Validate()
		if !errors.Is(err, exitcode.ErrUsage) || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: Validate() = %v, want a usage error naming the key", tt.key, err)
		}
	}
}

func TestCheckTimeout(t *testing.T) {
	for _, tt := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {time.Millisecond, true}, {10 * time.Minute, true}, {time.Microsecond, false}, {999 * time.Microsecond, false}, {-time.Second, false}} {
		if err := CheckTimeout(tt.d); (err == nil) != tt.ok {
			t.Errorf("CheckTimeout(%v) = %v, want ok %v", tt.d, err, tt.ok)
		}
	}
}

func TestResolveSources(t *testing.T) {
	p := writeFile(t, "lake: /from/file\ntrain:\n  trees: 50\n  seed: 7\n")
	c, src, err := Resolve(p, []string{"CHURNCTL_TRAIN_TREES=60", "CHURNCTL_DSN=postgres://u:pw1@h/db"})
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	scratch := Default()
	BindFlags(fs, &scratch)
	if err := fs.Parse([]string{"--seed", "9"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range ApplyChanged(fs, &scratch, &c) {
		src[k] = FromFlag
	}
	for key, want := range map[string]Source{
		"lake": FromFile, "train.trees": FromEnv, "train.seed": FromFlag, "load.dsn": FromEnv,
		"train.folds": FromDefault, "etl.lookback": FromDefault,
	} {
		if got := src.Of(key); got != want {
			t.Errorf("source of %s = %s, want %s", key, got, want)
		}
	}
	out, err := Annotated(c, src, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"lake: /from/file # file " + p, "trees: 60 # env CHURNCTL_TRAIN_TREES", "seed: 9 # flag --seed",
		"folds: 5 # default", "dsn: postgres://u:****@h/db # env CHURNCTL_LOAD_DSN",
	} {
		if !strings.Contains(string(out), line+"\n") {
			t.Errorf("Annotated has no line %q:\n%s", line, out)
		}
	}
	if strings.Contains(string(out), "pw1") {
		t.Errorf("Annotated shows the password:\n%s", out)
	}
	// Every setting has its source, and the output loads to the same values.
	if n, want := strings.Count(string(out), " # "), len(Settings(&c)); n != want {
		t.Errorf("%d source comments, want one per setting (%d):\n%s", n, want, out)
	}
	back, err := Load(writeFile(t, string(out)), nil)
	if err != nil {
		t.Fatalf("Annotated output does not load: %v\n%s", err, out)
	}
	if back.Lake != c.Lake || back.Train.Trees != 60 || back.Train.Seed != 9 || back.Train.Folds != 5 {
		t.Errorf("Annotated output loads as %+v", back)
	}
}

func TestListFlagsAppend(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	c := Default()
	BindFlags(fs, &c)
	if err := fs.Parse([]string{"--tables", "gold", "--tables", "runs,models"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Load.Tables, ","); got != "gold,runs,models" {
		t.Errorf("--tables gold --tables runs,models = %s, want gold,runs,models", got)
	}
	// A second command line over the first replaces a list it gives again.
	Reparse(fs)
	if err := fs.Parse([]string{"--tables", "features"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Load.Tables, ","); got != "features" {
		t.Errorf("after Reparse, --tables features = %s, want features", got)
	}
}
