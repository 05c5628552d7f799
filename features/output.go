package features

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ArrowSchema is the table schema of a snapshot: user_id, as_of, the
// features in order (category features as their values: strings of the
// feature's vocabulary, "unknown" for code 0), churn (nullable; null when
// unlabeled).
func ArrowSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: IDColumn, Type: arrow.BinaryTypes.String},
		{Name: AsOfColumn, Type: arrow.FixedWidthTypes.Date32},
	}
	for _, f := range Features() {
		fields = append(fields, arrow.Field{Name: f.Name, Type: arrowType(f.Type)})
	}
	fields = append(fields, arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

func arrowType(t Type) arrow.DataType {
	switch t {
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Category:
		return arrow.BinaryTypes.String
	default:
		return arrow.PrimitiveTypes.Int64
	}
}

// Record returns the snapshot as one Arrow record batch (the caller releases
// it).
func (s *Snapshot) Record(mem memory.Allocator) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ArrowSchema())
	defer b.Release()
	n := len(s.UserIDs)
	b.Reserve(n)
	b.Field(0).(*array.StringBuilder).AppendValues(s.UserIDs, nil)
	asOf := b.Field(1).(*array.Date32Builder)
	for range n {
		asOf.Append(arrow.Date32(s.AsOf))
	}
	for j, f := range Features() {
		vals := s.Values[j]
		switch fb := b.Field(2 + j).(type) {
		case *array.Float64Builder:
			fb.AppendValues(vals, nil)
		case *array.BooleanBuilder:
			for _, v := range vals {
				fb.Append(v != 0)
			}
		case *array.Int64Builder:
			for _, v := range vals {
				fb.Append(int64(v))
			}
		case *array.StringBuilder:
			for _, v := range vals {
				fb.Append(f.Categories[int(v)])
			}
		default:
			panic(fmt.Sprintf("features: feature %s: unexpected builder %T", f.Name, fb))
		}
	}
	lb := b.Field(2 + len(featureDefs)).(*array.Int64Builder)
	for _, c := range s.Churn {
		if s.Labeled {
			lb.Append(int64(c))
		} else {
			lb.AppendNull()
		}
	}
	return b.NewRecordBatch()
}

// CategoryColumns names the category features (dictionary-encoded strings
// in Parquet).
func CategoryColumns() []string {
	var out []string
	for _, f := range featureDefs {
		if f.Type == Category {
			out = append(out, f.Name)
		}
	}
	return out
}

// WriteCSV writes the snapshot as CSV for pandas/sklearn: user_id, the
// features (all numeric: bools as 0/1, categories as their codes), churn
// (empty when unlabeled). The as_of date is not a column (it is constant per
// file and would otherwise be read as a feature); it is in the schema file.
func (s *Snapshot) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(IDColumn)
	for _, f := range Features() {
		bw.WriteByte(',')
		bw.WriteString(f.Name)
	}
	bw.WriteString("," + LabelColumn + "\n")
	var buf []byte
	for i, id := range s.UserIDs {
		buf = appendCSVField(buf[:0], id)
		for j, f := range featureDefs {
			buf = append(buf, ',')
			v := s.Values[j][i]
			if f.Type == Float64 {
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			} else {
				buf = strconv.AppendInt(buf, int64(v), 10)
			}
		}
		buf = append(buf, ',')
		if s.Labeled {
			buf = strconv.AppendInt(buf, int64(s.Churn[i]), 10)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendCSVField(buf []byte, s string) []byte {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			quote = true
		}
	}
	if !quote && s != "" {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}

// WriteArrow writes the snapshot as an Arrow IPC file.
func (s *Snapshot) WriteArrow(w io.Writer, mem memory.Allocator) error {
	rec := s.Record(mem)
	defer rec.Release()
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return err
	}
	return fw.Close()
}
