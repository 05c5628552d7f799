package sql

import (
	"fmt"
	"strings"
)

// ColumnsMarkdown documents the Parquet columns the loader expects per
// table, generated from Tables (sql/LOADING.md embeds it; a test keeps the
// two in step).
func ColumnsMarkdown() string {
	var b strings.Builder
	for _, t := range Tables {
		part := "one snapshot: `" + t.Dir + "/*.parquet` (or the latest `" + t.Dir + "/dt=*/`)"
		if t.Part != "" {
			part = "`" + t.Dir + "/" + t.Part + "=YYYY-MM-DD/*.parquet`, one transaction per partition"
		}
		fmt.Fprintf(&b, "### churn.%s (--tables %s)\n\n%s; key (%s).\n\n", t.Name, t.Group, part, strings.Join(t.Key, ", "))
		b.WriteString("| column | PostgreSQL | required | Parquet types accepted |\n|---|---|---|---|\n")
		for _, c := range t.Columns {
			name := "`" + c.Name + "`"
			for _, a := range c.Aliases {
				name += " or `" + a + "`"
			}
			req := "no (NULL/default when absent)"
			switch {
			case c.Name == t.Part:
				req = "no (from the directory; checked when present)"
			case c.Required:
				req = "yes"
			}
			if c.Name == t.SplitRef[1] {
				req = "yes, or derived from `" + t.SplitRef[0] + "` = \"name@version\""
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, c.Type, req, accepted[c.Type])
		}
		if t.FeatureJSON {
			b.WriteString("| *every other column* | jsonb `features` | at least one | numbers, booleans, strings (NaN/Inf → null) |\n")
		}
		if t.FeatureJSON {
			fmt.Fprintf(&b, "\nNot features, ignored if present: %s.\n", "`"+strings.Join(t.Ignore, "`, `")+"`")
		} else if len(t.Ignore) > 0 {
			fmt.Fprintf(&b, "\nIgnored if present: %s. Any other extra column is an error (exit 3).\n", "`"+strings.Join(t.Ignore, "`, `")+"`")
		} else if !t.FeatureJSON {
			b.WriteString("\nAny extra column is an error (exit 3).\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

var accepted = map[PGType]string{
	Text:        "BYTE_ARRAY (STRING)",
	Int2:        "INT32, INT64, BOOLEAN, integral FLOAT/DOUBLE",
	Int4:        "INT32, INT64, BOOLEAN, integral FLOAT/DOUBLE",
	Int8:        "INT32, INT64, BOOLEAN, integral FLOAT/DOUBLE",
	Float8:      "DOUBLE, FLOAT, INT32, INT64",
	Bool:        "BOOLEAN, INT32/INT64 0 or 1",
	Date:        "INT32 (DATE), INT64 (TIMESTAMP ms/µs/ns, UTC day), STRING YYYY-MM-DD",
	Timestamptz: "INT64 (TIMESTAMP ms/µs/ns, UTC), INT32 (DATE, midnight UTC)",
	JSONB:       "STRING holding JSON",
}
