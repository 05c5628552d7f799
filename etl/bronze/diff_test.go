package bronze

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/churnctl/churnctl/internal/eventsim"
	"github.com/churnctl/churnctl/internal/lake"
)

// String forms respace writes.
const (
	asUTF8      = iota // UTF-8 as is, only '"', '\\' and controls escaped (Go's json.Marshal without HTML escaping)
	asASCII            // Python's json.dumps default (ensure_ascii): every non-ASCII rune as \uXXXX
	asEscapeAll        // each rune escaped or not at random, \/ and upper-case hex included
)

// serialiser says how reserialise writes a line's tokens again.
type serialiser struct {
	ws  func(b *bytes.Buffer)         // before and after every token (may write nothing)
	sep func(b *bytes.Buffer, c byte) // ':' after a key, ',' between elements
	str func(b *bytes.Buffer, s string)
	num func(b *bytes.Buffer, n json.Number)
}

// reserialise writes one JSON line again token by token (tokens from
// encoding/json's Decoder) the way s says. ok is false for a line that is
// not one JSON value, or not UTF-8 (the tokens would not keep its bytes).
func reserialise(line []byte, s serialiser) (out []byte, ok bool) {
	if !utf8.Valid(line) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var b bytes.Buffer
	type frame struct {
		obj bool
		n   int // keys and values (objects) or elements (arrays) so far
	}
	var stack []frame
	s.ws(&b)
	values := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			s.ws(&b)
			b.WriteByte(byte(d))
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.obj && top.n%2 == 1:
				s.sep(&b, ':')
			case top.n > 0:
				s.sep(&b, ',')
			}
			top.n++
		} else if values++; values > 1 {
			return nil, false
		}
		s.ws(&b)
		switch v := tok.(type) {
		case json.Delim:
			b.WriteByte(byte(v))
			stack = append(stack, frame{obj: v == '{'})
		case string:
			s.str(&b, v)
		case json.Number:
			s.num(&b, v)
		case bool:
			fmt.Fprint(&b, v)
		case nil:
			b.WriteString("null")
		}
	}
	s.ws(&b)
	return b.Bytes(), true
}

// respace re-serialises one JSON line with random insignificant whitespace
// (space, tab, CR: a line holds no LF) before and after every token, and
// strings in the given form. Numbers keep their text.
func respace(line []byte, r *rand.Rand, form int) (out []byte, ok bool) {
	ws := func(b *bytes.Buffer) {
		for range r.IntN(4) {
			b.WriteByte(" \t\r"[r.IntN(3)])
		}
	}
	return reserialise(line, serialiser{
		ws:  ws,
		sep: func(b *bytes.Buffer, c byte) { ws(b); b.WriteByte(c) },
		str: func(b *bytes.Buffer, s string) { writeJSONString(b, s, r, form) },
		num: func(b *bytes.Buffer, n json.Number) { b.WriteString(string(n)) },
	})
}

// writeJSONString writes s as a JSON string in the given form.
func writeJSONString(b *bytes.Buffer, s string, r *rand.Rand, form int) {
	b.WriteByte('"')
	for _, c := range s {
		escape := c < 0x20 || c == '"' || c == '\\'
		switch form {
		case asASCII:
			escape = escape || c >= 0x80
		case asEscapeAll:
			escape = escape || r.IntN(3) == 0
		}
		if !escape {
			b.WriteRune(c)
			continue
		}
		short := map[rune]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}
		if form == asEscapeAll && c == '/' {
			short['/'] = `\/`
		}
		if e, ok := short[c]; ok && (form != asEscapeAll || r.IntN(2) == 0) {
			b.WriteString(e)
			continue
		}
		hex := "\\u%04x"
		if form == asEscapeAll && r.IntN(2) == 0 {
			hex = "\\u%04X"
		}
		if c > 0xffff {
			r1, r2 := utf16.EncodeRune(c)
			fmt.Fprintf(b, hex+hex, r1, r2)
		} else {
			fmt.Fprintf(b, hex, c)
		}
	}
	b.WriteByte('"')
}

// generatedLines is an eventsim log with every valid variant and every
// bad-line class, as lines.
func generatedLines(t testing.TB, seed uint64, users, days int) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := eventsim.Generate(context.Background(), eventsim.Config{
		Users: users, Days: days, Start: time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC), Seed: seed,
		BadLineRate: 0.03, VariantRate: 0.25, LongLineBytes: 2000,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
}

// decodeRow decodes line with d: the row, or the rule that rejected it.
func decodeRow(d *decoder, line []byte) (row, string) {
	var e event
	if !d.decode(line, &e) {
		return row{}, d.err.rule
	}
	return fromEvent(&e), ""
}

