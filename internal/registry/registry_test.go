package registry

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/churnctl/churnctl/internal/exitcode"
)

func TestRegisterResolve(t *testing.T) {
	r := Registry{Root: t.TempDir()}
	files := map[string][]byte{ModelFile: []byte("m"), "metrics.json": []byte("{}")}
	v1, err := r.Register("churn", files)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := r.Register("churn", files)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", v1.Version, v2.Version)
	}
	tests := []struct {
		ref  string
		want int
	}{{"churn", 1}, {"churn@champion", 1}, {"churn@challenger", 2}, {"churn@2", 2}, {"churn@latest", 2}}
	for _, tt := range tests {
		v, err := r.Resolve(tt.ref)
		if err != nil || v.Version != tt.want {
			t.Errorf("Resolve(%q) = %d, %v; want version %d", tt.ref, v.Version, err, tt.want)
		}
	}
	if err := r.SetAlias("churn", Champion, 2); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Resolve("churn"); v.Version != 2 {
		t.Errorf("after SetAlias champion=2, Resolve(churn) = %d", v.Version)
	}
	for _, ref := range []string{"churn@7", "nope", "churn@gold", "bad name"} {
		if _, err := r.Resolve(ref); err == nil {
			t.Errorf("Resolve(%q) succeeded, want an error", ref)
		}
	}
	if _, err := r.Resolve("churn@7"); !errors.Is(err, exitcode.ErrBadInput) {
		t.Errorf("Resolve(missing version) error = %v, want ErrBadInput", err)
	}
	// a path resolves to the file itself
	p := filepath.Join(r.Root, "churn", "1", ModelFile)
	if v, err := r.Resolve(p); err != nil || v.ModelPath() != p {
		t.Errorf("Resolve(path) = %+v, %v", v, err)
	}
	// no temp directories left behind
	es, _ := os.ReadDir(filepath.Join(r.Root, "churn"))
	for _, e := range es {
		if e.Name() != "1" && e.Name() != "2" && e.Name() != "aliases.json" {
			t.Errorf("unexpected entry %s", e.Name())
		}
	}
}
