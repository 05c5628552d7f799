package sql

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/churnctl/churnctl/internal/errkind"
)

// encFunc appends one Parquet value (not null) to buf as the field data of
// PostgreSQL's binary COPY format for the target type (without the length
// word).
type encFunc func(buf []byte, v parquet.Value) ([]byte, error)

// plan says how one file's columns become the COPY columns.
type plan struct {
	copyCols []string  // COPY column list, table order, "features" last for FeatureJSON
	leaf     []int     // per copy column: Parquet leaf index, -1 = partition constant, -2 = features
	enc      []encFunc // per copy column
	partIdx  int       // copy index of the partition column if it comes from the file, else -1
	features []feature // FeatureJSON leaves
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
			return nil, fmt.Errorf("%w: %s: column %s is nested or repeated; the loader reads flat files only", errkind.BadInput, file, name)
		}
		leafOf[name] = leaf
		if tableHas(tbl, name) || slices.Contains(tbl.Ignore, name) && !isAlias(tbl, name) {
			continue
		}
		if isAlias(tbl, name) {
			continue
		}
		if tbl.FeatureJSON {
			k := leaf.Node.Type().Kind()
			switch k {
			case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double, parquet.ByteArray:
				p.features = append(p.features, feature{name: name, leaf: leaf.ColumnIndex, kind: k})
				continue
			}
			return nil, fmt.Errorf("%w: %s: feature column %s has type %s; features must be numbers, booleans or strings", errkind.BadInput, file, name, leaf.Node.Type())
		}
		unknown = append(unknown, name)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s: column(s) %s are not in table churn.%s (its columns: %s; known extras ignored: %s)",
			errkind.BadInput, file, strings.Join(unknown, ", "), tbl.Name, columnNames(tbl), strings.Join(tbl.Ignore, ", "))
	}
	var missing []string
	splitFrom := -1 // leaf of the "name@version" column when its name part is derived
	if ref, name := tbl.SplitRef[0], tbl.SplitRef[1]; ref != "" {
		if _, hasName := leafOf[name]; !hasName {
			if l, ok := leafOf[ref]; ok && l.Node.Type().Kind() == parquet.ByteArray {
				splitFrom = l.ColumnIndex
			}
		}
	}
	for _, c := range tbl.Columns {
		leaf, ok := leafOf[c.Name]
		for _, a := range c.Aliases {
			if !ok {
				leaf, ok = leafOf[a]
			}
		}
		switch {
		case splitFrom >= 0 && (c.Name == tbl.SplitRef[0] || c.Name == tbl.SplitRef[1]):
			p.copyCols = append(p.copyCols, c.Name)
			p.leaf = append(p.leaf, splitFrom)
			if c.Name == tbl.SplitRef[0] {
				p.enc = append(p.enc, refPart(false))
			} else {
				p.enc = append(p.enc, refPart(true))
			}
		case ok:
			enc, err := encoder(c, leaf)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: column %s: %v", errkind.BadInput, file, c.Name, err)
			}
			if c.Name == tbl.Part {
				p.partIdx = len(p.copyCols)
			}
			p.copyCols = append(p.copyCols, c.Name)
			p.leaf = append(p.leaf, leaf.ColumnIndex)
			p.enc = append(p.enc, enc)
		case c.Name == tbl.Part:
			p.copyCols = append(p.copyCols, c.Name)
			p.leaf = append(p.leaf, -1)
			p.enc = append(p.enc, nil)
		case c.Required:
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s: required column(s) %s missing for table churn.%s", errkind.BadInput, file, strings.Join(missing, ", "), tbl.Name)
	}
	if tbl.FeatureJSON {
		if len(p.features) == 0 {
			return nil, fmt.Errorf("%w: %s: no feature columns (numeric columns besides %s)", errkind.BadInput, file, columnNames(tbl))
		}
		p.copyCols = append(p.copyCols, "features")
		p.leaf = append(p.leaf, -2)
		p.enc = append(p.enc, nil)
	}
	return p, nil
}

func isAlias(t *Table, name string) bool {
	for _, c := range t.Columns {
		if slices.Contains(c.Aliases, name) {
			return true
		}
	}
	return false
}

