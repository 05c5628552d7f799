// Package config holds churnctl's run configuration: one struct, filled in
// order from defaults, a YAML file, CHURNCTL_* environment variables and
// command-line flags (each later source wins).
//
// Every setting has a dotted key (train.min_samples_leaf), an environment
// variable (CHURNCTL_TRAIN_MIN_SAMPLES_LEAF) and a kebab-case flag
// (--min-samples-leaf, the spelling the stage's own subcommand uses), all
// derived from the struct's yaml tags (a flag tag overrides the flag name),
// so they can never disagree. The old dotted flag (--train.min_samples_leaf)
// still works as a hidden, deprecated alias.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/secret"
)

// Config is the whole job: etl → features → train → evaluate → score → load.
type Config struct {
	Lake     string   `yaml:"lake" help:"lake directory (Parquet tables, models, run records); required"`
	Inputs   []string `yaml:"inputs" help:"JSON event log files, directories or globs (plain or .gz)"`
	Registry string   `yaml:"registry" help:"model registry directory (default LAKE/models)"`

	ETL      ETL          `yaml:"etl"`
	Features Features     `yaml:"features"`
	Train    Train        `yaml:"train"`
	Score    Score        `yaml:"score"`
	Load     LoadSettings `yaml:"load"`
}

// ETL settings.
type ETL struct {
	MaxInvalidRatio  float64  `yaml:"max_invalid_ratio" help:"fail (exit 3) when more than this share of lines is invalid"`
	AllowTruncated   bool     `yaml:"allow_truncated" help:"keep what decoded from a truncated gzip instead of failing"`
	AnonymousUserIDs []string `yaml:"anonymous_user_ids" help:"user ids that stand for logged-out traffic"`
	Lookback         int      `yaml:"lookback" help:"also re-process the N days before --ds (late events)"`
	MemoryBudget     int      `yaml:"memory_budget" help:"bronze: MiB of decoded rows buffered before writing"`
}

// Features settings.
type Features struct {
	Horizon Days `yaml:"horizon" help:"label window after the cutoff (e.g. 30d)"`
	Window  Days `yaml:"window" help:"feature window before the cutoff (e.g. 30d)"`
	// TrainEvery and TrainCutoffs choose the labeled training snapshots:
	// cutoffs every TrainEvery days ending Horizon before the data's end.
	TrainEvery   Days `yaml:"train_every" help:"spacing of labeled training cutoffs (e.g. 7d)"`
	TrainCutoffs int  `yaml:"train_cutoffs" help:"how many labeled training cutoffs to stack"`
}

// Train settings, in scikit-learn's vocabulary.
type Train struct {
	Name            string  `yaml:"name" help:"model name in the registry"`
	Seed            int64   `yaml:"seed" help:"random seed (same seed, same model bytes)"`
	Trees           int     `yaml:"trees" help:"number of trees"`
	MaxDepth        int     `yaml:"max_depth" help:"maximum tree depth (0 = unlimited)"`
	MinSamplesLeaf  int     `yaml:"min_samples_leaf" help:"minimum samples in a leaf"`
	MinSamplesSplit int     `yaml:"min_samples_split" help:"minimum samples to split a node"`
	MaxFeatures     string  `yaml:"max_features" help:"features tried per split: sqrt, log2, N, fraction or all"`
	ClassWeight     string  `yaml:"class_weight" help:"none, balanced or balanced_subsample"`
	Folds           int     `yaml:"folds" help:"cross-validation folds (0 = off)"`
	HoldoutUsers    float64 `yaml:"holdout_users" help:"share of users kept out of training to evaluate and gate promotion on"`
	MinGain         float64 `yaml:"min_gain" help:"promote the new model to champion only if it beats it by this much"`
	Skip            bool    `yaml:"skip" flag:"skip-train" help:"do not train; score with the current champion"`
	Jobs            int     `yaml:"jobs" help:"trees built in parallel (0 = all cores)"`
	Calibration     string  `yaml:"calibration" help:"probability calibration fitted on out-of-fold probabilities: platt, isotonic or none"`
}

// Score settings.
type Score struct {
	Model  string `yaml:"model" help:"model to score with (NAME@champion, NAME@VERSION or a model file; empty: the champion of train.name)"`
	Top    string `yaml:"top" help:"contact the top K% of users by churn probability (e.g. 10%)"`
	Budget int    `yaml:"budget" help:"contact the top N users by churn probability (0 = no budget)"`
}

