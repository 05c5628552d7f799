package parquetio

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// kind is the physical/logical pairing of one flat column.
type kind uint8

const (
	kindInt32 kind = iota + 1
	kindInt64
	kindFloat64
	kindBool
	kindString
	kindBinary
	kindTimestampMS
	kindDate32
)

// kindOfArrow maps an Arrow field type to a column kind.
func kindOfArrow(dt arrow.DataType) (kind, error) {
	switch t := dt.(type) {
	case *arrow.Int32Type:
		return kindInt32, nil
	case *arrow.Int64Type:
		return kindInt64, nil
	case *arrow.Float64Type:
		return kindFloat64, nil
	case *arrow.BooleanType:
		return kindBool, nil
	case *arrow.StringType:
		return kindString, nil
	case *arrow.BinaryType:
		return kindBinary, nil
	case *arrow.Date32Type:
		return kindDate32, nil
	case *arrow.TimestampType:
		if t.Unit == arrow.Millisecond && (t.TimeZone == "UTC" || t.TimeZone == "Z" || t.TimeZone == "+00:00") {
			return kindTimestampMS, nil
		}
	}
	return 0, fmt.Errorf("parquetio: unsupported arrow type %s (want int32, int64, float64, bool, string, binary, date32 or timestamp[ms, tz=UTC])", dt)
}

func (k kind) arrowType() arrow.DataType {
	switch k {
	case kindInt32:
		return arrow.PrimitiveTypes.Int32
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	case kindFloat64:
		return arrow.PrimitiveTypes.Float64
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindString:
		return arrow.BinaryTypes.String
	case kindBinary:
		return arrow.BinaryTypes.Binary
	case kindTimestampMS:
		return arrow.FixedWidthTypes.Timestamp_ms
	case kindDate32:
		return arrow.FixedWidthTypes.Date32
	}
	panic("parquetio: bad kind")
}

func (k kind) leaf() parquet.Node {
	switch k {
	case kindInt32:
		return parquet.Leaf(parquet.Int32Type)
	case kindInt64:
		return parquet.Leaf(parquet.Int64Type)
	case kindFloat64:
		return parquet.Leaf(parquet.DoubleType)
	case kindBool:
		return parquet.Leaf(parquet.BooleanType)
	case kindString:
		return parquet.String()
	case kindBinary:
		return parquet.Leaf(parquet.ByteArrayType)
	case kindTimestampMS:
		return parquet.Timestamp(parquet.Millisecond)
	case kindDate32:
		return parquet.Date()
	}
	panic("parquetio: bad kind")
}

// kindOfParquet maps a flat Parquet leaf column to a column kind.
func kindOfParquet(n parquet.Node) (kind, error) {
	t := n.Type()
	var lv format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch t.Kind() {
	case parquet.Boolean:
		return kindBool, nil
	case parquet.Int32:
		switch l := lv.(type) {
		case nil:
			return kindInt32, nil
		case *format.DateType:
			return kindDate32, nil
		case *format.IntType:
			if l.BitWidth == 32 && l.IsSigned {
				return kindInt32, nil
			}
		}
	case parquet.Int64:
		switch l := lv.(type) {
		case nil:
			return kindInt64, nil
		case *format.TimestampType:
			if _, ms := l.Unit.Value.(*format.MilliSeconds); ms && l.IsAdjustedToUTC {
				return kindTimestampMS, nil
			}
		case *format.IntType:
			if l.BitWidth == 64 && l.IsSigned {
				return kindInt64, nil
			}
		}
	case parquet.Double:
		return kindFloat64, nil
	case parquet.ByteArray:
		switch lv.(type) {
		case *format.StringType:
			return kindString, nil
		case nil:
			if ct := t.ConvertedType(); ct != nil && *ct == deprecated.UTF8 {
				return kindString, nil
			}
			return kindBinary, nil
		}
	}
	return 0, fmt.Errorf("parquetio: unsupported parquet column type %s", t)
}

// orderedGroup is a Parquet group node that keeps its fields in the given
// order (parquet.Group sorts them by name, which would reorder the columns).
type orderedGroup []parquet.Field

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string                           { return f.name }
func (f *orderedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }

func (g orderedGroup) String() string {
	var b strings.Builder
	b.WriteString("group {")
	for i, f := range g {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name())
	}
	b.WriteString("}")
	return b.String()
}

func (g orderedGroup) GoType() reflect.Type {
	fields := make([]reflect.StructField, len(g))
	for i, f := range g {
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: f.GoType(),
			Tag:  reflect.StructTag(fmt.Sprintf(`parquet:%q`, f.Name())),
		}
	}
	return reflect.StructOf(fields)
}

// parquetSchema builds the Parquet schema for a flat Arrow schema. dict
// reports whether a string/binary column is dictionary encoded.
func parquetSchema(s *arrow.Schema, dict func(name string) bool, delta map[string]bool) (*parquet.Schema, []kind, error) {
	g := make(orderedGroup, s.NumFields())
	kinds := make([]kind, s.NumFields())
	for i, f := range s.Fields() {
		k, err := kindOfArrow(f.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		kinds[i] = k
		n := k.leaf()
		if (k == kindString || k == kindBinary) && dict(f.Name) {
			n = parquet.Encoded(n, &parquet.RLEDictionary)
		}
		if delta[f.Name] {
			switch k {
			case kindInt32, kindInt64, kindTimestampMS, kindDate32:
				n = parquet.Encoded(n, &parquet.DeltaBinaryPacked)
			default:
				return nil, nil, fmt.Errorf("parquetio: column %q: delta encoding needs an integer column", f.Name)
			}
		}
		if f.Nullable {
			n = parquet.Optional(n)
		} else {
			n = parquet.Required(n)
		}
		g[i] = &orderedField{Node: n, name: f.Name}
	}
	return parquet.NewSchema("schema", g), kinds, nil
}

// arrowSchema maps a flat Parquet schema to Arrow.
func arrowSchema(s *parquet.Schema) (*arrow.Schema, []kind, error) {
	fields := s.Fields()
	out := make([]arrow.Field, len(fields))
	kinds := make([]kind, len(fields))
	for i, f := range fields {
		if !f.Leaf() || f.Repeated() {
			return nil, nil, fmt.Errorf("parquetio: column %q: only flat schemas are supported", f.Name())
		}
		k, err := kindOfParquet(f)
		if err != nil {
			return nil, nil, fmt.Errorf("column %q: %w", f.Name(), err)
		}
		kinds[i] = k
		out[i] = arrow.Field{Name: f.Name(), Type: k.arrowType(), Nullable: f.Optional()}
	}
	return arrow.NewSchema(out, nil), kinds, nil
}
