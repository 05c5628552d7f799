package warehouse

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// convFunc turns one Parquet value (not null) into a value pgx encodes for
// the target type. Byte slices may alias the reader's buffers: pgx encodes a
// row before the source is asked for the next one.
type convFunc func(parquet.Value) (any, error)

// plan says how one file's columns become the COPY columns.
type plan struct {
	copyCols []string   // COPY column list, table order, "features" last for FeatureJSON
	leaf     []int      // per copy column: Parquet leaf index, -1 = partition constant, -2 = features
	conv     []convFunc // per copy column
	partIdx  int        // copy index of the partition column if it comes from the file, else -1
	features []feature  // FeatureJSON leaves
	nLeaves  int
}

type feature struct {
	name string
	leaf int
	kind parquet.Kind
}

// planFor maps the Parquet schema of file to tbl by column name.
func planFor(tbl *Table, file string, schema *parquet.Schema) (*plan, error) {
	cols := schema.Columns()
	leafOf := map[string]parquet.LeafColumn{}
	var unknown []string
	p := &plan{partIdx: -1, nLeaves: len(cols)}
	for _, path := range cols {
		name := strings.Join(path, ".")
		leaf, _ := schema.Lookup(path...)
		if len(path) != 1 || leaf.MaxRepetitionLevel > 0 {
			return nil, fmt.Errorf("%w: %s: column %s is nested or repeated; the loader reads flat files only", exitcode.ErrBadInput, file, name)
		}
		leafOf[name] = leaf
		if tableHas(tbl, name) || slices.Contains(tbl.Ignore, name) {
			continue
		}
		if tbl.FeatureJSON {
			k := leaf.Node.Type().Kind()
			switch k {
			case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
				p.features = append(p.features, feature{name: name, leaf: leaf.ColumnIndex, kind: k})
				continue
			}
			return nil, fmt.Errorf("%w: %s: feature column %s has type %s; features must be numeric or boolean", exitcode.ErrBadInput, file, name, leaf.Node.Type())
		}
		unknown = append(unknown, name)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s: column(s) %s are not in table churn.%s (its columns: %s; known extras ignored: %s)",
			exitcode.ErrBadInput, file, strings.Join(unknown, ", "), tbl.Name, columnNames(tbl), strings.Join(tbl.Ignore, ", "))
	}
	var missing []string
	for _, c := range tbl.Columns {
		leaf, ok := leafOf[c.Name]
		switch {
		case ok:
			conv, err := converter(c, leaf)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: column %s: %v", exitcode.ErrBadInput, file, c.Name, err)
			}
			if c.Name == tbl.Part {
				p.partIdx = len(p.copyCols)
			}
			p.copyCols = append(p.copyCols, c.Name)
			p.leaf = append(p.leaf, leaf.ColumnIndex)
			p.conv = append(p.conv, conv)
		case c.Name == tbl.Part:
			p.copyCols = append(p.copyCols, c.Name)
			p.leaf = append(p.leaf, -1)
			p.conv = append(p.conv, nil)
		case c.Required:
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s: required column(s) %s missing for table churn.%s", exitcode.ErrBadInput, file, strings.Join(missing, ", "), tbl.Name)
	}
	if tbl.FeatureJSON {
		if len(p.features) == 0 {
			return nil, fmt.Errorf("%w: %s: no feature columns (numeric columns besides %s)", exitcode.ErrBadInput, file, columnNames(tbl))
		}
		p.copyCols = append(p.copyCols, "features")
		p.leaf = append(p.leaf, -2)
		p.conv = append(p.conv, nil)
	}
	return p, nil
}

