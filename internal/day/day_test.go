package day

import (
	"strings"
	"testing"
	"time"
)

func TestParseAndFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Day
		ok   bool
	}{
		{"1970-01-01", 0, true}, {"1970-01-02", 1, true}, {"1969-12-31", -1, true},
		{"2018-10-01", 17805, true}, // date -d 2018-10-01 +%s / 86400
		{"2018-1-01", 0, false}, {"2018-02-30", 0, false}, {"20181001", 0, false}, {"", 0, false},
	} {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("Parse(%q).String() = %q", tt.in, got.String())
		}
	}
	ms := time.Date(2018, 10, 1, 23, 59, 59, 0, time.UTC).UnixMilli()
	if d := OfMS(ms); d != 17805 || d.MS() != 17805*MillisPerDay || !d.Time().Equal(time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("OfMS(%d) = %d (%v)", ms, d, d.Time())
	}
	if d := OfMS(-1); d != -1 {
		t.Errorf("OfMS(-1) = %d, want -1 (1969-12-31)", d)
	}
	if d := Day(17805).Add(-1); d.String() != "2018-09-30" {
		t.Errorf("Add(-1) = %s", d)
	}
}

func TestParseWindow(t *testing.T) {
	for _, tt := range []struct {
		ds, from, to string
		want         Window
		err          string
	}{
		{"", "", "", Window{}, ""},
		{"2018-10-05", "", "", Window{17809, 17809, true, true}, ""},
		{"", "2018-10-05", "", Window{From: 17809, HasFrom: true}, ""},
		{"", "", "2018-10-05", Window{To: 17809, HasTo: true}, ""},
		{"", "2018-10-05", "2018-10-05", Window{17809, 17809, true, true}, ""},
		{"2018-10-05", "2018-10-01", "", Window{}, "--ds and --from/--to exclude each other"},
		{"", "2018-10-05", "2018-10-04", Window{}, "--to 2018-10-04 is before --from 2018-10-05"},
		{"10/05/2018", "", "", Window{}, `--ds "10/05/2018": want YYYY-MM-DD`},
		{"", "x", "", Window{}, `--from "x": want YYYY-MM-DD`},
		{"", "", "2018-13-01", Window{}, `--to "2018-13-01": want YYYY-MM-DD`},
	} {
		got, err := ParseWindow(tt.ds, tt.from, tt.to)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseWindow(%q, %q, %q) = %v, want error %q", tt.ds, tt.from, tt.to, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseWindow(%q, %q, %q) = %+v, %v; want %+v", tt.ds, tt.from, tt.to, got, err, tt.want)
		}
	}
	if !(Window{}).All() || (Window{HasTo: true}).All() {
		t.Error("All is wrong")
	}
}
