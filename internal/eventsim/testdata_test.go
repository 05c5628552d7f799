package eventsim

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestMalformedTestdata checks testdata/malformed against its README: which
// lines are bad, and with which rule id.
func TestMalformedTestdata(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "malformed")
	for _, tt := range []struct {
		file  string
		lines int
		bad   map[int]string // line number -> rule id
	}{
		{"malformed_json.jsonl", 8, map[int]string{2: "malformed_json", 4: "malformed_json", 6: "malformed_json"}},
		{"missing_field.jsonl", 8, map[int]string{2: "missing_field", 5: "missing_field", 7: "missing_field"}},
		{"wrong_type.jsonl", 9, map[int]string{2: "wrong_type", 4: "wrong_type", 6: "wrong_type", 8: "wrong_type"}},
		{"ts_out_of_range.jsonl", 8, map[int]string{3: "ts_out_of_range", 5: "ts_out_of_range", 7: "ts_out_of_range"}},
		{"invalid_utf8.jsonl", 7, map[int]string{3: "invalid_utf8", 6: "invalid_utf8"}},
		{"line_too_long.jsonl", 6, map[int]string{3: "line_too_long"}},
		{"negative_length.jsonl", 7, map[int]string{2: "negative_length", 5: "negative_length"}},
		{"valid_variants.jsonl", 12, nil},
		{"empty_lines.jsonl", 5, nil},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ls := splitLines(b)
			if len(ls) != tt.lines {
				t.Fatalf("%d lines, want %d", len(ls), tt.lines)
			}
			for i, l := range ls {
				if len(l) == 0 {
					continue
				}
				if got, want := Classify(l, 65536), tt.bad[i+1]; got != want {
					t.Errorf("line %d: Classify = %q, want %q", i+1, got, want)
				}
			}
		})
	}
	t.Run("truncated.json.gz", func(t *testing.T) {
		f, err := os.Open(filepath.Join(dir, "truncated.json.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reading the cut gzip: error %v, want unexpected EOF", err)
		}
		if n := bytes.Count(got, []byte("\n")); n != 12 {
			t.Errorf("%d complete lines before the cut, want 12", n)
		}
	})
}
