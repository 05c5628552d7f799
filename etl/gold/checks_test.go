package gold

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/etltest"
	"github.com/churnctl/churnctl/etl/quality"
	"github.com/churnctl/churnctl/etl/silver"
)

// concat returns b followed by itself (every key repeated).
func concat(t *testing.T, mem memory.Allocator, b arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, b.NumCols())
	for j := range cols {
		c, err := array.Concatenate([]arrow.Array{b.Column(j), b.Column(j)}, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		cols[j] = c
	}
	return array.NewRecordBatch(b.Schema(), cols, 2*b.NumRows())
}

// withColumn returns b with column j replaced by a string column from vals.
func withString(mem memory.Allocator, b arrow.RecordBatch, j int, f func(i int, old string) (string, bool)) arrow.RecordBatch {
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	old := b.Column(j).(*array.String)
	for i := 0; i < old.Len(); i++ {
		if v, ok := f(i, old.Value(i)); ok {
			bld.Append(v)
		} else {
			bld.AppendNull()
		}
	}
	c := bld.NewArray()
	defer c.Release()
	cols := slices.Clone(b.Columns())
	cols[j] = c
	return array.NewRecordBatch(b.Schema(), cols, b.NumRows())
}

func TestGoldChecksTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	evs := etltest.ByDay(etltest.Random(9, 12, 1, day0, 0))[day0]
	days := silverDays(t, mem, evs)
	day := days[day0]
	defer day.Release()
	fud, err := UserDay(mem, day0, day.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer fud.Release()
	sess, err := silver.AssembleSessions(mem, day0, func(d int64) (arrow.RecordBatch, error) {
		if d == day0 {
			return day.SessionParts, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Release()
	fs, err := FactSession(mem, sess)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Release()
	du, err := DimUser(mem, []arrow.RecordBatch{day.LevelHistory})
	if err != nil {
		t.Fatal(err)
	}
	defer du.Release()
	users := UsersOf(du)
	rows := day.Events.NumRows()
	lvl := FactUserDaySchema.FieldIndices("level_end")[0]

	for _, tc := range []struct {
		name string
		run  func(rep *quality.Report)
		want []string
	}{
		{"clean", func(rep *quality.Report) {
			CheckUserDay(rep, "d", fud, rows, users)
			CheckFactSession(rep, "d", fs, users)
			CheckDimUser(rep, du)
		}, nil},
		{"fact_user_day duplicate keys", func(rep *quality.Report) {
			b := concat(t, mem, fud)
			defer b.Release()
			CheckUserDay(rep, "d", b, 2*rows, users)
		}, []string{CheckUserDayUnique}},
		{"fact_user_day null level", func(rep *quality.Report) {
			b := withString(mem, fud, lvl, func(i int, s string) (string, bool) { return s, i != 0 })
			defer b.Release()
			CheckUserDay(rep, "d", b, rows, users)
		}, []string{CheckUserDayLevel, CheckUserDayNotNull}},
		{"fact_user_day level value", func(rep *quality.Report) {
			b := withString(mem, fud, lvl, func(i int, s string) (string, bool) { return "platinum", true })
			defer b.Release()
			CheckUserDay(rep, "d", b, rows, users)
		}, []string{CheckUserDayLevel}},
		{"fact_user_day reconciliation", func(rep *quality.Report) {
			CheckUserDay(rep, "d", fud, rows+1, users)
		}, []string{CheckUserDayReconcile}},
		{"fact_user_day orphan user", func(rep *quality.Report) {
			b := withString(mem, fud, 0, func(i int, s string) (string, bool) { return "zz" + s, true })
			defer b.Release()
			CheckUserDay(rep, "d", b, rows, users)
		}, []string{CheckUserDayRelationship}},
		{"fact_session duplicate and orphan", func(rep *quality.Report) {
			b := concat(t, mem, fs)
			defer b.Release()
			CheckFactSession(rep, "d", b, Users{})
		}, []string{CheckSessionRelationship, CheckSessionUnique}},
		{"dim_user repeated", func(rep *quality.Report) {
			b := concat(t, mem, du)
			defer b.Release()
			CheckDimUser(rep, b)
		}, []string{CheckDimUserUnique}},
		{"dim_user no current row", func(rep *quality.Report) {
			bld := array.NewBooleanBuilder(mem)
			defer bld.Release()
			for i := 0; i < int(du.NumRows()); i++ {
				bld.Append(false)
			}
			c := bld.NewArray()
			defer c.Release()
			cols := slices.Clone(du.Columns())
			cols[3] = c
			b := array.NewRecordBatch(du.Schema(), cols, du.NumRows())
			defer b.Release()
			CheckDimUser(rep, b)
		}, []string{CheckDimUserOneCurrent, CheckDimUserValidInterval}},
		{"dim_user level", func(rep *quality.Report) {
			b := withString(mem, du, 4, func(i int, s string) (string, bool) { return "x", true })
			defer b.Release()
			CheckDimUser(rep, b)
		}, []string{CheckDimUserLevel}},
		{"dim_date and dim_page repeated", func(rep *quality.Report) {
			d := DimDate(mem, []int64{day0})
			defer d.Release()
			d2 := concat(t, mem, d)
			defer d2.Release()
			p := DimPage(mem, nil)
			defer p.Release()
			p2 := concat(t, mem, p)
			defer p2.Release()
			CheckDims(rep, d2, p2)
		}, []string{CheckDimDateUnique, CheckDimPageUnique}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rep quality.Report
			tc.run(&rep)
			if got := rep.Failed(quality.Error); !slices.Equal(got, tc.want) {
				t.Errorf("failed = %v, want %v", got, tc.want)
			}
		})
	}
}
