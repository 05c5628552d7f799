package evaluate

import (
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// thin keeps at most n points of a curve (always the first and last).
func thin(pts []CurvePoint, n int) plotter.XYs {
	step := max(1, len(pts)/n)
	var xy plotter.XYs
	for i := 0; i < len(pts); i += step {
		xy = append(xy, plotter.XY{X: pts[i].X, Y: pts[i].Y})
	}
	if len(pts) > 0 && (len(pts)-1)%step != 0 {
		last := pts[len(pts)-1]
		xy = append(xy, plotter.XY{X: last.X, Y: last.Y})
	}
	return xy
}

func curveChart(title, xl, yl string, xy plotter.XYs, diag bool, path string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xl
	p.Y.Label.Text = yl
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	if diag {
		d, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		if err != nil {
			return err
		}
		d.Color = color.Gray{Y: 160}
		d.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(d)
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	l.Width = vg.Points(1.5)
	p.Add(l)
	return p.Save(5*vg.Inch, 5*vg.Inch, path)
}

// ROCChart draws the ROC curve to a PNG (or SVG/PDF by extension) file.
func ROCChart(scores []float64, labels []uint8, path string) error {
	return curveChart("ROC", "false positive rate", "true positive rate", thin(ROC(scores, labels), 1000), true, path)
}

// PRChart draws the precision-recall curve.
func PRChart(scores []float64, labels []uint8, path string) error {
	return curveChart("Precision-recall", "recall", "precision", thin(PR(scores, labels), 1000), false, path)
}

// CalibrationChart draws the reliability diagram of bins.
func CalibrationChart(bins []CalibrationBin, path string) error {
	var xy plotter.XYs
	for _, b := range bins {
		xy = append(xy, plotter.XY{X: b.MeanScore, Y: b.Observed})
	}
	if len(xy) == 0 {
		xy = plotter.XYs{{}}
	}
	if err := curveChart("Calibration", "mean predicted probability", "observed churn rate", xy, true, path); err != nil {
		return err
	}
	return nil
}

// ImportanceChart draws horizontal bars of the top n importances (names and
// values in any order; the chart sorts them).
func ImportanceChart(title string, names []string, values []float64, n int, path string) error {
	type kv struct {
		k string
		v float64
	}
	var s []kv
	for i, name := range names {
		s = append(s, kv{name, values[i]})
	}
	// simple insertion sort, descending; few features
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].v > s[j-1].v; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	s = s[:min(n, len(s))]
	vals := make(plotter.Values, len(s))
	labels := make([]string, len(s))
	for i, e := range s { // largest on top: plot bottom-up
		vals[len(s)-1-i] = e.v
		labels[len(s)-1-i] = e.k
	}
	p := plot.New()
	p.Title.Text = title
	bars, err := plotter.NewBarChart(vals, vg.Points(10))
	if err != nil {
		return err
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(labels...)
	h := vg.Length(len(s))*14*vg.Millimeter/4 + 2*vg.Inch
	return p.Save(6*vg.Inch, h, path)
}

// Charts writes roc.png, pr.png and calibration.png into dir.
func Charts(scores []float64, labels []uint8, bins []CalibrationBin, dir string) error {
	if err := ROCChart(scores, labels, filepath.Join(dir, "roc.png")); err != nil {
		return err
	}
	if err := PRChart(scores, labels, filepath.Join(dir, "pr.png")); err != nil {
		return err
	}
	return CalibrationChart(bins, filepath.Join(dir, "calibration.png"))
}
