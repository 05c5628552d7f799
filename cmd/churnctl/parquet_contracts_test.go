package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// TestLakeTableContracts: the predictions file's schema root is named
// prediction and its as_of is a DATE, as the features'; the category
// features leave the lake as dictionary-encoded strings of their values.
// With CHURNCTL_DUCKPEER set (../shared/bench/duckpeer, built outside the
// module), DuckDB reads the same files as an independent reader.
func TestLakeTableContracts(t *testing.T) {
	lake := sampleLake(t)
	if code, _, errs := runCLI(t, "features", "--lake", lake, "--as-of", "2018-10-24", "--as-of", "2018-11-30"); code != 0 {
		t.Fatalf("features: %s", errs)
	}
	reg := filepath.Join(lake, "models")
	if code, _, errs := runCLI(t, "train", "--holdout-users", "0", "--features", filepath.Join(lake, "features", "as_of=2018-10-24"), "--registry", reg, "--trees", "10", "--folds", "0"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if code, _, errs := runCLI(t, "score", "--registry", reg, "--model", "churn", "--features", filepath.Join(lake, "features", "as_of=2018-11-30"), "--lake", lake); code != 0 {
		t.Fatalf("score: %s", errs)
	}
	preds := filepath.Join(lake, "predictions", "as_of=2018-11-30", "part-0.parquet")
	feats := filepath.Join(lake, "features", "as_of=2018-10-24", "part-0.parquet")

	isDate := func(pf *parquet.File, col string) bool {
		lc, ok := pf.Schema().Lookup(col)
		if !ok {
			return false
		}
		lt := lc.Node.Type().LogicalType()
		if lt == nil {
			return false
		}
		_, d := lt.Value.(*format.DateType)
		return d
	}
	pp := openParquet(t, preds)
	if name := pp.Metadata().Schema[0].Name; name != "prediction" {
		t.Errorf("predictions schema root = %q, want prediction", name)
	}
	if !isDate(pp, "as_of") || !isDate(openParquet(t, feats), "as_of") {
		t.Error("as_of is not a DATE in predictions and features")
	}
	fp := openParquet(t, feats)
	for _, col := range []string{"gender", "os", "state"} {
		lc, ok := fp.Schema().Lookup(col)
		if !ok || lc.Node.Type().Kind() != parquet.ByteArray {
			t.Errorf("features column %s is not a string column", col)
			continue
		}
		dict := false
		for _, rg := range fp.Metadata().RowGroups {
			for _, e := range rg.Columns[lc.ColumnIndex].MetaData.Encoding {
				dict = dict || e == format.RLEDictionary
			}
		}
		if !dict {
			t.Errorf("features column %s is not dictionary encoded", col)
		}
	}

	duck := os.Getenv("CHURNCTL_DUCKPEER")
	if duck == "" {
		t.Log("CHURNCTL_DUCKPEER not set: DuckDB read-back skipped")
		return
	}
	query := func(q string) string {
		out, err := exec.Command(duck, "query", q).CombinedOutput()
		if err != nil {
			t.Fatalf("duckpeer %q: %v\n%s", q, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for q, want := range map[string]string{
		"select typeof(as_of), count(*) from read_parquet('" + preds + "') group by 1":                                                   "typeof(as_of)\tcount_star()\nDATE\t" + strconv.FormatInt(pp.NumRows(), 10),
		"select name from parquet_schema('" + preds + "') limit 1":                                                                       "name\nprediction",
		"select typeof(as_of) from read_parquet('" + feats + "') limit 1":                                                                "typeof(as_of)\nDATE",
		"select string_agg(distinct gender, ',' order by gender) from read_parquet('" + feats + "')":                                     "string_agg(DISTINCT gender, ',' ORDER BY gender)\nF,M",
		"select count(*) from read_parquet('" + feats + "') where state not similar to '[A-Z]{2}|unknown'":                               "count_star()\n0",
		"select count(*) from read_parquet('" + feats + "') where os not in ('unknown','windows','mac','linux','ios','android','other')": "count_star()\n0",
	} {
		if got := query(q); got != want {
			t.Errorf("DuckDB %s:\n%s\nwant\n%s", q, got, want)
		}
	}
}
