package main

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/sql"
	"github.com/churnctl/churnctl/train/registry"
)

// Shell completion (churnctl completion bash|zsh|fish|powershell): cobra
// completes commands and flags; addCompletions adds the values it cannot
// know — model names and references from the registry, enum flags,
// directories for --lake and --registry, YAML files for --config. Flags
// and positional arguments left alone complete file names.

// enumValues are the values of flags that take one of a fixed set.
var enumValues = map[string][]string{
	"log-format":   {"auto", "text", "json"},
	"log-level":    {"debug", "info", "warn", "error"},
	"format":       {"parquet", "csv", "arrow"},
	"class-weight": {"none", "balanced", "balanced_subsample"},
	"criterion":    {"gini", "entropy"},
	"max-features": {"sqrt", "log2", "all"},
	"metric":       {"f1", "pr_auc", "roc_auc"},
	"search":       {"random", "grid"},
	"objective":    {"f1", "pr_auc"},
	"tables":       sql.Groups,
	// run's and config show's dotted settings
	"train.class_weight": {"none", "balanced", "balanced_subsample"},
	"train.max_features": {"sqrt", "log2", "all"},
	"load.tables":        sql.Groups,
}

// dirFlags complete directory names only.
var dirFlags = map[string]bool{"lake": true, "registry": true, "report": true}

// addCompletions registers the completion functions on every command.
func addCompletions(c *cobra.Command) {
	register := func(name string, f cobra.CompletionFunc) {
		if c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, f)
		}
	}
	for name, values := range enumValues {
		register(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	for name := range dirFlags {
		register(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		})
	}
	register("config", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	if c.Flags().Lookup("registry") != nil || c.PersistentFlags().Lookup("registry") != nil || hasParentFlag(c, "registry") {
		register("name", completeModelNames)
		register("model", completeModelRefs)
	}
	if c.Flags().Lookup("train.name") != nil {
		register("train.name", completeModelNames)
		register("score.model", completeModelRefs)
	}
	switch commandName(c) {
	case "models list":
		c.ValidArgsFunction = onlyFirstArg(completeModelNames)
	case "models show", "models promote":
		c.ValidArgsFunction = onlyFirstArg(completeModelRefs)
	}
	for _, sub := range c.Commands() {
		addCompletions(sub)
	}
}

func hasParentFlag(c *cobra.Command, name string) bool {
	for p := c.Parent(); p != nil; p = p.Parent() {
		if p.PersistentFlags().Lookup(name) != nil {
			return true
		}
	}
	return false
}

// onlyFirstArg completes the first positional argument with f, none after.
func onlyFirstArg(f cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f(cmd, args, toComplete)
	}
}

// completionRegistry is the registry the command line being completed
// points at: --registry if given (or its default), else LAKE/models for run
// and config show.
func completionRegistry(cmd *cobra.Command) string {
	if f := cmd.Flag("registry"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if f := cmd.Flag("lake"); f != nil && f.Value.String() != "" {
		return filepath.Join(f.Value.String(), "models")
	}
	return ""
}

// completeModelNames lists the model names in the registry.
func completeModelNames(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	root := completionRegistry(cmd)
	if root == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, _ := registry.Registry{Root: root}.Names()
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeModelRefs lists NAME@champion, NAME@challenger, NAME@latest and
// NAME@N of every registered version, with the version's aliases as the
// description. A reference may also be a model file: with no registry
// match, the shell completes file names.
func completeModelRefs(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	r := registry.Registry{Root: completionRegistry(cmd)}
	names, _ := r.Names()
	var out []string
	add := func(ref, desc string) {
		if strings.HasPrefix(ref, toComplete) {
			out = append(out, ref+"\t"+desc)
		}
	}
	for _, n := range names {
		vs, _ := r.Versions(n)
		if len(vs) == 0 {
			continue
		}
		al := map[string]string{}
		for _, v := range vs {
			for _, a := range v.Aliases {
				al[a] = strconv.Itoa(v.Version)
			}
		}
		for _, a := range []string{registry.Champion, registry.Challenger} {
			if v, ok := al[a]; ok {
				add(n+"@"+a, "version "+v)
			}
		}
		add(n+"@latest", "version "+strconv.Itoa(vs[len(vs)-1].Version))
		for _, v := range vs {
			desc := "version " + strconv.Itoa(v.Version)
			if len(v.Aliases) > 0 {
				desc += " (" + strings.Join(v.Aliases, ", ") + ")"
			}
			add(v.Ref(), desc)
		}
	}
	if len(out) == 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
