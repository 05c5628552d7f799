package evaluate

import (
	"cmp"
	"fmt"
	"html"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The report's charts are SVG documents built as text: no plotting library,
// no fonts or images to embed, the same bytes for the same figures, and each
// can be inlined into an HTML page as it is (evaluate's report.html does).
// Coordinates are printed with 2 decimals (a hundredth of a pixel).

// Series is one line of a chart: points in data coordinates (both axes
// 0..1), drawn in order.
type Series struct {
	Name   string
	Color  string // CSS colour
	Points []CurvePoint
	Dots   bool // mark each point (reliability curves)
}

// Chart colours (matplotlib's "tab10" blue, orange, green).
const (
	colorBlue   = "#1f77b4"
	colorOrange = "#ff7f0e"
	colorGreen  = "#2ca02c"
)

const (
	chartW, chartH             = 420, 420
	padL, padR, padT, padB     = 56, 16, 36, 48
	plotW, plotH               = chartW - padL - padR, chartH - padT - padB
	svgHeader                  = `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">` + "\n"
	maxPointsPerSeries         = 1000
	importanceBarH, barPadding = 16, 4
)

func num(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// LineChart draws series on the unit square with axis labels and, when diag
// is set, the dashed diagonal (a random classifier's ROC, a perfect
// calibration).
func LineChart(title, xLabel, yLabel string, diag bool, series ...Series) string {
	var b strings.Builder
	fmt.Fprintf(&b, svgHeader, chartW, chartH, chartW, chartH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", chartW/2, html.EscapeString(title))
	px := func(x float64) string { return num(padL + x*plotW) }
	py := func(y float64) string { return num(padT + (1-y)*plotH) }
	for i := 0; i <= 5; i++ { // grid and ticks every 0.2
		v := float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#e0e0e0"/>`, px(v), padT, px(v), padT+plotH)
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#e0e0e0"/>`, padL, py(v), padL+plotW, py(v))
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%.1f</text>`, px(v), padT+plotH+16, v)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%.1f</text>`+"\n", padL-6, py(v), v)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", padL, padT, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", padL+plotW/2, chartH-10, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">%s</text>`+"\n", padT+plotH/2, padT+plotH/2, html.EscapeString(yLabel))
	if diag {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#a0a0a0" stroke-dasharray="4 4"/>`+"\n", px(0), py(0), px(1), py(1))
	}
	for k, s := range series {
		pts := thin(s.Points, maxPointsPerSeries)
		if len(pts) > 0 {
			b.WriteString(`<polyline fill="none" stroke-width="1.5" stroke="` + html.EscapeString(s.Color) + `" points="`)
			for i, p := range pts {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(px(p.X) + "," + py(p.Y))
			}
			b.WriteString(`"/>` + "\n")
			if s.Dots {
				for _, p := range pts {
					fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, px(p.X), py(p.Y), html.EscapeString(s.Color))
				}
				b.WriteByte('\n')
			}
		}
		if s.Name != "" { // legend, top left inside the plot
			y := padT + 14 + 16*k
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n",
				padL+8, y, padL+28, y, html.EscapeString(s.Color), padL+34, y, html.EscapeString(s.Name))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// thin keeps at most n points of a curve (always the first and last).
func thin(pts []CurvePoint, n int) []CurvePoint {
	step := max(1, len(pts)/n)
	var out []CurvePoint
	for i := 0; i < len(pts); i += step {
		out = append(out, pts[i])
	}
	if len(pts) > 0 && (len(pts)-1)%step != 0 {
		out = append(out, pts[len(pts)-1])
	}
	return out
}

// ROCChart is the ROC curve.
func ROCChart(scores []float64, labels []uint8) string {
	return LineChart("ROC", "false positive rate", "true positive rate", true, Series{Color: colorBlue, Points: ROC(scores, labels)})
}

// PRChart is the precision-recall curve.
func PRChart(scores []float64, labels []uint8) string {
	return LineChart("Precision-recall", "recall", "precision", false, Series{Color: colorBlue, Points: PR(scores, labels)})
}

// CalibrationChart is the reliability diagram: per bin, the observed churn
// rate against the mean predicted probability, one series per set of bins
// (e.g. before and after calibration).
func CalibrationChart(curves ...CalibrationCurve) string {
	colors := []string{colorOrange, colorBlue, colorGreen}
	var ss []Series
	for i, c := range curves {
		s := Series{Name: c.Name, Color: colors[i%len(colors)], Dots: true}
		for _, b := range c.Bins {
			s.Points = append(s.Points, CurvePoint{X: b.MeanScore, Y: b.Observed})
		}
		ss = append(ss, s)
	}
	return LineChart("Reliability", "mean predicted probability", "observed churn rate", true, ss...)
}

// CalibrationCurve names a set of reliability bins for CalibrationChart.
type CalibrationCurve struct {
	Name string
	Bins []CalibrationBin
}

// ImportanceChart draws horizontal bars of the n largest values (names and
// values in any order; ties by name). Negative values (a permutation
// importance below zero) are drawn left of the zero line.
func ImportanceChart(title string, names []string, values []float64, n int) string {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(values[b], values[a]), cmp.Compare(names[a], names[b]))
	})
	idx = idx[:min(n, len(idx))]
	lo, hi := 0.0, 0.0
	for _, i := range idx {
		lo, hi = min(lo, values[i]), max(hi, values[i])
	}
	if hi == lo {
		hi = lo + 1
	}
	const w, labelW, right = 640, 220, 70
	h := padT + len(idx)*(importanceBarH+barPadding) + 24
	var b strings.Builder
	fmt.Fprintf(&b, svgHeader, w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", w/2, html.EscapeString(title))
	span := float64(w - labelW - right)
	px := func(v float64) float64 { return labelW + (v-lo)/(hi-lo)*span }
	zero := px(0)
	for k, i := range idx {
		y := padT + k*(importanceBarH+barPadding)
		x0, x1 := zero, px(values[i])
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s</text>`, labelW-8, y+importanceBarH/2, html.EscapeString(names[i]))
		fmt.Fprintf(&b, `<rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>`, num(x0), y, num(x1-x0), importanceBarH, colorBlue)
		fmt.Fprintf(&b, `<text x="%s" y="%d" dominant-baseline="middle">%.4f</text>`+"\n", num(max(x1, zero)+4), y+importanceBarH/2, values[i])
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#444"/>`+"\n", num(zero), padT-4, num(zero), h-20)
	b.WriteString("</svg>\n")
	return b.String()
}

// WriteCharts writes each chart to dir/name, in name order.
func WriteCharts(dir string, charts map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(charts)) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(charts[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
