package features

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/internal/errkind"
)

// MemSource is a Source over in-memory gold batches (fixtures, tests, or a
// gold build that has not been written out). It projects every read to the
// requested columns, so a computation cannot see a column it did not ask for.
type MemSource struct {
	// Fact holds fact_user_day batches per dt partition.
	Fact map[Date][]arrow.RecordBatch
	// Users holds dim_user batches.
	Users []arrow.RecordBatch
	// Attrs holds silver level_history batches per dt; nil means none.
	Attrs map[Date][]arrow.RecordBatch
	// Last is the last day with events; HasLast is false for no data.
	Last    Date
	HasLast bool
}

// Days implements Source.
func (m *MemSource) Days(ctx context.Context) ([]Date, error) {
	var out []Date
	for d := range m.Fact {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// ReadDay implements Source.
func (m *MemSource) ReadDay(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return project(m.Fact[dt], cols, fn)
}

// ReadUsers implements Source.
func (m *MemSource) ReadUsers(ctx context.Context, cols []string, fn func(arrow.RecordBatch) error) error {
	return project(m.Users, cols, fn)
}

// AttrDays implements Source.
func (m *MemSource) AttrDays(ctx context.Context) ([]Date, error) {
	if m.Attrs == nil {
		return nil, nil
	}
	out := []Date{}
	for d := range m.Attrs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// ReadAttrs implements Source.
func (m *MemSource) ReadAttrs(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return project(m.Attrs[dt], cols, fn)
}

// LastDay implements Source.
func (m *MemSource) LastDay(ctx context.Context) (Date, bool, error) { return m.Last, m.HasLast, nil }

func project(bs []arrow.RecordBatch, cols []string, fn func(arrow.RecordBatch) error) error {
	for _, b := range bs {
		p, err := Project(b, cols)
		if err != nil {
			return err
		}
		err = fn(p)
		p.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// Project returns a batch with only the named columns of b, in that order.
func Project(b arrow.RecordBatch, cols []string) (arrow.RecordBatch, error) {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		idx := b.Schema().FieldIndices(c)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: column %q missing", errkind.BadInput, c)
		}
		fields[i] = b.Schema().Field(idx[0])
		arrs[i] = b.Column(idx[0])
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, b.NumRows()), nil
}
