// Package quality records data-quality checks in the spirit of dbt tests:
// each check has a stable dotted name (layer.table.test[.column]), a
// severity and a failure count. Failed error checks make the run fail with
// errkind.BadInput (exit 3) before anything is published; failed warn
// checks are logged and listed in the summary.
package quality

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Severity of a check.
type Severity string

// Severities.
const (
	Error Severity = "error"
	Warn  Severity = "warn"
)

// Result is one check's outcome. Failures is the number of offending rows
// (or 1 for table-level checks); 0 means passed.
type Result struct {
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Failures int64    `json:"failures"`
	Detail   string   `json:"detail,omitempty"`
}

// Report collects results; the same name reported twice adds up. Safe for
// concurrent use.
type Report struct {
	mu      sync.Mutex
	results []Result
}

// Check records the outcome of check name. detail describes a failure.
func (r *Report) Check(name string, sev Severity, failures int64, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.results {
		if r.results[i].Name == name {
			r.results[i].Failures += failures
			if failures > 0 && r.results[i].Detail == "" {
				r.results[i].Detail = detail
			}
			return
		}
	}
	if failures == 0 {
		detail = ""
	}
	r.results = append(r.results, Result{Name: name, Severity: sev, Failures: failures, Detail: detail})
}

// Results returns the results sorted by name.
func (r *Report) Results() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.results)
	slices.SortFunc(out, func(a, b Result) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Failed returns the names of failed checks of severity sev, sorted.
func (r *Report) Failed(sev Severity) []string {
	var out []string
	for _, res := range r.Results() {
		if res.Failures > 0 && res.Severity == sev {
			out = append(out, res.Name)
		}
	}
	return out
}

// Log writes one line per failed check (error checks at error level, warn
// checks at warn level).
func (r *Report) Log(log *slog.Logger) {
	for _, res := range r.Results() {
		if res.Failures == 0 {
			continue
		}
		lvl := slog.LevelWarn
		if res.Severity == Error {
			lvl = slog.LevelError
		}
		log.Log(nil, lvl, "quality check failed", "check", res.Name, "severity", string(res.Severity), "failures", res.Failures, "detail", res.Detail)
	}
}

// Err is nil unless an error-severity check failed; then it wraps
// errkind.BadInput and names the checks.
func (r *Report) Err() error {
	failed := r.Failed(Error)
	if len(failed) == 0 {
		return nil
	}
	var parts []string
	for _, res := range r.Results() {
		if res.Failures > 0 && res.Severity == Error {
			parts = append(parts, fmt.Sprintf("%s (%d: %s)", res.Name, res.Failures, res.Detail))
		}
	}
	return fmt.Errorf("%w: quality checks failed: %s", errkind.BadInput, strings.Join(parts, "; "))
}

// Names of all checks run, sorted.
func (r *Report) Names() []string {
	var out []string
	for _, res := range r.Results() {
		out = append(out, res.Name)
	}
	return out
}

// Merge adds o's results to r (as Check would).
func (r *Report) Merge(o *Report) {
	if o == nil {
		return
	}
	for _, res := range o.Results() {
		r.Check(res.Name, res.Severity, res.Failures, res.Detail)
	}
}
