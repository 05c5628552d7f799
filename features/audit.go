package features

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// AUCWarnThreshold: a single feature that separates the label better than
// this (ROC-AUC, either direction) is reported as a likely leak.
const AUCWarnThreshold = 0.95

// FeatureAUC is one feature's ROC-AUC against the label.
type FeatureAUC struct {
	Feature string
	AUC     float64
}

// Audit computes each feature's ROC-AUC against the label of a labeled
// snapshot with both classes present, and returns those whose AUC (or 1-AUC,
// a feature may separate in either direction) exceeds AUCWarnThreshold, plus
// all AUCs in feature order. An unlabeled or one-class snapshot returns nil.
func Audit(s *Snapshot) (suspicious []FeatureAUC, all []FeatureAUC) {
	if !s.Labeled {
		return nil, nil
	}
	pos := s.Positives()
	if pos == 0 || pos == len(s.Churn) {
		return nil, nil
	}
	all = make([]FeatureAUC, len(featureDefs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				all[j] = FeatureAUC{featureDefs[j].Name, RankAUC(s.Values[j], s.Churn)}
			}
		}()
	}
	for j := range featureDefs {
		next <- j
	}
	close(next)
	wg.Wait()
	for _, f := range all {
		if max(f.AUC, 1-f.AUC) > AUCWarnThreshold {
			suspicious = append(suspicious, f)
		}
	}
	return suspicious, all
}

// AuditWarnings renders Audit's suspicious features as summary warnings.
func AuditWarnings(s *Snapshot) []string {
	sus, _ := Audit(s)
	return warningsFor(s, sus)
}

func warningsFor(s *Snapshot, sus []FeatureAUC) []string {
	var out []string
	for _, f := range sus {
		out = append(out, fmt.Sprintf("as_of %s: feature %s alone separates churn with ROC-AUC %.3f (> %.2f): possible leak", s.AsOf, f.Feature, max(f.AUC, 1-f.AUC), AUCWarnThreshold))
	}
	return out
}

// RankAUC is the ROC-AUC of score against 0/1 labels by the rank-sum
// (Mann-Whitney U) formula, ties getting their average rank. It is NaN when
// one class is empty.
func RankAUC(score []float64, label []int8) float64 {
	type pair struct {
		v float64
		y int8
	}
	ps := make([]pair, len(score))
	for i, v := range score {
		ps[i] = pair{v, label[i]}
	}
	slices.SortFunc(ps, func(a, b pair) int { return cmp.Compare(a.v, b.v) })
	var rankSum float64
	var npos, nneg float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].v == ps[i].v {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if ps[k].y != 0 {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg = float64(len(score)) - npos
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}
