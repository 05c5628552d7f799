package eventsim

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Reasonable ts bounds: rows outside [2000-01-01, 2100-01-01) are
// ts_out_of_range.
var (
	MinTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	MaxTS = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// Classify returns the BadClasses id that line (without its newline) breaks,
// or "" if it is a valid event (canonical or one of VariantKinds). Lines
// longer than maxLen are line_too_long. It is the reference the generator is
// tested against, written with encoding/json for clarity, not speed.
func Classify(line []byte, maxLen int) string {
	if len(line) > maxLen {
		return "line_too_long"
	}
	if !utf8.Valid(line) {
		return "invalid_utf8"
	}
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || d.More() || m == nil {
		return "malformed_json"
	}
	for _, k := range []string{"ts", "page", "auth"} {
		if _, ok := m[k]; !ok {
			return "missing_field"
		}
	}
	isNull := func(v json.RawMessage) bool { return string(v) == "null" }
	isInt := func(v json.RawMessage) bool {
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	isNum := func(v json.RawMessage) bool {
		var f float64
		return json.Unmarshal(v, &f) == nil && !isNull(v)
	}
	isStr := func(v json.RawMessage) bool { return len(v) > 0 && v[0] == '"' }
	for k, v := range m {
		ok := true
		switch k {
		case "ts":
			ok = isInt(v)
		case "sessionId", "status", "itemInSession":
			ok = isNull(v) || isInt(v)
		case "userId":
			ok = isStr(v) || isInt(v)
		case "page", "auth":
			ok = isStr(v)
		case "method", "level", "location", "userAgent", "lastName", "firstName", "gender", "artist", "song":
			ok = isNull(v) || isStr(v)
		case "registration", "length":
			ok = isNull(v) || isNum(v)
		}
		if !ok {
			return "wrong_type"
		}
	}
	var ts int64
	_ = json.Unmarshal(m["ts"], &ts)
	if ts < MinTS || ts >= MaxTS {
		return "ts_out_of_range"
	}
	if v, ok := m["length"]; ok && !isNull(v) {
		var l float64
		_ = json.Unmarshal(v, &l)
		if l < 0 {
			return "negative_length"
		}
	}
	return ""
}