// TestDecodeWhitespaceDifferential re-serialises generated lines (every
// variant and bad-line class of eventsim) with random whitespace between
// all tokens and strings in three escape forms, and decodes each with one
// bronze decoder (whose fast path learns the key order of the previous
// line) and with the encoding/json reference: the spaced line must give
// the compact line's row (or rule), and the reference's, field by field.
func TestDecodeWhitespaceDifferential(t *testing.T) {
	lines := generatedLines(t, 11, 40, 3)
	r := rand.New(rand.NewPCG(5, 6))
	var compact, spaced decoder
	checked := map[string]int{}
	for n, line := range lines {
		if len(line) > 65536 {
			continue
		}
		want, wantRule := decodeRow(&compact, line)
		if ref, refRule := refDecode(line); refRule != wantRule || (wantRule == "" && ref.diff(want) != "") {
			t.Fatalf("line %d compact: bronze %q %v, reference %q %v (%s)\n%s", n+1, wantRule, want, refRule, ref, ref.diff(want), line)
		}
		for form := range 3 {
			sp, ok := respace(line, r, form)
			if !ok {
				continue // not one JSON value: nothing to re-serialise
			}
			got, rule := decodeRow(&spaced, sp)
			if rule != wantRule {
				t.Fatalf("line %d form %d: spaced line gives %q (%s), compact %q\ncompact: %s\nspaced:  %q", n+1, form, rule, spaced.err.msg, wantRule, line, sp)
			}
			if rule == "" {
				if d := got.diff(want); d != "" {
					t.Fatalf("line %d form %d: spaced line differs in %s\ncompact: %s\nspaced:  %q", n+1, form, d, line, sp)
				}
			}
			if ref, refRule := refDecode(sp); refRule != rule || (rule == "" && ref.diff(got) != "") {
				t.Fatalf("line %d form %d: bronze %q, reference %q (%s)\n%q", n+1, form, rule, refRule, ref.diff(got), sp)
			}
			checked[wantRule]++
		}
	}
	if checked[""] < 1000 {
		t.Errorf("only %d valid spaced lines checked", checked[""])
	}
	for _, rule := range []string{RuleMissingField, RuleWrongType, RuleTSOutOfRange, RuleNegativeLength} {
		if checked[rule] == 0 {
			t.Errorf("no spaced %s line checked (checked %v)", rule, checked)
		}
	}
}

// TestRunPythonStyleEqualsCompact is the reproduction: a generated
// log re-serialised as Python's json.dumps writes it (", " and ": ",
// non-ASCII as \uXXXX) must ingest to the same bronze rows, and the same
// quarantine rules, as the compact log.
func TestRunPythonStyleEqualsCompact(t *testing.T) {
	lines := generatedLines(t, 3, 60, 2)
	var compact, python bytes.Buffer
	for _, l := range lines {
		if len(l) > 65536 || !json.Valid(l) || !utf8.Valid(l) {
			continue // json.loads would fail on it
		}
		compact.Write(l)
		compact.WriteByte('\n')
		python.Write(pythonDumps(t, l))
		python.WriteByte('\n')
	}
	if !bytes.Contains(python.Bytes(), []byte(`", "userId": "`)) || !bytes.Contains(python.Bytes(), []byte(`\u00`)) {
		t.Fatalf("the re-serialised log does not look like json.dumps output:\n%.400s", python.Bytes())
	}
	dir := t.TempDir()
	var stats [2]Stats
	var cols [2]map[string][]string
	for i, data := range [][]byte{compact.Bytes(), python.Bytes()} {
		in := filepath.Join(dir, fmt.Sprintf("in%d.json", i))
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		st, err := run(t, testConfig(root, in))
		if err != nil {
			t.Fatal(err)
		}
		stats[i] = st
		cols[i] = map[string][]string{}
		for _, f := range EventsSchema.Fields() {
			if f.Name != "source_file" && f.Name != "ingest_run_id" {
				cols[i][f.Name] = readColumn(t, root, lake.BronzeEvents, f.Name)
			}
		}
		cols[i]["quarantine rule"] = readColumn(t, root, lake.BronzeQuarantine, "rule")
		cols[i]["quarantine line"] = readColumn(t, root, lake.BronzeQuarantine, "line_number")
	}
	if stats[0].RowsWritten < 1000 || stats[0].RowsQuarantined == 0 {
		t.Fatalf("compact log: %+v, want rows and some quarantined lines", stats[0])
	}
	if a, b := stats[0], stats[1]; a.LinesRead != b.LinesRead || a.RowsWritten != b.RowsWritten || !maps.Equal(a.ByRule, b.ByRule) {
		t.Errorf("python-style log: lines %d, rows %d, quarantined %v; compact: lines %d, rows %d, quarantined %v",
			b.LinesRead, b.RowsWritten, b.ByRule, a.LinesRead, a.RowsWritten, a.ByRule)
	}
	for name, want := range cols[0] {
		if got := cols[1][name]; !slices.Equal(got, want) {
			t.Errorf("column %s: python-style log gives %d values, compact %d (or they differ)", name, len(got), len(want))
		}
	}
}

