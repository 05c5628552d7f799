package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/churnctl/churnctl/internal/config"
)

// otherMeaning lists the subcommand flags that share a setting's flag name
// but are another thing (not a drift: binding them would be wrong).
var otherMeaning = map[string]string{
	"generate --seed":       "the event generator's seed, not the forest's (train.seed)",
	"evaluate --seed":       "the bootstrap and permutation seed, not the forest's",
	"evaluate --jobs":       "prediction goroutines, not trees grown in parallel (train.jobs)",
	"evaluate --model":      "the model judged (default the champion of train.name), not the one run scores with (score.model)",
	"score --jobs":          "prediction goroutines, not trees grown in parallel",
	"models promote --jobs": "prediction goroutines, not trees grown in parallel",
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
			if got, want := f.DefValue, flagString(s.Value()); got != want {
				t.Errorf("%v --%s: default %q, declared %q", path, s.Flag, got, want)
			}
		}
	}

	// Every command: a flag spelled like a setting (kebab-case or the old
	// dotted key) is bound to it, with run's type, default and help; a
	// command with settings takes --config.
	runFlags := find("run").Flags()
	byFlag := map[string]config.Setting{}
	for _, s := range settings {
		byFlag[s.Flag], byFlag[s.Key] = s, s
	}
	bound := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		name := commandName(c)
		if c == root || name == "run" || name == "config show" || !c.Runnable() {
			return
		}
		has := false
		c.Flags().VisitAll(func(f *pflag.Flag) {
			s, ok := byFlag[f.Name]
			if !ok {
				return
			}
			id := name + " --" + f.Name
			if why, ok := otherMeaning[id]; ok {
				if len(f.Annotations[config.AnnotationSetting]) > 0 {
					t.Errorf("%s is bound to a setting, but is listed as %s", id, why)
				}
				return
			}
			if ann := f.Annotations[config.AnnotationSetting]; len(ann) != 1 || ann[0] != s.Key {
				t.Errorf("%s: not bound to %s (annotation %v): declare it with config.Var", id, s.Key, ann)
				return
			}
			has = true
			bound++
			rf := runFlags.Lookup(f.Name)
			if f.DefValue != rf.DefValue || f.Usage != rf.Usage || f.Value.Type() != rf.Value.Type() || f.Hidden != rf.Hidden {
				t.Errorf("%s: default %q, type %s, help %q; run --%s: %q, %s, %q",
					id, f.DefValue, f.Value.Type(), f.Usage, f.Name, rf.DefValue, rf.Value.Type(), rf.Usage)
			}
		})
		if has && c.Flags().Lookup("config") == nil {
			t.Errorf("%s has settings but no --config", name)
		}
	}
	walk(root)
	if bound < 30 {
		t.Errorf("only %d subcommand flags are bound to settings", bound)
	}
	for id := range otherMeaning {
		parts := strings.Fields(strings.ReplaceAll(id, "--", ""))
		if find(parts[:len(parts)-1]...).Flags().Lookup(parts[len(parts)-1]) == nil {
			t.Errorf("otherMeaning lists %s, which does not exist", id)
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

// flagString renders a declared default as its flag shows it in help
// (lists as a,b).
func flagString(v any) string {
	if ss, ok := v.([]string); ok {
		return strings.Join(ss, ",")
	}
	return fmt.Sprint(v)
}
