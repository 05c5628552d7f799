package lakeio

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestConcatFastMatchesArrow checks the fast concatenation against arrow's
// own on parts with and without nulls, empty parts and sliced parts.
func TestConcatFastMatchesArrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "j", Type: arrow.PrimitiveTypes.Int32},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	build := func(lo, n int, nullEvery int) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for r := lo; r < lo+n; r++ {
			null := nullEvery > 0 && r%nullEvery == 0
			if null {
				b.Field(0).AppendNull()
				b.Field(1).AppendNull()
				b.Field(3).AppendNull()
				b.Field(4).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(string(rune('a'+r%26)) + "xyz"[:r%4])
				b.Field(1).(*array.Int64Builder).Append(int64(r) * 1000)
				b.Field(3).(*array.Float64Builder).Append(float64(r) / 3)
				b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(r))
			}
			b.Field(2).(*array.Int32Builder).Append(int32(r))
		}
		return b.NewRecordBatch()
	}
	whole := build(0, 50, 7)
	defer whole.Release()
	parts := []arrow.RecordBatch{build(0, 10, 0), build(10, 0, 0), whole.NewSlice(3, 41), build(60, 5, 2), whole.NewSlice(49, 50)}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	got, err := Concat(mem, parts)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	for j := range schema.Fields() {
		cols := make([]arrow.Array, len(parts))
		for i, p := range parts {
			cols[i] = p.Column(j)
		}
		want, err := array.Concatenate(cols, mem)
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(got.Column(j), want) {
			t.Errorf("column %s:\n got %v\nwant %v", schema.Field(j).Name, got.Column(j), want)
		}
		want.Release()
	}
}
