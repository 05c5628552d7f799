// Package lakeio reads and writes whole lake partitions as Arrow record
// batches for the silver and gold stages, on top of internal/lake (layout,
// staged atomic publish) and internal/parquetio (Parquet ⇄ Arrow).
package lakeio

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/lake"
	"github.com/churnctl/churnctl/internal/parquetio"
)

// DayMillis is one day in milliseconds.
const DayMillis = 86_400_000

// DayPartition is "dt=YYYY-MM-DD" for a day start in Unix ms.
func DayPartition(day int64) string {
	return lake.DayPartition(lake.KeyDate, time.UnixMilli(day).UTC())
}

// Days returns the days (Unix ms, ascending) of a dt-partitioned table.
func Days(l *lake.Lake, table string) ([]int64, error) {
	return View{Lake: l}.Days(table)
}

func parseDays(parts []string) map[int64]string {
	out := make(map[int64]string, len(parts))
	for _, p := range parts {
		k, d, err := lake.ParseDayPartition(p)
		if err != nil || k != lake.KeyDate {
			continue
		}
		out[d.UnixMilli()] = p
	}
	return out
}

// View reads tables as a transaction will leave them: a partition staged
// in Tx replaces the committed one (a staged partition without files is
// one the commit removes). A nil Tx reads the committed lake.
type View struct {
	Lake *lake.Lake
	Tx   *lake.Tx
}

