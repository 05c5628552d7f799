package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/churnctl/churnctl/features"
	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/day"
	"github.com/churnctl/churnctl/internal/exitcode"
)

// planner builds each stage's command line from the effective config and
// from what the lake holds after the stages before it.
type planner struct {
	cfg config.Config
	o   *runOptions
	a   *App

	scoreAsOf string   // the unlabeled snapshot scored
	labeled   []string // labeled snapshots: trained on, less the held-out users, who judge the model
	// newLake is set when no run has completed a day in the lake yet.
	newLake bool
}

func (p *planner) lakePath(elem ...string) string {
	return filepath.Join(append([]string{p.cfg.Lake}, elem...)...)
}

func (p *planner) etl() (*stagePlan, error) {
	args := []string{"etl", "--lake", p.cfg.Lake}
	switch {
	case p.o.from != "" || p.o.to != "":
		if p.o.from != "" {
			args = append(args, "--from", p.o.from)
		}
		if p.o.to != "" {
			args = append(args, "--to", p.o.to)
		}
	case p.o.ds != "":
		args = append(args, "--ds", p.o.ds)
		if p.cfg.ETL.Lookback > 0 {
			args = append(args, "--lookback", strconv.Itoa(p.cfg.ETL.Lookback))
		}
	}
	args = append(args, "--max-invalid-ratio", strconv.FormatFloat(p.cfg.ETL.MaxInvalidRatio, 'g', -1, 64))
	if p.cfg.ETL.AllowTruncated {
		args = append(args, "--allow-truncated")
	}
	// Only when set: the default is etl's own, and leaving it off keeps the
	// fingerprint of existing lakes' etl stage.
	if mb := p.cfg.ETL.MemoryBudget; mb != config.Default().ETL.MemoryBudget {
		args = append(args, "--memory-budget", strconv.Itoa(mb))
	}
	for _, id := range p.cfg.ETL.AnonymousUserIDs {
		args = append(args, "--anonymous-user-ids", id)
	}
	args = append(args, p.cfg.Inputs...)
	return &stagePlan{Name: "etl", Args: args, Reads: p.cfg.Inputs, Writes: []string{p.lakePath("gold", "_manifest.json")}}, nil
}

// goldRange is the part of gold/_manifest.json the planner needs.
type goldRange struct {
	FirstDay string `json:"first_day"`
	LastDay  string `json:"last_day"`
}

func (p *planner) gold() (first, last day.Day, ok bool) {
	b, err := os.ReadFile(p.lakePath("gold", "_manifest.json"))
	if err != nil {
		return
	}
	var g goldRange
	if json.Unmarshal(b, &g) != nil {
		return
	}
	f, err1 := day.Parse(g.FirstDay)
	l, err2 := day.Parse(g.LastDay)
	return f, l, err1 == nil && err2 == nil
}

// lastDay is the last day the run made complete (for --backfill).
func (p *planner) lastDay() string {
	if p.o.ds != "" {
		return p.o.ds
	}
	if p.o.to != "" {
		return p.o.to
	}
	if _, last, ok := p.gold(); ok {
		return last.String()
	}
	return ""
}

