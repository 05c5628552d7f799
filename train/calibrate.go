package train

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Calibration methods (train --calibration).
const (
	CalibrationNone     = "none"
	CalibrationPlatt    = "platt"
	CalibrationIsotonic = "isotonic"
)

// CheckCalibrationMethod accepts platt, isotonic and none; anything else is a
// usage error.
func CheckCalibrationMethod(m string) error {
	switch m {
	case CalibrationNone, CalibrationPlatt, CalibrationIsotonic:
		return nil
	}
	return fmt.Errorf("%w: calibration %q: want platt, isotonic or none", errkind.Usage, m)
}

// Calibrator maps the forest's raw churn probability (the mean of leaf
// fractions, low under balanced class weights) to a calibrated probability.
// It is fitted on out-of-fold probabilities only, never on rows the forest
// that scored them was trained on, and it is non-decreasing in the raw
// probability, so it never reorders users.
//
//   - platt: p = 1 / (1 + exp(A*s + B)) (Platt 1999, "Probabilistic outputs
//     for support vector machines", with its smoothed targets (N+ + 1)/(N+ + 2)
//     and 1/(N- + 2), as scikit-learn's CalibratedClassifierCV(method="sigmoid")),
//     A and B minimising the log loss (gonum optimize, BFGS). A <= 0 on any
//     forest that ranks better than chance.
//   - isotonic: pool-adjacent-violators on the (score, label) pairs, ties in
//     score pooled first; the fitted step function is kept as knots (X, Y),
//     the first and last score of each pooled block, and evaluated by linear
//     interpolation between knots, clipped at the ends (scikit-learn's
//     IsotonicRegression(out_of_bounds="clip")). Its values are clipped to
//     [1/(2(n+1)), 1 - 1/(2(n+1))] for n fitted rows, so that a block of
//     stayers only never predicts a certain 0 (an infinite log loss on the
//     next churner in it).
type Calibrator struct {
	Method string    `json:"method"`
	A      float64   `json:"a,omitempty"`
	B      float64   `json:"b,omitempty"`
	X      []float64 `json:"x,omitempty"`
	Y      []float64 `json:"y,omitempty"`
	Rows   int       `json:"rows"` // out-of-fold rows it was fitted on
}

// Apply returns the calibrated probability of raw score s. A nil or "none"
// calibrator returns s.
func (c *Calibrator) Apply(s float64) float64 {
	if c == nil {
		return s
	}
	switch c.Method {
	case CalibrationPlatt:
		return sigmoid(-(c.A*s + c.B))
	case CalibrationIsotonic:
		n := len(c.X)
		if n == 0 {
			return s
		}
		if s <= c.X[0] {
			return c.Y[0]
		}
		if s >= c.X[n-1] {
			return c.Y[n-1]
		}
		// the first knot above s
		j, _ := slices.BinarySearch(c.X, s)
		if c.X[j] == s {
			return c.Y[j]
		}
		x0, x1, y0, y1 := c.X[j-1], c.X[j], c.Y[j-1], c.Y[j]
		return y0 + (y1-y0)*(s-x0)/(x1-x0)
	}
	return s
}

// ApplyAll returns the calibrated probabilities of raw scores (a new slice).
func (c *Calibrator) ApplyAll(s []float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = c.Apply(v)
	}
	return out
}

// Name is the calibrator's method, "none" for nil.
func (c *Calibrator) Name() string {
	if c == nil || c.Method == "" {
		return CalibrationNone
	}
	return c.Method
}

// check validates a calibrator read from a model file.
func (c *Calibrator) check() error {
	if c == nil {
		return nil
	}
	switch c.Method {
	case CalibrationNone:
		return nil
	case CalibrationPlatt:
		if math.IsNaN(c.A) || math.IsNaN(c.B) || math.IsInf(c.A, 0) || math.IsInf(c.B, 0) {
			return errors.New("calibration: platt coefficients not finite")
		}
		return nil
	case CalibrationIsotonic:
		if len(c.X) == 0 || len(c.X) != len(c.Y) {
			return fmt.Errorf("calibration: isotonic knots: %d x, %d y", len(c.X), len(c.Y))
		}
		for i := range c.X {
			if math.IsNaN(c.X[i]) || c.Y[i] < 0 || c.Y[i] > 1 || i > 0 && (c.X[i] < c.X[i-1] || c.Y[i] < c.Y[i-1]) {
				return fmt.Errorf("calibration: isotonic knot %d is not non-decreasing in [0, 1]", i)
			}
		}
		return nil
	}
	return fmt.Errorf("calibration: unknown method %q", c.Method)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softplus is log(1 + e^z), computed without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// FitCalibrator fits method on raw scores s (NaN rows skipped) and labels y.
// It returns nil for "none". Both classes must be present (exit 3 otherwise).
func FitCalibrator(method string, s []float64, y []uint8) (*Calibrator, error) {
	if err := CheckCalibrationMethod(method); err != nil {
		return nil, err
	}
	if method == CalibrationNone {
		return nil, nil
	}
	xs, ls := validatedRows(s, y)
	pos := 0
	for _, l := range ls {
		pos += int(l)
	}
	if pos == 0 || pos == len(ls) {
		return nil, fmt.Errorf("%w: calibration: %d out-of-fold rows, %d churners: need both classes", errkind.BadInput, len(ls), pos)
	}
	if method == CalibrationPlatt {
		a, b, err := fitPlatt(xs, ls, pos)
		if err != nil {
			return nil, err
		}
		return &Calibrator{Method: method, A: a, B: b, Rows: len(xs)}, nil
	}
	x, v := fitIsotonic(xs, ls)
	return &Calibrator{Method: method, X: x, Y: v, Rows: len(xs)}, nil
}

// fitPlatt minimises the log loss of sigmoid(-(A s + B)) against Platt's
// smoothed targets. The objective is convex in (A, B).
func fitPlatt(s []float64, y []uint8, pos int) (a, b float64, err error) {
	neg := len(y) - pos
	tPos, tNeg := (float64(pos)+1)/(float64(pos)+2), 1/(float64(neg)+2)
	t := make([]float64, len(y))
	for i, l := range y {
		t[i] = tNeg
		if l == 1 {
			t[i] = tPos
		}
	}
	// x = (A, B), z = A s + B, p = sigmoid(-z): a row's loss is
	// -t log p - (1-t) log(1-p) = t softplus(z) + (1-t) softplus(-z), whose
	// derivative in z is t sigmoid(z) - (1-t) sigmoid(-z) = t - p.
	prob := optimize.Problem{
		Func: func(x []float64) float64 {
			var f float64
			for i, v := range s {
				z := x[0]*v + x[1]
				f += t[i]*softplus(z) + (1-t[i])*softplus(-z)
			}
			return f
		},
		Grad: func(g, x []float64) {
			g[0], g[1] = 0, 0
			for i, v := range s {
				z := x[0]*v + x[1]
				d := t[i] - sigmoid(-z) // d loss / dz
				g[0] += d * v
				g[1] += d
			}
		},
	}
	init := []float64{0, math.Log((float64(neg) + 1) / (float64(pos) + 1))}
	res, err := optimize.Minimize(prob, init, &optimize.Settings{GradientThreshold: 1e-10, MajorIterations: 1000}, &optimize.BFGS{})
	if res == nil || len(res.X) != 2 {
		// a line search that fails near the optimum still returns the best
		// location found; only no location at all is an error
		return 0, 0, fmt.Errorf("%w: calibration: platt fit: %v", errkind.BadInput, err)
	}
	a, b = res.X[0], res.X[1]
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0, 0, fmt.Errorf("%w: calibration: platt fit diverged", errkind.BadInput)
	}
	return a, b, nil
}

