package train

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/churnctl/churnctl/evaluate"
)

// The reference table of the calibration tests: 20 scores, 11 churners.
var (
	calS = []float64{0.05, 0.1, 0.1, 0.15, 0.2, 0.22, 0.3, 0.35, 0.4, 0.4, 0.45, 0.5, 0.55, 0.6, 0.62, 0.7, 0.75, 0.8, 0.9, 0.95}
	calY = []uint8{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1}
)

func TestPlattMatchesScikitLearn(t *testing.T) {
	// Source: scikit-learn 1.2.1, sklearn.calibration._sigmoid_calibration(calS, calY)
	// (Platt's smoothed targets, scipy fmin_bfgs): a = -2.6935980927670813, b = 1.21828872197635.
	const tol = 1e-4
	c, err := FitCalibrator(CalibrationPlatt, calS, calY)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.A-(-2.6935980927670813)) > tol || math.Abs(c.B-1.21828872197635) > tol {
		t.Errorf("platt = (%v, %v), want (-2.69360, 1.21829) within %g", c.A, c.B, tol)
	}
	if c.Rows != len(calS) {
		t.Errorf("rows %d, want %d", c.Rows, len(calS))
	}
	if got, want := c.Apply(0.5), 1/(1+math.Exp(c.A*0.5+c.B)); got != want {
		t.Errorf("Apply(0.5) = %v, want %v", got, want)
	}
}

func TestIsotonicMatchesScikitLearn(t *testing.T) {
	// Source: scikit-learn 1.2.1, IsotonicRegression(out_of_bounds="clip").fit(calS, calY).predict(q),
	// then clipped to [1/42, 41/42] (churnctl keeps isotonic away from 0 and 1: 1/(2(n+1)), n = 20).
	const tol = 1e-12
	q := []float64{0.0, 0.1, 0.12, 0.3, 0.41, 0.5, 0.61, 0.78, 0.9, 1.0, 0.075}
	want := []float64{0.0, 0.25, 0.25, 1.0 / 3, 0.5, 0.5, 2.0 / 3, 2.0 / 3, 1.0, 1.0,
		0.125} // 0.075: halfway between the knots (0.05, 0) and (0.1, 0.25), before clipping
	c, err := FitCalibrator(CalibrationIsotonic, calS, calY)
	if err != nil {
		t.Fatal(err)
	}
	eps := 1.0 / 42
	for i, x := range q {
		w := min(max(want[i], eps), 1-eps)
		if x == 0.075 { // interpolated between the clipped knots
			w = eps + (0.25-eps)*0.5
		}
		if got := c.Apply(x); math.Abs(got-w) > tol {
			t.Errorf("isotonic(%v) = %v, want %v", x, got, w)
		}
	}
	if err := c.check(); err != nil {
		t.Error(err)
	}
}

func TestIsotonicIsNonDecreasing(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := make([]float64, 500)
	y := make([]uint8, 500)
	for i := range s {
		s[i] = math.Round(r.Float64()*50) / 50 // many ties
		if r.Float64() < s[i]*s[i] {
			y[i] = 1
		}
	}
	c, err := FitCalibrator(CalibrationIsotonic, s, y)
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for x := -0.1; x <= 1.1; x += 0.001 {
		v := c.Apply(x)
		if v < prev-1e-15 || v <= 0 || v >= 1 {
			t.Fatalf("isotonic(%v) = %v after %v: not non-decreasing in (0, 1)", x, v, prev)
		}
		prev = v
	}
	// PAV's fit is the least-squares non-decreasing fit: it has the mean of
	// the labels (pooling keeps each block's sum).
	var mean, fit float64
	for i := range s {
		mean += float64(y[i])
		fit += c.Apply(s[i])
	}
	if math.Abs(mean-fit) > 1 { // only the clipping of the end blocks moves it
		t.Errorf("sum of fitted values %v, of labels %v", fit, mean)
	}
}

