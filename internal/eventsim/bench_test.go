package eventsim

import (
	"context"
	"io"
	"testing"
	"time"
)

var benchStart = time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkGenerate reports MB/s of JSON written to io.Discard.
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name  string
		users int
	}{{"users=1000", 1000}, {"users=4000", 4000}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{Users: bc.users, Days: 60, Start: benchStart, Seed: 1}
			st, err := Generate(context.Background(), cfg, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Bytes)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Generate(context.Background(), cfg, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
