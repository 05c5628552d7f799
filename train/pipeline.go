package train

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/churnctl/churnctl/evaluate"
	"github.com/churnctl/churnctl/internal/errkind"
)

// Config is one training run: validation scheme, search and threshold rule.
type Config struct {
	Params Params
	Seed   uint64
	Jobs   int
	// Folds for stratified k-fold CV; 0 turns CV off (threshold stays 0.5).
	Folds int
	// Groups, when set (one key per row), keeps each group in one fold: pass
	// the user ids when snapshots from several cutoffs are stacked.
	Groups []string
	// ValidateAsOf, when set, replaces k-fold by an out-of-time split: train
	// on rows with AsOf < ValidateAsOf, validate on rows with AsOf ==
	// ValidateAsOf.
	ValidateAsOf string
	AsOf         []string
	// HorizonDays > 0 (the label window length) embargoes out-of-time
	// training rows whose label window [as_of, as_of+H) reaches past
	// ValidateAsOf: their labels would see the validation period.
	HorizonDays int
	// MinPrecision > 0 tunes the threshold for the best recall at this
	// precision instead of the best F1.
	MinPrecision float64
	// InnerFolds is the number of inner folds of the nested threshold when
	// the outer folds cannot serve (out-of-time validation, 2 folds); 0:
	// DefaultInnerFolds.
	InnerFolds int
	// SearchBudget > 0 tries that many parameter sets (Search "random":
	// seeded draws from SearchGrid; "grid": the grid in order), scored on the
	// folds only by Objective ("f1": churn F1 at the threshold tuned on the
	// trial's out-of-fold probabilities, the optimistic figure, which ranks
	// trials at a fraction of a nested run's cost; or "pr_auc").
	SearchBudget int
	Search       string
	Objective    string
	// Calibration is the probability calibration fitted on the out-of-fold
	// probabilities (platt, isotonic or none; "" is platt). Without
	// validation there are none to fit on: the model is uncalibrated.
	Calibration string
	Log         *slog.Logger
	Progress    func()
}

// SearchTrial is one evaluated parameter set.
type SearchTrial struct {
	MaxFeatures    string  `json:"max_features"`
	MinSamplesLeaf int     `json:"min_samples_leaf"`
	MaxDepth       int     `json:"max_depth"`
	Criterion      string  `json:"criterion"`
	Score          float64 `json:"score"`
}

// SearchGrid is the hyperparameter space searched by SearchBudget.
func SearchGrid() []SearchTrial {
	var g []SearchTrial
	for _, mf := range []string{"sqrt", "log2", "0.5"} {
		for _, leaf := range []int{1, 3, 10, 20, 50} {
			for _, depth := range []int{0, 12} {
				for _, crit := range []string{"gini", "entropy"} {
					g = append(g, SearchTrial{MaxFeatures: mf, MinSamplesLeaf: leaf, MaxDepth: depth, Criterion: crit})
				}
			}
		}
	}
	return g
}

// Outcome is what Run returns.
type Outcome struct {
	Forest *Forest
	Params Params
	CV     *CVMetrics // nil when validation is off
	OOB    *OOBMetrics
	Search []SearchTrial
	// Threshold is the stored decision threshold on calibrated
	// probabilities: Calibrator.Apply(ThresholdRaw), where ThresholdRaw is
	// tuned on the raw out-of-fold probabilities (the same decisions, the
	// calibrator being non-decreasing; with isotonic, raw scores just below
	// ThresholdRaw in its step share its calibrated value and are flagged
	// too).
	Threshold    float64
	ThresholdRaw float64
	Rule         string
	// Calibrator maps the final forest's probabilities (nil: none).
	Calibrator *Calibrator
	FitSeconds float64 // the final fit on all rows
	// OOF is the out-of-fold probability of every row (NaN: not validated),
	// Fold its outer fold (-1: never validated nor trained on in CV); nil
	// when validation is off.
	OOF  []float64
	Fold []int
	// OOFCalibrated is OOF cross-calibrated (each row by a calibrator fitted
	// without its fold; OOF itself without calibration).
	OOFCalibrated []float64
}

func (c *Config) folds(d *Dataset) ([]int, []int, error) {
	if c.ValidateAsOf != "" {
		v, err := time.Parse(time.DateOnly, c.ValidateAsOf)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --validate-as-of %q: want YYYY-MM-DD", errkind.Usage, c.ValidateAsOf)
		}
		// training rows: as_of + horizon <= validation cutoff
		last := v.AddDate(0, 0, -c.HorizonDays).Format(time.DateOnly)
		fold := make([]int, d.Rows())
		var nv, nt, embargoed int
		for i, a := range c.AsOf {
			switch {
			case a == c.ValidateAsOf:
				fold[i] = 0
				nv++
			case a != "" && a <= last && a < c.ValidateAsOf:
				fold[i] = 1
				nt++
			default:
				if a != "" && a < c.ValidateAsOf {
					embargoed++
				}
				fold[i] = -1
			}
		}
		if embargoed > 0 {
			c.log().Info("out-of-time: training rows embargoed (label window reaches the validation cutoff)",
				"rows", embargoed, "horizon_days", c.HorizonDays, "last_train_as_of", last)
		}
		if nv == 0 || nt == 0 {
			return nil, nil, fmt.Errorf("%w: --validate-as-of %s: %d rows to validate, %d earlier rows to train on (%d more embargoed: as_of after %s, label window of %d days); need both",
				errkind.BadInput, c.ValidateAsOf, nv, nt, embargoed, last, c.HorizonDays)
		}
		return fold, []int{0}, nil
	}
	if c.Folds == 0 {
		return nil, nil, nil
	}
	f, err := StratifiedFolds(d.Y, c.Groups, c.Folds, c.Seed)
	return f, nil, err
}

