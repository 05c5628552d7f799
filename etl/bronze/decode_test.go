package bronze

import (
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
		{"negative length", strings.Replace(goodLine, `"length":null`, `"length":-218.48`, 1), RuleNegativeLength},
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

func TestSpecial(t *testing.T) {
	for _, s := range []string{"", "abc", "abcdefgh\"", "0123456789abcdef\\", "é\x01", strings.Repeat("x", 17) + `"`, "\x7f\x80\xff\"", " !#"} {
		want := len(s)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		if got := special([]byte(s), 0); got != want {
			t.Errorf("special(%q) = %d, want %d", s, got, want)
		}
	}
}

// FuzzDecode checks that the decoder never panics and that what it accepts
// satisfies the rules it claims to enforce.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goodLine))
	f.Add([]byte(`{"ts":1538352820116,"userId":1,"sessionId":1,"page":"a","auth":"b","method":"c","status":1,"level":"d","itemInSession":0,"zip":[{}]}`))
	f.Add([]byte(`{"ts":1.5e12}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var d decoder
		var e event
		if !d.decode(line, &e) {
			if d.err.rule == "" {
				t.Fatalf("rejected without a rule: %q", line)
			}
			return
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
			if e.has(f) && !utf8.Valid(e.str[f]) {
				t.Fatalf("accepted invalid UTF-8 in %s: %q", jsonKeys[f], line)
			}
		}
	})
}
