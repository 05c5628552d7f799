// Package secret holds churnctl's credentials: a PostgreSQL connection
// string (DSN) and opaque values (object-store keys, tokens). Every rendering
// of one — String, every fmt verb, %#v, JSON, YAML, encoding.TextMarshaler,
// slog — is masked; only Reveal gives the value, for handing it to a driver
// or an SDK.
//
// A DSN is masked structurally, as pgx parses it: the password of a
// keyword/value string (password=..., quoted or backslash-escaped) and of a
// URL (the userinfo password and ?password= / ?sslpassword= query
// parameters), keeping the rest readable (host, port, dbname, user). A DSN
// that does not parse is masked whole.
//
// Both types hold their value behind a pointer, so even a reflective dump of
// a struct that keeps one in an unexported field (fmt's %+v prints those
// without calling their methods) shows an address, not the value.
//
// Every secret made with NewDSN or NewValue is also registered with the
// process's scrubber: Scrub and ScrubError replace the known values in text
// that did not come from a rendering (an error a driver built by quoting
// what it was given).
package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Mask stands for a hidden value.
const Mask = "****"

// Value is an opaque credential: every rendering is Mask (or "" when empty).
// The zero Value is empty.
type Value struct{ p *string }

// NewValue returns s as a Value and registers it with the scrubber.
func NewValue(s string) Value {
	if s == "" {
		return Value{}
	}
	Register(s)
	return Value{p: &s}
}

// Reveal returns the value, for handing it to an SDK.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.Reveal() == "" }

// String masks the value.
func (v Value) String() string {
	if v.IsZero() {
		return ""
	}
	return Mask
}

// GoString masks the value for %#v.
func (v Value) GoString() string { return fmt.Sprintf("secret.Value(%q)", v.String()) }

// Format masks the value for every verb.
func (v Value) Format(f fmt.State, verb rune) { format(f, verb, v.String(), v.GoString()) }

// MarshalText masks the value (used by encoding/json map keys, YAML, TOML).
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText sets the value (a YAML or JSON string decodes into it).
func (v *Value) UnmarshalText(b []byte) error {
	*v = NewValue(string(b))
	return nil
}

// MarshalJSON masks the value.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// MarshalYAML masks the value.
func (v Value) MarshalYAML() (any, error) { return v.String(), nil }

// LogValue masks the value in slog records.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// DSN is a PostgreSQL connection string (libpq keyword/value or a
// postgres:// URL). Its renderings show it with the password masked. The
// zero DSN is empty.
type DSN struct {
	// Pointers to strings, not to a struct: fmt prints a struct pointer's
	// fields (with a bad verb, %s of an unexported field), a string
	// pointer only as an address.
	raw, masked *string
}

// NewDSN returns s as a DSN and registers its passwords with the scrubber.
func NewDSN(s string) DSN {
	if s == "" {
		return DSN{}
	}
	masked, secrets := maskDSN(s)
	if masked != s {
		// The whole string too: an error may quote it as given.
		Register(s)
	}
	Register(secrets...)
	return DSN{raw: &s, masked: &masked}
}

// Reveal returns the connection string, for handing it to the driver.
func (d DSN) Reveal() string {
	if d.raw == nil {
		return ""
	}
	return *d.raw
}

// IsZero reports whether the DSN is empty.
func (d DSN) IsZero() bool { return d.Reveal() == "" }

// HasPassword reports whether the DSN carries a password (its masked
// rendering differs from it).
func (d DSN) HasPassword() bool { return d.raw != nil && *d.masked != *d.raw }

// String is the DSN with its password masked.
func (d DSN) String() string {
	if d.masked == nil {
		return ""
	}
	return *d.masked
}

// GoString masks the password for %#v.
func (d DSN) GoString() string { return fmt.Sprintf("secret.DSN(%q)", d.String()) }

// Format masks the password for every verb.
func (d DSN) Format(f fmt.State, verb rune) { format(f, verb, d.String(), d.GoString()) }

// MarshalText masks the password.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText sets the DSN (a YAML or JSON string decodes into it).
func (d *DSN) UnmarshalText(b []byte) error {
	*d = NewDSN(string(b))
	return nil
}

// MarshalJSON masks the password.
func (d DSN) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalYAML masks the password.
func (d DSN) MarshalYAML() (any, error) { return d.String(), nil }

// LogValue masks the password in slog records.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// format writes the masked rendering for any verb: %q quotes it, %#v is
// the Go syntax form, every other verb (%s, %v, %x, %d ...) the masked text
// as is (never the value's bytes).
func format(f fmt.State, verb rune, masked, goString string) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", masked)
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(goString))
	default:
		_, _ = f.Write([]byte(masked))
	}
}
