package table

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/churnctl/churnctl/internal/exitcode"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "as_of=2018-11-01", "f.csv")
	write(t, p, "user_id,songs,paid,churn\n7,10,true,1\n8,,false,0\n")
	tb, err := Read([]string{filepath.Join(dir)}, Options{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tb.Names(), ","); got != "songs,paid" {
		t.Errorf("features = %s, want songs,paid", got)
	}
	if tb.IDs[1] != "8" || tb.AsOf[0] != "2018-11-01" || tb.Label[0] != 1 || tb.Cols[1][0] != 1 || !math.IsNaN(tb.Cols[0][1]) {
		t.Errorf("table = %+v", tb)
	}
	if len(tb.DataSHA256) != 64 || len(tb.Files) != 1 {
		t.Errorf("manifest = %q, %v", tb.DataSHA256, tb.Files)
	}
}

func TestReadSchemaFile(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, SchemaFile), `{"version":1,"features":[{"name":"b","type":"int64"},{"name":"a","type":"float64"}],"label":"churn","id":"user_id","as_of":"2018-12-01","horizon_days":30,"labeled":true}`)
	write(t, filepath.Join(dir, "t.csv"), "user_id,a,b,extra,churn\nu1,1.5,2,9,0\nu2,2.5,3,9,1\n")
	tb, err := Read([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tb.Names(), ","); got != "b,a" || tb.Features[0].Type != "int64" || tb.AsOf[1] != "2018-12-01" || tb.Cols[0][1] != 3 || tb.HorizonDays != 30 {
		t.Errorf("schema-driven read: names %s, features %v, as_of %v, cols %v", got, tb.Features, tb.AsOf, tb.Cols)
	}
	write(t, filepath.Join(dir, "t.csv"), "user_id,a,churn\nu1,1.5,0\n")
	if _, err := Read([]string{dir}, Options{}); !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("missing schema column: error = %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, csv, want string
		o               Options
	}{
		{"no label", "user_id,a\nu,1\n", `no label column "churn"`, Options{RequireLabel: true}},
		{"bad label", "user_id,a,churn\nu,1,2\n", "want 0 or 1", Options{}},
		{"text feature", "user_id,a,churn\nu,x,1\n", "not numeric", Options{}},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name+".csv")
		write(t, p, tt.csv)
		_, err := Read([]string{p}, tt.o)
		if !errors.Is(err, exitcode.ErrBadInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

type pqRow struct {
	UserID string  `parquet:"user_id"`
	Songs  int64   `parquet:"songs"`
	Rate   float64 `parquet:"rate"`
	Paid   bool    `parquet:"paid"`
	Churn  int32   `parquet:"churn"`
}

func TestReadParquet(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "as_of=2018-10-01", "part-0.parquet")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(p, []pqRow{{"a", 3, 0.5, true, 1}, {"b", 4, 1.5, false, 0}}); err != nil {
		t.Fatal(err)
	}
	tb, err := Read([]string{dir}, Options{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tb.Names(), ","); got != "songs,rate,paid" {
		t.Errorf("features = %s", got)
	}
	if tb.Cols[0][1] != 4 || tb.Cols[1][0] != 0.5 || tb.Cols[2][0] != 1 || tb.Label[0] != 1 || tb.IDs[1] != "b" || tb.AsOf[0] != "2018-10-01" {
		t.Errorf("table = %+v", tb)
	}
}

type pqSnap struct {
	UserID string  `parquet:"user_id"`
	AsOf   int32   `parquet:"as_of,date"` // days since 1970-01-01
	Songs  float64 `parquet:"songs,optional"`
	Churn  bool    `parquet:"churn"`
}

// TestReadParquetDatesAndNulls: a DATE as_of column reads as YYYY-MM-DD, a
// boolean label as 0/1, and a null feature as NaN.
func TestReadParquetDatesAndNulls(t *testing.T) {
	p := filepath.Join(t.TempDir(), "snap.parquet")
	day := func(s string) int32 {
		d, _ := time.Parse(time.DateOnly, s)
		return int32(d.Unix() / 86400)
	}
	if err := parquet.WriteFile(p, []pqSnap{{"u1", day("2018-11-01"), 3, true}, {"u1", day("2018-12-01"), 0, false}}); err != nil {
		t.Fatal(err)
	}
	tb, err := Read([]string{p}, Options{RequireLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	if tb.AsOf[0] != "2018-11-01" || tb.AsOf[1] != "2018-12-01" || tb.Label[0] != 1 || tb.Label[1] != 0 || tb.Cols[0][0] != 3 {
		t.Errorf("as_of %v, label %v, songs %v", tb.AsOf, tb.Label, tb.Cols[0])
	}
	if !math.IsNaN(tb.Cols[0][1]) {
		t.Errorf("null songs read as %v, want NaN", tb.Cols[0][1])
	}
}