// pythonDumps writes line as json.dumps(json.loads(line)) does with its
// defaults: separators ", " and ": ", ensure_ascii, integers as written and
// floats by repr.
func pythonDumps(t *testing.T, line []byte) []byte {
	t.Helper()
	out, ok := reserialise(line, serialiser{
		ws:  func(*bytes.Buffer) {},
		sep: func(b *bytes.Buffer, c byte) { b.WriteByte(c); b.WriteByte(' ') },
		str: func(b *bytes.Buffer, s string) { writeJSONString(b, s, nil, asASCII) },
		num: func(b *bytes.Buffer, n json.Number) {
			s := string(n)
			if strings.ContainsAny(s, ".eE") {
				f, _ := n.Float64()
				s = pythonRepr(f)
			}
			b.WriteString(s)
		},
	})
	if !ok {
		t.Fatalf("not one JSON value: %s", line)
	}
	return out
}

// pythonRepr is Python's repr of a float: the shortest digits that read
// back as f; positional with at least one decimal for decimal exponents
// -4 to 15, else exponent form (1e-05, 1.5e+16: the same as Go's).
func pythonRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if f == 0 || (exp >= -4 && exp < 16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return e
}

// TestRespace checks the test's re-serialiser: the output is valid JSON
// equal to the input, and has whitespace in it.
func TestRespace(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	in := []byte(`{"a":[1,{"b":null,"c":"Zoë 🎵 \"q\" \\ /"}],"d":true,"e":-1.5e3}`)
	var want any
	json.Unmarshal(in, &want)
	spaces := 0
	for form := range 3 {
		for range 20 {
			out, ok := respace(in, r, form)
			var got any
			if !ok || json.Unmarshal(out, &got) != nil || fmt.Sprint(got) != fmt.Sprint(want) || !utf8.Valid(out) {
				t.Fatalf("respace(%s, form %d) = %q", in, form, out)
			}
			if form == asASCII && bytes.ContainsFunc(out, func(r rune) bool { return r >= 0x80 }) {
				t.Fatalf("ASCII form has non-ASCII: %q", out)
			}
			spaces += bytes.Count(out, []byte(" ")) + bytes.Count(out, []byte("\t"))
		}
	}
	if spaces == 0 {
		t.Error("respace wrote no whitespace")
	}
	if _, ok := respace([]byte(`{"a":1}{"b":2}`), r, 0); ok {
		t.Error("respace took two values")
	}
}

// TestDecodeWhitespaceForms decodes one event in the forms real producers
// write (json.dumps' ", " and ": " with \uXXXX for non-ASCII, tabs, CRs,
// space around every token) on a fresh decoder and on one whose fast key
// path has learned the compact line's key order: each gives the compact
// line's row.
func TestDecodeWhitespaceForms(t *testing.T) {
	compact := strings.Replace(goodLine, `"Boyd"`, `"Björk 🎵"`, 1)
	forms := map[string]string{
		"json.dumps": strings.Replace(strings.ReplaceAll(strings.ReplaceAll(compact, `,"`, `, "`), `":`, `": `),
			`Björk 🎵`, `Bj\u00f6rk \ud83c\udfb5`, 1),
		"tabs":                     strings.ReplaceAll(compact, `,"`, ",\t\""),
		"space everywhere":         " { " + strings.NewReplacer(`,"`, ` , "`, `":`, `" : `).Replace(compact[1:len(compact)-1]) + " } ",
		"CR and tab before values": strings.ReplaceAll(compact, `":`, "\":\r\t"),
		"leading and trailing":     "\t \r" + compact + " \t",
	}
	var warm decoder
	want, rule := decodeRow(&warm, []byte(compact))
	if rule != "" {
		t.Fatalf("compact line: %s", rule)
	}
	for name, line := range forms {
		if line == compact {
			t.Fatalf("%s: no whitespace added", name)
		}
		for _, d := range []*decoder{{}, &warm} {
			got, rule := decodeRow(d, []byte(line))
			if rule != "" {
				t.Errorf("%s: %s (%s): %q", name, rule, d.err.msg, line)
			} else if diff := got.diff(want); diff != "" {
				t.Errorf("%s: differs from the compact line in %s: %q", name, diff, line)
			}
		}
	}
}
