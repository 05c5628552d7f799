package table

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/churnctl/churnctl/internal/errkind"
)

// A UserSplit holds a stable share of users out of training so a model can
// be judged on users it never saw, at any cutoff. A user is held out when
// a hash of its id, as a fraction of 2^64, is below Fraction: the
// same users for every snapshot, run and machine.
//
// The hash is the first 8 bytes of SHA-256 (big endian): FNV's high bits are
// too uneven on short sequential ids.
type UserSplit struct {
	Fraction float64 // in [0, 1); 0 turns the split off
	// Keep is "train" (drop held-out users) or "holdout" (keep only them).
	Keep string
}

// HeldOut reports whether id is in the held-out share.
func (s UserSplit) HeldOut(id string) bool {
	sum := sha256.Sum256([]byte(id))
	return float64(binary.BigEndian.Uint64(sum[:8])) < s.Fraction*math.Exp2(64)
}

// Validate checks the split's settings.
func (s UserSplit) Validate() error {
	if s.Fraction < 0 || s.Fraction >= 1 {
		return fmt.Errorf("%w: holdout fraction %v: want a number in [0, 1)", errkind.Usage, s.Fraction)
	}
	if s.Fraction > 0 && s.Keep != "train" && s.Keep != "holdout" {
		return fmt.Errorf("%w: holdout split keep %q: want train or holdout", errkind.Usage, s.Keep)
	}
	return nil
}

// Apply keeps the rows of t on the chosen side of the split, in order.
func (s UserSplit) Apply(t *Table) error {
	if err := s.Validate(); err != nil || s.Fraction == 0 {
		return err
	}
	keepHeldOut := s.Keep == "holdout"
	var keep []int
	for i, id := range t.IDs {
		if s.HeldOut(id) == keepHeldOut {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("%w: no rows left on the %s side of a %.0f%% user holdout", errkind.BadInput, s.Keep, 100*s.Fraction)
	}
	for j, c := range t.Cols {
		t.Cols[j] = pick(c, keep)
	}
	if t.Label != nil {
		t.Label = pick(t.Label, keep)
	}
	t.IDs = pick(t.IDs, keep)
	if t.AsOf != nil {
		t.AsOf = pick(t.AsOf, keep)
	}
	return nil
}

func pick[T any](s []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}
