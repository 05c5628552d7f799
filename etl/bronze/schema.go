package bronze

import (
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// Column indexes of EventsSchema.
const (
	cTS = iota
	cUserID
	cSessionID
	cPage
	cAuth
	cMethod
	cStatus
	cLevel
	cItemInSession
	cLocation
	cUserAgent
	cLastName
	cFirstName
	cRegistration
	cGender
	cArtist
	cSong
	cLength
	cSourceFile
	cLineNumber
	cIngestRunID
	numEventCols
)

// EventsSchema is the bronze events contract (see COMMON.md): the 18 event
// fields in snake_case with real types, then the ingest metadata.
var EventsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "auth", Type: arrow.BinaryTypes.String},
	{Name: "method", Type: arrow.BinaryTypes.String},
	{Name: "status", Type: arrow.PrimitiveTypes.Int32},
	{Name: "level", Type: arrow.BinaryTypes.String},
	{Name: "item_in_session", Type: arrow.PrimitiveTypes.Int32},
	{Name: "location", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "user_agent", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "last_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "first_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "registration", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
	{Name: "gender", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "artist", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "song", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "length", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "source_file", Type: arrow.BinaryTypes.String},
	{Name: "line_number", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ingest_run_id", Type: arrow.BinaryTypes.String},
}, nil)

// eventDictColumns are dictionary encoded in Parquet (low cardinality).
var eventDictColumns = []string{"user_id", "page", "auth", "method", "level", "location", "user_agent",
	"last_name", "first_name", "gender", "artist", "song", "source_file", "ingest_run_id"}

// eventNoBounds are columns without min/max statistics (the bounds cost
// string comparisons on every page, and nobody prunes on these columns).
// Only ts, the ids and the numbers keep them.
var eventNoBounds = []string{"user_id", "page", "auth", "method", "level", "location", "user_agent", "last_name",
	"first_name", "gender", "artist", "song", "source_file", "ingest_run_id"}

// eventDeltaColumns are DELTA_BINARY_PACKED: sorted or slowly changing
// integers that this encoding shrinks before compression (read
// by DuckDB, Spark 3.3+, pyarrow and arrow-go).
var eventDeltaColumns = []string{"ts", "session_id", "status", "item_in_session", "line_number"}

// eventWriteOpts write bronze events: dictionaries, delta integers, bounds
// where they prune, and Snappy with the fast encoder. BenchmarkWriteParquet
// on 300 MB of generated JSON, two runs: 1.61-1.83 CPU-s per GB of JSON
// against 1.90-1.98 with zstd (parquet-go's fastest level), for files 5%
// larger. Row groups of 64Ki rows: a writer holds a row group's encoded
// pages until it is complete, and a day's file is written as the day goes
// (a day of 430,000 events at 110,000 users), so larger groups would hold
// more memory the larger the day.
var eventWriteOpts = []parquetio.WriterOption{parquetio.WithDictionary(eventDictColumns...),
	parquetio.WithoutBounds(eventNoBounds...), parquetio.WithDeltaEncoding(eventDeltaColumns...),
	parquetio.WithCompression(parquetio.Snappy{}), parquetio.WithRowGroupSize(eventRowGroupRows)}

// eventRowGroupRows is the row group size of event files.
const eventRowGroupRows = 64 << 10

// EventWriteOptions are the Parquet writer options of bronze event files;
// silver writes its event files (the same columns) with them too.
func EventWriteOptions() []parquetio.WriterOption { return slices.Clone(eventWriteOpts) }

// Column indexes of QuarantineSchema.
const (
	qSourceFile = iota
	qLineNumber
	qByteOffset
	qRule
	qMessage
	qRawLine
	qRawBytes
	qIngestRunID
	numQuarantineCols
)

