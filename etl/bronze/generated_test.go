package bronze

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/eventsim"
)

// TestGeneratedBadLines checks the decoder line by line against the
// generator's reference classifier on a log with every bad-line class and
// every valid variant, then runs bronze on it: the counts match what the
// generator wrote and every line is accounted for.
func TestGeneratedBadLines(t *testing.T) {
	var buf bytes.Buffer
	gst, err := eventsim.Generate(context.Background(), eventsim.Config{
		Users: 40, Days: 4, Start: time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC), Seed: 7,
		BadLineRate: 0.05, VariantRate: 0.2,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if gst.BadLines == 0 || gst.VariantLines == 0 {
		t.Fatalf("generator wrote no bad or variant lines: %+v", gst)
	}
	var d decoder
	var e event
	byRule := map[string]int64{}
	data := buf.Bytes()
	for n := 1; len(data) > 0; n++ {
		k := bytes.IndexByte(data, '\n')
		line := data[:k]
		data = data[k+1:]
		want := eventsim.Classify(line, 65536)
		got := ""
		if len(line) > 65536 {
			got = RuleLineTooLong
		} else if !d.decode(line, &e) {
			got = d.err.rule
		}
		if got != want {
			t.Errorf("line %d: decoder says %q (%s), reference %q: %.300s", n, got, d.err.msg, want, line)
		}
		if got != "" {
			byRule[got]++
		}
	}
	for _, r := range eventsim.BadClasses {
		if byRule[r] == 0 {
			t.Errorf("no %s line in the generated log", r)
		}
	}

	in := filepath.Join(t.TempDir(), "gen.json")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := run(t, testConfig(t.TempDir(), in))
	if err != nil {
		t.Fatal(err)
	}
	if st.LinesRead != gst.Lines || st.RowsWritten != gst.Events || st.RowsQuarantined != gst.BadLines {
		t.Errorf("bronze %+v, generator %+v", st, gst)
	}
	if st.SchemaDrift["zip"] == 0 {
		t.Errorf("schema drift = %v, want the generator's extra key zip", st.SchemaDrift)
	}
}
