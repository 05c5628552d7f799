package eventsim

import (
	"bytes"
	"slices"
	"strconv"
)

// Keys are the 18 keys of a Sparkify event, in the order the generator
// writes them.
var Keys = [18]string{
	"ts", "userId", "sessionId", "page", "auth", "method", "status", "level", "itemInSession",
	"location", "userAgent", "lastName", "firstName", "registration", "gender", "artist", "song", "length",
}

// BadClasses are the kinds of malformed line that Config.BadLineRate mixes
// in; the names are the bronze layer's quarantine rule ids.
//
//   - malformed_json: the line cut in the middle, or a trailing comma before '}'
//   - missing_field: ts, page or auth absent
//   - wrong_type: sessionId "s123", status "OK", itemInSession true or page 42
//   - ts_out_of_range: ts in seconds (1970), negative, or 200 years ahead (before
//     2000-01-01 or after 2100-01-01)
//   - invalid_utf8: bytes 0xff 0xfe inside a string value
//   - line_too_long: a valid line of Config.LongLineBytes bytes or more (song padded)
//   - negative_length: a NextSong with a negative length
var BadClasses = []string{
	"malformed_json", "missing_field", "wrong_type", "ts_out_of_range", "invalid_utf8",
	"line_too_long", "negative_length",
}

// VariantKinds are the valid but unusual encodings Config.VariantRate mixes
// in, as real files have them:
//
//   - userid_number: userId as a JSON number (logged-in rows)
//   - registration_float: registration as a float, 1540919166796.0
//   - absent_keys: keys whose value is null left out
//   - key_order: keys in alphabetical order (as the Sparkify files have them)
//   - extra_key: an extra unknown key "zip" at the end
//
// When a kind does not apply to a row (no null field, no userId, no
// registration) the row gets key_order instead.
var VariantKinds = []string{"userid_number", "registration_float", "absent_keys", "key_order", "extra_key"}

// DefaultLongLineBytes is the length of line_too_long lines: above 64 KiB.
const DefaultLongLineBytes = 70000

var (
	// pageAuth[p][a] is `,"page":"P","auth":"A","method":"M","status":S,"level":"`.
	pageAuth [numPages][numAuths][]byte
	// levelItem[l] is `free","itemInSession":`.
	levelItem [2][]byte
	nullTail  = []byte(`"location":null,"userAgent":null,"lastName":null,"firstName":null,"registration":null,"gender":null,`)
)

func init() {
	for p := range numPages {
		for a := range numAuths {
			b := append([]byte(nil), `,"page":`...)
			b = appendString(b, Pages[p])
			b = append(b, `,"auth":`...)
			b = appendString(b, authNames[a])
			b = append(b, `,"method":`...)
			b = appendString(b, pageMethod[p])
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(pageStatus[p]), 10)
			b = append(b, `,"level":"`...)
			pageAuth[p][a] = b
		}
	}
	for l := range levelNames {
		levelItem[l] = []byte(levelNames[l] + `","itemInSession":`)
	}
}

// appendEvent appends the canonical line of e (newline included).
func appendEvent(b []byte, e *event, a *actor) []byte {
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, e.ts, 10)
	b = append(b, `,"userId":"`...)
	if e.auth.identified() {
		b = append(b, a.id...)
	}
	b = append(b, `","sessionId":`...)
	b = strconv.AppendInt(b, int64(e.sid), 10)
	b = append(b, pageAuth[e.page][e.auth]...)
	b = append(b, levelItem[e.level]...)
	b = strconv.AppendInt(b, int64(e.item), 10)
	b = append(b, ',')
	if e.auth.identified() {
		b = append(b, a.tail...)
	} else {
		b = append(b, nullTail...)
	}
	if e.song >= 0 {
		return append(b, catalog[e.song].enc...)
	}
	return append(b, nullSong...)
}

// kv is one key and its raw JSON value.
type kv struct {
	k string
	v []byte
}

var null = []byte("null")

