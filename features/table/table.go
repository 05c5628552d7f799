// Package table reads a numeric feature table (CSV or Parquet, one or
// many files, directories searched for *.parquet and *.csv) into memory for
// training, evaluation and scoring.
//
// Columns: the id column (--id, default user_id) is read as a string, the
// label column (--label, default churn) as 0/1 (also true/false), an as_of
// column as a date string YYYY-MM-DD (when absent, a Hive partition segment
// as_of=YYYY-MM-DD in the file's path fills it), and every other column is a
// numeric feature. Booleans read as 0/1. A category feature of the schema
// file may be a string column of its values (the features stage writes
// them so): each reads as its code, the value's index in "categories". Empty CSV cells and Parquet nulls
// read as NaN; training rejects them with the column and row.
//
// The feature schema file features.schema.json, written by the features
// stage beside its tables, is used when found in a file's directory or one of
// its parents up to the path given: it names the features (in order) and
// their types, and the label, id and as_of columns:
//
//	{"version":1,
//	 "features":[{"name":"songs","type":"float64|int64|bool|category","description":"...",
//	              "categories":["unknown","F","M"]}],
//	 "label":"churn","id":"user_id","as_of":"2018-11-01"}
//
// Columns the schema does not list are ignored; a listed feature missing from
// a file is an error.
package table

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/churnctl/churnctl/internal/errkind"
)

// SchemaFile is the name of the feature-schema file beside feature tables.
const SchemaFile = "features.schema.json"

// Schema is the content of features.schema.json.
type Schema struct {
	Version  int       `json:"version"`
	Features []Feature `json:"features"`
	Label    string    `json:"label,omitempty"`
	ID       string    `json:"id,omitempty"`
	AsOf     string    `json:"as_of,omitempty"`
	// HorizonDays is the label window [as_of, as_of+H) of a labelled
	// snapshot (0: unknown); out-of-time validation uses it to keep
	// training labels from overlapping the validation cutoff.
	HorizonDays int `json:"horizon_days,omitempty"`
}

// Feature is one feature column.
type Feature struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // float64, int64, bool or category
	Description string `json:"description,omitempty"`
	// Categories is a category feature's vocabulary: value i has code i.
	Categories []string `json:"categories,omitempty"`
}

// ReadSchema reads a features.schema.json file.
func ReadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errkind.BadInput, path, err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("%w: %s: schema version %d, this churnctl reads version 1", errkind.BadInput, path, s.Version)
	}
	for _, f := range s.Features {
		switch f.Type {
		case "float64", "int64", "bool", "category":
		default:
			return nil, fmt.Errorf("%w: %s: feature %q has type %q: want float64, int64, bool or category", errkind.BadInput, path, f.Name, f.Type)
		}
	}
	return &s, nil
}

// Options name the special columns.
type Options struct {
	Label string // label column; "" → "churn"
	ID    string // id column; "" → "user_id"
	// RequireLabel makes a missing label column an error; else Label is nil
	// when the column is absent.
	RequireLabel bool
	// IgnoreLabel skips the label column entirely (scoring: an unlabelled
	// snapshot may carry an empty label column).
	IgnoreLabel bool
	// Split keeps one side of a stable per-user holdout (off when zero).
	Split UserSplit
}

// File is one input file and its content hash.
type File struct {
	Name   string `json:"name"` // base name
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Table is a feature table in memory, column by column.
type Table struct {
	Features []Feature   // names and types, in column order
	Cols     [][]float64 // Cols[f][row]
	Label    []uint8     // nil without a label column
	IDs      []string    // nil without an id column
	AsOf     []string    // "" when unknown
	Files    []File
	// DataSHA256 hashes the sorted list of the files' hashes: the training
	// data's manifest hash.
	DataSHA256 string
	LabelName  string
	IDName     string
	// HorizonDays comes from the schema file (0 when unknown).
	HorizonDays int
}

// Rows returns the number of rows.
func (t *Table) Rows() int {
	if len(t.Cols) > 0 {
		return len(t.Cols[0])
	}
	return len(t.IDs)
}

// Names returns the feature names.
func (t *Table) Names() []string {
	n := make([]string, len(t.Features))
	for i, f := range t.Features {
		n[i] = f.Name
	}
	return n
}

// Positives counts label-1 rows.
func (t *Table) Positives() int {
	n := 0
	for _, y := range t.Label {
		n += int(y)
	}
	return n
}

var asOfRe = regexp.MustCompile(`as_of=(\d{4}-\d{2}-\d{2})`)

// expand turns paths (files or directories) into a sorted list of table files.
func expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errkind.BadInput, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() && path != p && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_") &&
				(strings.HasSuffix(name, ".parquet") || strings.HasSuffix(name, ".csv")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%w: no *.parquet or *.csv files under %s", errkind.BadInput, p)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no feature files given", errkind.Usage)
	}
	return out, nil
}