func TestPlattCalibratesALowForest(t *testing.T) {
	// Scores that sit low (true probability = 2 s, as a balanced forest's
	// would): Platt's figures must beat the raw ones on fresh rows.
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) ([]float64, []uint8) {
		s := make([]float64, n)
		y := make([]uint8, n)
		for i := range s {
			s[i] = r.Float64() / 2
			if r.Float64() < 2*s[i] {
				y[i] = 1
			}
		}
		return s, y
	}
	s, y := gen(4000)
	c, err := FitCalibrator(CalibrationPlatt, s, y)
	if err != nil {
		t.Fatal(err)
	}
	ts, ty := gen(4000)
	cal := c.ApplyAll(ts)
	if b0, b1 := evaluate.Brier(ts, ty), evaluate.Brier(cal, ty); b1 >= b0 {
		t.Errorf("Brier raw %v, calibrated %v: want lower", b0, b1)
	}
	if l0, l1 := evaluate.LogLoss(ts, ty), evaluate.LogLoss(cal, ty); l1 >= l0 {
		t.Errorf("log loss raw %v, calibrated %v: want lower", l0, l1)
	}
}

func TestCalibrationNeedsBothClasses(t *testing.T) {
	if _, err := FitCalibrator(CalibrationPlatt, []float64{0.1, 0.2}, []uint8{1, 1}); err == nil {
		t.Error("platt on one class: no error")
	}
	if c, err := FitCalibrator(CalibrationNone, calS, calY); c != nil || err != nil {
		t.Errorf("none = %v, %v; want nil, nil", c, err)
	}
	if err := CheckCalibrationMethod("beta"); err == nil {
		t.Error("beta accepted")
	}
}

// A row's cross-calibrated value must not depend on its own fold's labels.
func TestCrossCalibrateNeverSeesTheRowsItScores(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 300
	s := make([]float64, n)
	y := make([]uint8, n)
	fold := make([]int, n)
	for i := range s {
		s[i] = r.Float64()
		if r.Float64() < s[i] {
			y[i] = 1
		}
		fold[i] = i % 5
	}
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic} {
		a, err := CrossCalibrate(method, s, y, fold, nil, 5, 1)
		if err != nil {
			t.Fatal(err)
		}
		y2 := slices.Clone(y)
		for i := range y2 {
			if fold[i] == 2 {
				y2[i] = 1 - y2[i]
			}
		}
		b, err := CrossCalibrate(method, s, y2, fold, nil, 5, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if fold[i] == 2 && a[i] != b[i] {
				t.Fatalf("%s: row %d of fold 3 changed (%v → %v) when only fold 3's labels did", method, i, a[i], b[i])
			}
			if fold[i] != 2 && a[i] == b[i] && method == CalibrationPlatt {
				t.Fatalf("%s: row %d of another fold did not change when fold 3's labels did", method, i)
			}
		}
	}
	// one validated fold (out-of-time): cross-fitted on stratified sub-folds
	oot := slices.Clone(s)
	f1 := make([]int, n)
	for i := range oot {
		if i%2 == 1 {
			oot[i], f1[i] = math.NaN(), 1
		}
	}
	c, err := CrossCalibrate(CalibrationPlatt, oot, y, f1, nil, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c {
		if math.IsNaN(oot[i]) != math.IsNaN(c[i]) || !math.IsNaN(c[i]) && c[i] == oot[i] {
			t.Fatalf("out-of-time row %d: %v → %v", i, oot[i], c[i])
		}
	}
}