// Days returns the days (Unix ms, ascending) of a dt-partitioned table.
func (v View) Days(table string) ([]int64, error) {
	parts, err := v.Lake.Partitions(table)
	if err != nil {
		return nil, err
	}
	days := parseDays(parts)
	if v.Tx != nil {
		for d, p := range parseDays(v.Tx.StagedPartitions(table)) {
			if files, _, _ := v.Tx.StagedFiles(table, p); len(files) > 0 {
				days[d] = p
			} else {
				delete(days, d)
			}
		}
	}
	out := make([]int64, 0, len(days))
	for d := range days {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// Files returns the paths of a partition's data files, sorted.
func (v View) Files(table, partition string) ([]string, error) {
	if v.Tx != nil {
		if files, _, ok := v.Tx.StagedFiles(table, partition); ok {
			return files, nil
		}
	}
	return v.Lake.Files(table, partition)
}

// Entries returns the directory and manifest entries (sorted by name) of
// a partition's data files, staged or committed; a partition with no
// manifest gives no entries.
func (v View) Entries(table, partition string) (dir string, files []lake.FileEntry, err error) {
	if v.Tx != nil {
		if dir, files, ok := v.Tx.StagedEntries(table, partition); ok {
			return dir, files, nil
		}
	}
	m, err := v.Lake.ReadManifest(table, partition)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	files = slices.Clone(m.Files)
	slices.SortFunc(files, func(a, b lake.FileEntry) int { return strings.Compare(a.Name, b.Name) })
	return v.Lake.PartitionDir(table, partition), files, nil
}

// Rows returns a partition's row count from its manifest (staged or
// committed); ok is false when there is none.
func (v View) Rows(table, partition string) (rows int64, ok bool) {
	if v.Tx != nil {
		if _, n, ok := v.Tx.StagedFiles(table, partition); ok {
			return n, true
		}
	}
	m, err := v.Lake.ReadManifest(table, partition)
	if err != nil {
		return 0, false
	}
	return m.Rows, true
}

// ReadPartition reads the named columns (all if nil) of every file of a
// partition into one batch. A missing or empty partition gives (nil, nil).
func ReadPartition(mem memory.Allocator, l *lake.Lake, table, partition string, columns []string) (arrow.RecordBatch, error) {
	return View{Lake: l}.ReadPartition(mem, table, partition, columns)
}

// ReadPartition reads the named columns (all if nil) of every file of a
// partition into one batch. A missing or empty partition gives (nil, nil).
func (v View) ReadPartition(mem memory.Allocator, table, partition string, columns []string) (arrow.RecordBatch, error) {
	files, err := v.Files(table, partition)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if len(files) == 0 {
		return nil, nil
	}
	rdr, err := parquetio.ReadFiles(mem, files, columns, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", table, partition, err)
	}
	defer rdr.Release()
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for rdr.Next() {
		b := rdr.RecordBatch()
		b.Retain()
		batches = append(batches, b)
	}
	if err := rdr.Err(); err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", table, partition, err)
	}
	switch len(batches) {
	case 0:
		return nil, nil
	case 1:
		b := batches[0]
		b.Retain()
		return b, nil
	}
	return Concat(mem, batches)
}

// Concat concatenates batches of one schema into one batch.
func Concat(mem memory.Allocator, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	schema := batches[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	parts := make([]arrow.Array, len(batches))
	for j := range cols {
		for i, b := range batches {
			parts[i] = b.Column(j)
		}
		if c, ok := concatFast(mem, parts); ok {
			cols[j] = c
			continue
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, fmt.Errorf("concatenate %s: %w", schema.Field(j).Name, err)
		}
		cols[j] = c
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

// WritePartition stages b as the single file part-0.parquet of a
// partition in tx, snappy-compressed unless opts say otherwise (zstd's
// per-column-chunk setup dominated the many small silver and gold files).
// The partition is staged even when b has no rows, so publishing replaces
// what was there. stats go into the manifest.
func WritePartition(tx *lake.Tx, table, partition string, b arrow.RecordBatch, stats map[string]int64, opts ...parquetio.WriterOption) error {
	return writePartition(tx, table, partition, b.Schema(), b.NumRows(), stats, func(w *parquetio.Writer) error {
		if b.NumRows() == 0 {
			return nil
		}
		return w.Write(b)
	}, opts...)
}

// WritePartitionRows is WritePartition of the rows of recs (one schema)
// that rows references, in that order, without first copying them into a
// batch.
func WritePartitionRows(tx *lake.Tx, table, partition string, schema *arrow.Schema, recs []arrow.RecordBatch, rows []parquetio.RowRef,
	stats map[string]int64, opts ...parquetio.WriterOption) error {
	return writePartition(tx, table, partition, schema, int64(len(rows)), stats, func(w *parquetio.Writer) error {
		return w.WriteRows(recs, rows)
	}, opts...)
}

// LinkPartition stages the existing data file src of the lake (described by
// e) as the single file part-0.parquet of a partition in tx, by hard link:
// the bytes a WritePartition of the same rows would spend time encoding
// again. stats go into the manifest.
func LinkPartition(tx *lake.Tx, table, partition, src string, e lake.FileEntry, stats map[string]int64) error {
	if err := stage(tx, table, partition, stats); err != nil {
		return err
	}
	return tx.Link(table, partition, "part-0.parquet", src, e)
}

// stage stages a partition (so that publishing replaces what was there)
// with stats in its manifest.
func stage(tx *lake.Tx, table, partition string, stats map[string]int64) error {
	if _, err := tx.Stage(table, partition); err != nil {
		return err
	}
	if stats != nil {
		return tx.SetManifest(table, partition, lake.Manifest{Stats: stats})
	}
	return nil
}

func writePartition(tx *lake.Tx, table, partition string, schema *arrow.Schema, rows int64, stats map[string]int64,
	write func(*parquetio.Writer) error, opts ...parquetio.WriterOption) error {
	if err := stage(tx, table, partition, stats); err != nil {
		return err
	}
	f, err := tx.Create(table, partition, "part-0.parquet")
	if err != nil {
		return err
	}
	w, err := parquetio.NewWriter(f, schema, append([]parquetio.WriterOption{parquetio.WithCompression(parquetio.Snappy{})}, opts...)...)
	if err != nil {
		f.Close()
		return err
	}
	if err := write(w); err != nil {
		f.Close()
		return fmt.Errorf("write %s/%s: %w", table, partition, err)
	}
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write %s/%s: %w", table, partition, err)
	}
	f.SetRows(rows)
	return f.Close()
}

// PartitionWriter stages the single file part-0.parquet of a partition
// written in several calls (a day cleaned piece by piece). The file is the
// one WritePartition of all the rows at once would write (parquetio's
// bytes depend on the rows only). Close or Abort it.
type PartitionWriter struct {
	tx               *lake.Tx
	table, partition string
	f                *lake.StagedFile
	w                *parquetio.Writer
}

// NewPartitionWriter starts the file of a partition in tx (options as
// WritePartition's).
func NewPartitionWriter(tx *lake.Tx, table, partition string, schema *arrow.Schema, opts ...parquetio.WriterOption) (*PartitionWriter, error) {
	if err := stage(tx, table, partition, nil); err != nil {
		return nil, err
	}
	f, err := tx.Create(table, partition, "part-0.parquet")
	if err != nil {
		return nil, err
	}
	w, err := parquetio.NewWriter(f, schema, append([]parquetio.WriterOption{parquetio.WithCompression(parquetio.Snappy{})}, opts...)...)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &PartitionWriter{tx: tx, table: table, partition: partition, f: f, w: w}, nil
}

// WriteRows appends the rows of recs that rows references, in that order.
func (p *PartitionWriter) WriteRows(recs []arrow.RecordBatch, rows []parquetio.RowRef) error {
	if err := p.w.WriteRows(recs, rows); err != nil {
		return fmt.Errorf("write %s/%s: %w", p.table, p.partition, err)
	}
	return nil
}

// Close finishes the file; stats go into the partition's manifest.
func (p *PartitionWriter) Close(stats map[string]int64) error {
	if err := p.w.Close(); err != nil {
		p.f.Close()
		return fmt.Errorf("write %s/%s: %w", p.table, p.partition, err)
	}
	p.f.SetRows(p.w.NumRows())
	if err := p.f.Close(); err != nil {
		return err
	}
	if stats != nil {
		return p.tx.SetManifest(p.table, p.partition, lake.Manifest{Stats: stats})
	}
	return nil
}

// Abort drops the partial file and the staged partition.
func (p *PartitionWriter) Abort() error {
	p.w.Close()
	p.f.Close()
	return p.tx.Discard(p.table, p.partition)
}
