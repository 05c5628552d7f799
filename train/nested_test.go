package train

import (
	"context"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/churnctl/churnctl/evaluate"
)

// TestNestedThresholdIgnoresOwnFold is the nested threshold's guarantee: the
// threshold outer fold f is scored with does not change when f's labels do
// (no label of f, and no model fitted on f, reaches it), while the
// optimistic threshold, tuned on every out-of-fold row, does. Both inner
// schemes: the other outer folds as inner folds (k = 4), and fresh inner
// folds of the training rows (out-of-time: fold 0 validated, fold 1 trained on).
func TestNestedThresholdIgnoresOwnFold(t *testing.T) {
	d := synthData(1200)
	p := DefaultParams()
	p.Trees = 15
	o := FitOptions{Seed: 3, Jobs: 2}
	kfold, err := StratifiedFolds(d.Y, nil, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	oot := make([]int, d.Rows())
	for i := range oot {
		oot[i] = []int{0, 1, 1, -1}[i%4]
	}
	for _, tt := range []struct {
		name       string
		fold, only []int
		inner      int
	}{{"k-fold, outer folds as inner", kfold, nil, 3}, {"out-of-time, fresh inner folds", oot, []int{0}, 4}} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NestedCV(context.Background(), d, tt.fold, tt.only, nil, 4, 0, p, o)
			if err != nil {
				t.Fatal(err)
			}
			if a.InnerFolds != tt.inner {
				t.Errorf("inner folds = %d, want %d", a.InnerFolds, tt.inner)
			}
			// flip every label of fold 0
			flipped := *d
			flipped.Y = slices.Clone(d.Y)
			for i, f := range tt.fold {
				if f == 0 {
					flipped.Y[i] ^= 1
				}
			}
			b, err := NestedCV(context.Background(), &flipped, tt.fold, tt.only, nil, 4, 0, p, o)
			if err != nil {
				t.Fatal(err)
			}
			if a.Thresholds[0] != b.Thresholds[0] || math.IsNaN(a.Thresholds[0]) {
				t.Errorf("fold 0's nested threshold %v became %v when fold 0's labels were flipped; it must not see them", a.Thresholds[0], b.Thresholds[0])
			}
			ta, _ := optimistic(a.OOF, d.Y)
			tb, _ := optimistic(b.OOF, flipped.Y)
			if ta == tb {
				t.Errorf("optimistic threshold %v unchanged by flipping fold 0's labels: the test would not catch a leak", ta)
			}
		})
	}
}

// TestRunNestedFigures: the headline tuned F1 is the pooled F1 of each row
// decided at its own fold's nested threshold, inside its interval; the
// optimistic figure is kept beside it and the stored threshold is the one
// tuned on all out-of-fold rows.
func TestRunNestedFigures(t *testing.T) {
	d := synthData(2000)
	p := DefaultParams()
	p.Trees = 20
	out, err := Run(context.Background(), d, Config{Params: p, Seed: 1, Folds: 3, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := out.CV
	var pred []bool
	for i, pr := range out.OOF {
		pred = append(pred, pr >= c.FoldThresholds[out.Fold[i]])
	}
	want := evaluate.ConfusionOf(pred, d.Y).F1()
	if c.F1Tuned != want || c.InnerFolds != 2 || len(c.FoldThresholds) != 3 {
		t.Errorf("cv_f1_tuned = %v (inner folds %d, %d fold thresholds), want %v recomputed from the fold thresholds, 2 inner folds, 3 thresholds",
			c.F1Tuned, c.InnerFolds, len(c.FoldThresholds), want)
	}
	if lo, hi := c.F1TunedCI95[0], c.F1TunedCI95[1]; !(lo <= c.F1Tuned && c.F1Tuned <= hi && lo < hi) {
		t.Errorf("cv_f1_tuned %v outside its interval %v", c.F1Tuned, c.F1TunedCI95)
	}
	thr, f1 := optimistic(out.OOF, d.Y)
	if out.ThresholdRaw != thr || c.F1TunedOptimistic != f1 || c.F1TunedOptimistic < c.F1 {
		t.Errorf("threshold %v, optimistic F1 %v (F1 at 0.5 %v); want %v and %v tuned on all out-of-fold rows, >= F1 at 0.5",
			out.ThresholdRaw, c.F1TunedOptimistic, c.F1, thr, f1)
	}
}

// TestReadFormat1: a model written by churnctl before format 2 (testdata,
// `train --trees 3 --folds 3` on 300 synthetic rows) still loads; its
// cv_f1_tuned, tuned on the rows it scored, is read as the optimistic figure.
func TestReadFormat1(t *testing.T) {
	f, err := os.Open("testdata/format1.crf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != 1 || m.CV == nil || m.CV.F1TunedOptimistic != 0.5645161290322581 || m.CV.F1Tuned != 0 || m.CV.InnerFolds != 0 {
		t.Errorf("format 1 model: version %d, cv %+v; want optimistic 0.5645161290322581, no nested figure", m.FormatVersion, m.CV)
	}
	if len(m.Forest.Trees) != 3 || m.Forest.NFeatures != 12 {
		t.Errorf("format 1 model: %d trees, %d features; want 3 and 12", len(m.Forest.Trees), m.Forest.NFeatures)
	}
}

// optimistic tunes the max-F1 threshold on the out-of-fold rows themselves.
func optimistic(oof []float64, y []uint8) (thr, f1 float64) {
	s, l := validatedRows(oof, y)
	thr, f1, _, _ = tuneThreshold(s, l, 0)
	return thr, f1
}
