// Command gensynth writes the deterministic synthetic churn feature table used
// by scripts/bench_train.sh: gensynth [-rows 32000] [-features 31] [-seed 1] > table.csv
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/churnctl/churnctl/train/synth"
)

func main() {
	rows := flag.Int("rows", 32000, "rows (users)")
	feats := flag.Int("features", 31, "feature columns (>= 12)")
	seed := flag.Uint64("seed", 1, "generator seed")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	if err := synth.Generate(*rows, *feats, *seed).WriteCSV(w); err != nil {
		fmt.Fprintln(os.Stderr, "gensynth:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gensynth:", err)
		os.Exit(1)
	}
}
