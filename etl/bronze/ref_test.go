package bronze

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/churnctl/churnctl/internal/eventsim"
)

// row is one decoded line in a form both decoders can fill: the bronze
// decoder (fromEvent) and the encoding/json reference (refDecode).
type row struct {
	present                     uint32 // bit i: eventsim.Keys[i] present and not null
	ts, sessionID, registration int64
	status, item                int32
	length                      float64
	str                         [numFields]string
	unknown                     []string
}

func (r row) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "present=%#x ts=%d session=%d reg=%d status=%d item=%d length=%v", r.present, r.ts, r.sessionID,
		r.registration, r.status, r.item, r.length)
	for i, s := range r.str {
		if s != "" {
			fmt.Fprintf(&b, " %s=%q", eventsim.Keys[i], s)
		}
	}
	fmt.Fprintf(&b, " unknown=%q", r.unknown)
	return b.String()
}

// diff names the first field where a and b differ ("" when equal).
func (a row) diff(b row) string {
	switch {
	case a.present != b.present:
		return fmt.Sprintf("present %#x != %#x", a.present, b.present)
	case a.ts != b.ts:
		return "ts"
	case a.sessionID != b.sessionID:
		return "sessionId"
	case a.registration != b.registration:
		return "registration"
	case a.status != b.status:
		return "status"
	case a.item != b.item:
		return "itemInSession"
	case math.Float64bits(a.length) != math.Float64bits(b.length):
		return "length"
	case len(a.unknown) != len(b.unknown):
		return "unknown keys"
	}
	for i := range a.str {
		if a.str[i] != b.str[i] {
			return eventsim.Keys[i]
		}
	}
	for i := range a.unknown {
		if a.unknown[i] != b.unknown[i] {
			return "unknown keys"
		}
	}
	return ""
}

// fromEvent is the row the bronze decoder produced (absent values zero).
func fromEvent(e *event) row {
	r := row{present: e.present}
	if e.has(fTS) {
		r.ts = e.ts
	}
	if e.has(fSessionID) {
		r.sessionID = e.sessionID
	}
	if e.has(fRegistration) {
		r.registration = e.registration
	}
	if e.has(fStatus) {
		r.status = e.status
	}
	if e.has(fItemInSession) {
		r.item = e.item
	}
	if e.has(fLength) {
		r.length = e.length
	}
	for f := range numFields {
		if e.has(f) {
			r.str[f] = string(e.str[f])
		}
	}
	for _, k := range e.unknown {
		r.unknown = append(r.unknown, string(k))
	}
	return r
}

// refMaxDepth is the nesting bronze allows in a value (the value itself
// is depth 0).
const refMaxDepth = 64

