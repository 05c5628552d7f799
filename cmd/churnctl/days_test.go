package main

import (
	"context"
	"strings"
	"testing"
)

// TestDayFlagsOneMessage: every command that selects days parses --ds,
// --from and --to alike (day.ParseWindow): the same bad value exits 2 with
// the same message everywhere.
func TestDayFlagsOneMessage(t *testing.T) {
	l := t.TempDir()
	commands := map[string][]string{
		"run":        {"run", "--lake", l, "--inputs", "x.json"},
		"etl":        {"etl", "--lake", l},
		"etl bronze": {"etl", "bronze", "--lake", l, "x.json"},
		"etl silver": {"etl", "silver", "--lake", l},
		"etl gold":   {"etl", "gold", "--lake", l},
		"load":       {"load", "--lake", l},
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--ds", "2018-13-01"}, `--ds "2018-13-01": want YYYY-MM-DD`},
		{[]string{"--from", "01/10/2018"}, `--from "01/10/2018": want YYYY-MM-DD`},
		{[]string{"--to", "x"}, `--to "x": want YYYY-MM-DD`},
		{[]string{"--ds", "2018-10-05", "--from", "2018-10-01"}, "--ds and --from/--to exclude each other"},
		{[]string{"--from", "2018-10-05", "--to", "2018-10-04"}, "--to 2018-10-04 is before --from 2018-10-05"},
	} {
		for name, base := range commands {
			code, _, stderr := runIn(t, context.Background(), strings.NewReader(""), append(append([]string{}, base...), tt.args...)...)
			if code != 2 || !strings.Contains(stderr, "usage: "+tt.want+"\n") {
				t.Errorf("%s %v: exit %d, want 2 and %q:\n%s", name, tt.args, code, tt.want, stderr)
			}
		}
	}
	// features' cutoff range and one-day flags use the same parser.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "--lake", l, "--every", "7d", "--from", "2018-10-05", "--to", "2018-10-04"}, "--to 2018-10-04 is before --from 2018-10-05"},
		{[]string{"features", "--lake", l, "--as-of", "2018-10-32"}, `--as-of "2018-10-32": want YYYY-MM-DD`},
		{[]string{"score", "--lake", l, "--registry", l, "--features", l, "--as-of", "2018/10/01"}, `--as-of "2018/10/01": want YYYY-MM-DD`},
		{[]string{"etl", "bronze", "--lake", l, "--ingest-date", "today", "x.json"}, `--ingest-date "today": want YYYY-MM-DD`},
	} {
		code, _, stderr := runIn(t, context.Background(), strings.NewReader(""), tt.args...)
		if code != 2 || !strings.Contains(stderr, "usage: "+tt.want+"\n") {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, stderr)
		}
	}
}
