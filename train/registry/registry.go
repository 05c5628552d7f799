// Package registry stores trained models on disk with versions and aliases.
//
// Layout under the registry root:
//
//	ROOT/<name>/<version>/model.crf      the model file (train/FORMAT.md)
//	ROOT/<name>/<version>/metrics.json   training figures (CV, OOB, fit time)
//	ROOT/<name>/<version>/metadata.json  who/when/what: created_at, run_id, inputs, params
//	ROOT/<name>/aliases.json             {"champion":"2","challenger":"3"}
//	ROOT/<name>/.lock                    held while a version or an alias is written
//
// Versions are 1, 2, 3, ... in creation order. A version directory is built
// under ROOT/<name>/.tmp-* and renamed into place, so it is complete or
// absent. References: NAME (its champion), NAME@champion, NAME@challenger,
// NAME@<version>, or a path to a model file or version directory.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/churnctl/churnctl/internal/errkind"
)

// ErrNoAlias is wrapped (with errkind.BadInput) by Resolve when a model has
// no version under the alias asked for (NAME@champion before any
// promotion).
var ErrNoAlias = errors.New("no alias")

// ModelFile is the model's file name inside a version directory.
const ModelFile = "model.crf"

// Aliases are the named pointers of a model.
const (
	Champion   = "champion"
	Challenger = "challenger"
)

// Registry is a registry root directory.
type Registry struct{ Root string }

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidName reports whether name is usable as a model name.
func ValidName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: model name %q: use letters, digits, '.', '_' and '-'", errkind.Usage, name)
	}
	return nil
}

// Version is one registered model version.
type Version struct {
	Name    string   `json:"name"`
	Version int      `json:"version"`
	Dir     string   `json:"dir"`
	Aliases []string `json:"aliases,omitempty"`
	// File is set when a reference named a model file directly.
	File string `json:"-"`
}

// Ref formats name@version.
func (v Version) Ref() string { return fmt.Sprintf("%s@%d", v.Name, v.Version) }

// ModelPath is the version's model file.
func (v Version) ModelPath() string {
	if v.File != "" {
		return v.File
	}
	return filepath.Join(v.Dir, ModelFile)
}

// Register creates the next version of name from files (file name →
// content) and returns it. If name has no champion yet, the new version
// becomes champion; it always becomes challenger.
//
// A model file byte-identical to an existing version's (same data, seed,
// parameters and build) is not registered again: that version is returned
// with reused true, becomes challenger (the model just trained is that
// one) and keeps its files (metadata.json still names the run that first
// trained it). Registration holds ROOT/<name>/.lock so that concurrent
// trainers neither allocate one number twice nor both register the same
// bytes.
func (r Registry) Register(name string, files map[string][]byte) (v Version, reused bool, err error) {
	if err := ValidName(name); err != nil {
		return Version{}, false, err
	}
	dir := filepath.Join(r.Root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Version{}, false, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return Version{}, false, err
	}
	defer unlock()
	vs, err := r.Versions(name)
	if err != nil {
		return Version{}, false, err
	}
	if model, ok := files[ModelFile]; ok {
		for _, old := range vs {
			same, err := sameFile(old.ModelPath(), model)
			if err != nil {
				return Version{}, false, err
			}
			if same {
				if err := r.pointNew(name, old.Version); err != nil {
					return Version{}, false, err
				}
				v, err := r.version(name, old.Version)
				return v, true, err
			}
		}
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-")
	if err != nil {
		return Version{}, false, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Version{}, false, err
	}
	for fn, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, fn), b, 0o644); err != nil {
			return Version{}, false, err
		}
	}
	next := 1
	if len(vs) > 0 {
		next = vs[len(vs)-1].Version + 1
	}
	for range 100 {
		vdir := filepath.Join(dir, strconv.Itoa(next))
		if err := os.Rename(tmp, vdir); err != nil {
			if _, serr := os.Stat(vdir); serr == nil {
				next++ // taken by a writer that does not lock (an older churnctl)
				continue
			}
			return Version{}, false, err
		}
		if err := r.pointNew(name, next); err != nil {
			return Version{}, false, err
		}
		v, err := r.version(name, next)
		return v, false, err
	}
	return Version{}, false, errors.New("registry: could not allocate a version number")
}

// pointNew makes version n the challenger of name, and its champion when
// name has none.
func (r Registry) pointNew(name string, n int) error {
	al, err := r.Aliases(name)
	if err != nil {
		return err
	}
	if _, ok := al[Champion]; !ok {
		al[Champion] = strconv.Itoa(n)
	}
	al[Challenger] = strconv.Itoa(n)
	return r.writeAliases(name, al)
}

