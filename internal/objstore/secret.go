package objstore

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Secret is a credential (access key id, secret key, session token). Every
// rendering of it — String, every fmt verb, JSON, text, slog — is masked;
// only Reveal gives the value. Issue 16 brings one secret type for all of
// churnctl; this one is its stand-in for object-store keys.
type Secret string

const masked = "****"

// Reveal returns the secret's value, for handing it to the SDK.
func (s Secret) Reveal() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return masked
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("objstore.Secret(%q)", s.String()) }

// Format masks the value for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.String()))
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalText masks the value (JSON, YAML and TOML encoders use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// LogValue masks the value in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// scrubber removes known secret values from text (error messages built
// from what a server or a credentials provider said).
type scrubber struct{ values []string }

func (sc *scrubber) add(vs ...string) {
	for _, v := range vs {
		if len(v) >= 4 && !slices.Contains(sc.values, v) { // a short value would mask ordinary words
			sc.values = append(sc.values, v)
		}
	}
}

func (sc *scrubber) scrub(s string) string {
	for _, v := range sc.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, masked)
		}
	}
	return s
}