// fitIsotonic runs pool-adjacent-violators on s (ascending) and y and
// returns the knots of the non-decreasing fit.
func fitIsotonic(s []float64, y []uint8) (x, v []float64) {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s[a], s[b]) })
	type block struct {
		lo, hi float64 // first and last score
		w, sum float64 // rows, churners
	}
	var st []block
	for k := 0; k < len(idx); {
		// ties in score are one point
		b := block{lo: s[idx[k]], hi: s[idx[k]]}
		for ; k < len(idx) && s[idx[k]] == b.lo; k++ {
			b.w++
			b.sum += float64(y[idx[k]])
		}
		st = append(st, b)
		// pool while the previous block's mean is not below this one's
		for len(st) > 1 {
			p, c := st[len(st)-2], st[len(st)-1]
			if p.sum/p.w < c.sum/c.w {
				break
			}
			st = st[:len(st)-2]
			st = append(st, block{lo: p.lo, hi: c.hi, w: p.w + c.w, sum: p.sum + c.sum})
		}
	}
	eps := 1 / (2 * float64(len(s)+1))
	for _, b := range st {
		m := min(max(b.sum/b.w, eps), 1-eps)
		x = append(x, b.lo)
		v = append(v, m)
		if b.hi != b.lo {
			x = append(x, b.hi)
			v = append(v, m)
		}
	}
	return x, v
}

// CrossCalibrate returns honest calibrated out-of-fold probabilities: the
// rows of each calibration group g are calibrated by a calibrator fitted on
// the other groups' rows only (groups: the outer folds when at least two
// were validated, else calFolds stratified folds of the validated rows). NaN
// rows stay NaN. A group whose complement holds one class only keeps its
// raw probabilities.
func CrossCalibrate(method string, oof []float64, y []uint8, fold []int, groups []string, calFolds int, seed uint64) ([]float64, error) {
	out := slices.Clone(oof)
	if method == CalibrationNone || method == "" {
		return out, nil
	}
	g := make([]int, len(oof))
	seen := map[int]bool{}
	for i, p := range oof {
		g[i] = -1
		if !math.IsNaN(p) {
			g[i] = fold[i]
			seen[fold[i]] = true
		}
	}
	if len(seen) < 2 {
		var vi []int
		for i, p := range oof {
			if !math.IsNaN(p) {
				vi = append(vi, i)
			}
		}
		vy := make([]uint8, len(vi))
		var vg []string
		if groups != nil {
			vg = make([]string, len(vi))
		}
		for j, i := range vi {
			vy[j] = y[i]
			if groups != nil {
				vg[j] = groups[i]
			}
		}
		var sub []int
		var err error
		for k := calFolds; k >= 2; k-- {
			if sub, err = StratifiedFolds(vy, vg, k, seed^0xca11b); err == nil {
				break
			}
		}
		if sub == nil {
			return out, nil // too few churners or stayers to cross-fit
		}
		for j, i := range vi {
			g[i] = sub[j]
		}
	}
	k := slices.Max(g) + 1
	for f := range k {
		var fs []float64
		var fy []uint8
		pos := 0
		for i, gi := range g {
			if gi >= 0 && gi != f {
				fs = append(fs, oof[i])
				fy = append(fy, y[i])
				pos += int(y[i])
			}
		}
		if pos == 0 || pos == len(fy) {
			continue
		}
		c, err := FitCalibrator(method, fs, fy)
		if err != nil {
			return nil, err
		}
		for i, gi := range g {
			if gi == f {
				out[i] = c.Apply(oof[i])
			}
		}
	}
	return out, nil
}