// QuarantineSchema holds the lines that did not make it into bronze events.
// raw_line is binary (it may not be valid UTF-8), capped at
// Config.RawLineCap bytes; raw_bytes is the full line length.
var QuarantineSchema = arrow.NewSchema([]arrow.Field{
	{Name: "source_file", Type: arrow.BinaryTypes.String},
	{Name: "line_number", Type: arrow.PrimitiveTypes.Int64},
	{Name: "byte_offset", Type: arrow.PrimitiveTypes.Int64},
	{Name: "rule", Type: arrow.BinaryTypes.String},
	{Name: "message", Type: arrow.BinaryTypes.String},
	{Name: "raw_line", Type: arrow.BinaryTypes.Binary},
	{Name: "raw_bytes", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ingest_run_id", Type: arrow.BinaryTypes.String},
}, nil)

var quarantineDictColumns = []string{"source_file", "rule", "ingest_run_id"}

// eventBuilder accumulates decoded events of one day from one chunk in
// plain Go slices, handed to Arrow without copying by finish (Arrow's
// builders cost more per value than the decoding itself).
type eventBuilder struct {
	rows    int
	ts      []int64
	session []int64
	status  []int32
	item    []int32
	reg     []int64
	regOK   []byte // validity bitmap
	regNull int
	length  []float64
	lenOK   []byte
	lenNull int
	line    []int64
	str     [len(strCols)]strCol
}

type strCol struct {
	offs     []int32
	data     []byte
	valid    []byte // validity bitmap (nullable columns only)
	nulls    int
	nullable bool
}

// append adds one value.
func (c *strCol) append(b []byte, present bool, row int) {
	if c.nullable {
		if row%8 == 0 {
			c.valid = append(c.valid, 0)
		}
		if present {
			c.valid[row/8] |= 1 << (row % 8)
		} else {
			c.nulls++
		}
	}
	if present {
		c.data = append(c.data, b...)
	}
	c.offs = append(c.offs, int32(len(c.data)))
}

func newEventBuilder(capacity int) *eventBuilder {
	b := &eventBuilder{
		ts: getSlice[int64](capacity), session: getSlice[int64](capacity),
		status: getSlice[int32](capacity), item: getSlice[int32](capacity),
		reg: getSlice[int64](capacity), regOK: pool.Get(capacity/8 + 1),
		length: getSlice[float64](capacity), lenOK: pool.Get(capacity/8 + 1),
		line: getSlice[int64](capacity),
	}
	for i, sc := range strCols {
		c := &b.str[i]
		c.offs = append(getSlice[int32](capacity+1), 0)
		c.data = pool.Get(capacity * strColWidth[i])
		if c.nullable = EventsSchema.Field(sc.c).Nullable; c.nullable {
			c.valid = pool.Get(capacity/8 + 1)
		}
	}
	return b
}

// strCols maps the string event fields to their columns.
var strCols = [...]struct{ f, c int }{
	{fUserID, cUserID}, {fPage, cPage}, {fAuth, cAuth}, {fMethod, cMethod}, {fLevel, cLevel},
	{fLocation, cLocation}, {fUserAgent, cUserAgent}, {fLastName, cLastName}, {fFirstName, cFirstName},
	{fGender, cGender}, {fArtist, cArtist}, {fSong, cSong},
}

// strColWidth is the typical byte width of each string column (initial
// capacity only).
var strColWidth = [len(strCols)]int{4, 8, 9, 3, 4, 24, 90, 6, 6, 1, 14, 18}

func setBit(bm []byte, row int, ok bool) []byte {
	if row%8 == 0 {
		bm = append(bm, 0)
	}
	if ok {
		bm[row/8] |= 1 << (row % 8)
	}
	return bm
}

func (b *eventBuilder) append(e *event, line int64) {
	row := b.rows
	b.ts = append(b.ts, e.ts)
	b.session = append(b.session, e.sessionID)
	b.status = append(b.status, e.status)
	b.item = append(b.item, e.item)
	for i, sc := range strCols {
		b.str[i].append(e.str[sc.f], e.has(sc.f), row)
	}
	ok := e.has(fRegistration)
	if !ok {
		e.registration = 0
		b.regNull++
	}
	b.reg = append(b.reg, e.registration)
	b.regOK = setBit(b.regOK, row, ok)
	ok = e.has(fLength)
	if !ok {
		e.length = 0
		b.lenNull++
	}
	b.length = append(b.length, e.length)
	b.lenOK = setBit(b.lenOK, row, ok)
	b.line = append(b.line, line)
	b.rows++
}

// bytesOf views s as bytes (length len(s), capacity cap(s), so that the
// pool can take the buffer back).
func bytesOf[T int32 | int64 | float64](s []T) []byte {
	if cap(s) == 0 {
		return nil
	}
	size := int(unsafe.Sizeof(s[0]))
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))), cap(s)*size)[:len(s)*size]
}

