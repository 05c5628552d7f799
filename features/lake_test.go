package features

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/day"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// writeLake writes a MemSource's gold tables as Parquet in lake layout.
func writeLake(t testing.TB, root string, src *MemSource) {
	t.Helper()
	put := func(dir string, bs []arrow.RecordBatch) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "part-0.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := parquetio.NewWriter(f, bs[0].Schema())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for d, bs := range src.Fact {
		put(filepath.Join(FactDir(root), "dt="+d.String()), bs)
	}
	put(DimUserDir(root), src.Users)
}

func readParquet(t *testing.T, mem memory.Allocator, path string) arrow.RecordBatch {
	t.Helper()
	rr, err := parquetio.ReadGlob(mem, path, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("%s: no batch (%v)", path, rr.Err())
	}
	b := rr.RecordBatch()
	b.Retain()
	return b
}

func TestRunLake(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	es := genEvents(11, 100, 75)
	src := buildGold(mem, es)
	defer src.release()
	lake := t.TempDir()
	writeLake(t, lake, src)
	ctx := context.Background()
	T1, _ := day.Parse("2018-11-01")
	T2, _ := day.Parse("2018-12-01")
	cfg := RunConfig{Lake: lake, Cutoffs: []Date{T1, T2}, HorizonDays: 30, Mem: mem, Version: "test"}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Labeled || res[1].Labeled {
		t.Fatalf("labeled = %v, %v; want true (data to 2018-12-14 covers Nov), false", res[0].Labeled, res[1].Labeled)
	}
	if res[0].Positives == 0 || res[0].Users < 30 {
		t.Fatalf("result %+v: too few users or no positives", res[0])
	}

	// the Parquet table holds exactly what Compute computes from memory
	want, err := Compute(ctx, src, Config{AsOf: T1, HorizonDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	got := readParquet(t, mem, res[0].Path)
	defer got.Release()
	wantRec := want.Record(mem)
	defer wantRec.Release()
	if !array.RecordEqual(got, wantRec) {
		t.Errorf("Parquet table differs from the in-memory snapshot\nschema got  %s\nschema want %s", got.Schema(), wantRec.Schema())
	}

	// schema file beside it
	var sf SchemaFile
	b, err := os.ReadFile(filepath.Join(filepath.Dir(res[1].Path), SchemaFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	if sf.Version != 1 || sf.Labeled || sf.AsOf != "2018-12-01" || sf.Label != "churn" || sf.ID != "user_id" ||
		sf.HorizonDays != 30 || sf.WindowDays != 30 || len(sf.Features) != len(featureDefs) {
		t.Errorf("schema file = %s", b)
	}
	// unlabeled: churn all null
	un := readParquet(t, mem, res[1].Path)
	defer un.Release()
	if c := un.Column(int(un.NumCols()) - 1); c.NullN() != c.Len() || c.Len() == 0 {
		t.Errorf("unlabeled table: %d of %d churn null", c.NullN(), c.Len())
	}

	// byte-identical re-run
	first, _ := os.ReadFile(res[0].Path)
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(res[0].Path)
	if !bytes.Equal(first, again) {
		t.Errorf("re-run wrote different bytes")
	}

	// --out with several cutoffs needs {as_of}
	if _, err := Run(ctx, RunConfig{Lake: lake, Cutoffs: []Date{T1, T2}, HorizonDays: 30, Out: filepath.Join(lake, "x.csv"), Format: FormatCSV}); err == nil {
		t.Errorf("--out without {as_of} for two cutoffs: no error")
	}
}

// sklearnRF finds ../shared/bench/sklearn_rf.py above the working directory.
func sklearnRF(t *testing.T) string {
	if p := os.Getenv("CHURNCTL_SKLEARN_RF"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for dir != "/" {
		p := filepath.Join(dir, "shared", "bench", "sklearn_rf.py")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("sklearn_rf.py not found above the working directory (set CHURNCTL_SKLEARN_RF)")
	return ""
}

// TestCSVLoadsInSklearn: the CSV export is what ../shared/bench/sklearn_rf.py
// takes (every column but user_id and churn numeric).
func TestCSVLoadsInSklearn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python")
	}
	script := sklearnRF(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import sklearn, pandas").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks sklearn or pandas (apt-get install -y python3-sklearn python3-pandas)")
	}
	mem := memory.NewGoAllocator()
	es := genEvents(12, 150, 75)
	src := buildGold(mem, es)
	defer src.release()
	lake := t.TempDir()
	writeLake(t, lake, src)
	T, _ := day.Parse("2018-11-01")
	out := filepath.Join(lake, "out", "{as_of}", "features.csv")
	res, err := Run(context.Background(), RunConfig{Lake: lake, Cutoffs: []Date{T}, HorizonDays: 30, Out: out, Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, res[0].Path, "--trees", "10", "--folds", "3")
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sklearn_rf.py: %v\n%s", err, o)
	}
	var m map[string]any
	lines := strings.Split(strings.TrimSpace(string(o)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("sklearn_rf.py output: %s", o)
	}
	if int(m["rows"].(float64)) != res[0].Users || int(m["features"].(float64)) != len(featureDefs) {
		t.Errorf("sklearn saw %v rows × %v features, want %d × %d", m["rows"], m["features"], res[0].Users, len(featureDefs))
	}
}

// TestArrowAndCSVMatchParquet: the three formats carry the same table.
func TestArrowAndCSVMatchParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := buildGold(mem, genEvents(13, 60, 60))
	defer src.release()
	T, _ := day.Parse("2018-11-01")
	s, err := Compute(context.Background(), src, Config{AsOf: T, HorizonDays: 20})
	if err != nil {
		t.Fatal(err)
	}
	want := s.Record(mem)
	defer want.Release()

	var ab bytes.Buffer
	if err := WriteTable(&ab, s, FormatArrow, mem); err != nil {
		t.Fatal(err)
	}
	fr, err := ipc.NewFileReader(bytes.NewReader(ab.Bytes()), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fr.RecordBatch(0)
	if err != nil {
		t.Fatal(err)
	}
	if !array.RecordEqual(got, want) {
		t.Errorf("Arrow IPC table differs from the snapshot")
	}
	fr.Close()

	var cb bytes.Buffer
	if err := WriteTable(&cb, s, FormatCSV, mem); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(s.UserIDs)+1 || len(rows[0]) != len(featureDefs)+2 {
		t.Fatalf("CSV is %d×%d, want %d×%d", len(rows), len(rows[0]), len(s.UserIDs)+1, len(featureDefs)+2)
	}
	for i, id := range s.UserIDs {
		r := rows[i+1]
		if r[0] != id || r[len(r)-1] != strconv.Itoa(int(s.Churn[i])) {
			t.Fatalf("CSV row %d = %v..., want user %s churn %d", i, r[0], id, s.Churn[i])
		}
		for j := range featureDefs {
			v, err := strconv.ParseFloat(r[j+1], 64)
			if err != nil || v != s.Values[j][i] {
				t.Fatalf("CSV row %d %s = %q, want %v", i, featureDefs[j].Name, r[j+1], s.Values[j][i])
			}
		}
	}
}
