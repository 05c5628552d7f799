// Command pqdump prints a Parquet file's rows as text, one line per row, its
// columns in schema order, leaving out the named ones: scripts/equiv.sh uses
// it to compare files whose only difference is a lineage column (run_id).
//
//	go run ./scripts/pqdump [-drop run_id,loaded_at] FILE.parquet
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
)

func main() {
	drop := flag.String("drop", "run_id", "comma-separated columns to leave out")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: pqdump [-drop COLS] FILE.parquet")
		os.Exit(2)
	}
	if err := dump(os.Stdout, flag.Arg(0), strings.Split(*drop, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "pqdump:", err)
		os.Exit(1)
	}
}

func dump(w io.Writer, path string, drop []string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var keep []int
	var names []string
	for i, c := range pf.Schema().Columns() {
		name := strings.Join(c, ".")
		if !slices.Contains(drop, name) {
			keep = append(keep, i)
			names = append(names, name)
		}
	}
	fmt.Fprintln(w, strings.Join(names, "\t"))
	r := parquet.NewReader(pf)
	defer r.Close()
	rows := make([]parquet.Row, 256)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			cols := make([][]string, len(pf.Schema().Columns()))
			for _, v := range row {
				s := "NULL"
				if !v.IsNull() {
					s = v.String()
				}
				cols[v.Column()] = append(cols[v.Column()], s)
			}
			out := make([]string, len(keep))
			for j, i := range keep {
				out[j] = strings.Join(cols[i], ",")
			}
			fmt.Fprintln(w, strings.Join(out, "\t"))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}
