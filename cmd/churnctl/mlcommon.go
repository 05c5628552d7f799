package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/featuretable"
	"github.com/churnctl/churnctl/internal/registry"
	"github.com/churnctl/churnctl/train"
)

// Shared by train, evaluate, score and models.

const defaultRegistry = "models"

func addRegistryFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "registry", envOr("CHURNCTL_REGISTRY", defaultRegistry), "model registry directory (env CHURNCTL_REGISTRY)")
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

// alignFeatures returns the table's columns in the model's feature order,
// refusing (exit 3) a table whose feature set or types differ from the model's.
func alignFeatures(m *train.Model, t *featuretable.Table) (*train.Dataset, error) {
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
		return nil, fmt.Errorf("%w: the features' schema differs from the model's: %s", exitcode.ErrBadInput, strings.Join(parts, "; "))
	}
	return d, nil
}