// sameFile reports whether the file at path holds exactly b (a missing
// file holds nothing).
func sameFile(path string, b []byte) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil || st.Size() != int64(len(b)) {
		return false, err
	}
	have, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(have, b), nil
}

// lockDir takes an exclusive lock on dir/.lock (released by the kernel if
// the process dies) and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("registry: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("registry: lock %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Names lists the registered model names.
func (r Registry) Names() ([]string, error) {
	es, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.IsDir() && nameRe.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Versions lists name's versions in ascending order, with their aliases.
func (r Registry) Versions(name string) ([]Version, error) {
	es, err := os.ReadDir(filepath.Join(r.Root, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	al, err := r.Aliases(name)
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, e := range es {
		n, err := strconv.Atoi(e.Name())
		if !e.IsDir() || err != nil || n < 1 {
			continue
		}
		v := Version{Name: name, Version: n, Dir: filepath.Join(r.Root, name, e.Name())}
		for _, a := range []string{Champion, Challenger} {
			if al[a] == e.Name() {
				v.Aliases = append(v.Aliases, a)
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return a.Version - b.Version })
	return out, nil
}

func (r Registry) version(name string, n int) (Version, error) {
	vs, err := r.Versions(name)
	if err != nil {
		return Version{}, err
	}
	for _, v := range vs {
		if v.Version == n {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("%w: model %s has no version %d", errkind.BadInput, name, n)
}

// Aliases reads name's aliases (alias → version); empty when none.
func (r Registry) Aliases(name string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(r.Root, name, "aliases.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	al := map[string]string{}
	if err := json.Unmarshal(b, &al); err != nil {
		return nil, fmt.Errorf("%w: %s/aliases.json: %v", errkind.BadInput, name, err)
	}
	return al, nil
}

func (r Registry) writeAliases(name string, al map[string]string) error {
	b, err := json.MarshalIndent(al, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(r.Root, name)
	tmp, err := os.CreateTemp(dir, ".aliases-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, "aliases.json"))
}

// SetAlias points alias at version v of name.
func (r Registry) SetAlias(name, alias string, v int) error {
	if _, err := r.version(name, v); err != nil {
		return err
	}
	unlock, err := lockDir(filepath.Join(r.Root, name))
	if err != nil {
		return err
	}
	defer unlock()
	al, err := r.Aliases(name)
	if err != nil {
		return err
	}
	al[alias] = strconv.Itoa(v)
	return r.writeAliases(name, al)
}

// Resolve turns a reference into a version. A reference naming an existing
// file (containing a path separator or ending in .crf) returns a Version
// with only Dir and File set; an existing directory path one with Dir set.
func (r Registry) Resolve(ref string) (Version, error) {
	if st, err := os.Stat(ref); err == nil && (strings.ContainsRune(ref, os.PathSeparator) || strings.HasSuffix(ref, ".crf")) {
		if st.IsDir() {
			return Version{Dir: ref}, nil
		}
		return Version{Dir: filepath.Dir(ref), File: ref}, nil
	}
	name, sel, ok := strings.Cut(ref, "@")
	if !ok {
		sel = Champion
	}
	if err := ValidName(name); err != nil {
		return Version{}, err
	}
	vs, err := r.Versions(name)
	if err != nil {
		return Version{}, err
	}
	if len(vs) == 0 {
		return Version{}, fmt.Errorf("%w: no model %q in registry %s", errkind.BadInput, name, r.Root)
	}
	if sel == "latest" {
		return vs[len(vs)-1], nil
	}
	n, err := strconv.Atoi(sel)
	if err != nil {
		al, err := r.Aliases(name)
		if err != nil {
			return Version{}, err
		}
		a, ok := al[sel]
		if !ok {
			return Version{}, fmt.Errorf("%w: model %s has %w %q", errkind.BadInput, name, ErrNoAlias, sel)
		}
		if n, err = strconv.Atoi(a); err != nil {
			return Version{}, fmt.Errorf("%w: model %s alias %s points at %q", errkind.BadInput, name, sel, a)
		}
	}
	return r.version(name, n)
}

// ReadJSON reads file fn of version v into out (missing file: no error, out
// untouched).
func ReadJSON(v Version, fn string, out any) error {
	b, err := os.ReadFile(filepath.Join(v.Dir, fn))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