// LoadSettings are the PostgreSQL load settings.
type LoadSettings struct {
	DSN              secret.DSN    `yaml:"dsn" help:"PostgreSQL connection string, libpq keyword/value or postgres:// URL (also CHURNCTL_DSN; run skips loading when empty, load and db then use the PG* variables)"`
	Tables           []string      `yaml:"tables" help:"what to load: gold, features, predictions, models, runs"`
	StatementTimeout time.Duration `yaml:"statement_timeout" help:"abort a statement that runs longer, exit 4 (0: the server's default)"`
	LockTimeout      time.Duration `yaml:"lock_timeout" help:"give up waiting for a lock after this long, exit 4 (0: the server's default)"`
	Migrate          bool          `yaml:"migrate" help:"apply pending warehouse schema migrations before loading (false: fail, exit 2, until churnctl db migrate has run)"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		ETL: ETL{MaxInvalidRatio: 0.01, MemoryBudget: 96},
		Features: Features{
			Horizon: 30, Window: 30, TrainEvery: 7, TrainCutoffs: 3,
		},
		Train: Train{
			Name: "churn", Seed: 42, Trees: 100, MinSamplesLeaf: 20, MinSamplesSplit: 2,
			MaxFeatures: "sqrt", ClassWeight: "balanced", Folds: 5, HoldoutUsers: 0.2, MinGain: 0,
			Calibration: "platt",
		},
		Load: LoadSettings{
			Tables:           []string{"gold", "features", "predictions", "models", "runs"},
			StatementTimeout: 10 * time.Minute, LockTimeout: time.Minute, Migrate: true,
		},
	}
}

// Days is a whole number of days, written 30d, 4w or 30.
type Days int

func (d Days) String() string { return strconv.Itoa(int(d)) + "d" }

// ParseDays parses 30d, 4w or 30.
func ParseDays(s string) (Days, error) {
	s = strings.TrimSpace(s)
	mult := 1
	switch {
	case strings.HasSuffix(s, "d"):
		s = strings.TrimSuffix(s, "d")
	case strings.HasSuffix(s, "w"):
		s, mult = strings.TrimSuffix(s, "w"), 7
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number of days (30d, 4w)", s)
	}
	return Days(n * mult), nil
}

// UnmarshalYAML accepts 30d, 4w or a bare number.
func (d *Days) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDays(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes 30d.
func (d Days) MarshalYAML() (any, error) { return d.String(), nil }

// Source says where a setting's effective value came from.
type Source string

// The sources of a setting, in increasing precedence.
const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Sources maps each setting's dotted key to the source of its value; a key
// not in the map has its default.
type Sources map[string]Source

// Of returns the source of key's value (FromDefault when none set it).
func (s Sources) Of(key string) Source {
	if v, ok := s[key]; ok {
		return v
	}
	return FromDefault
}

// Load reads the YAML file at path (if path is not empty) over the defaults,
// then applies CHURNCTL_* variables from environ (os.Environ() form). Unknown
// keys and bad values are usage errors that name the key.
func Load(path string, environ []string) (Config, error) {
	c, _, err := Resolve(path, environ)
	return c, err
}

// Resolve is Load that also reports which source set each setting.
func Resolve(path string, environ []string) (Config, Sources, error) {
	c := Default()
	src := Sources{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, src, fmt.Errorf("%w: config: %v", errkind.Usage, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, src, fmt.Errorf("%w: config %s: %v", errkind.Usage, path, err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err == nil {
			for _, k := range fileKeys(&doc, &c) {
				src[k] = FromFile
			}
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CHURNCTL_") {
			env[k] = v
		}
	}
	// CHURNCTL_DSN is the documented short form of CHURNCTL_LOAD_DSN.
	if v, ok := env["CHURNCTL_DSN"]; ok {
		if _, long := env["CHURNCTL_LOAD_DSN"]; !long {
			env["CHURNCTL_LOAD_DSN"] = v
		}
	}
	for _, s := range Settings(&c) {
		v, ok := env[s.Env]
		if !ok {
			continue
		}
		if err := s.Set(v); err != nil {
			return c, src, fmt.Errorf("%w: environment %s (%s): %v", errkind.Usage, s.Env, s.Key, err)
		}
		src[s.Key] = FromEnv
	}
	return c, src, nil
}

// fileKeys lists the declared keys a YAML document sets.
func fileKeys(doc *yaml.Node, c *Config) []string {
	declared := map[string]bool{}
	for _, s := range Settings(c) {
		declared[s.Key] = true
	}
	var out []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			walk(n.Content[0], prefix)
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if declared[key] {
				out = append(out, key)
				continue
			}
			walk(n.Content[i+1], key)
		}
	}
	walk(doc, "")
	return out
}

// Setting is one leaf of Config: its dotted key, environment variable, help
// text and a setter that parses a string into the field.
type Setting struct {
	Key string
	Env string
	// Flag is the kebab-case flag name: the key's last part with - for _
	// (train.min_samples_leaf: min-samples-leaf), or the field's flag tag.
	Flag   string
	Help   string
	Secret bool
	field  reflect.Value
}

// Value returns the field's current value.
func (s Setting) Value() any { return s.field.Interface() }

// Set parses v into the field.
func (s Setting) Set(v string) error {
	f := s.field
	switch f.Interface().(type) {
	case Days:
		d, err := ParseDays(v)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
		return nil
	case time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
		return nil
	case secret.DSN:
		f.Set(reflect.ValueOf(secret.NewDSN(v)))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return err
		}
		f.SetFloat(x)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// Settings lists every leaf of c in declaration order.
func Settings(c *Config) []Setting {
	var out []Setting
	walk(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]Setting) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeOf(secret.DSN{}) {
			walk(fv, key, out)
			continue
		}
		flag := sf.Tag.Get("flag")
		if flag == "" {
			flag = strings.ReplaceAll(name, "_", "-")
		}
		*out = append(*out, Setting{
			Key:    key,
			Env:    "CHURNCTL_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
			Flag:   flag,
			Help:   sf.Tag.Get("help"),
			Secret: sf.Type == reflect.TypeOf(secret.DSN{}),
			field:  fv,
		})
	}
}

// flagValue adapts a Setting to pflag.Value. A list setting's first Set
// replaces the default and later ones append (--tables gold --tables runs,
// as pflag's string slices do); each Set splits its value on commas.
type flagValue struct {
	s   Setting
	set *bool
}

func newFlagValue(s Setting) flagValue { return flagValue{s, new(bool)} }

func (f flagValue) String() string {
	if !f.s.field.IsValid() {
		return ""
	}
	if v, ok := f.s.Value().([]string); ok {
		return strings.Join(v, ",")
	}
	return fmt.Sprint(f.s.Value())
}
func (f flagValue) Set(v string) error {
	prev, isList := f.s.Value().([]string)
	if err := f.s.Set(v); err != nil {
		return err
	}
	if isList && *f.set {
		f.s.field.Set(reflect.ValueOf(append(slices.Clone(prev), f.s.Value().([]string)...)))
	}
	*f.set = true
	return nil
}
func (f flagValue) Type() string {
	switch f.s.field.Interface().(type) {
	case Days:
		return "days"
	case time.Duration:
		return "duration"
	case secret.DSN:
		return "dsn"
	case []string:
		return "strings"
	}
	return f.s.field.Kind().String()
}

// Reparse makes the next Set of every list flag bound on fs replace its
// value instead of appending to it: for parsing a second command line over
// a first (run --resume: the failed run's arguments, then the ones given
// now), so a list given again replaces the first one's.
func Reparse(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if v, ok := f.Value.(flagValue); ok {
			*v.set = false
		}
	})
}

// AnnotationSetting is the pflag annotation that names the setting (its
// dotted key) a flag is bound to (by BindFlags or Var).
const AnnotationSetting = "churnctl/setting"

// usage is a setting's flag help: its doc, config key and variable.
func (s Setting) usage() string { return s.Help + " (config " + s.Key + ", env " + s.Env + ")" }

// bind adds s's flag and its old dotted spelling (hidden) to fs.
func bind(fs *pflag.FlagSet, s Setting) {
	v := newFlagValue(s)
	fs.Var(v, s.Flag, s.usage())
	_ = fs.SetAnnotation(s.Flag, AnnotationSetting, []string{s.Key})
	if s.Key != s.Flag {
		fs.Var(v, s.Key, "deprecated: use --"+s.Flag)
		_ = fs.MarkHidden(s.Key)
		_ = fs.SetAnnotation(s.Key, AnnotationSetting, []string{s.Key})
	}
}

// Lookup returns the declaration of the setting with the dotted key, its
// value the default.
func Lookup(key string) (Setting, bool) {
	c := Default()
	for _, s := range Settings(&c) {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// Var adds the flag of the setting key to fs (a subcommand's flags), bound
// to p: the declared name, type, default and help, as on run, and the old
// dotted spelling as a hidden alias. p must point to a variable of the
// setting's type; Var sets it to the default. A key that is not declared, or
// a p of another type, is a bug: Var panics.
func Var(fs *pflag.FlagSet, p any, key string) {
	s, ok := Lookup(key)
	if !ok {
		panic("config.Var: no setting " + key)
	}
	rv := reflect.ValueOf(p)
	if rv.Kind() != reflect.Pointer || rv.Elem().Type() != s.field.Type() {
		panic(fmt.Sprintf("config.Var: %s is a %s, not %T", key, s.field.Type(), p))
	}
	rv.Elem().Set(s.field)
	s.field = rv.Elem()
	bind(fs, s)
}

// Apply sets each flag of fs bound to a setting (Var) that was not given
// to the setting's value in c, when src says a file or the environment set
// it: so a subcommand's flags take flag > env > file > default, as run's
// do. It returns the keys it set.
func Apply(fs *pflag.FlagSet, c *Config, src Sources) []string {
	byKey := map[string]Setting{}
	for _, s := range Settings(c) {
		byKey[s.Key] = s
	}
	var keys []string
	done := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		ann := f.Annotations[AnnotationSetting]
		v, ok := f.Value.(flagValue)
		if len(ann) != 1 || !ok || done[ann[0]] {
			return
		}
		key := ann[0]
		done[key] = true
		s := byKey[key]
		if src.Of(key) == FromDefault || changed(fs, s) {
			return
		}
		v.s.field.Set(s.field)
		keys = append(keys, key)
	})
	return keys
}

// BindFlags adds one flag per setting (--min-samples-leaf ...) that writes
// into c when parsed, and its old dotted spelling (--train.min_samples_leaf)
// as a hidden alias (see Deprecated). Call it before flag parsing and after
// Load, or parse the flags into a scratch Config and copy the changed ones
// with ApplyChanged.
func BindFlags(fs *pflag.FlagSet, c *Config) {
	for _, s := range Settings(c) {
		bind(fs, s)
	}
}

// changed reports whether s's flag, or its old spelling, was set on fs.
func changed(fs *pflag.FlagSet, s Setting) bool {
	for _, name := range []string{s.Flag, s.Key} {
		if f := fs.Lookup(name); f != nil && f.Changed {
			return true
		}
	}
	return false
}

// Deprecated returns, for every old dotted flag set on fs, a warning naming
// the new spelling (the caller logs them). (pflag's MarkDeprecated prints to
// the flag set's output, which cobra keeps for usage errors only.)
func Deprecated(fs *pflag.FlagSet) []string {
	var out []string
	c := Default()
	for _, s := range Settings(&c) {
		if f := fs.Lookup(s.Key); s.Key != s.Flag && f != nil && f.Changed {
			out = append(out, "--"+s.Key+" is deprecated: use --"+s.Flag)
		}
	}
	return out
}

// ApplyChanged copies into c the settings whose flags were set on fs (bound
// to scratch with BindFlags), so flags beat the file and the environment.
// It returns the keys it copied.
func ApplyChanged(fs *pflag.FlagSet, scratch, c *Config) []string {
	from, to := Settings(scratch), Settings(c)
	var keys []string
	for i, s := range from {
		if changed(fs, s) {
			to[i].field.Set(s.field)
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// Masked returns the effective configuration as YAML; every secret
// renders masked (secret.DSN's MarshalYAML).
func Masked(c Config) ([]byte, error) { return yaml.Marshal(c) }

// Annotated is Masked with each setting's source as a line comment
// ("# default", "# file PATH", "# env CHURNCTL_…", "# flag --…"): the
// output is still YAML that loads to the same values.
func Annotated(c Config, src Sources, path string) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	byKey := map[string]Setting{}
	for _, s := range Settings(&c) {
		byKey[s.Key] = s
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			walk(n.Content[0], prefix)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			s, ok := byKey[key]
			if !ok {
				if v.Kind == yaml.MappingNode {
					walk(v, key)
				}
				continue
			}
			comment := string(src.Of(key))
			switch src.Of(key) {
			case FromFile:
				comment += " " + path
			case FromEnv:
				comment += " " + s.Env
			case FromFlag:
				comment += " --" + s.Flag
			}
			if v.Kind == yaml.ScalarNode || len(v.Content) == 0 {
				v.LineComment = comment
			} else {
				k.LineComment = comment
			}
		}
	}
	walk(&doc, "")
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(4)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Validate checks every setting that can be checked without the stages'
// own rules: ranges, the load tables and the timeouts. The error is a
// usage error (exit 2) that names the key. `churnctl run` calls it, with the
// stages' own checks (model name, class_weight, max_features, the DSN),
// before the first stage runs and in --dry-run, so a bad setting of the
// last stage cannot fail a run after the first ones have published.
func (c Config) Validate() error {
	bad := func(key string, format string, args ...any) error {
		return fmt.Errorf("%w: config %s: %s", errkind.Usage, key, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Lake == "":
		return bad("lake", "not set (config key lake, CHURNCTL_LAKE or --lake)")
	case c.ETL.MaxInvalidRatio < 0 || c.ETL.MaxInvalidRatio > 1:
		return bad("etl.max_invalid_ratio", "%g: want a share in [0, 1]", c.ETL.MaxInvalidRatio)
	case c.ETL.MemoryBudget < 1:
		return bad("etl.memory_budget", "%d: want at least 1 MiB", c.ETL.MemoryBudget)
	case c.ETL.Lookback < 0:
		return bad("etl.lookback", "%d: want 0 or more days", c.ETL.Lookback)
	case c.Features.Horizon < 1:
		return bad("features.horizon", "%v: want at least 1d", c.Features.Horizon)
	case c.Features.Window < 1:
		return bad("features.window", "%v: want at least 1d", c.Features.Window)
	case c.Features.TrainEvery < 1:
		return bad("features.train_every", "%v: want at least 1d", c.Features.TrainEvery)
	case c.Features.TrainCutoffs < 1:
		return bad("features.train_cutoffs", "%d: want at least 1", c.Features.TrainCutoffs)
	case c.Train.Trees < 1:
		return bad("train.trees", "%d: want at least 1", c.Train.Trees)
	case c.Train.MaxDepth < 0:
		return bad("train.max_depth", "%d: want 0 (unlimited) or more", c.Train.MaxDepth)
	case c.Train.MinSamplesLeaf < 1:
		return bad("train.min_samples_leaf", "%d: want at least 1", c.Train.MinSamplesLeaf)
	case c.Train.MinSamplesSplit < 2:
		return bad("train.min_samples_split", "%d: want at least 2", c.Train.MinSamplesSplit)
	case c.Train.Folds < 0 || c.Train.Folds == 1:
		return bad("train.folds", "%d: want 0 (off) or at least 2", c.Train.Folds)
	case c.Train.HoldoutUsers < 0 || c.Train.HoldoutUsers >= 1:
		return bad("train.holdout_users", "%g: want a share in [0, 1)", c.Train.HoldoutUsers)
	case math.IsNaN(c.Train.MinGain) || math.IsInf(c.Train.MinGain, 0) || c.Train.MinGain < -1 || c.Train.MinGain > 1:
		return bad("train.min_gain", "%g: want a metric difference in [-1, 1]", c.Train.MinGain)
	case c.Train.Jobs < 0:
		return bad("train.jobs", "%d: want 0 (all cores) or more", c.Train.Jobs)
	case c.Train.Calibration != "platt" && c.Train.Calibration != "isotonic" && c.Train.Calibration != "none":
		return bad("train.calibration", "%q: want platt, isotonic or none", c.Train.Calibration)
	case c.Score.Budget < 0:
		return bad("score.budget", "%d: want a number of users, 0 for none", c.Score.Budget)
	case c.Score.Budget > 0 && c.Score.Top != "":
		return bad("score.top", "%q and score.budget %d: give one of them", c.Score.Top, c.Score.Budget)
	}
	if t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(c.Score.Top), "%")); t != "" {
		if v, err := strconv.ParseFloat(t, 64); err != nil || !(v > 0 && v <= 100) {
			return bad("score.top", "%q: want a share of users K%% with 0 < K <= 100 (e.g. 10%%)", c.Score.Top)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"load.statement_timeout", c.Load.StatementTimeout}, {"load.lock_timeout", c.Load.LockTimeout}} {
		if err := CheckTimeout(d.v); err != nil {
			return bad(d.key, "%v", err)
		}
	}
	return nil
}

// CheckTimeout accepts 0 (no limit: the server's default) and durations of
// at least a millisecond, PostgreSQL's unit for statement_timeout and
// lock_timeout: 1us would otherwise round down to 0, which means no
// timeout at all.
func CheckTimeout(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("%v is negative: want 0 (the server's default) or at least 1ms", d)
	case d > 0 && d < time.Millisecond:
		return fmt.Errorf("%v is below PostgreSQL's 1ms resolution (it would mean no timeout): want 0 (the server's default) or at least 1ms", d)
	}
	return nil
}