// features plans one snapshot to score (as of the end of --ds, or of the
// data) and, unless training is off, labeled snapshots every train_every
// days whose label windows end by the end of the data.
func (p *planner) features() (*stagePlan, error) {
	first, last, ok := p.gold()
	if !ok {
		if p.o.dryRun {
			// The cutoffs depend on the data etl is about to load.
			const later = "(after-etl)"
			p.scoreAsOf = later
			if !p.cfg.Train.Skip {
				p.labeled = []string{later}
			}
			return &stagePlan{Name: "features", Args: []string{"features", "--lake", p.cfg.Lake, "--as-of", later}}, nil
		}
		return nil, fmt.Errorf("%w: run: no gold data in %s after etl", exitcode.ErrBadInput, p.cfg.Lake)
	}
	end := last.Add(1) // the data covers [first, end)
	score := end
	if p.o.ds != "" {
		ds, _ := day.Parse(p.o.ds) // checked by validate
		score = ds.Add(1)
	}
	p.scoreAsOf = score.String()
	asOf := []string{p.scoreAsOf}
	if !p.cfg.Train.Skip {
		h := int(p.cfg.Features.Horizon)
		t := end.Add(-h)
		if score < end {
			t = score.Add(-h)
		}
		var labeled []string
		for k := 0; k < p.cfg.Features.TrainCutoffs && t > first.Add(7); k++ {
			labeled = append([]string{t.String()}, labeled...)
			t = t.Add(-int(p.cfg.Features.TrainEvery))
		}
		if len(labeled) == 0 {
			// Too little history for a label window: score with the
			// champion if there is one, else say what is missing.
			// A cutoff needs a week of history before it and its label
			// window after it: 8+h days from the first day to the scoring day.
			msg := fmt.Sprintf("the data (%s to %s) is too short for a %v label window after a week of history: no labeled cutoff (training needs at least %d days of data)",
				first, last, p.cfg.Features.Horizon, 8+h)
			if !p.hasChampion() {
				hint := "ingest more history, or set a shorter features.horizon"
				if p.o.ds != "" && !p.o.backfill && p.newLake {
					// Either fix works: a run without --ds ingests every day
					// of the inputs and trains a first champion, which later
					// daily runs score with; a backfill to a D late enough
					// in the inputs has a labeled cutoff whose label window
					// ends by D.
					hint = fmt.Sprintf("a run with --ds ingests only that day and the etl.lookback (%d) days before it, and this lake has no earlier days: "+
						"fill the history once with a run without --ds (every day of the inputs; it trains a first champion), "+
						"or with --ds D --backfill (every day up to D) for a D that is the %dth day of the inputs or later; then run daily with --ds",
						p.cfg.ETL.Lookback, 8+h)
				}
				return nil, fmt.Errorf("%w: run: %s, and no champion model to score with; %s", exitcode.ErrBadInput, msg, hint)
			}
			p.a.Log.Warn(msg+"; not training, scoring with the champion", "stage", "features")
		}
		p.labeled = labeled
		asOf = append(labeled, asOf...)
	}
	args := []string{"features", "--lake", p.cfg.Lake,
		"--horizon", p.cfg.Features.Horizon.String(), "--window", p.cfg.Features.Window.String()}
	for _, t := range asOf {
		args = append(args, "--as-of", t)
	}
	return &stagePlan{Name: "features", Args: args, Code: featureSet(),
		Reads:  []string{p.lakePath("gold", "_manifest.json"), p.lakePath("gold", "*", "*", "_manifest.json"), p.lakePath("gold", "*", "_manifest.json")},
		Writes: []string{p.snapshot(p.scoreAsOf)}}, nil
}

// featureSet names the snapshot's columns and types: a churnctl that
// computes other features recomputes the snapshots of an existing lake.
func featureSet() []string {
	var s []string
	for _, f := range features.Features() {
		s = append(s, "feature "+f.Name+" "+string(f.Type))
	}
	return s
}

// hasChampion reports whether the registry has a champion for train.name.
func (p *planner) hasChampion() bool {
	b, err := os.ReadFile(filepath.Join(p.cfg.Registry, p.cfg.Train.Name, "aliases.json"))
	if err != nil {
		return false
	}
	var aliases map[string]any
	return json.Unmarshal(b, &aliases) == nil && aliases["champion"] != nil
}

func (p *planner) snapshot(asOf string) string { return p.lakePath("features", "as_of="+asOf) }

func (p *planner) snapshots(asOf []string) []string {
	out := make([]string, len(asOf))
	for i, t := range asOf {
		out[i] = p.snapshot(t)
	}
	return out
}

func (p *planner) manifests(asOf ...string) []string {
	var out []string
	for _, t := range asOf {
		out = append(out, filepath.Join(p.snapshot(t), "*.json"))
	}
	return out
}

func (p *planner) registryFiles() []string {
	// Not evaluations.json: evaluate appends to it, which must not make
	// evaluate itself look stale on the next run.
	return []string{filepath.Join(p.cfg.Registry, p.cfg.Train.Name, "aliases.json"), filepath.Join(p.cfg.Registry, p.cfg.Train.Name, "*", "metadata.json")}
}

