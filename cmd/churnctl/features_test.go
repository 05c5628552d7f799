package main

import (
	"fmt"
	"testing"
)

func TestFeaturesFlags(t *testing.T) {
	lake := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"no lake", []string{"features", "--as-of", "2018-11-01"}, 2},
		{"no cutoff", []string{"features", "--lake", lake}, 2},
		{"bad date", []string{"features", "--lake", lake, "--as-of", "2018-13-01"}, 2},
		{"bad horizon", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--horizon", "soon"}, 2},
		{"zero window", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--window", "0d"}, 2},
		{"as-of with every", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--every", "7d", "--from", "2018-11-01", "--to", "2018-11-20"}, 2},
		{"every without to", []string{"features", "--lake", lake, "--every", "7d", "--from", "2018-11-01"}, 2},
		{"bad format", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--format", "xlsx"}, 2},
		{"two cutoffs, one out", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--as-of", "2018-11-08", "--out", lake + "/f.csv"}, 2},
		{"two cutoffs, one dir", []string{"features", "--lake", lake, "--as-of", "2018-11-01", "--as-of", "2018-11-08", "--out", lake + "/f-{as_of}.csv"}, 2},
		{"lake without gold", []string{"features", "--lake", lake, "--as-of", "2018-11-01"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr)
			}
			if m := lastLine(t, stdout); m["command"] != "features" {
				t.Errorf("summary %v: command is not features", m)
			}
		})
	}
}

func TestParseDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"30d", 30, true}, {"4w", 28, true}, {"7", 7, true}, {"0d", 0, false}, {"-3d", 0, false}, {"1h", 0, false}, {"", 0, false}} {
		got, err := parseDays("horizon", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDays(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestFeaturesCutoffs(t *testing.T) {
	for _, tc := range []struct {
		o    featuresOptions
		want string
	}{
		{featuresOptions{asOf: []string{"2018-11-01", "2018-10-01"}}, "[2018-11-01 2018-10-01]"},
		{featuresOptions{every: "7d", from: "2018-10-01", to: "2018-10-22"}, "[2018-10-01 2018-10-08 2018-10-15 2018-10-22]"},
		{featuresOptions{every: "1w", from: "2018-10-01", to: "2018-10-21"}, "[2018-10-01 2018-10-08 2018-10-15]"},
		{featuresOptions{every: "30d", from: "2018-10-01", to: "2018-10-01"}, "[2018-10-01]"},
	} {
		got, err := tc.o.cutoffs()
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("cutoffs(%+v) = %v, %v; want %s", tc.o, got, err, tc.want)
		}
	}
	if _, err := (&featuresOptions{every: "7d", from: "2018-10-22", to: "2018-10-01"}).cutoffs(); err == nil {
		t.Error("--to before --from: no error")
	}
}
