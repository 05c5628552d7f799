package secret

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// MinScrubLen is the shortest value the scrubber replaces: a shorter one
// would mask ordinary words in every message. Shorter secrets are still
// masked wherever they are rendered; only text built by others (a server's
// error quoting them) is not scrubbed of them.
const MinScrubLen = 4

var known struct {
	sync.RWMutex
	values []string // longest first
}

// Register adds values to the process's scrubber (with their URL-escaped
// spellings, as a connection URI holds them).
func Register(values ...string) {
	var add []string
	for _, v := range values {
		add = append(add, v, url.QueryEscape(v), url.PathEscape(v))
	}
	known.Lock()
	defer known.Unlock()
	for _, v := range add {
		if len(v) < MinScrubLen || strings.Trim(v, "*") == "" || contains(known.values, v) {
			continue
		}
		known.values = append(known.values, v)
	}
	sort.SliceStable(known.values, func(i, j int) bool { return len(known.values[i]) > len(known.values[j]) })
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// Scrub replaces every registered secret in s with Mask.
func Scrub(s string) string {
	known.RLock()
	defer known.RUnlock()
	for _, v := range known.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// ScrubError returns err with a scrubbed message; errors.Is and errors.As
// still see the chain. nil stays nil.
func ScrubError(err error) error {
	if err == nil {
		return nil
	}
	msg := Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Format prints the scrubbed message for every verb (a %+v of a wrapped
// error must not reach the cause's own text).
func (e *scrubbed) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.msg)
		return
	}
	_, _ = f.Write([]byte(e.msg))
}

// Handler wraps an slog.Handler so that no registered secret reaches it:
// the message and every attribute (strings, errors, anything printed with
// fmt) are scrubbed. A value implementing slog.LogValuer (DSN, Value) is
// resolved first, so it renders masked.
func Handler(h slog.Handler) slog.Handler { return &handler{h: h} }

type handler struct{ h slog.Handler }

func (s *handler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	sa := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		sa[i] = scrubAttr(a)
	}
	return &handler{h: s.h.WithAttrs(sa)}
}

func (s *handler) WithGroup(name string) slog.Handler { return &handler{h: s.h.WithGroup(name)} }

func scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = scrubAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		x := v.Any()
		if err, ok := x.(error); ok {
			return slog.String(a.Key, Scrub(err.Error()))
		}
		// Anything else: keep it (the handler renders it as JSON or
		// fmt) unless its text holds a secret.
		text := fmt.Sprint(x)
		if s := Scrub(text); s != text {
			return slog.String(a.Key, s)
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// IsMasked reports whether s is the rendering of a secret whose value was
// hidden (it holds Mask where a password was).
func IsMasked(s string) bool { return strings.Contains(s, Mask) }