func (p *planner) train() (*stagePlan, error) {
	if p.cfg.Train.Skip || len(p.labeled) == 0 {
		return nil, nil
	}
	t := p.cfg.Train
	args := []string{"train", "--registry", p.cfg.Registry, "--name", t.Name,
		"--seed", strconv.FormatInt(t.Seed, 10), "--trees", strconv.Itoa(t.Trees),
		"--max-depth", strconv.Itoa(t.MaxDepth), "--min-samples-leaf", strconv.Itoa(t.MinSamplesLeaf),
		"--min-samples-split", strconv.Itoa(t.MinSamplesSplit), "--max-features", t.MaxFeatures,
		"--class-weight", t.ClassWeight, "--folds", strconv.Itoa(t.Folds), "--holdout-users", p.holdout()}
	if t.Jobs > 0 {
		args = append(args, "--jobs", strconv.Itoa(t.Jobs))
	}
	// Only when set: the default is train's own, and leaving it off keeps
	// the fingerprint of existing lakes' train stage.
	if t.Calibration != config.Default().Train.Calibration {
		args = append(args, "--calibration", t.Calibration)
	}
	for _, s := range p.snapshots(p.labeled) {
		args = append(args, "--features", s)
	}
	return &stagePlan{Name: "train", Args: args, Reads: p.manifests(p.labeled...),
		Writes: []string{filepath.Join(p.cfg.Registry, t.Name, "aliases.json")}}, nil
}

func (p *planner) holdout() string { return strconv.FormatFloat(p.cfg.Train.HoldoutUsers, 'g', -1, 64) }

// judged reports whether the new model can be judged: training on and a
// share of users held out of it.
func (p *planner) judged() bool {
	return !p.cfg.Train.Skip && len(p.labeled) > 0 && p.cfg.Train.HoldoutUsers > 0
}

// evaluate judges the new model on the held-out users of every labeled
// snapshot: users the model never saw in training, at any cutoff.
func (p *planner) evaluate() (*stagePlan, error) {
	if !p.judged() {
		return nil, nil
	}
	report := p.lakePath("reports", "as_of="+p.labeled[len(p.labeled)-1])
	args := []string{"evaluate", "--registry", p.cfg.Registry, "--model", p.cfg.Train.Name + "@challenger",
		"--holdout-users", p.holdout(), "--report", report}
	for _, s := range p.snapshots(p.labeled) {
		args = append(args, "--features", s)
	}
	return &stagePlan{Name: "evaluate", Args: args, Reads: append(p.manifests(p.labeled...), p.registryFiles()...),
		Writes: []string{report}}, nil
}

// promote makes the new model champion if it beats the champion on the
// same held-out users by train.min_gain.
func (p *planner) promote() (*stagePlan, error) {
	if !p.judged() {
		return nil, nil
	}
	args := []string{"models", "promote", p.cfg.Train.Name + "@challenger", "--registry", p.cfg.Registry,
		"--holdout-users", p.holdout(), "--min-gain", strconv.FormatFloat(p.cfg.Train.MinGain, 'g', -1, 64)}
	for _, s := range p.snapshots(p.labeled) {
		args = append(args, "--features", s)
	}
	return &stagePlan{Name: "promote", Args: args, Reads: append(p.manifests(p.labeled...), p.registryFiles()...), MayRefuse: true}, nil
}

func (p *planner) score() (*stagePlan, error) {
	model := p.cfg.Score.Model
	if model == "" {
		model = p.cfg.Train.Name + "@champion"
	}
	args := []string{"score", "--registry", p.cfg.Registry, "--model", model, "--features", p.snapshot(p.scoreAsOf),
		"--lake", p.cfg.Lake, "--as-of", p.scoreAsOf}
	if sc := p.cfg.Score; sc.Top != "" {
		args = append(args, "--top", sc.Top)
	} else if sc.Budget > 0 {
		args = append(args, "--budget", strconv.Itoa(sc.Budget))
	}
	return &stagePlan{Name: "score", Args: args, Reads: append(p.manifests(p.scoreAsOf), p.registryFiles()...),
		Writes: []string{p.lakePath("predictions", "as_of="+p.scoreAsOf)}}, nil
}

func (p *planner) load() (*stagePlan, error) {
	l := p.cfg.Load
	if l.DSN.IsZero() {
		return nil, nil
	}
	// The DSN masked: the stage resolves it from the context (stageDSN), so
	// no password is in its argv, the logs, the run record or the
	// fingerprint.
	args := []string{"load", "--dsn", l.DSN.String(), "--lake", p.cfg.Lake,
		"--statement-timeout", l.StatementTimeout.String(), "--lock-timeout", l.LockTimeout.String()}
	for _, t := range l.Tables {
		args = append(args, "--tables", t)
	}
	if !l.Migrate {
		args = append(args, "--migrate=false")
	}
	return &stagePlan{Name: "load", Args: args,
		Reads: []string{p.lakePath("*", "_manifest.json"), p.lakePath("*", "*", "_manifest.json"), p.lakePath("*", "*", "*", "_manifest.json"),
			p.lakePath("features", "*", "*.json")}}, nil
}
