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
	v1, _, err := r.Register("churn", map[string][]byte{ModelFile: []byte("m1"), "metrics.json": []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	v2, _, err := r.Register("churn", map[string][]byte{ModelFile: []byte("m2"), "metrics.json": []byte("{}")})
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
		if e.Name() != "1" && e.Name() != "2" && e.Name() != "aliases.json" && e.Name() != ".lock" {
			t.Errorf("unexpected entry %s", e.Name())
		}
	}
}

// TestRegisterReusesIdenticalModel: the same model bytes are one version,
// whichever version they first were; the reused version becomes challenger
// and keeps the files of its first registration.
func TestRegisterReusesIdenticalModel(t *testing.T) {
	r := Registry{Root: t.TempDir()}
	reg := func(model, meta string) (Version, bool) {
		t.Helper()
		v, reused, err := r.Register("churn", map[string][]byte{ModelFile: []byte(model), "metadata.json": []byte(meta)})
		if err != nil {
			t.Fatal(err)
		}
		return v, reused
	}
	if v, reused := reg("A", "first"); v.Version != 1 || reused {
		t.Fatalf("first Register = %d reused %v", v.Version, reused)
	}
	if v, reused := reg("A", "second"); v.Version != 1 || !reused {
		t.Fatalf("Register(same bytes) = version %d reused %v, want 1 reused", v.Version, reused)
	}
	if v, reused := reg("B", "third"); v.Version != 2 || reused {
		t.Fatalf("Register(new bytes) = %d reused %v, want 2", v.Version, reused)
	}
	if err := r.SetAlias("churn", Champion, 2); err != nil {
		t.Fatal(err)
	}
	// the bytes of version 1 again: version 1 is the challenger, 2 stays champion
	if v, reused := reg("A", "fourth"); v.Version != 1 || !reused {
		t.Fatalf("Register(version 1's bytes) = %d reused %v", v.Version, reused)
	}
	al, err := r.Aliases("churn")
	if err != nil || al[Champion] != "2" || al[Challenger] != "1" {
		t.Errorf("aliases = %v, %v; want champion 2, challenger 1", al, err)
	}
	vs, _ := r.Versions("churn")
	if len(vs) != 2 {
		t.Errorf("%d versions, want 2", len(vs))
	}
	if b, _ := os.ReadFile(filepath.Join(r.Root, "churn", "1", "metadata.json")); string(b) != "first" {
		t.Errorf("version 1 metadata = %q, want its first registration's", b)
	}
}