func tableHas(t *Table, name string) bool {
	for _, c := range t.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

func columnNames(t *Table) string {
	var s []string
	for _, c := range t.Columns {
		s = append(s, c.Name)
	}
	return strings.Join(s, ", ")
}

var pgEpochDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// converter returns the conversion from a Parquet leaf to column c.
func converter(c Column, leaf parquet.LeafColumn) (convFunc, error) {
	typ := leaf.Node.Type()
	kind := typ.Kind()
	var lt any
	if l := typ.LogicalType(); l != nil {
		lt = l.Value
	}
	tsUnit := time.Duration(0)
	if ts, ok := lt.(*format.TimestampType); ok && ts.Unit.Value != nil {
		tsUnit = ts.Unit.Value.Duration()
	}
	_, isDate := lt.(*format.DateType)
	bad := func() (convFunc, error) {
		return nil, fmt.Errorf("cannot load Parquet %s into %s", typ, c.Type)
	}
	switch c.Type {
	case Text:
		if kind == parquet.ByteArray || kind == parquet.FixedLenByteArray {
			return func(v parquet.Value) (any, error) { return v.ByteArray(), nil }, nil
		}
		return bad()
	case Int2, Int4, Int8:
		switch kind {
		case parquet.Int32:
			return func(v parquet.Value) (any, error) { return v.Int32(), nil }, nil
		case parquet.Int64:
			if tsUnit != 0 {
				return bad()
			}
			return func(v parquet.Value) (any, error) { return v.Int64(), nil }, nil
		case parquet.Boolean:
			return func(v parquet.Value) (any, error) { return b2i(v.Boolean()), nil }, nil
		case parquet.Double, parquet.Float:
			return func(v parquet.Value) (any, error) {
				f := v.Double()
				if kind == parquet.Float {
					f = float64(v.Float())
				}
				if f != math.Trunc(f) || math.IsInf(f, 0) {
					return nil, fmt.Errorf("column %s: %v is not an integer", c.Name, f)
				}
				return int64(f), nil
			}, nil
		}
		return bad()
	case Float8:
		switch kind {
		case parquet.Double:
			return func(v parquet.Value) (any, error) { return v.Double(), nil }, nil
		case parquet.Float:
			return func(v parquet.Value) (any, error) { return float64(v.Float()), nil }, nil
		case parquet.Int32:
			return func(v parquet.Value) (any, error) { return float64(v.Int32()), nil }, nil
		case parquet.Int64:
			if tsUnit != 0 {
				return bad()
			}
			return func(v parquet.Value) (any, error) { return float64(v.Int64()), nil }, nil
		}
		return bad()
	case Bool:
		switch kind {
		case parquet.Boolean:
			return func(v parquet.Value) (any, error) { return v.Boolean(), nil }, nil
		case parquet.Int32, parquet.Int64:
			return func(v parquet.Value) (any, error) {
				switch v.Int64() {
				case 0:
					return false, nil
				case 1:
					return true, nil
				}
				return nil, fmt.Errorf("column %s: %d is not 0 or 1", c.Name, v.Int64())
			}, nil
		}
		return bad()
	case Date:
		switch {
		case kind == parquet.Int32 && isDate:
			return func(v parquet.Value) (any, error) {
				return pgtype.Date{Time: pgEpochDate.AddDate(0, 0, int(v.Int32())), Valid: true}, nil
			}, nil
		case kind == parquet.Int64 && tsUnit != 0:
			return func(v parquet.Value) (any, error) {
				t := unixTime(v.Int64(), tsUnit)
				return pgtype.Date{Time: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), Valid: true}, nil
			}, nil
		case kind == parquet.ByteArray:
			return func(v parquet.Value) (any, error) {
				t, err := time.Parse(time.DateOnly, string(v.ByteArray()))
				if err != nil {
					return nil, fmt.Errorf("column %s: %q is not a YYYY-MM-DD date", c.Name, v.ByteArray())
				}
				return pgtype.Date{Time: t, Valid: true}, nil
			}, nil
		}
		return bad()
	case Timestamptz:
		switch {
		case kind == parquet.Int64 && tsUnit != 0:
			return func(v parquet.Value) (any, error) { return unixTime(v.Int64(), tsUnit), nil }, nil
		case kind == parquet.Int32 && isDate:
			return func(v parquet.Value) (any, error) { return pgEpochDate.AddDate(0, 0, int(v.Int32())), nil }, nil
		}
		return bad()
	case JSONB:
		if kind == parquet.ByteArray {
			return func(v parquet.Value) (any, error) { return v.ByteArray(), nil }, nil
		}
		return bad()
	}
	return bad()
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func unixTime(n int64, unit time.Duration) time.Time {
	switch unit {
	case time.Millisecond:
		return time.UnixMilli(n).UTC()
	case time.Microsecond:
		return time.UnixMicro(n).UTC()
	}
	return time.Unix(0, n).UTC()
}

// parquetSource streams the rows of a partition's files as a
// pgx.CopyFromSource, in file order.
type parquetSource struct {
	tbl   *Table
	files []string
	part  pgtype.Date // partition value (tbl.Part != "")

	fileIdx  int
	f        *os.File
	pf       *parquet.File
	rgIdx    int
	rows     parquet.Rows
	plan     *plan
	wantCols []string // COPY columns fixed by the first file

	buf    []parquet.Row
	n, i   int
	vals   []any
	json   []byte
	err    error
	count  int64
	onRead func(n int64) // called after each batch read (tests)
}

func newParquetSource(tbl *Table, files []string, part pgtype.Date) *parquetSource {
	return &parquetSource{tbl: tbl, files: files, part: part, buf: make([]parquet.Row, 512)}
}

// columns opens the first file and returns the COPY column list.
func (s *parquetSource) columns() ([]string, error) {
	if s.plan == nil {
		if err := s.openNext(); err != nil {
			return nil, err
		}
	}
	return s.wantCols, nil
}

// openNext closes the current file and opens the next one; io.EOF at the end.
func (s *parquetSource) openNext() error {
	s.closeFile()
	if s.fileIdx >= len(s.files) {
		return io.EOF
	}
	name := s.files[s.fileIdx]
	s.fileIdx++
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %v", exitcode.ErrBadInput, name, err)
	}
	p, err := planFor(s.tbl, name, pf.Schema())
	if err != nil {
		f.Close()
		return err
	}
	if s.wantCols == nil {
		s.wantCols = p.copyCols
	} else if !slices.Equal(s.wantCols, p.copyCols) {
		f.Close()
		return fmt.Errorf("%w: %s: columns %v differ from the partition's first file (%v)", exitcode.ErrBadInput, name, p.copyCols, s.wantCols)
	}
	s.f, s.pf, s.plan, s.rgIdx = f, pf, p, 0
	if s.vals == nil {
		s.vals = make([]any, len(p.copyCols))
	}
	return nil
}