// refPart encodes the name (before the last '@') or the version (after it)
// of a "name@version" reference; without '@' the name is empty and the
// version the whole value.
func refPart(name bool) encFunc {
	return func(b []byte, v parquet.Value) ([]byte, error) {
		s := v.ByteArray()
		if !utf8.Valid(s) {
			return b, errors.New("invalid UTF-8 in a model reference")
		}
		i := bytes.LastIndexByte(s, '@')
		switch {
		case name && i >= 0:
			return append(b, s[:i]...), nil
		case name:
			return b, nil
		case i >= 0:
			return append(b, s[i+1:]...), nil
		}
		return append(b, s...), nil
	}
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

// PostgreSQL's binary formats count dates and timestamps from 2000-01-01.
const (
	pgEpochDays   = 10957           // days from 1970-01-01 to 2000-01-01
	pgEpochMicros = 946684800000000 // µs from 1970-01-01 to 2000-01-01
)

// encoder returns the encoding of a Parquet leaf into column c.
func encoder(c Column, leaf parquet.LeafColumn) (encFunc, error) {
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
	bad := func() (encFunc, error) {
		return nil, fmt.Errorf("cannot load Parquet %s into %s", typ, c.Type)
	}
	// intOf reads an integer column of any width.
	var intOf func(parquet.Value) (int64, error)
	switch kind {
	case parquet.Int32:
		intOf = func(v parquet.Value) (int64, error) { return int64(v.Int32()), nil }
	case parquet.Int64:
		if tsUnit == 0 {
			intOf = func(v parquet.Value) (int64, error) { return v.Int64(), nil }
		}
	case parquet.Boolean:
		intOf = func(v parquet.Value) (int64, error) { return int64(b2i(v.Boolean())), nil }
	case parquet.Double, parquet.Float:
		intOf = func(v parquet.Value) (int64, error) {
			f := v.Double()
			if kind == parquet.Float {
				f = float64(v.Float())
			}
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return 0, fmt.Errorf("column %s: %v is not an integer", c.Name, f)
			}
			return int64(f), nil
		}
	}
	switch c.Type {
	case Text:
		if kind == parquet.ByteArray || kind == parquet.FixedLenByteArray {
			return func(b []byte, v parquet.Value) ([]byte, error) {
				s := v.ByteArray()
				if !utf8.Valid(s) {
					return b, fmt.Errorf("column %s: invalid UTF-8", c.Name)
				}
				return append(b, s...), nil
			}, nil
		}
		return bad()
	case Int2, Int4, Int8:
		if intOf == nil {
			return bad()
		}
		switch {
		case kind == parquet.Int32 && c.Type == Int4:
			return func(b []byte, v parquet.Value) ([]byte, error) {
				return binary.BigEndian.AppendUint32(b, uint32(v.Int32())), nil
			}, nil
		case kind == parquet.Int64 && c.Type == Int8:
			return func(b []byte, v parquet.Value) ([]byte, error) {
				return binary.BigEndian.AppendUint64(b, uint64(v.Int64())), nil
			}, nil
		}
		lo, hi := int64(math.MinInt16), int64(math.MaxInt16)
		switch c.Type {
		case Int4:
			lo, hi = math.MinInt32, math.MaxInt32
		case Int8:
			lo, hi = math.MinInt64, math.MaxInt64
		}
		return func(b []byte, v parquet.Value) ([]byte, error) {
			n, err := intOf(v)
			if err != nil {
				return b, err
			}
			if n < lo || n > hi {
				return b, fmt.Errorf("column %s: %d out of range for %s", c.Name, n, c.Type)
			}
			switch c.Type {
			case Int2:
				return binary.BigEndian.AppendUint16(b, uint16(n)), nil
			case Int4:
				return binary.BigEndian.AppendUint32(b, uint32(n)), nil
			}
			return binary.BigEndian.AppendUint64(b, uint64(n)), nil
		}, nil
	case Float8:
		var f func(parquet.Value) float64
		switch kind {
		case parquet.Double:
			f = parquet.Value.Double
		case parquet.Float:
			f = func(v parquet.Value) float64 { return float64(v.Float()) }
		case parquet.Int32:
			f = func(v parquet.Value) float64 { return float64(v.Int32()) }
		case parquet.Int64:
			if tsUnit != 0 {
				return bad()
			}
			f = func(v parquet.Value) float64 { return float64(v.Int64()) }
		default:
			return bad()
		}
		return func(b []byte, v parquet.Value) ([]byte, error) {
			return binary.BigEndian.AppendUint64(b, math.Float64bits(f(v))), nil
		}, nil
	case Bool:
		if intOf == nil || kind == parquet.Double || kind == parquet.Float {
			return bad()
		}
		return func(b []byte, v parquet.Value) ([]byte, error) {
			n, _ := intOf(v)
			if n != 0 && n != 1 {
				return b, fmt.Errorf("column %s: %d is not 0 or 1", c.Name, n)
			}
			return append(b, byte(n)), nil
		}, nil
	case Date:
		var days func(parquet.Value) (int64, error)
		switch {
		case kind == parquet.Int32 && isDate:
			days = func(v parquet.Value) (int64, error) { return int64(v.Int32()), nil }
		case kind == parquet.Int64 && tsUnit != 0:
			days = func(v parquet.Value) (int64, error) {
				return int64(math.Floor(float64(v.Int64()) / float64(24*time.Hour/tsUnit))), nil
			}
		case kind == parquet.ByteArray:
			days = func(v parquet.Value) (int64, error) {
				t, err := time.Parse(time.DateOnly, string(v.ByteArray()))
				if err != nil {
					return 0, fmt.Errorf("column %s: %q is not a YYYY-MM-DD date", c.Name, v.ByteArray())
				}
				return t.Unix() / 86400, nil
			}
		default:
			return bad()
		}
		return func(b []byte, v parquet.Value) ([]byte, error) {
			d, err := days(v)
			if err != nil {
				return b, err
			}
			return binary.BigEndian.AppendUint32(b, uint32(int32(d-pgEpochDays))), nil
		}, nil
	case Timestamptz:
		var micros func(parquet.Value) int64
		switch {
		case kind == parquet.Int64 && tsUnit == time.Millisecond:
			micros = func(v parquet.Value) int64 { return v.Int64() * 1000 }
		case kind == parquet.Int64 && tsUnit == time.Microsecond:
			micros = parquet.Value.Int64
		case kind == parquet.Int64 && tsUnit == time.Nanosecond:
			micros = func(v parquet.Value) int64 { return v.Int64() / 1000 }
		case kind == parquet.Int32 && isDate:
			micros = func(v parquet.Value) int64 { return int64(v.Int32()) * 86400e6 }
		default:
			return bad()
		}
		return func(b []byte, v parquet.Value) ([]byte, error) {
			return binary.BigEndian.AppendUint64(b, uint64(micros(v)-pgEpochMicros)), nil
		}, nil
	case JSONB:
		if kind == parquet.ByteArray {
			return func(b []byte, v parquet.Value) ([]byte, error) {
				if !json.Valid(v.ByteArray()) {
					return b, fmt.Errorf("column %s: invalid JSON", c.Name)
				}
				return append(append(b, 1), v.ByteArray()...), nil
			}, nil
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

// parquetSource streams the rows of a partition's files, in file order, as
// PostgreSQL binary COPY data (an io.Reader for pgconn's CopyFrom). It
// encodes straight from Parquet values into the COPY buffer: pgx's
// CopyFromSource path spends about a quarter of the client's time boxing
// values and looking up encode plans per value.
type parquetSource struct {
	tbl   *Table
	files []string
	part  int32 // partition day, days since 1970-01-01 (tbl.Part != "")

	// mu serialises Read and Close: pgconn's CopyFrom can return (on a
	// server error) while its goroutine is still inside Read.
	mu     sync.Mutex
	closed bool

	fileIdx  int
	f        *os.File
	pf       *parquet.File
	rgIdx    int
	rows     parquet.Rows
	plan     *plan
	wantCols []string // COPY columns fixed by the first file

	buf     []parquet.Row
	n, i    int
	out     []byte // encoded COPY data not yet read
	off     int
	state   int // 0 header pending, 1 rows, 2 trailer written
	partEnc []byte
	json    []byte
	err     error
	count   int64
	onRead  func(n int64) // called after each batch read (tests)
}

func newParquetSource(tbl *Table, files []string, partDays int32) *parquetSource {
	s := &parquetSource{tbl: tbl, files: files, part: partDays, buf: make([]parquet.Row, 256)}
	s.partEnc = binary.BigEndian.AppendUint32(nil, uint32(partDays-pgEpochDays))
	return s
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
		return fmt.Errorf("%w: %s: %v", errkind.BadInput, name, err)
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
		return fmt.Errorf("%w: %s: columns %v differ from the partition's first file (%v)", errkind.BadInput, name, p.copyCols, s.wantCols)
	}
	s.f, s.pf, s.plan, s.rgIdx = f, pf, p, 0
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

// Err returns the error that stopped Read, if any.
func (s *parquetSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close releases the open file; later Reads fail.
func (s *parquetSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.closeFile()
}

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
			s.err = fmt.Errorf("%w: %s: %v", errkind.BadInput, s.files[s.fileIdx-1], err)
			return false
		}
		s.rows.Close()
		s.rows = nil
	}
}

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// Read implements io.Reader: binary COPY data, header to trailer.
func (s *parquetSource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("parquet source closed")
	}
	for s.off >= len(s.out) {
		if s.err != nil {
			return 0, s.err
		}
		if s.state == 2 {
			return 0, io.EOF
		}
		s.out, s.off = s.out[:0], 0
		if s.state == 0 {
			s.out = append(s.out, copyHeader...)
			s.state = 1
		}
		for len(s.out) < 256<<10 {
			if s.i >= s.n && !s.fill() {
				if s.err != nil {
					return 0, s.err
				}
				s.out = append(s.out, 0xff, 0xff) // trailer: field count -1
				s.state = 2
				break
			}
			if err := s.encodeRow(s.buf[s.i]); err != nil {
				s.err = err
				return 0, err
			}
			s.i++
		}
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

// encodeRow appends one row to s.out.
func (s *parquetSource) encodeRow(row parquet.Row) error {
	p := s.plan
	if len(row) != p.nLeaves {
		return fmt.Errorf("%w: %s: row has %d values for %d columns", errkind.BadInput, s.files[s.fileIdx-1], len(row), p.nLeaves)
	}
	b := binary.BigEndian.AppendUint16(s.out, uint16(len(p.leaf)))
	for j, leaf := range p.leaf {
		switch leaf {
		case -1:
			b = binary.BigEndian.AppendUint32(b, uint32(len(s.partEnc)))
			b = append(b, s.partEnc...)
		case -2:
			js := s.featureJSON(row)
			b = binary.BigEndian.AppendUint32(b, uint32(len(js)+1))
			b = append(append(b, 1), js...)
		default:
			v := row[leaf]
			if v.IsNull() {
				b = append(b, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			at := len(b)
			b = append(b, 0, 0, 0, 0)
			var err error
			if b, err = p.enc[j](b, v); err != nil {
				return fmt.Errorf("%w: %s row %d: %v", errkind.BadInput, s.files[s.fileIdx-1], s.count+1, err)
			}
			binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
			if j == p.partIdx && !bytes.Equal(b[at+4:], s.partEnc) {
				d := int32(binary.BigEndian.Uint32(b[at+4:])) + pgEpochDays
				return fmt.Errorf("%w: %s row %d: %s = %s outside its partition %s=%s", errkind.BadInput,
					s.files[s.fileIdx-1], s.count+1, s.tbl.Part, dayString(d), s.tbl.Part, dayString(s.part))
			}
		}
	}
	s.out = b
	s.count++
	return nil
}

func dayString(days int32) string {
	return time.Unix(int64(days)*86400, 0).UTC().Format(time.DateOnly)
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
		case parquet.ByteArray:
			js, _ := json.Marshal(string(v.ByteArray()))
			b = append(b, js...)
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
