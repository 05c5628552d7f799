package table

import (
	"fmt"
	"testing"
)

func TestUserSplitIsStableAndDisjoint(t *testing.T) {
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprint(100000 + i)
	}
	mk := func() *Table {
		tb := &Table{Cols: [][]float64{make([]float64, len(ids))}, Label: make([]uint8, len(ids)), IDs: append([]string(nil), ids...)}
		for i := range ids {
			tb.Cols[0][i] = float64(i)
		}
		return tb
	}
	train, hold := mk(), mk()
	if err := (UserSplit{Fraction: 0.2, Keep: "train"}).Apply(train); err != nil {
		t.Fatal(err)
	}
	if err := (UserSplit{Fraction: 0.2, Keep: "holdout"}).Apply(hold); err != nil {
		t.Fatal(err)
	}
	if train.Rows()+hold.Rows() != len(ids) {
		t.Fatalf("train %d + holdout %d != %d rows", train.Rows(), hold.Rows(), len(ids))
	}
	if share := float64(hold.Rows()) / float64(len(ids)); share < 0.17 || share > 0.23 {
		t.Errorf("held-out share = %.3f, want about 0.2", share)
	}
	seen := map[string]bool{}
	for _, id := range train.IDs {
		seen[id] = true
	}
	for i, id := range hold.IDs {
		if seen[id] {
			t.Fatalf("user %s is on both sides", id)
		}
		if hold.Cols[0][i] != float64(indexOf(ids, id)) {
			t.Fatalf("row of %s lost its values", id)
		}
	}
	if err := (UserSplit{Fraction: 1.5, Keep: "train"}).Validate(); err == nil {
		t.Error("fraction 1.5 accepted")
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