// findSchema looks for features.schema.json in file's directory and its
// parents up to root.
func findSchema(file, root string) (string, bool) {
	dir := filepath.Dir(file)
	root = filepath.Clean(root)
	for {
		p := filepath.Join(dir, SchemaFile)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
		if dir == root || dir == filepath.Dir(dir) || !strings.HasPrefix(dir, root) {
			return "", false
		}
		dir = filepath.Dir(dir)
	}
}

// raw is one file's columns before features are chosen.
type raw struct {
	names []string
	nums  map[string][]float64
	strs  map[string][]string // id and as_of columns, and non-numeric columns
	rows  int
}

// Read loads and concatenates the tables at paths.
func Read(paths []string, o Options) (*Table, error) {
	if o.Label == "" {
		o.Label = "churn"
	}
	if o.ID == "" {
		o.ID = "user_id"
	}
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	t := &Table{LabelName: o.Label, IDName: o.ID}
	var schema *Schema
	var schemaPath string
	for _, p := range paths {
		for _, f := range files {
			if strings.HasPrefix(f, p) || f == p {
				if sp, ok := findSchema(f, p); ok && schema == nil {
					schemaPath = sp
					if schema, err = ReadSchema(sp); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if schema != nil {
		t.HorizonDays = schema.HorizonDays
	}
	for fi, path := range files {
		r, info, err := readFile(path, o)
		if err != nil {
			return nil, err
		}
		t.Files = append(t.Files, info)
		if fi == 0 {
			t.Features = chooseFeatures(r, schema, o)
			t.Cols = make([][]float64, len(t.Features))
		}
		for j, f := range t.Features {
			c, ok := r.nums[f.Name]
			if vals, isStr := r.strs[f.Name]; !ok && isStr && f.Type == "category" && len(f.Categories) > 0 {
				if c, err = categoryCodes(vals, f, path); err != nil {
					return nil, err
				}
				ok = true
			}
			if !ok {
				if _, isStr := r.strs[f.Name]; isStr {
					return nil, fmt.Errorf("%w: %s: feature column %q is not numeric (encode categories as integers in the features stage)", errkind.BadInput, path, f.Name)
				}
				if schema != nil {
					return nil, fmt.Errorf("%w: %s: feature column %q, listed in %s, is missing", errkind.BadInput, path, f.Name, schemaPath)
				}
				return nil, fmt.Errorf("%w: %s: feature column %q is missing (the table's columns differ from the first file's)", errkind.BadInput, path, f.Name)
			}
			t.Cols[j] = append(t.Cols[j], c...)
		}
		if l, ok := r.nums[o.Label]; o.IgnoreLabel {
			// skipped
		} else if ok {
			if fi > 0 && t.Label == nil {
				return nil, fmt.Errorf("%w: %s has label column %q, earlier files do not", errkind.BadInput, path, o.Label)
			}
			for i, v := range l {
				switch v {
				case 0, 1:
					t.Label = append(t.Label, uint8(v))
				default:
					return nil, fmt.Errorf("%w: %s: label %q row %d: value %v, want 0 or 1", errkind.BadInput, path, o.Label, i+1, v)
				}
			}
		} else if o.RequireLabel {
			return nil, fmt.Errorf("%w: %s: no label column %q (set --label)", errkind.BadInput, path, o.Label)
		} else if t.Label != nil {
			return nil, fmt.Errorf("%w: %s has no label column %q, earlier files do", errkind.BadInput, path, o.Label)
		}
		if ids, ok := r.strs[o.ID]; ok {
			t.IDs = append(t.IDs, ids...)
		} else if n, ok := r.nums[o.ID]; ok {
			for _, v := range n {
				t.IDs = append(t.IDs, strconv.FormatFloat(v, 'f', -1, 64))
			}
		} else {
			for i := range r.rows {
				t.IDs = append(t.IDs, fmt.Sprintf("%s#%d", filepath.Base(path), i+1))
			}
		}
		asof, ok := r.strs["as_of"]
		if !ok {
			d := ""
			if m := asOfRe.FindStringSubmatch(path); m != nil {
				d = m[1]
			} else if schema != nil {
				d = schema.AsOf
			}
			asof = make([]string, r.rows)
			for i := range asof {
				asof[i] = d
			}
		}
		t.AsOf = append(t.AsOf, asof...)
	}
	h := sha256.New()
	sums := make([]string, len(t.Files))
	for i, f := range t.Files {
		sums[i] = f.SHA256
	}
	slices.Sort(sums)
	for _, s := range sums {
		h.Write([]byte(s + "\n"))
	}
	t.DataSHA256 = hex.EncodeToString(h.Sum(nil))
	if err := o.Split.Apply(t); err != nil {
		return nil, err
	}
	return t, nil
}

// categoryCodes maps a category column's values to their codes in the
// feature's vocabulary (the model works on codes).
func categoryCodes(vals []string, f Feature, path string) ([]float64, error) {
	code := make(map[string]float64, len(f.Categories))
	for i, c := range f.Categories {
		code[c] = float64(i)
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		c, ok := code[v]
		if !ok {
			return nil, fmt.Errorf("%w: %s: category feature %q row %d: value %q is not in its vocabulary (%d values in %s)",
				errkind.BadInput, path, f.Name, i+1, v, len(f.Categories), SchemaFile)
		}
		out[i] = c
	}
	return out, nil
}

func chooseFeatures(r *raw, schema *Schema, o Options) []Feature {
	if schema != nil {
		return slices.Clone(schema.Features)
	}
	var fs []Feature
	for _, n := range r.names {
		if n == o.Label || n == o.ID || n == "as_of" {
			continue
		}
		if _, ok := r.nums[n]; ok {
			fs = append(fs, Feature{Name: n, Type: "float64"})
		} else {
			// non-numeric column: keep it so Read reports it clearly
			fs = append(fs, Feature{Name: n, Type: "string"})
		}
	}
	return fs
}

func readFile(path string, o Options) (*raw, File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, File{}, fmt.Errorf("%w: %v", errkind.BadInput, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, File{}, err
	}
	info := File{Name: filepath.Base(path), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	var r *raw
	if strings.HasSuffix(path, ".parquet") {
		r, err = readParquet(f, n, o)
	} else {
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			r, err = readCSV(f, o)
		}
	}
	if err != nil {
		return nil, File{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, info, nil
}

func parseBool(s string) (float64, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes":
		return 1, true
	case "false", "f", "no":
		return 0, true
	}
	return 0, false
}

func readCSV(r io.Reader, o Options) (*raw, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: reading the CSV header: %v", errkind.BadInput, err)
	}
	names := slices.Clone(head)
	for i := range names {
		names[i] = strings.TrimSpace(strings.TrimPrefix(names[i], "\ufeff"))
	}
	out := &raw{names: names, nums: map[string][]float64{}, strs: map[string][]string{}}
	isStr := make([]bool, len(names))
	for i, n := range names {
		isStr[i] = n == o.ID || n == "as_of"
	}
	cols := make([][]float64, len(names))
	scols := make([][]string, len(names))
	line := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errkind.BadInput, line, err)
		}
		for i, s := range rec {
			if isStr[i] {
				scols[i] = append(scols[i], s)
				continue
			}
			s = strings.TrimSpace(s)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				if s == "" || strings.EqualFold(s, "null") || strings.EqualFold(s, "na") {
					v = math.NaN()
				} else if b, ok := parseBool(s); ok {
					v = b
				} else {
					// a text column: keep it as strings from here on
					isStr[i] = true
					scols[i] = make([]string, len(cols[i]))
					for k, x := range cols[i] {
						scols[i][k] = strconv.FormatFloat(x, 'g', -1, 64)
					}
					cols[i] = nil
					scols[i] = append(scols[i], s)
					continue
				}
			}
			cols[i] = append(cols[i], v)
		}
		out.rows++
	}
	for i, n := range names {
		if isStr[i] {
			out.strs[n] = scols[i]
			if scols[i] == nil {
				out.strs[n] = []string{}
			}
		} else {
			out.nums[n] = cols[i]
		}
	}
	return out, nil
}

