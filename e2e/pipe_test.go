package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateThroughAPipe: through a real shell pipe, generate --out -
// writes the same bytes whatever GOMAXPROCS, and etl bronze - reading them
// quarantines nothing (the summary went to stderr, not into the stream).
func TestGenerateThroughAPipe(t *testing.T) {
	gen := binary + " generate --users 20 --days 3 --seed 7 --out -"
	var sums []string
	for _, procs := range []string{"1", "2", "4"} {
		cmd := exec.Command("bash", "-o", "pipefail", "-c", gen+" 2>/dev/null | sha256sum")
		cmd.Env = append(cleanEnv(), "GOMAXPROCS="+procs)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v", procs, err)
		}
		sums = append(sums, string(out))
	}
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("generate --out - | sha256sum differs with GOMAXPROCS 1, 2, 4: %q", sums)
	}
	lakeDir := filepath.Join(t.TempDir(), "lake")
	cmd := exec.Command("bash", "-o", "pipefail", "-c", gen+" 2>/dev/null | "+binary+" etl bronze --lake "+lakeDir+" -")
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("generate | etl bronze: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum["rows_quarantined"] != 0.0 || sum["lines_read"] != sum["rows_written"] {
		t.Errorf("etl bronze of generate's stream: %v", sum)
	}
}
