package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/features/table"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/train"
	"github.com/churnctl/churnctl/train/registry"
)

// Shared by train, evaluate, score and models.

// addRegistryFlags adds the registry and lake settings' flags (--registry,
// --lake) to a command that reads or writes the model registry.
func addRegistryFlags(cmd *cobra.Command, reg, lakeDir *string) {
	config.Var(cmd.Flags(), reg, "registry")
	config.Var(cmd.Flags(), lakeDir, "lake")
}

// resolveRegistry gives an empty --registry run's meaning: LAKE/models of
// --lake, else of the lake the first --features path lies in. It runs
// before every command (after the settings are applied); with neither,
// --registry stays empty and the command fails with errNoRegistry.
func resolveRegistry(cmd *cobra.Command) {
	f := cmd.Flags().Lookup("registry")
	if f == nil || f.Value.String() != "" {
		return
	}
	if l := cmd.Flags().Lookup("lake"); l != nil && l.Value.String() != "" {
		_ = f.Value.Set(filepath.Join(l.Value.String(), "models"))
		return
	}
	for _, p := range flagValues(cmd, "features") {
		if root, ok := lake.Find(p); ok {
			_ = f.Value.Set(filepath.Join(root, "models"))
			return
		}
	}
}

// needRegistry is the error of a command that has no registry to use.
func needRegistry(reg string) error {
	if reg != "" {
		return nil
	}
	return usageErrorf("no model registry: give --registry DIR, or --lake DIR for DIR/models (config keys registry and lake, env CHURNCTL_REGISTRY and CHURNCTL_LAKE)")
}

// championOf is the model a command uses when --model is not given: the
// champion of train.name (from --config or CHURNCTL_TRAIN_NAME, default churn).
func (a *App) championOf() string {
	name := a.cfg.Train.Name
	if name == "" {
		name = config.Default().Train.Name
	}
	return name + "@" + registry.Champion
}

// loadModel resolves ref in the registry and reads the model.
func loadModel(reg, ref string) (*train.Model, registry.Version, error) {
	v, err := registry.Registry{Root: reg}.Resolve(ref)
	if err != nil {
		return nil, v, err
	}
	m, err := train.Load(v.ModelPath())
	return m, v, err
}

// modelRef names a loaded model for output: name@version, or its path.
func modelRef(v registry.Version) string {
	if v.Name != "" {
		return v.Ref()
	}
	return v.ModelPath()
}

// errSchemaDiffers is wrapped by alignFeatures' refusal: promote tells a
// champion that cannot read today's feature table (a churnctl upgrade added
// features) from other failures.
var errSchemaDiffers = errors.New("the features' schema differs from the model's")

// alignFeatures returns the table's columns in the model's feature order,
// refusing (exit 3) a table whose feature set or types differ from the model's.
func alignFeatures(m *train.Model, t *table.Table) (*train.Dataset, error) {
	idx := map[string]int{}
	for i, f := range t.Features {
		idx[f.Name] = i
	}
	var missing, typeDiff []string
	want := map[string]bool{}
	d := &train.Dataset{Names: m.FeatureNames(), Y: t.Label}
	for _, f := range m.Features {
		want[f.Name] = true
		i, ok := idx[f.Name]
		if !ok {
			missing = append(missing, f.Name)
			continue
		}
		if tt := t.Features[i].Type; tt != f.Type && f.Type != "float64" && tt != "float64" {
			typeDiff = append(typeDiff, fmt.Sprintf("%s (%s, model %s)", f.Name, tt, f.Type))
		}
		d.Cols = append(d.Cols, t.Cols[i])
	}
	var extra []string
	for _, f := range t.Features {
		if !want[f.Name] {
			extra = append(extra, f.Name)
		}
	}
	if len(missing)+len(extra)+len(typeDiff) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			parts = append(parts, "not in the model "+strings.Join(extra, ", "))
		}
		if len(typeDiff) > 0 {
			parts = append(parts, "type differs "+strings.Join(typeDiff, ", "))
		}
		return nil, fmt.Errorf("%w: %w: %s", exitcode.ErrBadInput, errSchemaDiffers, strings.Join(parts, "; "))
	}
	return d, nil
}