func (s *parquetSource) closeFile() {
	if s.rows != nil {
		s.rows.Close()
		s.rows = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// Close releases the open file.
func (s *parquetSource) Close() { s.closeFile() }

// fill reads the next batch of rows; false at the end or on error.
func (s *parquetSource) fill() bool {
	for {
		if s.pf == nil {
			if err := s.openNext(); err != nil {
				if err != io.EOF {
					s.err = err
				}
				return false
			}
		}
		if s.rows == nil {
			rgs := s.pf.RowGroups()
			if s.rgIdx >= len(rgs) {
				s.pf = nil
				continue
			}
			s.rows = rgs[s.rgIdx].Rows()
			s.rgIdx++
		}
		n, err := s.rows.ReadRows(s.buf)
		if n > 0 {
			s.n, s.i = n, 0
			if s.onRead != nil {
				s.onRead(s.count + int64(n))
			}
			return true
		}
		if err != nil && err != io.EOF {
			s.err = fmt.Errorf("%w: %s: %v", exitcode.ErrBadInput, s.files[s.fileIdx-1], err)
			return false
		}
		s.rows.Close()
		s.rows = nil
	}
}

// Next implements pgx.CopyFromSource.
func (s *parquetSource) Next() bool {
	if s.err != nil {
		return false
	}
	if s.i >= s.n && !s.fill() {
		return false
	}
	row := s.buf[s.i]
	s.i++
	if len(row) != s.plan.nLeaves {
		s.err = fmt.Errorf("%w: %s: row has %d values for %d columns", exitcode.ErrBadInput, s.files[s.fileIdx-1], len(row), s.plan.nLeaves)
		return false
	}
	p := s.plan
	for j, leaf := range p.leaf {
		switch leaf {
		case -1:
			s.vals[j] = s.part
		case -2:
			s.vals[j] = s.featureJSON(row)
		default:
			v := row[leaf]
			if v.IsNull() {
				s.vals[j] = nil
				continue
			}
			x, err := p.conv[j](v)
			if err != nil {
				s.err = fmt.Errorf("%w: %s row %d: %v", exitcode.ErrBadInput, s.files[s.fileIdx-1], s.count+1, err)
				return false
			}
			s.vals[j] = x
		}
	}
	if p.partIdx >= 0 {
		if d, ok := s.vals[p.partIdx].(pgtype.Date); !ok || !d.Time.Equal(s.part.Time) {
			s.err = fmt.Errorf("%w: %s row %d: %s = %v outside its partition %s=%s", exitcode.ErrBadInput,
				s.files[s.fileIdx-1], s.count+1, s.tbl.Part, s.vals[p.partIdx], s.tbl.Part, s.part.Time.Format(time.DateOnly))
			return false
		}
	}
	s.count++
	return true
}

// featureJSON renders the row's feature columns as one JSON object.
func (s *parquetSource) featureJSON(row parquet.Row) []byte {
	b := s.json[:0]
	b = append(b, '{')
	for i, f := range s.plan.features {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.name)
		b = append(b, ':')
		v := row[f.leaf]
		if v.IsNull() {
			b = append(b, "null"...)
			continue
		}
		switch f.kind {
		case parquet.Boolean:
			b = strconv.AppendBool(b, v.Boolean())
		case parquet.Int32:
			b = strconv.AppendInt(b, int64(v.Int32()), 10)
		case parquet.Int64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		default:
			x := v.Double()
			if f.kind == parquet.Float {
				x = float64(v.Float())
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendFloat(b, x, 'g', -1, 64)
			}
		}
	}
	b = append(b, '}')
	s.json = b
	return b
}

// Values implements pgx.CopyFromSource.
func (s *parquetSource) Values() ([]any, error) { return s.vals, nil }

// Err implements pgx.CopyFromSource.
func (s *parquetSource) Err() error { return s.err }
