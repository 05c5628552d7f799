// Package etltest builds bronze-shaped Arrow batches for tests of the later
// ETL stages, straight from eventsim JSON lines with encoding/json (so it
// shares no code with the bronze decoder), and holds the straightforward
// row-by-row reference computations the tests compare against.
package etltest

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/churnctl/churnctl/etl/bronze"
)

// Event is one eventsim line. Pointer fields are nullable.
type Event struct {
	TS            int64    `json:"ts"`
	UserID        string   `json:"-"`
	SessionID     int64    `json:"sessionId"`
	Page          string   `json:"page"`
	Auth          string   `json:"auth"`
	Method        string   `json:"method"`
	Status        int32    `json:"status"`
	Level         string   `json:"level"`
	ItemInSession int32    `json:"itemInSession"`
	Location      *string  `json:"location"`
	UserAgent     *string  `json:"userAgent"`
	LastName      *string  `json:"lastName"`
	FirstName     *string  `json:"firstName"`
	Registration  *int64   `json:"-"`
	Gender        *string  `json:"gender"`
	Artist        *string  `json:"artist"`
	Song          *string  `json:"song"`
	Length        *float64 `json:"length"`

	SourceFile string `json:"-"`
	LineNumber int64  `json:"-"`
}

// S returns a pointer to s (for nullable fixture fields).
func S(s string) *string { return &s }

// F returns a pointer to f.
func F(f float64) *float64 { return &f }

// I returns a pointer to i.
func I(i int64) *int64 { return &i }

// ParseLine decodes one eventsim JSON line.
func ParseLine(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, err
	}
	var extra struct {
		UserID       any `json:"userId"`
		Registration any `json:"registration"`
	}
	if err := json.Unmarshal(line, &extra); err != nil {
		return e, err
	}
	switch v := extra.UserID.(type) {
	case string:
		e.UserID = v
	case float64:
		e.UserID = strconv.FormatInt(int64(v), 10)
	}
	if v, ok := extra.Registration.(float64); ok {
		r := int64(math.Round(v))
		e.Registration = &r
	}
	return e, nil
}

// ReadFile reads a .json or .json.gz eventsim file; blank lines are skipped.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var out []Event
	n := int64(0)
	for sc.Scan() {
		n++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		e, err := ParseLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		e.SourceFile, e.LineNumber = path, n
		out = append(out, e)
	}
	return out, sc.Err()
}

// Schema is the bronze events contract.
var Schema = bronze.EventsSchema

// Batch builds a bronze-shaped batch of evs (in that order).
func Batch(mem memory.Allocator, evs []Event) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, Schema)
	defer b.Release()
	str := func(i int, p *string) {
		if p == nil {
			b.Field(i).AppendNull()
		} else {
			b.Field(i).(*array.StringBuilder).Append(*p)
		}
	}
	for _, e := range evs {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(e.TS))
		b.Field(1).(*array.StringBuilder).Append(e.UserID)
		b.Field(2).(*array.Int64Builder).Append(e.SessionID)
		b.Field(3).(*array.StringBuilder).Append(e.Page)
		b.Field(4).(*array.StringBuilder).Append(e.Auth)
		b.Field(5).(*array.StringBuilder).Append(e.Method)
		b.Field(6).(*array.Int32Builder).Append(e.Status)
		b.Field(7).(*array.StringBuilder).Append(e.Level)
		b.Field(8).(*array.Int32Builder).Append(e.ItemInSession)
		str(9, e.Location)
		str(10, e.UserAgent)
		str(11, e.LastName)
		str(12, e.FirstName)
		if e.Registration == nil {
			b.Field(13).AppendNull()
		} else {
			b.Field(13).(*array.TimestampBuilder).Append(arrow.Timestamp(*e.Registration))
		}
		str(14, e.Gender)
		str(15, e.Artist)
		str(16, e.Song)
		if e.Length == nil {
			b.Field(17).AppendNull()
		} else {
			b.Field(17).(*array.Float64Builder).Append(*e.Length)
		}
		b.Field(18).(*array.StringBuilder).Append(e.SourceFile)
		b.Field(19).(*array.Int64Builder).Append(e.LineNumber)
		b.Field(20).(*array.StringBuilder).Append("test-run")
	}
	return b.NewRecordBatch()
}

// DayOf returns the UTC day start (ms) of ts.
func DayOf(ts int64) int64 { return ts - ((ts%86400000)+86400000)%86400000 }

// ByDay splits evs into UTC days, keeping their order.
func ByDay(evs []Event) map[int64][]Event {
	out := map[int64][]Event{}
	for _, e := range evs {
		d := DayOf(e.TS)
		out[d] = append(out[d], e)
	}
	return out
}
