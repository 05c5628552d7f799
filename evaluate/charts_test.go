package evaluate

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// wellFormed parses s as XML.
func wellFormed(t *testing.T, name, s string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v\n%s", name, err, s)
		}
	}
}

func TestChartsAreSVG(t *testing.T) {
	charts := map[string]string{
		"roc":         ROCChart(bScores, bLabels),
		"pr":          PRChart(bScores, bLabels),
		"calibration": CalibrationChart(CalibrationCurve{"raw <model>", Calibration(bScores, bLabels, 10)}, CalibrationCurve{"calibrated & co", nil}),
		"importance":  ImportanceChart("Importance", []string{"a<b", "c&d", "e"}, []float64{0.5, -0.1, 0.2}, 2),
	}
	for name, s := range charts {
		if !strings.HasPrefix(s, "<svg ") || !strings.HasSuffix(s, "</svg>\n") {
			t.Errorf("%s: not an SVG document: %.60q", name, s)
		}
		wellFormed(t, name, s)
	}
	imp := charts["importance"]
	if !strings.Contains(imp, "a&lt;b") || !strings.Contains(imp, ">e<") || strings.Contains(imp, "c&amp;d") {
		t.Errorf("importance chart: want the 2 largest (a<b escaped, e), not c&d:\n%s", imp)
	}
	if ROCChart(bScores, bLabels) != charts["roc"] {
		t.Error("ROCChart is not deterministic")
	}
}

func TestDocRenderings(t *testing.T) {
	d := &Doc{Title: "T <1>"}
	d.Para("Dataset: **holdout** — a|b")
	d.Table([][]string{{"metric", "value"}, {"F1", "0.5"}})
	d.Chart("roc.svg", ROCChart(aScores, aLabels))
	md := d.Markdown()
	for _, want := range []string{"# T <1>\n", "Dataset: **holdout** — a|b", "| metric | value |\n|---|---|\n| F1 | 0.5 |", "![roc](roc.svg)"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	h := d.HTML()
	for _, want := range []string{"<title>T &lt;1&gt;</title>", "<strong>holdout</strong>", "<th>metric</th>", "<svg "} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "roc.svg") {
		t.Error("HTML links the chart file; want it inlined")
	}
	if len(d.Charts()) != 1 {
		t.Errorf("Charts() = %d, want 1", len(d.Charts()))
	}
}
