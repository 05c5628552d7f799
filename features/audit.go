package features

import (
	"fmt"
	"sort"
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
	for j, f := range featureDefs {
		auc := RankAUC(s.Values[j], s.Churn)
		all = append(all, FeatureAUC{f.Name, auc})
		if max(auc, 1-auc) > AUCWarnThreshold {
			suspicious = append(suspicious, FeatureAUC{f.Name, auc})
		}
	}
	return suspicious, all
}

// AuditWarnings renders Audit's suspicious features as summary warnings.
func AuditWarnings(s *Snapshot) []string {
	sus, _ := Audit(s)
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
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	var rankSum float64
	var npos, nneg float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && score[idx[j]] == score[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if label[idx[k]] != 0 {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg = float64(len(score)) - npos
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}