// Run stores a calibrator fitted on the out-of-fold probabilities, maps the
// threshold through it and reports honest before/after figures.
func TestRunCalibrates(t *testing.T) {
	d := synthData(1500)
	p := DefaultParams()
	// shallow trees: probabilities squeezed towards the middle, which
	// calibration must undo
	p.Trees, p.MaxDepth = 20, 2
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic, CalibrationNone} {
		out, err := Run(context.Background(), d, Config{Params: p, Seed: 1, Folds: 3, Jobs: 2, Calibration: method})
		if err != nil {
			t.Fatal(err)
		}
		cv := out.CV
		if cv.Calibration != method {
			t.Errorf("%s: cv calibration %q", method, cv.Calibration)
		}
		if method == CalibrationNone {
			if out.Calibrator != nil || out.Threshold != out.ThresholdRaw || cv.Brier != cv.BrierRaw {
				t.Errorf("none: calibrator %v, threshold %v raw %v, brier %v raw %v", out.Calibrator, out.Threshold, out.ThresholdRaw, cv.Brier, cv.BrierRaw)
			}
			continue
		}
		if out.Calibrator == nil || out.Calibrator.Method != method || out.Calibrator.Rows != d.Rows() {
			t.Fatalf("%s: calibrator %+v", method, out.Calibrator)
		}
		if got := out.Calibrator.Apply(out.ThresholdRaw); out.Threshold != got || cv.Threshold != got {
			t.Errorf("%s: threshold %v (cv %v), want calibrated raw threshold %v", method, out.Threshold, cv.Threshold, got)
		}
		// same decisions on the out-of-fold rows (up to isotonic's flat steps)
		cal := out.Calibrator.ApplyAll(out.OOF)
		differ := 0
		for i, p := range out.OOF {
			if (p >= out.ThresholdRaw) != (cal[i] >= out.Threshold) {
				differ++
			}
		}
		if method == CalibrationPlatt && differ != 0 {
			t.Errorf("platt: %d rows decided differently after calibration", differ)
		}
		if cv.Brier >= cv.BrierRaw || cv.LogLoss >= cv.LogLossRaw {
			t.Errorf("%s: Brier %v → %v, log loss %v → %v: want both lower (balanced forests sit low)",
				method, cv.BrierRaw, cv.Brier, cv.LogLossRaw, cv.LogLoss)
		}
		if len(cv.Reliability) == 0 || len(cv.ReliabilityRaw) == 0 {
			t.Errorf("%s: no reliability curves", method)
		}
	}
}

// TestReadFormat2: a model written before calibration (testdata,
// `train --trees 3 --folds 3` on `gensynth -rows 300 -features 12 -seed 1`,
// churnctl format 2) loads uncalibrated: p_churn is the forest's
// probability and the threshold is raw.
func TestReadFormat2(t *testing.T) {
	b, err := os.ReadFile("testdata/format2.crf")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != 2 || m.Calibration.Name() != CalibrationNone || m.ThresholdRaw != m.Threshold || m.Threshold != 0.6666666666666666 {
		t.Errorf("format 2 model: version %d, calibration %s, threshold %v raw %v; want 2, none, 0.6667 twice",
			m.FormatVersion, m.Calibration.Name(), m.Threshold, m.ThresholdRaw)
	}
	d := synthData(50)
	d.Cols, d.Names = d.Cols[:12], d.Names[:12]
	if !equal(m.PredictProba(d, 1), m.Forest.PredictProba(d, 1)) {
		t.Error("format 2: p_churn differs from the forest's probability")
	}
}

// A calibrated model survives the round trip through its file (format 3).
func TestCalibratedModelRoundTrip(t *testing.T) {
	d := synthData(400)
	p := DefaultParams()
	p.Trees = 5
	f, err := Fit(context.Background(), d, p, FitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic} {
		c, err := FitCalibrator(method, calS, calY)
		if err != nil {
			t.Fatal(err)
		}
		m := &Model{Forest: f, Header: Header{Params: p, Importance: map[string]float64{}, Calibration: c, Threshold: c.Apply(0.4), ThresholdRaw: 0.4}}
		for i, n := range d.Names {
			m.Features = append(m.Features, FeatureSpec{Name: n, Type: "float64"})
			m.Importance[n] = f.Importance[i]
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		r, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if r.FormatVersion != FormatVersion || r.ThresholdRaw != 0.4 || r.Threshold != m.Threshold {
			t.Errorf("%s: version %d, thresholds %v / %v", method, r.FormatVersion, r.Threshold, r.ThresholdRaw)
		}
		want := c.ApplyAll(f.PredictProba(d, 1))
		if got := r.PredictProba(d, 1); !equal(got, want) {
			t.Errorf("%s: loaded model's p_churn differs from the calibrated forest's", method)
		}
	}
}
