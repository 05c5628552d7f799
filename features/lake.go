package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/day"
	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// LakeSource reads gold tables from a lake directory:
// DIR/gold/fact_user_day/dt=YYYY-MM-DD/*.parquet and DIR/gold/dim_user/*.parquet.
type LakeSource struct {
	Root string
	Mem  memory.Allocator

	days     []Date
	attrDays []Date
}

// FactDir and DimUserDir are the gold tables' places in a lake.
func FactDir(root string) string    { return filepath.Join(root, "gold", "fact_user_day") }
func DimUserDir(root string) string { return filepath.Join(root, "gold", "dim_user") }

// LevelHistoryDir is silver level_history's place in a lake.
func LevelHistoryDir(root string) string { return filepath.Join(root, "silver", "level_history") }

// Days implements Source.
func (l *LakeSource) Days(ctx context.Context) ([]Date, error) {
	if l.days != nil {
		return l.days, nil
	}
	days, err := dayPartitions(FactDir(l.Root))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: features: no gold fact_user_day in %s (run `churnctl etl` first)", errkind.BadInput, l.Root)
		}
		return nil, err
	}
	l.days = days
	return days, nil
}

// AttrDays implements Source: the silver level_history partitions, nil when
// the lake has none.
func (l *LakeSource) AttrDays(ctx context.Context) ([]Date, error) {
	if l.attrDays != nil {
		return l.attrDays, nil
	}
	days, err := dayPartitions(LevelHistoryDir(l.Root))
	if errors.Is(err, os.ErrNotExist) || len(days) == 0 {
		return nil, nil
	}
	l.attrDays = days
	return days, err
}

// ReadAttrs implements Source.
func (l *LakeSource) ReadAttrs(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return l.read(ctx, filepath.Join(LevelHistoryDir(l.Root), "dt="+dt.String()), cols, fn)
}

// dayPartitions lists the dt=YYYY-MM-DD directories of a table, ascending.
func dayPartitions(dir string) ([]Date, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	days := []Date{}
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), "dt=")
		if !e.IsDir() || !ok {
			continue
		}
		d, err := day.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("%w: features: partition %s: %v", errkind.BadInput, e.Name(), err)
		}
		days = append(days, d)
	}
	slices.Sort(days)
	return days, nil
}

func parquetFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	return paths, nil
}

func (l *LakeSource) read(ctx context.Context, dir string, cols []string, fn func(arrow.RecordBatch) error) error {
	paths, err := parquetFiles(dir)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := l.readFile(ctx, p, cols, fn); err != nil {
			return err
		}
	}
	return nil
}

func (l *LakeSource) readFile(ctx context.Context, path string, cols []string, fn func(arrow.RecordBatch) error) error {
	f, err := parquetio.OpenFile(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errkind.BadInput, path, err)
	}
	defer f.Close()
	rr, err := f.Records(l.Mem, cols, 0)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errkind.BadInput, path, err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rr.RecordBatch()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("%w: %s: %v", errkind.BadInput, path, err)
	}
	return nil
}

// ReadDay implements Source.
func (l *LakeSource) ReadDay(ctx context.Context, dt Date, cols []string, fn func(arrow.RecordBatch) error) error {
	return l.read(ctx, filepath.Join(FactDir(l.Root), "dt="+dt.String()), cols, fn)
}

// ReadUsers implements Source.
func (l *LakeSource) ReadUsers(ctx context.Context, cols []string, fn func(arrow.RecordBatch) error) error {
	dir := DimUserDir(l.Root)
	paths, err := parquetFiles(dir)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: features: no gold dim_user in %s", errkind.BadInput, dir)
	}
	return l.read(ctx, dir, cols, fn)
}

// LastDay implements Source: the day of max_ts in the gold manifest
// (DIR/gold/_manifest.json or the fact table's), else the last dt partition.
func (l *LakeSource) LastDay(ctx context.Context) (Date, bool, error) {
	for _, p := range []string{
		filepath.Join(l.Root, "gold", "_manifest.json"),
		filepath.Join(FactDir(l.Root), "_manifest.json"),
	} {
		if ms, ok := manifestMaxTS(p); ok {
			return DateOfMS(ms), true, nil
		}
	}
	days, err := l.Days(ctx)
	if err != nil || len(days) == 0 {
		return 0, false, err
	}
	return days[len(days)-1], true, nil
}

// manifestMaxTS finds a max_ts (Unix ms number or RFC 3339 string) at the top
// level of a manifest or under "time_range"/"event_range".
func manifestMaxTS(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return 0, false
	}
	if v, ok := m["max_ts"]; ok {
		return parseTS(v)
	}
	for _, k := range []string{"time_range", "event_range", "events"} {
		var sub map[string]json.RawMessage
		if json.Unmarshal(m[k], &sub) == nil {
			if v, ok := sub["max_ts"]; ok {
				return parseTS(v)
			}
		}
	}
	return 0, false
}

func parseTS(v json.RawMessage) (int64, bool) {
	var n int64
	if json.Unmarshal(v, &n) == nil {
		return n, true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if t, err := parseRFC3339(s); err == nil {
			return t, true
		}
	}
	return 0, false
}

func parseRFC3339(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

var _ Source = (*LakeSource)(nil)
