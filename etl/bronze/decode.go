package bronze

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Quarantine rule ids (stable: they are stored in quarantine rows and
// counted in summaries).
const (
	RuleMalformedJSON  = "malformed_json"
	RuleMissingField   = "missing_field"
	RuleWrongType      = "wrong_type"
	RuleTSOutOfRange   = "ts_out_of_range"
	RuleInvalidUTF8    = "invalid_utf8"
	RuleLineTooLong    = "line_too_long"
	RuleNegativeLength = "negative_length"
	RuleNULCharacter   = "nul_character"
)

// Rules lists every rule id, in a fixed order.
var Rules = ruleList[:]

var ruleList = [...]string{RuleMalformedJSON, RuleMissingField, RuleWrongType, RuleTSOutOfRange, RuleInvalidUTF8, RuleLineTooLong,
	RuleNegativeLength, RuleNULCharacter}

// numRules is len(Rules).
const numRules = len(ruleList)

// Accepted event time range: [2000-01-01, 2100-01-01) UTC, in ms.
const (
	MinTS int64 = 946684800000
	MaxTS int64 = 4102444800000
)

// field ids of the 18 known keys, in the bronze column order.
const (
	fTS = iota
	fUserID
	fSessionID
	fPage
	fAuth
	fMethod
	fStatus
	fLevel
	fItemInSession
	fLocation
	fUserAgent
	fLastName
	fFirstName
	fRegistration
	fGender
	fArtist
	fSong
	fLength
	numFields
)

var jsonKeys = [numFields]string{
	"ts", "userId", "sessionId", "page", "auth", "method", "status", "level", "itemInSession",
	"location", "userAgent", "lastName", "firstName", "registration", "gender", "artist", "song", "length",
}

// requiredMask: keys that must be present and non-null.
const requiredMask = 1<<fTS | 1<<fUserID | 1<<fSessionID | 1<<fPage | 1<<fAuth | 1<<fMethod | 1<<fStatus | 1<<fLevel | 1<<fItemInSession

// event is one decoded line. String fields alias the line or the decoder's
// scratch buffer: valid until the next decode.
type event struct {
	ts, sessionID, registration int64
	status, item                int32
	length                      float64
	str                         [numFields][]byte // string-valued fields
	present                     uint32            // bit f: key f present with a non-null value
	unknown                     [][]byte          // unknown keys (schema drift), alias line/scratch
}

func (e *event) has(f int) bool { return e.present&(1<<f) != 0 }

// decodeError is why a line goes to quarantine.
type decodeError struct {
	rule string
	msg  string
}

// decoder decodes Sparkify JSON lines; one per goroutine.
type decoder struct {
	line    []byte
	pos     int
	scratch []byte
	err     decodeError
	// high ORs the bytes special scanned: a byte >= 0x80 anywhere in it
	// means the line has non-ASCII text to check as UTF-8.
	high uint64
	// nul is set when a string (key or value, known key or not) holds
	// \u0000: PostgreSQL text cannot store it, so the line is quarantined
	// (nul_character) once the rest of it has parsed.
	nul    bool
	nulPos int
	// follow[f] is the key that followed key f on the last line
	// (follow[numFields]: the first key; numFields: none), set from
	// followCanonical on first use (ready).
	follow [numFields + 1]int8
	ready  bool
}

// decode parses line into e. On failure it returns false and d.err says why.
// A line that is not valid UTF-8 fails with RuleInvalidUTF8 whatever else is
// wrong with it.
//
// Checking UTF-8 costs a pass over the line, so it runs only when needed: a
// parse that succeeds has passed every byte outside string contents through
// an ASCII-only test (keys, numbers, literals, punctuation, whitespace), and
// every byte of string contents through special, which ORs them into high.
// So a line whose high has no top bit set is ASCII, hence valid.
func (d *decoder) decode(line []byte, e *event) bool {
	d.line, d.pos = line, 0
	d.scratch = d.scratch[:0]
	e.present = 0
	e.unknown = e.unknown[:0]
	d.err = decodeError{}
	d.high = 0
	d.nul = false
	if !d.ready {
		d.follow, d.ready = followCanonical, true
	}
	ok := d.parse(e)
	if (!ok || d.high&msb != 0) && !utf8.Valid(line) {
		d.err = decodeError{RuleInvalidUTF8, "line is not valid UTF-8"}
		return false
	}
	return ok
}

// parse is decode without the UTF-8 check.
func (d *decoder) parse(e *event) bool {
	d.ws()
	if !d.eat('{') {
		return d.malformed("line does not start with '{'")
	}
	d.ws()
	if d.peek() == '}' {
		d.pos++
	} else {
		// Fast path: lines of one file list their keys in one order (the
		// generator's canonical order, Sparkify's alphabetical one), so the
		// key after key f is expected to be the one that followed f on the
		// previous line (d.follow), checked with two word compares.
		prev := numFields // the key before the first
		for {
			if d.pos >= len(d.line) || d.line[d.pos] != '"' {
				d.ws()
				if d.peek() != '"' {
					return d.malformed("expected a key")
				}
			}
			f := int(d.follow[prev])
			// The expected key, compared as two masked words (here rather
			// than in a function: the compiler would not inline it).
			var hit bool
			if rest := d.line[d.pos:]; f < numFields && len(rest) >= 16 {
				w := &tokenWords[f]
				hit = binary.NativeEndian.Uint64(rest)&w[2] == w[0] && binary.NativeEndian.Uint64(rest[8:])&w[3] == w[1]
			} else {
				hit = d.isTokenNearEnd(f)
			}
			if hit {
				d.pos += len(keyTokens[f])
				if !d.field(f, nil, e) {
					return false
				}
			} else {
				key, ok := d.str()
				if !ok {
					return false
				}
				d.ws()
				if !d.eat(':') {
					return d.malformed("expected ':' after key")
				}
				d.ws()
				f = lookupKey(key)
				if !d.field(f, key, e) {
					return false
				}
			}
			if f >= 0 {
				d.follow[prev] = int8(f)
				prev = f
			}
			var c byte
			if d.pos < len(d.line) && (d.line[d.pos] == ',' || d.line[d.pos] == '}') {
				c = d.line[d.pos]
			} else {
				d.ws()
				c = d.peek()
			}
			d.pos++
			if c == ',' {
				continue
			}
			if c == '}' {
				break
			}
			return d.malformed("expected ',' or '}'")
		}
	}
	d.ws()
	if d.pos < len(d.line) {
		return d.malformed("data after the closing '}'")
	}
	if d.nul {
		d.err = decodeError{RuleNULCharacter, "NUL character (\\u0000) in a string at byte " + strconv.Itoa(d.nulPos) +
			" (PostgreSQL text cannot hold it)"}
		return false
	}
	if miss := requiredMask &^ e.present; miss != 0 {
		f := bits.TrailingZeros32(miss)
		d.err = decodeError{RuleMissingField, "missing or null field " + jsonKeys[f]}
		return false
	}
	if e.ts < MinTS || e.ts >= MaxTS {
		d.err = decodeError{RuleTSOutOfRange, "ts " + strconv.FormatInt(e.ts, 10) + " outside [2000-01-01, 2100-01-01)"}
		return false
	}
	if e.has(fLength) && e.length < 0 {
		d.err = decodeError{RuleNegativeLength, "negative length " + strconv.FormatFloat(e.length, 'g', -1, 64)}
		return false
	}
	return true
}

func (d *decoder) malformed(msg string) bool {
	if d.err.rule == "" {
		d.err = decodeError{RuleMalformedJSON, msg + " at byte " + strconv.Itoa(d.pos)}
	}
	return false
}

// wrongType is field's way out when the value at pos does not start as
// field f's type. Whitespace there (`"key": value`, as json.dumps writes:
// only the fast key path in parse gets here with it) is skipped and the
// value parsed again, so that compact lines pay nothing for it. Else the
// line is rejected: wrong_type if the value is a JSON value, malformed_json
// if not (a cut line, a bad literal).
func (d *decoder) wrongType(f int, want string, e *event) bool {
	if c := d.peek(); c == ' ' || c == '\t' || c == '\r' || c == '\n' {
		d.ws()
		return d.field(f, nil, e)
	}
	kind, start := d.kindAt(), d.pos
	if !d.skip(0) {
		return false
	}
	d.pos = start
	d.err = decodeError{RuleWrongType, jsonKeys[f] + ": want " + want + ", got " + kind}
	return false
}

// kindAt names the JSON value kind at the current position.
func (d *decoder) kindAt() string {
	switch c := d.peek(); {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "invalid value"
}

func (d *decoder) peek() byte {
	if d.pos < len(d.line) {
		return d.line[d.pos]
	}
	return 0
}

func (d *decoder) eat(c byte) bool {
	if d.pos < len(d.line) && d.line[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *decoder) ws() {
	for d.pos < len(d.line) {
		switch d.line[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// lookupKey maps a key to its field id, or -1.
func lookupKey(k []byte) int {
	switch len(k) {
	case 2:
		if string(k) == "ts" {
			return fTS
		}
	case 4:
		if string(k) == "page" {
			return fPage
		}
		if string(k) == "auth" {
			return fAuth
		}
		if string(k) == "song" {
			return fSong
		}
	case 5:
		if string(k) == "level" {
			return fLevel
		}
	case 6:
		switch string(k) {
		case "userId":
			return fUserID
		case "method":
			return fMethod
		case "status":
			return fStatus
		case "gender":
			return fGender
		case "artist":
			return fArtist
		case "length":
			return fLength
		}
	case 8:
		switch string(k) {
		case "location":
			return fLocation
		case "lastName":
			return fLastName
		}
	case 9:
		switch string(k) {
		case "sessionId":
			return fSessionID
		case "userAgent":
			return fUserAgent
		case "firstName":
			return fFirstName
		}
	case 12:
		if string(k) == "registration" {
			return fRegistration
		}
	case 13:
		if string(k) == "itemInSession" {
			return fItemInSession
		}
	}
	return -1
}

// keyTokens are the known keys as they appear before their value.
var keyTokens = func() (t [numFields]string) {
	for i, k := range jsonKeys {
		t[i] = `"` + k + `":`
	}
	return t
}()

// tokenWords holds each key token (at most 16 bytes) as two words in
// native byte order and the masks of its bytes, for parse's key check.
var tokenWords = func() (w [numFields][4]uint64) {
	for i, tok := range keyTokens {
		if len(tok) > 16 {
			panic("bronze: key token longer than 16 bytes: " + tok)
		}
		var b [16]byte
		copy(b[:], tok)
		for j := range 2 {
			// Native byte order, as parse loads the line; the mask keeps
			// the token's bytes of the word.
			w[i][j] = binary.NativeEndian.Uint64(b[8*j:])
			var m [8]byte
			for k := range min(max(len(tok)-8*j, 0), 8) {
				m[k] = 0xff
			}
			w[i][2+j] = binary.NativeEndian.Uint64(m[:])
		}
	}
	return w
}()

// followCanonical is the initial d.follow: the canonical key order.
var followCanonical = func() (f [numFields + 1]int8) {
	for i := range numFields {
		f[i] = int8(i + 1)
	}
	f[numFields] = 0
	return f
}()

// isTokenNearEnd reports whether the line continues with keyTokens[f] (f
// may be numFields: no key expected), for fewer than 16 bytes left; parse
// compares longer rests as two masked words (tokenWords).
func (d *decoder) isTokenNearEnd(f int) bool {
	if f >= numFields {
		return false
	}
	tok := keyTokens[f]
	return len(d.line)-d.pos >= len(tok) && string(d.line[d.pos:d.pos+len(tok)]) == tok
}

// field parses the value of field f (-1: unknown key) into e.
func (d *decoder) field(f int, key []byte, e *event) bool {
	if f < 0 {
		e.unknown = append(e.unknown, key)
		return d.skip(0)
	}
	if d.peek() == 'n' {
		if !d.lit("null") {
			return false
		}
		e.present &^= 1 << f
		return true
	}
	switch f {
	case fTS, fSessionID, fRegistration:
		v, ok, isNum := d.integer(f == fRegistration || f == fTS)
		if !isNum {
			return d.wrongType(f, "integer", e)
		}
		if !ok {
			return false
		}
		switch f {
		case fTS:
			e.ts = v
		case fSessionID:
			e.sessionID = v
		default:
			e.registration = v
		}
	case fStatus, fItemInSession:
		v, ok, isNum := d.integer(false)
		if !isNum {
			return d.wrongType(f, "integer", e)
		}
		if !ok {
			return false
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.err = decodeError{RuleWrongType, jsonKeys[f] + ": " + strconv.FormatInt(v, 10) + " does not fit in int32"}
			return false
		}
		if f == fStatus {
			e.status = int32(v)
		} else {
			e.item = int32(v)
		}
	case fLength:
		c := d.peek()
		if c != '-' && (c < '0' || c > '9') {
			return d.wrongType(f, "number", e)
		}
		if v, ok := d.decimal(); ok {
			e.length = v
			break
		}
		start := d.pos
		if !d.number() {
			return false
		}
		tok := d.line[start:d.pos]
		v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
		if err != nil || math.IsInf(v, 0) {
			d.err = decodeError{RuleWrongType, "length: " + string(tok) + " is not a finite number"}
			return false
		}
		e.length = v
	case fUserID:
		c := d.peek()
		if c == '"' {
			s, ok := d.str()
			if !ok {
				return false
			}
			e.str[f] = s
		} else if c == '-' || (c >= '0' && c <= '9') {
			// userId as a JSON number: keep its integer text.
			start := d.pos
			if !d.number() {
				return false
			}
			tok := d.line[start:d.pos]
			if !isDigits(tok) {
				v, err := strconv.ParseFloat(string(tok), 64)
				if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<53 {
					d.err = decodeError{RuleWrongType, "userId: number " + string(tok) + " is not an integer"}
					return false
				}
				n := len(d.scratch)
				d.scratch = strconv.AppendInt(d.scratch, int64(v), 10)
				tok = d.scratch[n:]
			}
			e.str[f] = tok
		} else {
			return d.wrongType(f, "string or integer", e)
		}
	default: // string fields
		if d.peek() != '"' {
			return d.wrongType(f, "string", e)
		}
		s, ok := d.str()
		if !ok {
			return false
		}
		e.str[f] = s
	}
	e.present |= 1 << f
	return true
}

func isDigits(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (d *decoder) lit(s string) bool {
	if len(d.line)-d.pos >= len(s) && string(d.line[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return d.malformed("invalid literal")
}

// integer parses a JSON number that must be integral. allowFloat accepts an
// integral float (1540919166796.0, 1.5e12). isNum is false when the value is
// not a number at all (a type error); ok is false on a malformed or
// non-integral number (d.err set).
func (d *decoder) integer(allowFloat bool) (v int64, ok, isNum bool) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, false, false
	}
	start := d.pos
	neg := c == '-'
	i := d.pos
	if neg {
		i++
	}
	digits := 0
	var u uint64
	for i < len(d.line) {
		c := d.line[i]
		if c < '0' || c > '9' {
			break
		}
		u = u*10 + uint64(c-'0')
		i++
		digits++
	}
	if digits > 0 && digits <= 18 && (i >= len(d.line) || (d.line[i] != '.' && d.line[i] != 'e' && d.line[i] != 'E')) {
		if digits > 1 && d.line[start+btoi(neg)] == '0' {
			return 0, d.malformed("number with a leading zero"), true
		}
		d.pos = i
		if neg {
			return -int64(u), true, true
		}
		return int64(u), true, true
	}
	// Slow path: floats, long numbers.
	if !d.number() {
		return 0, false, true
	}
	tok := d.line[start:d.pos]
	if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
		return n, true, true // 19 digits: exact, not through a float
	}
	if !allowFloat {
		d.err = decodeError{RuleWrongType, "want an integer, got " + string(tok)}
		return 0, false, true
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		d.err = decodeError{RuleWrongType, "want an integral number, got " + string(tok)}
		return 0, false, true
	}
	return int64(f), true, true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimal parses a plain JSON decimal at pos (-?int[.frac], no exponent)
// of at most 15 digits, the form of every length eventsim writes, and moves
// past it. Such a number is m / 10^k with m < 2^53 and 10^k exact, so one
// IEEE division rounds it correctly: the result is strconv.ParseFloat's
// (Clinger's fast path). ok is false, pos unmoved, for anything else.
func (d *decoder) decimal() (v float64, ok bool) {
	b, i := d.line, d.pos
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var m uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		m = m*10 + uint64(b[i]-'0')
		i++
	}
	ints := i - start
	if ints == 0 || (ints > 1 && b[start] == '0') {
		return 0, false
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			m = m*10 + uint64(b[i]-'0')
			i++
		}
		if frac = i - j; frac == 0 {
			return 0, false
		}
	}
	if ints+frac > 15 || (i < len(b) && (b[i] == 'e' || b[i] == 'E')) {
		return 0, false
	}
	v = float64(m) / pow10[frac]
	if neg {
		v = -v
	}
	d.pos = i
	return v, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// number validates a JSON number token at pos and moves past it.
func (d *decoder) number() bool {
	b, i := d.line, d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return d.malformed("truncated number")
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return d.malformed("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return d.malformed("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return d.malformed("invalid number")
		}
	}
	d.pos = i
	return true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special returns the index of the first byte at or after i that is '"',
// '\\' or a control character (< 0x20), or len(b); and the OR of the bytes
// it read (at least b[i:index], packed in 64-bit words) for the ASCII test.
func special(b []byte, i int) (int, uint64) {
	var acc uint64
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		acc |= x
		q := x ^ (lsb * '"')
		s := x ^ (lsb * '\\')
		m := ((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x)
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8, acc
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		acc |= uint64(c)
		if c == '"' || c == '\\' || c < 0x20 {
			return i, acc
		}
	}
	return len(b), acc
}

// str parses a JSON string at pos ('"'), returning its unescaped bytes
// (aliasing the line when there are no escapes, else the scratch buffer).
func (d *decoder) str() ([]byte, bool) {
	start := d.pos + 1
	i, acc := special(d.line, start)
	d.high |= acc
	if i < len(d.line) && d.line[i] == '"' {
		d.pos = i + 1
		return d.line[start:i], true
	}
	return d.strEscaped(start, i)
}

// strEscaped is str for a string with escapes (or an error) from i on:
// it unescapes into the scratch buffer. (Apart so that str inlines.)
func (d *decoder) strEscaped(start, i int) ([]byte, bool) {
	n := len(d.scratch)
	d.scratch = append(d.scratch, d.line[start:i]...)
	for {
		if i >= len(d.line) {
			d.pos = i
			return nil, d.malformed("unterminated string")
		}
		c := d.line[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return d.scratch[n:], true
		case c < 0x20:
			d.pos = i
			return nil, d.malformed("control character in string")
		case c == '\\':
			if i+1 >= len(d.line) {
				d.pos = i
				return nil, d.malformed("unterminated escape")
			}
			e := d.line[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				d.scratch = append(d.scratch, e)
			case 'b':
				d.scratch = append(d.scratch, '\b')
			case 'f':
				d.scratch = append(d.scratch, '\f')
			case 'n':
				d.scratch = append(d.scratch, '\n')
			case 'r':
				d.scratch = append(d.scratch, '\r')
			case 't':
				d.scratch = append(d.scratch, '\t')
			case 'u':
				r, ok := hex4(d.line, i)
				if !ok {
					d.pos = i
					return nil, d.malformed("invalid \\u escape")
				}
				if r == 0 && !d.nul {
					d.nul, d.nulPos = true, i-2
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 <= len(d.line) && d.line[i] == '\\' && d.line[i+1] == 'u' {
						r2, ok2 = hex4(d.line, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				d.scratch = utf8.AppendRune(d.scratch, r)
			default:
				d.pos = i - 1
				return nil, d.malformed("invalid escape")
			}
		default:
			j, acc := special(d.line, i)
			d.high |= acc
			d.scratch = append(d.scratch, d.line[i:j]...)
			i = j
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip validates and skips any JSON value (unknown keys), depth-limited.
func (d *decoder) skip(depth int) bool {
	if depth > 64 {
		return d.malformed("nesting too deep")
	}
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == 'n':
		return d.lit("null")
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == '[':
		d.pos++
		d.ws()
		if d.eat(']') {
			return true
		}
		for {
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat(']') {
				return true
			}
			return d.malformed("expected ',' or ']'")
		}
	case c == '{':
		d.pos++
		d.ws()
		if d.eat('}') {
			return true
		}
		for {
			d.ws()
			if d.peek() != '"' {
				return d.malformed("expected a key")
			}
			if _, ok := d.str(); !ok {
				return false
			}
			d.ws()
			if !d.eat(':') {
				return d.malformed("expected ':'")
			}
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat('}') {
				return true
			}
			return d.malformed("expected ',' or '}'")
		}
	}
	return d.malformed("invalid value")
}