// pooled wraps b in an Arrow buffer that returns it to the pool when the
// last reference is released.
func pooled(b []byte) *memory.Buffer {
	return memory.NewBufferWithAllocator(b, pool)
}

// makeArray builds an array owning bufs (their creation references are
// handed over: the last release returns them to the pool).
func makeArray(dt arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer d.Release()
	return array.MakeFromData(d)
}

func fixedArray(dt arrow.DataType, n int, values []byte, valid []byte, nulls int) arrow.Array {
	var vb *memory.Buffer
	if nulls > 0 {
		vb = pooled(valid)
	}
	return makeArray(dt, n, []*memory.Buffer{vb, pooled(values)}, nulls)
}

func stringArray(n int, offs []int32, data []byte, valid []byte, nulls int) arrow.Array {
	var vb *memory.Buffer
	if nulls > 0 {
		vb = pooled(valid)
	}
	return makeArray(arrow.BinaryTypes.String, n, []*memory.Buffer{vb, pooled(bytesOf(offs)), pooled(data)}, nulls)
}

// constString is a string column holding s n times.
func constString(n int, s string) arrow.Array {
	offs := getSlice[int32](n + 1)[:n+1]
	for i := range offs {
		offs[i] = int32(i * len(s))
	}
	data := pool.Get(n * len(s))
	for range n {
		data = append(data, s...)
	}
	return stringArray(n, offs, data, nil, 0)
}

// trim returns s with capacity len(s) when it wastes more than half of it
// (batches stay buffered for a while: their capacity is memory).
func trim[T int32 | int64 | float64 | byte](s []T) []T {
	if cap(s) > 2*len(s)+64 {
		t := append(make([]T, 0, len(s)), s...)
		if cap(s) > 0 {
			var zero T
			size := int(unsafe.Sizeof(zero))
			pool.Put(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))), cap(s)*size))
		}
		return t
	}
	return s
}

// finish returns the rows as a record batch of EventsSchema.
func (b *eventBuilder) finish(source, runID string) arrow.RecordBatch {
	n := b.rows
	b.ts, b.session, b.status, b.item = trim(b.ts), trim(b.session), trim(b.status), trim(b.item)
	b.reg, b.regOK, b.length, b.lenOK, b.line = trim(b.reg), trim(b.regOK), trim(b.length), trim(b.lenOK), trim(b.line)
	for i := range b.str {
		c := &b.str[i]
		c.offs, c.data, c.valid = trim(c.offs), trim(c.data), trim(c.valid)
	}
	cols := make([]arrow.Array, numEventCols)
	cols[cTS] = fixedArray(arrow.FixedWidthTypes.Timestamp_ms, n, bytesOf(b.ts), nil, 0)
	cols[cSessionID] = fixedArray(arrow.PrimitiveTypes.Int64, n, bytesOf(b.session), nil, 0)
	cols[cStatus] = fixedArray(arrow.PrimitiveTypes.Int32, n, bytesOf(b.status), nil, 0)
	cols[cItemInSession] = fixedArray(arrow.PrimitiveTypes.Int32, n, bytesOf(b.item), nil, 0)
	cols[cRegistration] = fixedArray(arrow.FixedWidthTypes.Timestamp_ms, n, bytesOf(b.reg), b.regOK, b.regNull)
	cols[cLength] = fixedArray(arrow.PrimitiveTypes.Float64, n, bytesOf(b.length), b.lenOK, b.lenNull)
	cols[cLineNumber] = fixedArray(arrow.PrimitiveTypes.Int64, n, bytesOf(b.line), nil, 0)
	for i, sc := range strCols {
		c := &b.str[i]
		cols[sc.c] = stringArray(n, c.offs, c.data, c.valid, c.nulls)
	}
	cols[cSourceFile] = constString(n, source)
	cols[cIngestRunID] = constString(n, runID)
	rec := array.NewRecordBatch(EventsSchema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// batchBytes estimates the memory held by a batch.
func batchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}
