package silver

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Bronze event column names, in contract order.
const (
	ColTS            = "ts"
	ColUserID        = "user_id"
	ColSessionID     = "session_id"
	ColPage          = "page"
	ColAuth          = "auth"
	ColMethod        = "method"
	ColStatus        = "status"
	ColLevel         = "level"
	ColItemInSession = "item_in_session"
	ColLocation      = "location"
	ColUserAgent     = "user_agent"
	ColLastName      = "last_name"
	ColFirstName     = "first_name"
	ColRegistration  = "registration"
	ColGender        = "gender"
	ColArtist        = "artist"
	ColSong          = "song"
	ColLength        = "length"
	ColSourceFile    = "source_file"
	ColLineNumber    = "line_number"
	ColIngestRunID   = "ingest_run_id"
)

var tsType = arrow.FixedWidthTypes.Timestamp_ms

// BronzeSchema is the bronze events contract.
var BronzeSchema = arrow.NewSchema([]arrow.Field{
	{Name: ColTS, Type: tsType},
	{Name: ColUserID, Type: arrow.BinaryTypes.String},
	{Name: ColSessionID, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColPage, Type: arrow.BinaryTypes.String},
	{Name: ColAuth, Type: arrow.BinaryTypes.String},
	{Name: ColMethod, Type: arrow.BinaryTypes.String},
	{Name: ColStatus, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColLevel, Type: arrow.BinaryTypes.String},
	{Name: ColItemInSession, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColLocation, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColUserAgent, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColLastName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColFirstName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColRegistration, Type: tsType, Nullable: true},
	{Name: ColGender, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColArtist, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColSong, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColLength, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: ColSourceFile, Type: arrow.BinaryTypes.String},
	{Name: ColLineNumber, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColIngestRunID, Type: arrow.BinaryTypes.String},
}, nil)

// EventColumns are the columns of silver/events and
// silver/anonymous_events, in order: all of bronze's, lineage included
// (source_file, line_number, ingest_run_id), so a day with nothing to
// remove keeps bronze's file as it is.
var EventColumns = func() []string {
	var out []string
	for _, f := range BronzeSchema.Fields() {
		out = append(out, f.Name)
	}
	return out
}()

// SortedColumns are the event columns that sessions, the level history and
// gold's fact_user_day read, in user order (DayResult.Events holds them as a
// Sorted).
var SortedColumns = []string{ColTS, ColUserID, ColSessionID, ColPage, ColLevel, ColItemInSession, ColArtist, ColLength}

// EventsSchema is the schema of silver/events and silver/anonymous_events
// (nullability as in the contract; the written files take it from bronze).
var EventsSchema = func() *arrow.Schema {
	var f []arrow.Field
	for _, c := range EventColumns {
		f = append(f, BronzeSchema.Field(BronzeSchema.FieldIndices(c)[0]))
	}
	return arrow.NewSchema(f, nil)
}()