// refDecode is the reference decoder: encoding/json does the syntax
// (json.Valid), the unescaping and the key order (Decoder.Token), and this
// function applies the documented bronze rules to what it returns. It
// shares no code with the bronze decoder (the key list is eventsim's).
//
// The rules: a line must be valid UTF-8 (invalid_utf8) and one JSON object
// (malformed_json). Keys are case-sensitive; unknown keys are kept in
// order; a repeated key takes its last value, but every occurrence must
// have the right type. Reading the keys in order, the first value of a
// wrong type decides (wrong_type): ts, sessionId and registration are
// int64 (ts and registration also as an integral float of magnitude up to
// 2^62); status and itemInSession int32; length a finite number; userId a
// string or an integer (an integer of up to 18 digits is kept as written,
// another number must be integral and at most 2^53 in magnitude); the
// other known keys strings; null makes any key absent. A value may nest
// 64 levels deep (malformed_json beyond). Then: a NUL in any
// key or string (nul_character); a required key absent or null
// (missing_field); ts outside [MinTS, MaxTS) (ts_out_of_range); a negative
// length (negative_length).
func refDecode(line []byte) (r row, rule string) {
	if !utf8.Valid(line) {
		return r, RuleInvalidUTF8
	}
	if !json.Valid(line) {
		return r, RuleMalformedJSON
	}
	type pair struct {
		key string
		raw json.RawMessage
	}
	var pairs []pair
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return r, RuleMalformedJSON
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return r, RuleMalformedJSON
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, RuleMalformedJSON
		}
		pairs = append(pairs, pair{t.(string), raw})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return r, RuleMalformedJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return r, RuleMalformedJSON
	}

	index := map[string]int{}
	for i, k := range eventsim.Keys {
		index[k] = i
	}
	nul := false
	for _, p := range pairs {
		var v any
		d := json.NewDecoder(bytes.NewReader(p.raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return r, RuleMalformedJSON
		}
		nul = nul || strings.ContainsRune(p.key, 0) || hasNUL(v)
		if depth(v) > refMaxDepth {
			return r, RuleMalformedJSON
		}
		f, known := index[p.key]
		if !known {
			r.unknown = append(r.unknown, p.key)
			continue
		}
		if v == nil {
			r.present &^= 1 << f
			r.str[f] = ""
			continue
		}
		num, isNum := v.(json.Number)
		s, isStr := v.(string)
		switch eventsim.Keys[f] {
		case "ts", "sessionId", "registration":
			if !isNum {
				return r, RuleWrongType
			}
			n, err := num.Int64()
			if err != nil && eventsim.Keys[f] != "sessionId" {
				x, ferr := num.Float64()
				if ferr == nil && x == math.Trunc(x) && math.Abs(x) <= 1<<62 {
					n, err = int64(x), nil
				}
			}
			if err != nil {
				return r, RuleWrongType
			}
			switch eventsim.Keys[f] {
			case "ts":
				r.ts = n
			case "sessionId":
				r.sessionID = n
			default:
				r.registration = n
			}
		case "status", "itemInSession":
			if !isNum {
				return r, RuleWrongType
			}
			n, err := num.Int64()
			if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
				return r, RuleWrongType
			}
			if eventsim.Keys[f] == "status" {
				r.status = int32(n)
			} else {
				r.item = int32(n)
			}
		case "length":
			if !isNum {
				return r, RuleWrongType
			}
			x, err := num.Float64()
			if err != nil || math.IsInf(x, 0) {
				return r, RuleWrongType
			}
			r.length = x
		case "userId":
			switch {
			case isStr:
				r.str[f] = s
			case isNum:
				t := string(num)
				digits := strings.TrimPrefix(t, "-")
				if len(digits) <= 18 && strings.Trim(digits, "0123456789") == "" {
					r.str[f] = t
					break
				}
				x, err := num.Float64()
				if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
					return r, RuleWrongType
				}
				r.str[f] = strconv.FormatInt(int64(x), 10)
			default:
				return r, RuleWrongType
			}
		default:
			if !isStr {
				return r, RuleWrongType
			}
			r.str[f] = s
		}
		r.present |= 1 << f
	}
	r.zeroAbsent()
	switch {
	case nul:
		return r, RuleNULCharacter
	case r.present&refRequired != refRequired:
		return r, RuleMissingField
	case r.ts < MinTS || r.ts >= MaxTS:
		return r, RuleTSOutOfRange
	case r.present&(1<<17) != 0 && r.length < 0:
		return r, RuleNegativeLength
	}
	return r, ""
}

// zeroAbsent clears the values of absent keys (a key set, then null).
func (r *row) zeroAbsent() {
	for f, k := range eventsim.Keys {
		if r.present&(1<<f) != 0 {
			continue
		}
		r.str[f] = ""
		switch k {
		case "ts":
			r.ts = 0
		case "sessionId":
			r.sessionID = 0
		case "registration":
			r.registration = 0
		case "status":
			r.status = 0
		case "itemInSession":
			r.item = 0
		case "length":
			r.length = 0
		}
	}
}

// refRequired: the first nine of eventsim.Keys, ts ... itemInSession.
const refRequired = 1<<9 - 1

func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, x := range v {
			if hasNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, 0) || hasNUL(x) {
				return true
			}
		}
	}
	return false
}

// depth is the nesting of v below itself: 0 for a scalar or an empty
// container, 1 + the deepest element's otherwise.
func depth(v any) int {
	d := 0
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			d = max(d, 1+depth(x))
		}
	case map[string]any:
		for _, x := range v {
			d = max(d, 1+depth(x))
		}
	}
	return d
}
