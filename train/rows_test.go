package train

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestTrainingRows(t *testing.T) {
	tr := NewTrainingRows([]string{"b", "a", "b", "c", "a"}, []string{"2018-10-01", "2018-10-01", "2018-10-08", "2018-10-08", "2018-10-01"})
	want := &TrainingRows{Rows: 5, Cutoffs: []CutoffUsers{
		{AsOf: "2018-10-01", Users: []string{"a", "b"}},
		{AsOf: "2018-10-08", Users: []string{"b", "c"}},
	}}
	if !reflect.DeepEqual(tr, want) {
		t.Fatalf("NewTrainingRows = %+v, want %+v", tr, want)
	}
	tests := []struct {
		id, asOf string
		want     bool
	}{
		{"a", "2018-10-01", true},
		{"a", "2018-10-08", false}, // the same user at another cutoff is another row
		{"c", "2018-10-08", true},
		{"c", "2018-10-01", false},
		{"d", "2018-10-01", false},
		{"c", "", true}, // unknown cutoff: trained at some cutoff
		{"d", "", false},
		{"", "2018-10-01", false},
	}
	for _, tt := range tests {
		if got := tr.Contains(tt.id, tt.asOf); got != tt.want {
			t.Errorf("Contains(%q, %q) = %v, want %v", tt.id, tt.asOf, got, tt.want)
		}
	}
	// a training table without cutoffs matches its ids at any cutoff
	nocut := NewTrainingRows([]string{"x", "y"}, nil)
	if !nocut.Contains("x", "2018-10-01") || nocut.Contains("z", "") {
		t.Errorf("cutoff-less training rows: Contains(x, date) %v, Contains(z) %v", nocut.Contains("x", "2018-10-01"), nocut.Contains("z", ""))
	}
	mask, n := tr.Overlap([]string{"a", "a", "c"}, []string{"2018-10-01", "2018-10-08", "2018-10-08"})
	if n != 2 || !reflect.DeepEqual(mask, []bool{true, false, true}) {
		t.Errorf("Overlap = %v, %d", mask, n)
	}
	// the header form round-trips
	b, _ := json.Marshal(tr)
	var back TrainingRows
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, tr) {
		t.Errorf("JSON round trip: %s -> %+v, %v", b, back, err)
	}
}