// fields returns the 18 key/value pairs of e, canonical encoding.
func fields(e *event, a *actor) []kv {
	str := func(s string) []byte { return appendString(nil, s) }
	num := func(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
	f := make([]kv, 0, 19)
	f = append(f, kv{"ts", num(e.ts)})
	if e.auth.identified() {
		f = append(f, kv{"userId", str(string(a.id))})
	} else {
		f = append(f, kv{"userId", str("")})
	}
	f = append(f,
		kv{"sessionId", num(int64(e.sid))},
		kv{"page", str(Pages[e.page])},
		kv{"auth", str(authNames[e.auth])},
		kv{"method", str(pageMethod[e.page])},
		kv{"status", num(int64(pageStatus[e.page]))},
		kv{"level", str(levelNames[e.level])},
		kv{"itemInSession", num(int64(e.item))},
	)
	if e.auth.identified() {
		f = append(f,
			kv{"location", str(a.location)},
			kv{"userAgent", str(a.agent)},
			kv{"lastName", str(a.last)},
			kv{"firstName", str(a.first)},
			kv{"registration", num(a.reg)},
			kv{"gender", str(a.gender)},
		)
	} else {
		for _, k := range Keys[9:15] {
			f = append(f, kv{k, null})
		}
	}
	if e.song >= 0 {
		s := &catalog[e.song]
		f = append(f,
			kv{"artist", str(s.artist)},
			kv{"song", str(s.title)},
			kv{"length", strconv.AppendFloat(nil, s.length, 'f', -1, 64)},
		)
	} else {
		f = append(f, kv{"artist", null}, kv{"song", null}, kv{"length", null})
	}
	return f
}

func appendFields(b []byte, f []kv) []byte {
	b = append(b, '{')
	for i, x := range f {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, x.k)
		b = append(b, ':')
		b = append(b, x.v...)
	}
	return append(b, "}\n"...)
}

func find(f []kv, k string) int {
	return slices.IndexFunc(f, func(x kv) bool { return x.k == k })
}

// appendVariant appends e in the valid but unusual form e.variant names.
func appendVariant(b []byte, e *event, a *actor) []byte {
	f := fields(e, a)
	kind := VariantKinds[e.variant-1]
	switch kind {
	case "userid_number":
		if !e.auth.identified() {
			kind = "key_order"
		}
	case "registration_float":
		if !e.auth.identified() {
			kind = "key_order"
		}
	case "absent_keys":
		if !slices.ContainsFunc(f, func(x kv) bool { return bytes.Equal(x.v, null) }) {
			kind = "key_order"
		}
	}
	switch kind {
	case "userid_number":
		f[1].v = append([]byte(nil), a.id...)
	case "registration_float":
		i := find(f, "registration")
		f[i].v = append(f[i].v, ".0"...)
	case "absent_keys":
		f = slices.DeleteFunc(f, func(x kv) bool { return bytes.Equal(x.v, null) })
	case "key_order":
		slices.SortFunc(f, func(x, y kv) int { return compareStrings(x.k, y.k) })
	case "extra_key":
		f = append(f, kv{"zip", appendString(nil, strconv.Itoa(10000+int(e.aux%89999)))})
	}
	return appendFields(b, f)
}

func compareStrings(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// appendBad appends a malformed copy of e of class e.bad.
func appendBad(b []byte, e *event, a *actor, longLine int) []byte {
	f := fields(e, a)
	aux := e.aux
	switch BadClasses[e.bad-1] {
	case "malformed_json":
		line := appendFields(nil, f)
		if aux%2 == 0 {
			return append(append(b, line[:len(line)/2]...), '\n')
		}
		b = append(b, line[:len(line)-2]...)
		return append(b, ",}\n"...)
	case "missing_field":
		k := [3]string{"ts", "page", "auth"}[aux%3]
		f = slices.Delete(f, find(f, k), find(f, k)+1)
	case "wrong_type":
		switch aux % 4 {
		case 0:
			f[find(f, "sessionId")].v = appendString(nil, "s"+strconv.Itoa(int(e.sid)))
		case 1:
			f[find(f, "status")].v = appendString(nil, "OK")
		case 2:
			f[find(f, "itemInSession")].v = []byte("true")
		default:
			f[find(f, "page")].v = []byte("42")
		}
	case "ts_out_of_range":
		var ts int64
		switch aux % 3 {
		case 0:
			ts = e.ts / 1000
		case 1:
			ts = -e.ts
		default:
			ts = e.ts + 200*365*msPerDay
		}
		f[0].v = strconv.AppendInt(nil, ts, 10)
	case "invalid_utf8":
		i := find(f, "song")
		if bytes.Equal(f[i].v, null) {
			i = find(f, "page")
		}
		v := f[i].v
		f[i].v = append(append(append([]byte(nil), v[:len(v)-1]...), 0xff, 0xfe), '"')
	case "line_too_long":
		i := find(f, "song")
		pad := bytes.Repeat([]byte("la "), longLine/3+1)
		f[i].v = appendString(nil, string(pad))
	case "negative_length":
		if e.song < 0 {
			ns := *e
			ns.page = pNextSong
			ns.song = int32(aux % catalogSize)
			f = fields(&ns, a)
		}
		i := find(f, "length")
		f[i].v = append([]byte("-"), f[i].v...)
	}
	return appendFields(b, f)
}