func (c *Config) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Run validates (k-fold or out-of-time), optionally searches
// hyperparameters on the folds, measures the tuned threshold's F1 by nested
// cross-validation (NestedCV), tunes the stored threshold on all rows'
// out-of-fold probabilities and fits the final forest on all rows.
func Run(ctx context.Context, d *Dataset, c Config) (*Outcome, error) {
	if err := c.Params.Validate(); err != nil {
		return nil, err
	}
	if err := d.CheckFinite(); err != nil {
		return nil, err
	}
	if err := checkLabels(d.Y); err != nil {
		return nil, err
	}
	if c.Calibration == "" {
		c.Calibration = CalibrationPlatt
	}
	if err := CheckCalibrationMethod(c.Calibration); err != nil {
		return nil, err
	}
	fold, only, err := c.folds(d)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Params: c.Params, Threshold: 0.5, ThresholdRaw: 0.5, Rule: "default 0.5 (no validation)"}
	fo := FitOptions{Seed: c.Seed, Jobs: c.Jobs, Progress: c.Progress}
	if fold != nil && c.SearchBudget > 0 {
		grid := SearchGrid()
		if c.Search != "grid" {
			r := rand.New(rand.NewPCG(c.Seed, 0x5ea4c4))
			r.Shuffle(len(grid), func(i, j int) { grid[i], grid[j] = grid[j], grid[i] })
		}
		grid = grid[:min(c.SearchBudget, len(grid))]
		best := math.Inf(-1)
		for i, tr := range grid {
			p := c.Params
			p.MaxFeatures, p.MinSamplesLeaf, p.MaxDepth, p.Criterion = tr.MaxFeatures, tr.MinSamplesLeaf, tr.MaxDepth, tr.Criterion
			oof, err := CrossValidate(ctx, d, fold, only, p, fo)
			if err != nil {
				return nil, err
			}
			m := Score(oof, d.Y, c.MinPrecision)
			grid[i].Score = m.F1TunedOptimistic
			if c.Objective == "pr_auc" {
				grid[i].Score = m.PRAUC
			}
			c.log().Info("search trial", "trial", i+1, "of", len(grid), "max_features", tr.MaxFeatures,
				"min_samples_leaf", tr.MinSamplesLeaf, "max_depth", tr.MaxDepth, "criterion", tr.Criterion, "score", grid[i].Score)
			if grid[i].Score > best {
				best, out.Params = grid[i].Score, p
			}
		}
		out.Search = grid
	}
	if fold != nil {
		nc, err := NestedCV(ctx, d, fold, only, c.Groups, c.InnerFolds, c.MinPrecision, out.Params, fo)
		if err != nil {
			return nil, err
		}
		m := Score(nc.OOF, d.Y, c.MinPrecision)
		m.Nested(nc, fold, d.Y, c.Seed)
		if c.ValidateAsOf != "" {
			m.Folds = 0
		} else {
			m.Folds = c.Folds
		}
		out.OOF, out.Fold, out.OOFCalibrated = nc.OOF, fold, nc.OOF
		out.Threshold, out.ThresholdRaw, out.Rule = m.Threshold, m.Threshold, m.ThreshRule
		if c.Calibration != CalibrationNone {
			cal, err := FitCalibrator(c.Calibration, nc.OOF, d.Y)
			if err != nil {
				return nil, err
			}
			honest, err := CrossCalibrate(c.Calibration, nc.OOF, d.Y, fold, c.Groups, DefaultInnerFolds, c.Seed)
			if err != nil {
				return nil, err
			}
			m.Calibrated(c.Calibration, nc.OOF, honest, d.Y)
			out.OOFCalibrated = honest
			out.Calibrator = cal
			out.Threshold = cal.Apply(out.ThresholdRaw)
			m.Threshold, m.ThresholdRaw = out.Threshold, out.ThresholdRaw
			c.log().Info("calibrated", "calibration", c.Calibration, "cv_brier_raw", m.BrierRaw, "cv_brier", m.Brier,
				"cv_log_loss_raw", m.LogLossRaw, "cv_log_loss", m.LogLoss, "threshold_raw", out.ThresholdRaw, "threshold", out.Threshold)
		}
		out.CV = &m
		c.log().Info("cross-validated", "cv_f1_tuned", m.F1Tuned, "cv_f1_tuned_ci95", m.F1TunedCI95,
			"cv_f1_tuned_optimistic", m.F1TunedOptimistic, "cv_roc_auc", m.ROCAUC, "threshold", m.Threshold, "inner_folds", m.InnerFolds)
	}
	t0 := time.Now()
	f, err := Fit(ctx, d, out.Params, fo)
	if err != nil {
		return nil, err
	}
	out.FitSeconds = time.Since(t0).Seconds()
	out.Forest = f
	if f.OOB != nil {
		var s []float64
		var l []uint8
		for i, p := range f.OOB {
			if !math.IsNaN(p) {
				s = append(s, p)
				l = append(l, d.Y[i])
			}
		}
		if len(s) > 0 {
			o := &OOBMetrics{Rows: len(s), F1: evaluate.ConfusionAt(s, l, 0.5).F1(), ROCAUC: evaluate.ROCAUC(s, l)}
			if math.IsNaN(o.ROCAUC) {
				o.ROCAUC = 0
			}
			out.OOB = o
		}
	}
	return out, nil
}
