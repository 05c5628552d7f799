// predcsv prints a churnctl predictions Parquet file as CSV: user_id,as_of,p_churn,predicted.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/parquet-go/parquet-go"
)

type pred struct {
	UserID    string  `parquet:"user_id"`
	AsOf      int32   `parquet:"as_of"`
	PChurn    float64 `parquet:"p_churn"`
	Predicted bool    `parquet:"predicted"`
}

func main() {
	rows, err := parquet.ReadFile[pred](os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("user_id,as_of,p_churn,predicted")
	for _, r := range rows {
		d := time.Unix(int64(r.AsOf)*86400, 0).UTC().Format(time.DateOnly)
		p := 0
		if r.Predicted {
			p = 1
		}
		fmt.Printf("%s,%s,%.17g,%d\n", r.UserID, d, r.PChurn, p)
	}
}
