package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/day"
	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/sql"
	"github.com/churnctl/churnctl/train"
	"github.com/churnctl/churnctl/train/registry"
)

func init() { register(newRunCmd) }

type runOptions struct {
	configPath string
	ds         string
	from, to   string
	dryRun     bool
	resume     bool
	backfill   bool
	noTrain    bool
	force      bool
	flags      config.Config // scratch target of the per-setting flags
	// resumeMasked lists the secret flags of the resumed run whose value
	// was recorded masked (and so not re-read).
	resumeMasked []string
}

func newRunCmd(a *App) *cobra.Command {
	// The settings' flags show the built-in defaults (what `config show`
	// prints with nothing set); only the flags given are applied.
	o := &runOptions{flags: config.Default()}
	cmd := &cobra.Command{
		Use:   "run [--config churnctl.yaml] [--ds YYYY-MM-DD]",
		Short: "Run the whole job: etl → features → train → evaluate → score → load",
		Long: `Run the whole job in one command, each stage skipped when its outputs are
current for its inputs:

  etl        JSON logs → bronze → silver → gold (with --ds: that day and the
             etl.lookback days before it; --backfill: every day since the
             last complete one)
  features   features.train_cutoffs labeled snapshots, features.train_every
             apart, whose label windows end by the data's end; plus one
             unlabeled snapshot to score, as of the end of --ds (or of the data)
  train      a random forest on every labeled snapshot, less a stable share
             of users held out (train.holdout_users), cross-validated in
             folds grouped by user (skipped with --no-train)
  evaluate   the new model (challenger) on the held-out users: users it never
             saw, at any cutoff; writes a report
  promote    challenger → champion only if its churn F1 on those users beats
             the champion's by train.min_gain (a refusal does not fail the run)
  score      churn probabilities of the scoring snapshot with the champion
  load       everything into PostgreSQL (only when load.dsn is set)

Settings come from the config file, then CHURNCTL_* environment variables,
then flags (each later source wins); "churnctl config show" prints the result.
Every setting is checked before the first stage runs (and with --dry-run): a
bad value exits 2 naming the key. A lock file in the lake keeps two runs from
writing at once (the second exits 4). A record of every run is written to
LAKE/runs/RUN_ID.json. SIGTERM or SIGINT stops at the next batch boundary,
publishes nothing partial and exits 143 / 130; --resume continues.

A daily run (--ds) on a new lake has no history to train on: run it once with
--backfill (every day up to --ds) or without --ds first.
`,
		Example: `  # the whole job on the bundled sample
  churnctl run --lake /tmp/lake --inputs testdata/sample

  # a daily cron or Airflow step ({{ ds }} is Airflow's run date)
  churnctl run --config /etc/churnctl.yaml --ds {{ ds }} --skip-if-empty

  # fill every day missed since the last complete one, then show the plan only
  churnctl run --config churnctl.example.yaml --ds 2018-11-30 --backfill --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJob(cmd, a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.configPath, "config", envOr("CHURNCTL_CONFIG", ""), "YAML config file (env CHURNCTL_CONFIG)")
	f.StringVar(&o.ds, "ds", "", "run date YYYY-MM-DD (Airflow's {{ ds }}): ingest that day and score as of its end")
	f.StringVar(&o.from, "from", "", "first day to ingest (YYYY-MM-DD)")
	f.StringVar(&o.to, "to", "", "last day to ingest (YYYY-MM-DD)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan (the stage commands and whether each is current) and exit")
	f.BoolVar(&o.resume, "resume", false, "continue the last failed run with its arguments, skipping the stages it finished")
	f.BoolVar(&o.backfill, "backfill", false, "ingest every day from the last complete one up to --ds (missed cron days)")
	f.BoolVar(&o.noTrain, "no-train", false, "do not train: score with the current champion")
	f.BoolVar(&o.force, "force", false, "run every stage even when its outputs are current")
	config.BindFlags(f, &o.flags)
	return cmd
}

// stagePlan is one step of a run: the churnctl command line it executes and
// what decides whether it is current.
type stagePlan struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
	// Reads are the files (globs) whose content decides whether the stage's
	// outputs are current; Writes must exist for it to be skipped.
	Reads  []string `json:"-"`
	Writes []string `json:"-"`
	// Code names what this churnctl computes that the arguments do not say
	// (the features stage: its feature set), so that an upgrade that
	// changes it makes the stage's outputs stale; nil for most stages.
	Code []string `json:"-"`
	// Optional stages may fail with exit 5 (refused promotion) without
	// failing the run.
	MayRefuse bool `json:"-"`
}

// stageResult is what a stage did, kept in the run record.
type stageResult struct {
	Name        string         `json:"name"`
	Args        []string       `json:"args"`
	Status      string         `json:"status"` // ok, current, refused, error, interrupted
	ExitCode    int            `json:"exit_code"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Summary     map[string]any `json:"summary,omitempty"`
	DurationMS  int64          `json:"duration_ms"`
}

// runState is LAKE/.run-state.json: the fingerprint each stage last
// finished with, and the last day fully processed (for --backfill).
type runState struct {
	Stages          map[string]string `json:"stages"`
	LastCompleteDay string            `json:"last_complete_day,omitempty"`
}

// runRecord is LAKE/runs/RUN_ID.json; the load stage copies it into churn.run.
type runRecord struct {
	RunID      string         `json:"run_id"`
	Command    string         `json:"command"`
	Args       []string       `json:"args"`
	Status     string         `json:"status"`
	ExitCode   int            `json:"exit_code"`
	Error      string         `json:"error,omitempty"`
	Counts     map[string]any `json:"counts"`
	Stages     []stageResult  `json:"stages"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	DurationMS int64          `json:"duration_ms"`
	Version    string         `json:"version"`
	Config     string         `json:"config,omitempty"`
}

func runJob(cmd *cobra.Command, a *App, o *runOptions) error {
	ctx := cmd.Context()
	if o.resume {
		if err := o.loadResume(cmd, a); err != nil {
			return err
		}
	}
	cfg, err := config.Load(o.configPath, os.Environ())
	if err != nil {
		return err
	}
	config.ApplyChanged(cmd.Flags(), &o.flags, &cfg)
	for _, w := range config.Deprecated(cmd.Flags()) {
		a.Log.Warn(w, "stage", "run")
	}
	for _, flag := range o.resumeMasked {
		if cfg.Load.DSN.IsZero() {
			return usageErrorf("resume: the failed run had --%s on its command line, and its password is not recorded: "+
				"give it again (--%s, CHURNCTL_DSN or load.dsn in the config file)", flag, flag)
		}
		a.Log.Warn("resume: the failed run's masked --"+flag+" is replaced by the one given now", "stage", "run")
	}
	if err := o.validate(&cfg); err != nil {
		return err
	}
	if cfg.Registry == "" {
		cfg.Registry = filepath.Join(cfg.Lake, "models")
	}
	a.Summary.Set("lake", cfg.Lake)
	if !o.dryRun {
		if err := os.MkdirAll(cfg.Lake, 0o755); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		unlock, err := lockRun(cfg.Lake, a.RunID)
		if err != nil {
			return err
		}
		defer unlock()
	}
	// The plan reads the lake (gold's and the snapshots' fingerprints): a
	// commit that a killed writer left past its commit point is completed
	// first, as every reader does (dry runs too: it only finishes what was
	// committed).
	if fi, err := os.Stat(cfg.Lake); err == nil && fi.IsDir() {
		if _, err := lake.Open(cfg.Lake); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	st := readState(cfg.Lake)
	if o.backfill {
		// Every day after the last complete one up to --ds; on a new lake,
		// every day up to --ds.
		o.to = o.ds
		if st.LastCompleteDay != "" {
			last, _ := day.Parse(st.LastCompleteDay)
			o.from = last.Add(1).String()
		}
	}

	rec := a.record
	if masked, err := config.Masked(cfg); err == nil {
		rec.Config = string(masked)
	}
	if !o.dryRun {
		a.RecordIn(cfg.Lake)
	}

	p := &planner{cfg: cfg, o: o, a: a, newLake: st.LastCompleteDay == ""}
	ran, current := 0, 0
	for _, next := range []func() (*stagePlan, error){p.etl, p.features, p.train, p.evaluate, p.promote, p.score, p.load} {
		sp, err := next()
		if err != nil {
			return err
		}
		if sp == nil {
			continue
		}
		fp := fingerprint(append(slices.Clone(sp.Args), sp.Code...), sp.Reads)
		isCurrent := !o.force && st.Stages[sp.Name] == fp && allExist(sp.Writes)
		if o.dryRun {
			state := "will run"
			if isCurrent {
				state = "current, skipped"
			}
			fmt.Fprintf(a.Stdout, "%-9s %-17s churnctl %s\n", sp.Name, state, strings.Join(quoteArgs(sp.Args), " "))
			a.Summary.Add("stages_planned", 1)
			continue
		}
		if isCurrent {
			a.Log.Info("stage current, skipped", "stage", sp.Name)
			rec.Stages = append(rec.Stages, stageResult{Name: sp.Name, Args: sp.Args, Status: "current", Fingerprint: fp})
			current++
			continue
		}
		// A signal stops the run before the next stage that would run; one
		// that arrives after the last stage has finished changes nothing:
		// the run is recorded as what it was, complete.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("before stage %s: %w", sp.Name, err)
		}
		res := p.exec(ctx, sp)
		res.Fingerprint = fp
		rec.Stages = append(rec.Stages, res)
		fmt.Fprintln(a.Stdout, stageLine(res))
		switch {
		case res.ExitCode == 0:
			st.Stages[sp.Name] = fp
			if err := writeState(cfg.Lake, st); err != nil {
				return err
			}
			if res.Summary["status"] == "skipped" {
				current++ // it found nothing new to do (etl: no new input)
			} else {
				ran++
			}
		case res.ExitCode == exitcode.Refused && sp.MayRefuse:
			// The challenger did not beat the champion: the run goes on with
			// the champion, and the promotion is retried only on new inputs.
			st.Stages[sp.Name] = fp
			if err := writeState(cfg.Lake, st); err != nil {
				return err
			}
			ran++
		default:
			delete(st.Stages, sp.Name)
			_ = writeState(cfg.Lake, st)
			return stageError(ctx, res)
		}
		mergeCounts(rec.Counts, sp.Name, res.Summary)
	}
	a.Summary.Set("stages_run", ran)
	a.Summary.Set("stages_current", current)
	for _, k := range sortedKeys(rec.Counts) {
		a.Summary.Set(k, rec.Counts[k])
	}
	if o.dryRun {
		return nil
	}
	if day := p.lastDay(); day != "" {
		st.LastCompleteDay = day
		if err := writeState(cfg.Lake, st); err != nil {
			return err
		}
	}
	if ran == 0 {
		return fmt.Errorf("%w: every stage is current", exitcode.ErrNothingToDo)
	}
	if !cfg.Load.DSN.IsZero() {
		// The load stage saw this run as running: load its finished record.
		a.finishRecord("ok", exitcode.OK, "")
		if ctx.Err() != nil {
			a.Log.Warn("stopped after the last stage: the run is complete; its final record is loaded into churn.run by the next load",
				"stage", "load", "signal", errorMessage(ctx, ctx.Err(), exitCode(ctx, ctx.Err(), false)))
			return nil
		}
		res := p.exec(ctx, &stagePlan{Name: "load-run", Args: []string{"load", "--dsn", cfg.Load.DSN.String(), "--lake", cfg.Lake, "--tables", "runs"}})
		if res.ExitCode != 0 && res.ExitCode != exitcode.NothingToDo {
			return stageError(ctx, res)
		}
	}
	return nil
}

// validate checks the run's own flags and every setting of every stage,
// before anything is written: a bad model name or class_weight must not
// fail the run after etl and features have published.
func (o *runOptions) validate(cfg *config.Config) error {
	if o.backfill {
		// --backfill sets --from and --to from --ds and the lake's state.
		if o.ds == "" {
			return usageErrorf("--backfill needs --ds (the last day to fill)")
		}
		if _, err := dayWindow(o.ds, "", ""); err != nil {
			return err
		}
		if _, err := dayWindow("", o.from, o.to); err != nil {
			return err
		}
	} else if _, err := dayWindow(o.ds, o.from, o.to); err != nil {
		return err
	}
	if err := validateConfig(*cfg); err != nil {
		return err
	}
	if len(cfg.Inputs) == 0 {
		return usageErrorf("inputs is not set (config key inputs, CHURNCTL_INPUTS or --inputs)")
	}
	if o.noTrain {
		cfg.Train.Skip = true
	}
	return nil
}

// validateConfig checks every setting of a run: the ranges (config.Validate)
// and, through the stages' own validators, what only they know.
func validateConfig(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	keyErr := func(key string, err error) error {
		msg := strings.TrimPrefix(err.Error(), exitcode.ErrUsage.Error()+": ")
		return fmt.Errorf("%w: config %s: %s", exitcode.ErrUsage, key, msg)
	}
	if err := registry.ValidName(cfg.Train.Name); err != nil {
		return keyErr("train.name", err)
	}
	// One setting at a time over valid defaults, so the error names its key.
	p := train.DefaultParams()
	p.MaxFeatures = cfg.Train.MaxFeatures
	if err := p.Validate(); err != nil {
		return keyErr("train.max_features", err)
	}
	p = train.DefaultParams()
	p.ClassWeight = cfg.Train.ClassWeight
	if err := p.Validate(); err != nil {
		return keyErr("train.class_weight", err)
	}
	if ref := cfg.Score.Model; ref != "" {
		name, sel, hasSel := strings.Cut(ref, "@")
		_, statErr := os.Stat(ref)
		if statErr != nil { // not a model file: NAME[@champion|challenger|latest|N]
			if err := registry.ValidName(name); err != nil {
				return keyErr("score.model", err)
			}
			if hasSel && sel != registry.Champion && sel != registry.Challenger && sel != "latest" {
				if n, err := strconv.Atoi(sel); err != nil || n < 1 {
					return keyErr("score.model", fmt.Errorf("%q: want NAME, NAME@champion, NAME@challenger, NAME@latest, NAME@VERSION or a model file", ref))
				}
			}
		}
	}
	for _, t := range cfg.Load.Tables {
		if !slices.Contains(sql.Groups, t) {
			return keyErr("load.tables", fmt.Errorf("%q: want some of %s", t, strings.Join(sql.Groups, ", ")))
		}
	}
	if !cfg.Load.DSN.IsZero() {
		if _, err := sql.ParseConfig(sql.ConnOptions{DSN: cfg.Load.DSN}); err != nil {
			return keyErr("load.dsn", err)
		}
	}
	return nil
}

// loadResume fills the flags of the last failed run that were not given now.
func (o *runOptions) loadResume(cmd *cobra.Command, a *App) error {
	lakeDir := o.flags.Lake
	if f := cmd.Flags().Lookup("lake"); f == nil || !f.Changed {
		cfg, err := config.Load(o.configPath, os.Environ())
		if err != nil {
			return err
		}
		lakeDir = cfg.Lake
	}
	recs, _ := filepath.Glob(filepath.Join(lakeDir, "runs", "*.json"))
	sort.Strings(recs)
	for i := len(recs) - 1; i >= 0; i-- {
		var r runRecord
		b, err := os.ReadFile(recs[i])
		if err != nil || json.Unmarshal(b, &r) != nil || r.Command != "run" || r.RunID == a.RunID {
			continue
		}
		if r.Status == "ok" || r.Status == "skipped" {
			return fmt.Errorf("%w: nothing to resume: the last run (%s) finished %s", exitcode.ErrNothingToDo, r.RunID, r.Status)
		}
		a.Log.Info("resuming run", "failed_run", r.RunID, "args", strings.Join(r.Args, " "))
		// Parse the old arguments into the same flags, then the ones given
		// now again, so they win (as given: a flag's String may be masked).
		old := r.Args
		if i := slices.Index(old, "run"); i >= 0 {
			old = old[i+1:]
		}
		// A secret on the failed run's command line is recorded masked:
		// it must come again, from the flag, the environment or the file.
		old, o.resumeMasked = dropMaskedSecrets(old)
		if err := cmd.Flags().Parse(old); err != nil {
			return usageErrorf("resume: cannot re-read the arguments of run %s: %v", r.RunID, err)
		}
		config.Reparse(cmd.Flags())
		if err := cmd.Flags().Parse(a.args); err != nil {
			return usageErrorf("resume: %v", err)
		}
		return nil
	}
	return fmt.Errorf("%w: no earlier run in %s to resume", exitcode.ErrNothingToDo, lakeDir)
}

// exec runs one stage in-process through the same command tree, capturing
// its stdout (whose last line is its summary); logs go to our stderr.
func (p *planner) exec(ctx context.Context, sp *stagePlan) stageResult {
	a := p.a
	args := append([]string{"--log-format", a.logFormat, "--log-level", a.logLevel, "--run-id", a.RunID, "--nested"}, sp.Args...)
	if a.noProgress {
		args = append([]string{"--no-progress"}, args...)
	}
	a.Log.Info("stage start", "stage", sp.Name, "args", strings.Join(sp.Args, " "))
	var out bytes.Buffer
	start := time.Now()
	// The stage's argv holds the DSN masked; the real one travels in the
	// context (see secrets.go).
	code := run(withStageSecrets(ctx, p.cfg.Load.DSN), args, a.Stdin, &out, a.Stderr)
	res := stageResult{Name: sp.Name, Args: sp.Args, ExitCode: code, DurationMS: time.Since(start).Milliseconds()}
	res.Status = statusFor(code)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "" {
		_ = json.Unmarshal([]byte(last), &res.Summary)
	}
	a.Log.Info("stage end", "stage", sp.Name, "status", res.Status, "exit_code", code, "duration_ms", res.DurationMS)
	return res
}

// stageError turns a failed stage into the run's error, keeping its kind.
func stageError(ctx context.Context, res stageResult) error {
	msg := fmt.Sprintf("stage %s failed (exit %d)", res.Name, res.ExitCode)
	if e, ok := res.Summary["error"].(string); ok {
		msg += ": " + e
	}
	switch res.ExitCode {
	case exitcode.Usage:
		return fmt.Errorf("%w: %s", exitcode.ErrUsage, msg)
	case exitcode.BadInput:
		return fmt.Errorf("%w: %s", exitcode.ErrBadInput, msg)
	case exitcode.Transient:
		return fmt.Errorf("%w: %s", exitcode.ErrTransient, msg)
	case exitcode.Refused:
		return fmt.Errorf("%w: %s", exitcode.ErrRefused, msg)
	case exitcode.SIGINT, exitcode.SIGTERM:
		if ctx.Err() != nil {
			return fmt.Errorf("stage %s stopped, nothing of it published; continue with --resume: %w", res.Name, ctx.Err())
		}
	}
	return errors.New(msg)
}

func stageLine(res stageResult) string {
	b, _ := marshalJSON(map[string]any{"stage": res.Name, "status": res.Status, "exit_code": res.ExitCode,
		"duration_ms": res.DurationMS, "summary": res.Summary})
	return string(b)
}

// headline lists, per stage, the summary keys worth repeating in the run's
// own summary line; the run record keeps every stage's whole summary.
var headline = map[string][]string{
	"etl":      {"lines_read", "rows_written", "rows_quarantined", "users", "user_days", "checks_failed"},
	"features": {"users", "positives", "features"},
	"train": {"model", "rows", "cv_f1_tuned", "cv_f1_tuned_ci95", "cv_f1_tuned_optimistic", "cv_f1", "cv_roc_auc", "cv_pr_auc", "threshold",
		"calibration", "cv_brier_raw", "cv_brier", "cv_log_loss_raw", "cv_log_loss", "cv_top10_lift"},
	"evaluate": {"rows", "f1", "precision", "recall", "roc_auc", "pr_auc", "brier_raw", "brier", "log_loss_raw", "log_loss", "top10_lift"},
	"promote":  {"promoted", "champion"},
	"score":    {"model", "rows", "predicted_churn", "contacted", "expected_churners"},
	"load":     {"rows"},
}

// mergeCounts copies a stage summary's headline figures into the run counts.
func mergeCounts(dst map[string]any, stage string, summary map[string]any) {
	for _, k := range headline[stage] {
		if v, ok := summary[k]; ok {
			dst[stage+"_"+k] = v
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fingerprint hashes a stage's arguments and the files it reads: small files
// (manifests, model metadata) by content, others by path, size and mtime.
func fingerprint(args []string, reads []string) string {
	h := sha256.New()
	for _, a := range args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	var files []string
	for _, pattern := range reads {
		if objstore.IsURL(pattern) {
			// Objects are not listed here: the stage always runs, and
			// bronze's ledger skips the objects it knows by ETag without
			// downloading them.
			fmt.Fprintf(h, "objects %q %d\n", pattern, time.Now().UnixNano())
			continue
		}
		files = append(files, expandFiles(pattern)...)
	}
	sort.Strings(files)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			continue
		}
		if fi.Size() <= 1<<16 && (strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".txt")) {
			b, _ := os.ReadFile(f)
			fmt.Fprintf(h, "file %q %x\n", f, sha256.Sum256(b))
			continue
		}
		fmt.Fprintf(h, "file %q %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// expandFiles lists the regular files a glob, a file or a directory names
// (directories recursively, following symbolic links as bronze does, each
// directory once: a stage's inputs change when a linked file does).
func expandFiles(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	var out []string
	walked := map[[2]uint64]bool{}
	var walk func(p string)
	walk = func(p string) {
		st, err := os.Stat(p)
		switch {
		case err != nil:
		case st.Mode().IsRegular():
			out = append(out, p)
		case st.IsDir():
			if s, ok := st.Sys().(*syscall.Stat_t); ok {
				id := [2]uint64{uint64(s.Dev), s.Ino}
				if walked[id] {
					return
				}
				walked[id] = true
			}
			ents, _ := os.ReadDir(p)
			for _, e := range ents {
				walk(filepath.Join(p, e.Name()))
			}
		}
	}
	for _, m := range matches {
		walk(m)
	}
	return out
}

func allExist(globs []string) bool {
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) == 0 {
			return false
		}
	}
	return true
}

func readState(lakeDir string) *runState {
	st := &runState{Stages: map[string]string{}}
	if b, err := os.ReadFile(filepath.Join(lakeDir, ".run-state.json")); err == nil {
		_ = json.Unmarshal(b, st)
		if st.Stages == nil {
			st.Stages = map[string]string{}
		}
	}
	return st
}

func writeState(lakeDir string, st *runState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(filepath.Join(lakeDir, ".run-state.json"), append(b, '\n'))
}

func writeRunRecord(lakeDir string, rec *runRecord) error {
	b, err := marshalJSONIndent(scrubRecord(rec))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(lakeDir, "runs"), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(lakeDir, "runs", rec.RunID+".json"), append(b, '\n'))
}

// writeFileAtomic writes a temp file beside path and renames it into place.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lockRun takes LAKE/.run.lock so two overlapping runs cannot both write.
// The lock is released by the kernel if the process dies.
func lockRun(lakeDir, runID string) (func(), error) {
	path := filepath.Join(lakeDir, ".run.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("%w: another churnctl run holds %s (%s); it may still be running",
			exitcode.ErrTransient, path, strings.TrimSpace(string(holder)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("run "+runID+" pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, s := range args {
		out[i] = shellQuote(s)
	}
	return out
}

// shellQuote quotes s for a POSIX shell: as is when it holds only
// characters no shell treats specially, else in single quotes, each
// embedded one written '\”.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
