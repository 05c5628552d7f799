package train

import (
	"maps"
	"slices"
	"sort"
)

// TrainingRows records the rows a model was fitted on, so that evaluate and
// promote can tell a score on new rows from a score on training rows. A row
// is a (cutoff, id) pair: the as_of date of its snapshot ("" when the table
// had none) and the value of the id column. The set is exact: per cutoff,
// the sorted distinct ids (FORMAT.md, "training_rows").
type TrainingRows struct {
	// Rows is the number of training rows (a pair given twice counts twice).
	Rows    int           `json:"rows"`
	Cutoffs []CutoffUsers `json:"cutoffs"`
}

// CutoffUsers are the ids trained on at one cutoff.
type CutoffUsers struct {
	AsOf  string   `json:"as_of"`
	Users []string `json:"users"` // sorted, distinct
}

// NewTrainingRows builds the set of rows (ids[i], asOf[i]); asOf may be nil
// (no cutoff known for any row).
func NewTrainingRows(ids, asOf []string) *TrainingRows {
	by := map[string][]string{}
	for i, id := range ids {
		a := ""
		if asOf != nil {
			a = asOf[i]
		}
		by[a] = append(by[a], id)
	}
	tr := &TrainingRows{Rows: len(ids), Cutoffs: []CutoffUsers{}}
	for _, a := range slices.Sorted(maps.Keys(by)) {
		u := by[a]
		slices.Sort(u)
		tr.Cutoffs = append(tr.Cutoffs, CutoffUsers{AsOf: a, Users: slices.Compact(u)})
	}
	return tr
}

func (c *CutoffUsers) has(id string) bool {
	i := sort.SearchStrings(c.Users, id)
	return i < len(c.Users) && c.Users[i] == id
}

// Contains reports whether (id, asOf) may be a training row. A row whose
// cutoff is unknown on either side ("" in the evaluation table or in the
// training set) is one when the id was trained on at any cutoff: it cannot
// be told apart from a training row.
func (t *TrainingRows) Contains(id, asOf string) bool {
	for i := range t.Cutoffs {
		c := &t.Cutoffs[i]
		if (asOf == "" || c.AsOf == "" || c.AsOf == asOf) && c.has(id) {
			return true
		}
	}
	return false
}

// Overlap marks the rows (ids[i], asOf[i]) that are training rows and
// counts them. asOf may be nil.
func (t *TrainingRows) Overlap(ids, asOf []string) (mask []bool, n int) {
	mask = make([]bool, len(ids))
	for i, id := range ids {
		a := ""
		if asOf != nil {
			a = asOf[i]
		}
		if t.Contains(id, a) {
			mask[i] = true
			n++
		}
	}
	return mask, n
}

// Summary is TrainingRows without the ids: rows, and distinct ids per
// cutoff (for `models show`).
func (t *TrainingRows) Summary() map[string]any {
	cut := make([]map[string]any, len(t.Cutoffs))
	for i, c := range t.Cutoffs {
		cut[i] = map[string]any{"as_of": c.AsOf, "users": len(c.Users)}
	}
	return map[string]any{"rows": t.Rows, "cutoffs": cut}
}
