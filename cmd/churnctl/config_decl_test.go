package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/churnctl/churnctl/internal/config"
)

// stageCommands are the subcommands that take a section's settings as their
// own flags (the stage `run` executes for it).
var stageCommands = map[string][][]string{
	"":         {{"etl"}, {"train"}, {"score"}},
	"etl":      {{"etl"}, {"etl", "bronze"}, {"etl", "silver"}, {"etl", "gold"}},
	"features": {{"features"}},
	"train":    {{"train"}},
	"score":    {{"score"}},
	"load":     {{"load"}},
}

// knownDrift lists the stage flags whose default still differs from the
// declaration: run passes the declared value on the stage's argv, so a run
// is consistent, but the subcommand alone is not (follow-up).
var knownDrift = map[string]bool{
	// The stages take the lake explicitly (etl: required; score: optional,
	// publish there); run's default "lake" is the only one with a default.
	"etl --lake": true, "score --lake": true,
	// The "registry models vs LAKE/models": train and score have no
	// lake to put it under (they take --features paths). Follow-up.
	"train --registry": true, "score --registry": true,
	// Found by this test once run's flags took the stages' spelling; run
	// passes the declared value on the stage argv, so a run is consistent.
	// Aligning them changes the standalone commands' behaviour (train holds
	// out 20% of users; load gets timeouts) and their goldens: follow-up.
	"train --holdout-users": true, "load --tables": true,
	"load --statement-timeout": true, "load --lock-timeout": true,
}

// TestDeclarationsDriveFlags walks the declaration table (config.Settings)
// and checks every spelling against it: run's and config show's flags (the
// kebab-case name, the dotted one as a hidden alias, the default in the
// help text, the env and config key in it), the stage subcommands' flags of
// the same name (same default), the YAML keys and churnctl.example.yaml.
func TestDeclarationsDriveFlags(t *testing.T) {
	def := config.Default()
	settings := config.Settings(&def)
	root := newRootCmd(newApp(nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}))
	find := func(path ...string) *cobra.Command {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			t.Fatalf("no command %v: %v", path, err)
		}
		return c
	}
	flagNames := map[string]string{}
	for _, s := range settings {
		if prev, dup := flagNames[s.Flag]; dup {
			t.Errorf("--%s is declared twice: %s and %s", s.Flag, prev, s.Key)
		}
		flagNames[s.Flag] = s.Key
		if s.Flag != strings.ToLower(s.Flag) || strings.ContainsAny(s.Flag, "._") {
			t.Errorf("%s: flag --%s is not kebab-case", s.Key, s.Flag)
		}
		if want := "CHURNCTL_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(s.Key)); s.Env != want {
			t.Errorf("%s: env %s, want %s", s.Key, s.Env, want)
		}
		for _, path := range [][]string{{"run"}, {"config", "show"}} {
			c := find(path...)
			f := c.Flags().Lookup(s.Flag)
			if f == nil {
				t.Errorf("%v: no --%s for %s", path, s.Flag, s.Key)
				continue
			}
			if f.Hidden {
				t.Errorf("%v: --%s is hidden", path, s.Flag)
			}
			if !strings.Contains(f.Usage, "config "+s.Key) || !strings.Contains(f.Usage, "env "+s.Env) {
				t.Errorf("%v --%s: help %q does not name config %s and env %s", path, s.Flag, f.Usage, s.Key, s.Env)
			}
			if s.Key != s.Flag {
				old := c.Flags().Lookup(s.Key)
				if old == nil || !old.Hidden {
					t.Errorf("%v: the old spelling --%s is missing or shown", path, s.Key)
				}
			}
			// The help text's default is the declared one.
			if got, want := f.DefValue, flagString(s.Value(), false); got != want {
				t.Errorf("%v --%s: default %q, declared %q", path, s.Flag, got, want)
			}
		}
		section, _, ok := strings.Cut(s.Key, ".")
		if !ok {
			section = ""
		}
		for _, path := range stageCommands[section] {
			f := find(path...).Flags().Lookup(s.Flag)
			if f == nil {
				continue // a setting only run uses (e.g. train.skip)
			}
			if got, want := f.DefValue, flagString(s.Value(), true); got != want && !knownDrift[strings.Join(path, " ")+" --"+s.Flag] {
				t.Errorf("%s --%s: default %q, the declaration (%s) says %q", strings.Join(path, " "), s.Flag, got, s.Key, want)
			}
		}
	}

	// churnctl.example.yaml: every key is declared, and it loads.
	b, err := os.ReadFile("../../churnctl.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	sections := map[string]bool{}
	for _, s := range settings {
		declared[s.Key] = true
		if sec, _, ok := strings.Cut(s.Key, "."); ok {
			sections[sec] = true
		}
	}
	var keys []string
	var collect func(prefix string, m map[string]any)
	collect = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && sections[key] {
				collect(key, sub)
				continue
			}
			keys = append(keys, key)
		}
	}
	collect("", doc)
	sort.Strings(keys)
	if len(keys) == 0 {
		t.Fatal("churnctl.example.yaml: no keys")
	}
	for _, k := range keys {
		if !declared[k] {
			t.Errorf("churnctl.example.yaml: key %s is not declared", k)
		}
	}
	if _, err := config.Load("../../churnctl.example.yaml", nil); err != nil {
		t.Errorf("churnctl.example.yaml: %v", err)
	}
}

// flagString renders a declared default as pflag shows it in help: run's
// slices as a,b, the subcommands' pflag string slices as [a,b].
func flagString(v any, bracket bool) string {
	if ss, ok := v.([]string); ok {
		if !bracket {
			return strings.Join(ss, ",")
		}
		return "[" + strings.Join(ss, ",") + "]"
	}
	return fmt.Sprint(v)
}