// SessionPartsSchema: one row per (user_id, session_id) per day with the
// session's events of that day. Parts of consecutive days merge exactly into
// whole sessions (see AssembleSessions).
var SessionPartsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "first_ts", Type: tsType},
	{Name: "last_ts", Type: tsType},
	{Name: "items", Type: arrow.PrimitiveTypes.Int64},
	{Name: "songs", Type: arrow.PrimitiveTypes.Int64},
	{Name: "listen_seconds", Type: arrow.PrimitiveTypes.Float64},
	{Name: "first_item", Type: arrow.PrimitiveTypes.Int32},
	{Name: "last_item", Type: arrow.PrimitiveTypes.Int32},
	{Name: "non_monotonic", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// SessionsSchema: whole sessions, partitioned by the day they start.
var SessionsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "session_start", Type: tsType},
	{Name: "session_end", Type: tsType},
	{Name: "duration_s", Type: arrow.PrimitiveTypes.Float64},
	{Name: "items", Type: arrow.PrimitiveTypes.Int64},
	{Name: "songs", Type: arrow.PrimitiveTypes.Int64},
	{Name: "listen_seconds", Type: arrow.PrimitiveTypes.Float64},
	{Name: "crosses_midnight", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "days", Type: arrow.PrimitiveTypes.Int32},
	{Name: "non_monotonic", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// LevelHistorySchema: per user and day, the day's first event and every event
// whose level differs from the user's previous event that day, with the
// user's descriptive attributes at that event.
var LevelHistorySchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: tsType},
	{Name: "level", Type: arrow.BinaryTypes.String},
	{Name: "registration", Type: tsType, Nullable: true},
	{Name: "gender", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "location", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "user_agent", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "first_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "last_name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// events gives typed access to the columns of one bronze/silver events batch.
type events struct {
	n                                                  int
	ts, reg                                            *array.Timestamp
	user, page, auth, method, level                    *array.String
	location, agent, last, first, gender, artist, song *array.String
	sourceFile                                         *array.String
	session, line                                      *array.Int64
	status, item                                       *array.Int32
	length                                             *array.Float64
}

func col[T arrow.Array](b arrow.RecordBatch, name string) (T, error) {
	var zero T
	idx := b.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return zero, fmt.Errorf("%w: events batch has no column %q", errkind.BadInput, name)
	}
	c, ok := b.Column(idx[0]).(T)
	if !ok {
		return zero, fmt.Errorf("%w: column %q has type %s, want %T", errkind.BadInput, name, b.Column(idx[0]).DataType(), zero)
	}
	return c, nil
}

// bindEvents binds every bronze column.
func bindEvents(b arrow.RecordBatch) (*events, error) {
	e, err := bindCore(b)
	if err != nil {
		return nil, err
	}
	if err := bindStrings(b, []strCol{{&e.location, ColLocation}, {&e.agent, ColUserAgent}, {&e.last, ColLastName},
		{&e.first, ColFirstName}, {&e.gender, ColGender}}); err != nil {
		return nil, err
	}
	if e.reg, err = col[*array.Timestamp](b, ColRegistration); err != nil {
		return nil, err
	}
	return e, nil
}

// strCol names a string column to bind and where.
type strCol struct {
	dst  **array.String
	name string
}

// bindStrings binds the string columns cols of b, in order.
func bindStrings(b arrow.RecordBatch, cols []strCol) error {
	for _, c := range cols {
		a, err := col[*array.String](b, c.name)
		if err != nil {
			return err
		}
		*c.dst = a
	}
	return nil
}

// bindSorted binds the columns of SortedColumns.
func bindSorted(b arrow.RecordBatch) (*events, error) {
	e := &events{n: int(b.NumRows())}
	err := bindStrings(b, []strCol{{&e.user, ColUserID}, {&e.page, ColPage}, {&e.level, ColLevel}, {&e.artist, ColArtist}})
	if err != nil {
		return nil, err
	}
	if e.ts, err = col[*array.Timestamp](b, ColTS); err != nil {
		return nil, err
	}
	if e.session, err = col[*array.Int64](b, ColSessionID); err != nil {
		return nil, err
	}
	if e.item, err = col[*array.Int32](b, ColItemInSession); err != nil {
		return nil, err
	}
	if e.length, err = col[*array.Float64](b, ColLength); err != nil {
		return nil, err
	}
	return e, nil
}

// bindCore binds the columns of EventColumns.
func bindCore(b arrow.RecordBatch) (*events, error) {
	e, err := bindSorted(b)
	if err != nil {
		return nil, err
	}
	if err := bindStrings(b, []strCol{{&e.auth, ColAuth}, {&e.method, ColMethod}, {&e.song, ColSong},
		{&e.sourceFile, ColSourceFile}}); err != nil {
		return nil, err
	}
	if e.line, err = col[*array.Int64](b, ColLineNumber); err != nil {
		return nil, err
	}
	if e.status, err = col[*array.Int32](b, ColStatus); err != nil {
		return nil, err
	}
	return e, nil
}
