package quality

import (
	"errors"
	"slices"
	"testing"

	"github.com/churnctl/churnctl/internal/exitcode"
)

func TestReport(t *testing.T) {
	var r Report
	r.Check("b.warn", Warn, 0, "")
	r.Check("a.err", Error, 0, "")
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v with no failures", err)
	}
	r.Check("b.warn", Warn, 2, "two rows")
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v with only a warning", err)
	}
	r.Check("a.err", Error, 1, "one row")
	r.Check("a.err", Error, 3, "more")
	err := r.Err()
	if !errors.Is(err, exitcode.ErrBadInput) {
		t.Fatalf("Err() = %v, want ErrBadInput", err)
	}
	if got := r.Failed(Error); !slices.Equal(got, []string{"a.err"}) {
		t.Errorf("Failed(Error) = %v", got)
	}
	if got := r.Failed(Warn); !slices.Equal(got, []string{"b.warn"}) {
		t.Errorf("Failed(Warn) = %v", got)
	}
	if got := r.Results()[0]; got.Failures != 4 || got.Detail != "one row" {
		t.Errorf("a.err = %+v, want 4 failures, first detail", got)
	}
}
