package bronze

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

const goodLine = `{"ts":1538352820116,"userId":"159","sessionId":1136,"page":"Home","auth":"Logged In","method":"GET","status":200,"level":"paid","itemInSession":2,"location":"Riverside-San Bernardino-Ontario, CA","userAgent":"\"Mozilla/5.0 (Windows NT 6.1)\"","lastName":"Boyd","firstName":"Piper","registration":1517747745754,"gender":"F","artist":null,"song":null,"length":null}`

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		check func(t *testing.T, e *event)
	}{
		{"canonical", goodLine, func(t *testing.T, e *event) {
			if e.ts != 1538352820116 || string(e.str[fUserID]) != "159" || e.sessionID != 1136 || e.status != 200 || e.item != 2 {
				t.Errorf("got ts=%d user=%q session=%d status=%d item=%d", e.ts, e.str[fUserID], e.sessionID, e.status, e.item)
			}
			if got := string(e.str[fUserAgent]); got != `"Mozilla/5.0 (Windows NT 6.1)"` {
				t.Errorf("userAgent = %q, want the embedded quotes kept", got)
			}
			if !e.has(fRegistration) || e.registration != 1517747745754 || e.has(fArtist) || e.has(fLength) {
				t.Errorf("registration %v %d, artist %v, length %v", e.has(fRegistration), e.registration, e.has(fArtist), e.has(fLength))
			}
		}},
		{"non-ASCII text", strings.Replace(strings.Replace(goodLine, `"Boyd"`, `"Bj\u00f6rk \"Bj\u00f6rk\""`, 1), `"Piper"`, `"Zoë Ørsted 東京"`, 1), func(t *testing.T, e *event) {
			if got := string(e.str[fLastName]); got != `Björk "Björk"` {
				t.Errorf("lastName = %q", got)
			}
			if got := string(e.str[fFirstName]); got != "Zoë Ørsted 東京" {
				t.Errorf("firstName = %q", got)
			}
		}},
		{"length forms", strings.Replace(goodLine, `"length":null`, `"length":2.5e2`, 1), func(t *testing.T, e *event) {
			if e.length != 250 {
				t.Errorf("length = %v, want 250", e.length)
			}
		}},
		{"userId number", strings.Replace(goodLine, `"userId":"159"`, `"userId":159`, 1), func(t *testing.T, e *event) {
			if string(e.str[fUserID]) != "159" {
				t.Errorf("userId = %q, want 159", e.str[fUserID])
			}
		}},
		{"userId float", strings.Replace(goodLine, `"userId":"159"`, `"userId":159.0`, 1), func(t *testing.T, e *event) {
			if string(e.str[fUserID]) != "159" {
				t.Errorf("userId = %q, want 159", e.str[fUserID])
			}
		}},
		{"guest userId", strings.Replace(goodLine, `"userId":"159"`, `"userId":""`, 1), func(t *testing.T, e *event) {
			if !e.has(fUserID) || len(e.str[fUserID]) != 0 {
				t.Errorf("guest userId: has %v, %q", e.has(fUserID), e.str[fUserID])
			}
		}},
		{"registration float", strings.Replace(goodLine, `1517747745754`, `1517747745754.0`, 1), func(t *testing.T, e *event) {
			if e.registration != 1517747745754 {
				t.Errorf("registration = %d", e.registration)
			}
		}},
		{"registration exponent", strings.Replace(goodLine, `1517747745754`, `1.517747745754e12`, 1), func(t *testing.T, e *event) {
			if e.registration != 1517747745754 {
				t.Errorf("registration = %d", e.registration)
			}
		}},
		{"registration null", strings.Replace(goodLine, `1517747745754`, `null`, 1), func(t *testing.T, e *event) {
			if e.has(fRegistration) {
				t.Error("registration present, want null")
			}
		}},
		{"absent keys", `{"ts":1538352820116,"userId":"","sessionId":1,"page":"Home","auth":"Logged Out","method":"GET","status":200,"level":"free","itemInSession":0}`, func(t *testing.T, e *event) {
			if e.has(fLocation) || e.has(fArtist) || e.has(fLength) || e.has(fRegistration) {
				t.Error("absent keys present")
			}
		}},
		{"any key order, whitespace, extra keys", ` { "length" : 1.5 , "zip":{"a":[1,true,null,"x"]}, "itemInSession":3,"level":"free","status":307,"method":"PUT","auth":"Logged In","page":"Submit Registration","sessionId":9,"userId":"7","ts":1538352820116, "extra2": -1e5 } `, func(t *testing.T, e *event) {
			if e.length != 1.5 || e.item != 3 || string(e.str[fPage]) != "Submit Registration" || len(e.unknown) != 2 ||
				string(e.unknown[0]) != "zip" || string(e.unknown[1]) != "extra2" {
				t.Errorf("length %v item %d page %q unknown %q", e.length, e.item, e.str[fPage], e.unknown)
			}
		}},
		{"escapes and double-encoded UTF-8 kept", strings.Replace(goodLine, `"artist":null`, `"artist":"Beyonc\u00c3\u00a9 \ud83c\udfb5 \/ \\ Ã©"`, 1), func(t *testing.T, e *event) {
			if got, want := string(e.str[fArtist]), "BeyoncÃ© 🎵 / \\ Ã©"; got != want {
				t.Errorf("artist = %q, want %q", got, want)
			}
		}},
		{"CR stripped by caller, trailing spaces ok", goodLine + "  ", nil},
		{"an escaped backslash before u0000 is no NUL", strings.Replace(goodLine, `"Boyd"`, `"Bo\\u0000yd"`, 1), func(t *testing.T, e *event) {
			if got := string(e.str[fLastName]); got != `Bo\u0000yd` {
				t.Errorf("lastName = %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decoder
			var e event
			if !d.decode([]byte(tt.line), &e) {
				t.Fatalf("decode(%s) failed: %s: %s", tt.line, d.err.rule, d.err.msg)
			}
			if tt.check != nil {
				tt.check(t, &e)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		name, line, rule string
	}{
		{"cut", goodLine[:120], RuleMalformedJSON},
		{"trailing comma", strings.Replace(goodLine, `"length":null}`, `"length":null,}`, 1), RuleMalformedJSON},
		{"not an object", `[1,2]`, RuleMalformedJSON},
		{"garbage after", goodLine + `x`, RuleMalformedJSON},
		{"bad escape", strings.Replace(goodLine, `"Boyd"`, `"Bo\yd"`, 1), RuleMalformedJSON},
		{"control char", strings.Replace(goodLine, `"Boyd"`, "\"Bo\tyd\"", 1), RuleMalformedJSON},
		{"leading zero", strings.Replace(goodLine, `"status":200`, `"status":0200`, 1), RuleMalformedJSON},
		{"missing ts", strings.Replace(goodLine, `"ts":1538352820116,`, ``, 1), RuleMissingField},
		{"missing page", strings.Replace(goodLine, `"page":"Home",`, ``, 1), RuleMissingField},
		{"null auth", strings.Replace(goodLine, `"auth":"Logged In"`, `"auth":null`, 1), RuleMissingField},
		{"sessionId string", strings.Replace(goodLine, `"sessionId":1136`, `"sessionId":"s1136"`, 1), RuleWrongType},
		{"status string", strings.Replace(goodLine, `"status":200`, `"status":"OK"`, 1), RuleWrongType},
		{"itemInSession bool", strings.Replace(goodLine, `"itemInSession":2`, `"itemInSession":true`, 1), RuleWrongType},
		{"page number", strings.Replace(goodLine, `"page":"Home"`, `"page":42`, 1), RuleWrongType},
		{"status float", strings.Replace(goodLine, `"status":200`, `"status":200.5`, 1), RuleWrongType},
		{"registration fraction", strings.Replace(goodLine, `1517747745754`, `1517747745754.5`, 1), RuleWrongType},
		{"length string", strings.Replace(goodLine, `"length":null`, `"length":"1.0"`, 1), RuleWrongType},
		{"userId bool", strings.Replace(goodLine, `"userId":"159"`, `"userId":false`, 1), RuleWrongType},
		{"ts seconds", strings.Replace(goodLine, `1538352820116`, `1538352820`, 1), RuleTSOutOfRange},
		{"ts negative", strings.Replace(goodLine, `1538352820116`, `-1538352820116`, 1), RuleTSOutOfRange},
		{"ts far future", strings.Replace(goodLine, `1538352820116`, `7845630415055`, 1), RuleTSOutOfRange},
		{"invalid utf8", strings.Replace(goodLine, `"Boyd"`, "\"Bo\xff\xfeyd\"", 1), RuleInvalidUTF8},
		// UTF-8 is checked only when a scanned string had a high byte, or
		// when the parse fails: these put the bad bytes everywhere else.
		{"invalid utf8 after escape", strings.Replace(goodLine, `"Boyd"`, "\"B\\\"o\xffyd\"", 1), RuleInvalidUTF8},
		{"invalid utf8 at string end", strings.Replace(goodLine, `"Boyd"`, "\"Boyd\xc3\"", 1), RuleInvalidUTF8},
		{"invalid utf8 in unknown key", strings.Replace(goodLine, `"ts":`, "\"z\xff\":1,\"ts\":", 1), RuleInvalidUTF8},
		{"invalid utf8 in unknown value", strings.Replace(goodLine, `"ts":`, "\"zip\":[\"\xff\"],\"ts\":", 1), RuleInvalidUTF8},
		{"invalid utf8 outside strings", strings.Replace(goodLine, `"status":200`, "\"status\":200\xff", 1), RuleInvalidUTF8},
		{"invalid utf8 and malformed", strings.Replace(goodLine, `"Boyd"`, "\"Bo\xff", 1), RuleInvalidUTF8},
		{"invalid utf8 and missing field", strings.Replace(strings.Replace(goodLine, `"page":"Home",`, ``, 1), `"Boyd"`, "\"Bo\xffyd\"", 1), RuleInvalidUTF8},
		{"negative length", strings.Replace(goodLine, `"length":null`, `"length":-218.48`, 1), RuleNegativeLength},
		{"NUL in a value", strings.Replace(goodLine, `"Boyd"`, `"Bo\u0000yd"`, 1), RuleNULCharacter},
		{"NUL alone", strings.Replace(goodLine, `"Boyd"`, `"\u0000"`, 1), RuleNULCharacter},
		{"NUL in userId", strings.Replace(goodLine, `"159"`, `"15\u00009"`, 1), RuleNULCharacter},
		{"NUL in an unknown key", strings.Replace(goodLine, `"ts":`, `"z\u0000":1,"ts":`, 1), RuleNULCharacter},
		{"NUL in an unknown value", strings.Replace(goodLine, `"ts":`, `"zip":{"a":["\u0000"]},"ts":`, 1), RuleNULCharacter},
		{"NUL and missing field", strings.Replace(strings.Replace(goodLine, `"page":"Home",`, ``, 1), `"Boyd"`, `"\u0000"`, 1), RuleNULCharacter},
		{"NUL then malformed", strings.Replace(goodLine, `"Boyd"`, `"\u0000",`, 1), RuleMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decoder
			var e event
			if d.decode([]byte(tt.line), &e) {
				t.Fatalf("decode(%s) succeeded, want %s", tt.line, tt.rule)
			}
			if d.err.rule != tt.rule || d.err.msg == "" {
				t.Errorf("decode(%s) = %s (%s), want %s", tt.line, d.err.rule, d.err.msg, tt.rule)
			}
		})
	}
}

// TestDecimal checks the fast decimal path against strconv.ParseFloat and
// that it declines what it cannot do exactly (the caller then parses the
// number the general way).
func TestDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []string{"0", "-0", "0.0", "-0.0", "1", "277.89016", "0.000001", "999999999999999", "99999999999999.9",
		"1.000000000000001", "0.1", "0.3", "2.675", "9007199254740993", "1e5", "1.5E3", "01.5", "1.", ".5", "-", "1.2.3",
		"123456789012345.6", "3.4028235e38"}
	for range 200000 {
		ints := r.IntN(8)
		frac := r.IntN(10)
		s := strconv.FormatUint(r.Uint64N(pow10u(ints+1)), 10)
		if frac > 0 {
			f := strconv.FormatUint(r.Uint64N(pow10u(frac)), 10)
			s += "." + strings.Repeat("0", frac-len(f)) + f
		}
		if r.IntN(4) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	fast := 0
	for _, c := range cases {
		d := decoder{line: []byte(c + ",")}
		v, ok := d.decimal()
		if !ok {
			if d.pos != 0 {
				t.Fatalf("decimal(%q) declined but moved to %d", c, d.pos)
			}
			continue
		}
		fast++
		// The general path: number() delimits the token, ParseFloat reads it.
		g := decoder{line: d.line}
		if !g.number() || g.pos != d.pos {
			t.Fatalf("decimal(%q) stopped at %d, number() at %d", c, d.pos, g.pos)
		}
		want, err := strconv.ParseFloat(c[:g.pos], 64)
		if err != nil || math.Float64bits(v) != math.Float64bits(want) {
			t.Fatalf("decimal(%q) = %v (%#x), ParseFloat = %v (%#x), %v", c, v, math.Float64bits(v), want, math.Float64bits(want), err)
		}
	}
	if fast < len(cases)*9/10 {
		t.Fatalf("fast path took only %d of %d numbers", fast, len(cases))
	}
	for _, c := range []string{"1e5", "01.5", "1.", ".5", "-", "9007199254740993", "1.000000000000001", "123456789012345.6"} {
		d := decoder{line: []byte(c)}
		if _, ok := d.decimal(); ok {
			t.Errorf("decimal(%q) took a number it cannot parse exactly or that is not plain JSON", c)
		}
	}
}

func pow10u(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

func TestSpecial(t *testing.T) {
	for _, s := range []string{"", "abc", "abcdefgh\"", "0123456789abcdef\\", "é\x01", strings.Repeat("x", 17) + `"`, "\x7f\x80\xff\"", " !#"} {
		want := len(s)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		got, acc := special([]byte(s), 0)
		if got != want {
			t.Errorf("special(%q) = %d, want %d", s, got, want)
		}
		var or uint64
		for _, c := range []byte(s[:got]) {
			or |= uint64(c)
		}
		if high := or&0x80 != 0; high && acc&msb == 0 {
			t.Errorf("special(%q): scanned bytes have a high bit, acc %#x does not", s, acc)
		}
	}
}

// FuzzDecode checks that the decoder never panics, that what it accepts
// satisfies the rules it claims to enforce, and that it agrees with the
// encoding/json reference (refDecode): the same row for a line both
// accept, the same rule for a line both reject, with one intended
// difference: bronze decides on the first problem in the line, so a value
// of the wrong type before a syntax error makes the line wrong_type where
// the reference, which checks the syntax first, says malformed_json. The
// fast key path must not change the answer: the line decoded again, by a
// decoder that has learned its key order, gives the same result.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goodLine))
	f.Add([]byte(`{"ts":1538352820116,"userId":1,"sessionId":1,"page":"a","auth":"b","method":"c","status":1,"level":"d","itemInSession":0,"zip":[{}]}`))
	f.Add([]byte(`{"ts":1.5e12}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(strings.Replace(goodLine, `"Boyd"`, "\"B\\\"o\xffyd\"", 1)))
	f.Add([]byte(strings.Replace(goodLine, `"length":null`, `"length":12.25`, 1)))
	f.Add([]byte(pyLine))
	f.Add([]byte(" \t{ \"ts\" :\t1538352820116 , \"userId\":\r\"\\u00e9\" }\r "))
	f.Add([]byte(strings.Replace(goodLine, `"Boyd"`, `"Bo\u0000yd"`, 1)))
	f.Add([]byte(strings.Replace(goodLine, `"userAgent":`, `"userAgent": `, 1)[:200]))
	f.Add([]byte(strings.Replace(goodLine, `"registration":1517747745754`, `"registration":1234567890123456789`, 1)))
	f.Fuzz(func(t *testing.T, line []byte) {
		var d decoder
		var e event
		ok := d.decode(line, &e)
		got, rule := row{}, d.err.rule
		if ok {
			got, rule = fromEvent(&e), ""
		}
		if !ok {
			if d.err.rule == "" {
				t.Fatalf("rejected without a rule: %q", line)
			}
			if (d.err.rule == RuleInvalidUTF8) == utf8.Valid(line) {
				t.Fatalf("rejected as %s, utf8.Valid %v: %q", d.err.rule, utf8.Valid(line), line)
			}
		} else {
			if !utf8.Valid(line) {
				t.Fatalf("accepted a line that is not UTF-8: %q", line)
			}
			if e.present&requiredMask != requiredMask {
				t.Fatalf("accepted with missing fields: %q", line)
			}
			if e.ts < MinTS || e.ts >= MaxTS {
				t.Fatalf("accepted ts %d: %q", e.ts, line)
			}
			if e.has(fLength) && e.length < 0 {
				t.Fatalf("accepted negative length: %q", line)
			}
			for f := range numFields {
				if e.has(f) && (!utf8.Valid(e.str[f]) || bytes.IndexByte(e.str[f], 0) >= 0) {
					t.Fatalf("accepted invalid UTF-8 or a NUL in %s: %q", jsonKeys[f], line)
				}
			}
		}

		ref, refRule := refDecode(line)
		switch {
		case rule == refRule:
			if ok {
				if diff := got.diff(ref); diff != "" {
					t.Fatalf("bronze and reference rows differ in %s:\nbronze    %v\nreference %v\nline %q", diff, got, ref, line)
				}
			}
		case rule == RuleWrongType && refRule == RuleMalformedJSON:
			// A value of the wrong type before the syntax error.
		default:
			t.Fatalf("bronze says %q (%s), the reference %q: %q", rule, d.err.msg, refRule, line)
		}

		// Again, on the fast path: the decoder has learned this line's key order.
		var again event
		ok2 := d.decode(line, &again)
		if ok2 != ok || (!ok && d.err.rule != rule) || (ok && fromEvent(&again).diff(got) != "") {
			t.Fatalf("decoded twice: %v %q, then %v %q: %q", ok, rule, ok2, d.err.rule, line)
		}
	})
}

// pyLine is goodLine as Python's json.dumps writes it.
const pyLine = `{"ts": 1538352820116, "userId": "159", "sessionId": 1136, "page": "Home", "auth": "Logged In", "method": "GET", "status": 200, "level": "paid", "itemInSession": 2, "location": "Riverside-San Bernardino-Ontario, CA", "userAgent": "\"Mozilla/5.0 (Windows NT 6.1)\"", "lastName": "Bj\u00f6rk", "firstName": "Piper", "registration": 1517747745754, "gender": "F", "artist": null, "song": null, "length": null}`

// TestDecodeKeyOrders decodes one event written with its keys in many
// orders, on one decoder (whose fast path learns the order of the previous
// line), and checks every order gives the same event as the canonical one.
func TestDecodeKeyOrders(t *testing.T) {
	type kv struct{ k, v string }
	var pairs []kv
	{
		var d decoder
		var e event
		if !d.decode([]byte(goodLine), &e) {
			t.Fatal(d.err)
		}
		body := goodLine[1 : len(goodLine)-1]
		for _, k := range jsonKeys {
			i := strings.Index(body, `"`+k+`":`)
			rest := body[i+len(k)+3:]
			end := len(rest)
			for _, k2 := range jsonKeys {
				if j := strings.Index(rest, `,"`+k2+`":`); j >= 0 && j < end {
					end = j
				}
			}
			pairs = append(pairs, kv{k, rest[:end]})
		}
	}
	render := func(p []kv, sep, colon string, extra bool) string {
		var b strings.Builder
		b.WriteString("{")
		for i, x := range p {
			if i > 0 {
				b.WriteString("," + sep)
			}
			if extra && i == len(p)/2 {
				b.WriteString(`"zip":"95811",` + sep)
			}
			b.WriteString(`"` + x.k + `"` + colon + x.v)
		}
		b.WriteString("}")
		return b.String()
	}
	want := func() event {
		var d decoder
		var e event
		if !d.decode([]byte(render(pairs, "", ":", false)), &e) {
			t.Fatal(d.err)
		}
		return e
	}()
	same := func(a, b event) bool {
		if a.ts != b.ts || a.sessionID != b.sessionID || a.registration != b.registration || a.status != b.status ||
			a.item != b.item || a.length != b.length || a.present != b.present {
			return false
		}
		for f := range numFields {
			if string(a.str[f]) != string(b.str[f]) {
				return false
			}
		}
		return true
	}
	alpha := slices.Clone(pairs)
	slices.SortFunc(alpha, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	orders := [][]kv{pairs, alpha, alpha, pairs}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		p := slices.Clone(pairs)
		r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		orders = append(orders, p, p) // twice: the second time from the learned order
	}
	var d decoder
	for i, p := range orders {
		for _, form := range []struct {
			sep, colon string
			extra      bool
		}{{"", ":", false}, {" ", " : ", false}, {"", ":", true}, {"\t", ":", true}} {
			line := render(p, form.sep, form.colon, form.extra)
			var e event
			if !d.decode([]byte(line), &e) {
				t.Fatalf("order %d: %v: %s", i, d.err, line)
			}
			if !same(e, want) {
				t.Fatalf("order %d decoded differently: %s", i, line)
			}
			if wantUnknown := 0; form.extra {
				wantUnknown = 1
				if len(e.unknown) != wantUnknown || string(e.unknown[0]) != "zip" {
					t.Fatalf("order %d: unknown keys %q", i, e.unknown)
				}
			} else if len(e.unknown) != wantUnknown {
				t.Fatalf("order %d: unknown keys %q", i, e.unknown)
			}
		}
	}
	// A repeated key: the last value wins, whatever the fast path expected.
	dup := strings.Replace(goodLine, `"level":"paid",`, `"level":"paid","level":"free",`, 1)
	var e event
	if !d.decode([]byte(dup), &e) || string(e.str[fLevel]) != "free" {
		t.Fatalf("repeated key: %v, level %q", d.err, e.str[fLevel])
	}
}