func readParquet(f io.ReaderAt, size int64, o Options) (*raw, error) {
	pf, err := parquet.OpenFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errkind.BadInput, err)
	}
	schema := pf.Schema()
	leaves := schema.Columns()
	out := &raw{nums: map[string][]float64{}, strs: map[string][]string{}}
	type colKind int
	const (
		kNum colKind = iota
		kStr
		kDate
		kTimestamp
	)
	kinds := make([]colKind, len(leaves))
	lcUnit := make([]int64, len(leaves)) // timestamp units per second
	names := make([]string, len(leaves))
	for i, path := range leaves {
		if len(path) != 1 {
			return nil, fmt.Errorf("%w: nested column %s: want a flat table", errkind.BadInput, strings.Join(path, "."))
		}
		names[i] = path[0]
		lc, _ := schema.Lookup(path...)
		typ := lc.Node.Type()
		var lv format.LogicalTypeValue
		if lt := typ.LogicalType(); lt != nil {
			lv = lt.Value
		}
		_, isDate := lv.(*format.DateType)
		ts, isTS := lv.(*format.TimestampType)
		switch {
		case isDate:
			kinds[i] = kDate
		case isTS:
			kinds[i] = kTimestamp
			lcUnit[i] = int64(time.Second / time.Millisecond)
			if ts.Unit.Value != nil {
				lcUnit[i] = int64(time.Second / ts.Unit.Value.Duration())
			}
		case typ.Kind() == parquet.ByteArray || typ.Kind() == parquet.FixedLenByteArray:
			kinds[i] = kStr
		default:
			kinds[i] = kNum
		}
		if names[i] == o.ID && kinds[i] == kNum {
			kinds[i] = kStr
		}
	}
	out.names = names
	nums := make([][]float64, len(leaves))
	strs := make([][]string, len(leaves))
	buf := make([]parquet.Row, 1024)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					c := v.Column()
					switch kinds[c] {
					case kStr:
						s := ""
						if !v.IsNull() {
							switch v.Kind() {
							case parquet.ByteArray, parquet.FixedLenByteArray:
								s = string(v.ByteArray())
							case parquet.Int32:
								s = strconv.FormatInt(int64(v.Int32()), 10)
							case parquet.Int64:
								s = strconv.FormatInt(v.Int64(), 10)
							default:
								s = v.String()
							}
						}
						strs[c] = append(strs[c], s)
					case kDate:
						s := ""
						if !v.IsNull() {
							s = time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
						}
						strs[c] = append(strs[c], s)
					case kTimestamp:
						if names[c] == "as_of" {
							s := ""
							if !v.IsNull() {
								s = tsDate(v.Int64(), lcUnit[c])
							}
							strs[c] = append(strs[c], s)
							continue
						}
						x := math.NaN()
						if !v.IsNull() {
							x = float64(v.Int64())
						}
						nums[c] = append(nums[c], x)
					default:
						x := math.NaN()
						if !v.IsNull() {
							switch v.Kind() {
							case parquet.Boolean:
								if v.Boolean() {
									x = 1
								} else {
									x = 0
								}
							case parquet.Int32:
								x = float64(v.Int32())
							case parquet.Int64:
								x = float64(v.Int64())
							case parquet.Float:
								x = float64(v.Float())
							case parquet.Double:
								x = v.Double()
							}
						}
						nums[c] = append(nums[c], x)
					}
				}
				out.rows++
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("%w: %v", errkind.BadInput, err)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	for i, n := range names {
		switch kinds[i] {
		case kStr, kDate:
			out.strs[n] = strs[i]
		case kTimestamp:
			if n == "as_of" {
				out.strs[n] = strs[i]
			} else {
				out.nums[n] = nums[i]
			}
		default:
			if nums[i] == nil {
				nums[i] = []float64{}
			}
			out.nums[n] = nums[i]
		}
	}
	return out, nil
}

func tsDate(v, perSecond int64) string {
	if perSecond == 0 {
		perSecond = 1000
	}
	return time.Unix(v/perSecond, 0).UTC().Format(time.DateOnly)
}
