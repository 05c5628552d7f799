package evaluate

import "math"

// LiftPcts are the shares of users (in %) whose capacity figures churnctl
// reports: a retention team that can contact the top 5, 10 or 20 %.
var LiftPcts = []float64{5, 10, 20}

// TopCount is the number of rows in the top pct % of n rows: ceil(pct n /
// 100) (at least 1 when n > 0 and pct > 0, at most n). The product is
// rounded to 1e-9 first so that 10 % of 70 is 7, not 8 (0.1 × 70 is
// 7.000000000000001 in binary).
func TopCount(n int, pct float64) int {
	if n <= 0 || pct <= 0 {
		return 0
	}
	k := int(math.Ceil(math.Round(pct*float64(n)/100*1e9) / 1e9))
	return min(max(k, 1), n)
}

// TopShare is the precision, recall and lift of contacting the top Pct % of
// rows by score.
type TopShare struct {
	Pct       float64 `json:"top_pct"`
	Rows      int     `json:"rows"` // rows contacted: TopCount(n, Pct)
	Churners  int     `json:"churners"`
	Precision float64 `json:"precision"` // churners / rows
	Recall    float64 `json:"recall"`    // churners / all churners
	// Lift is Precision over the base rate: how many times more churners
	// the top rows hold than as many rows drawn at random.
	Lift float64 `json:"lift"`
}

// Top returns the capacity figures at each pct: rows ranked by descending
// score, ties in row order (sort the rows by a key first for another tie
// rule).
func Top(scores []float64, labels []uint8, pcts []float64) []TopShare {
	idx := order(scores)
	pos, _ := count(labels)
	base := ratio(pos, len(labels))
	out := make([]TopShare, 0, len(pcts))
	for _, pct := range pcts {
		k := TopCount(len(idx), pct)
		c := 0
		for _, i := range idx[:k] {
			c += int(labels[i])
		}
		t := TopShare{Pct: pct, Rows: k, Churners: c, Precision: ratio(c, k), Recall: ratio(c, pos)}
		if base > 0 {
			t.Lift = t.Precision / base
		}
		out = append(out, t)
	}
	return out
}
