package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Summary is the one-line JSON object every command prints as the last line
// of stdout (Airflow pushes it to XCom). Keys keep the order they were first
// set in; "command" and "status" always come first, "duration_ms" last.
type Summary struct {
	mu     sync.Mutex
	keys   []string
	values map[string]any
}

// Set records key = value (numbers, strings, bools, slices, maps: anything
// encoding/json takes). Setting a key again replaces its value in place.
func (s *Summary) Set(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]any{}
	}
	if _, ok := s.values[key]; !ok {
		s.keys = append(s.keys, key)
	}
	s.values[key] = value
}

// Add adds n to an integer counter key.
func (s *Summary) Add(key string, n int64) {
	s.mu.Lock()
	v, _ := s.values[key].(int64)
	s.mu.Unlock()
	s.Set(key, v+n)
}

// Get returns the value stored under key.
func (s *Summary) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	return v, ok
}

// write prints the summary as one JSON line.
func (s *Summary) write(w io.Writer, command, status string, extra [][2]any, durationMS int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, v any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := marshalJSON(k)
		vb, err := marshalJSON(v)
		if err != nil {
			vb, _ = marshalJSON(fmt.Sprint(v))
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	field("command", command)
	field("status", status)
	for _, k := range s.keys {
		switch k {
		case "command", "status", "duration_ms":
			continue
		}
		field(k, s.values[k])
	}
	for _, kv := range extra {
		field(kv[0].(string), kv[1])
	}
	field("duration_ms", durationMS)
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// marshalJSON is json.Marshal without HTML escaping: what churnctl prints
// is read by people and by JSON parsers, never embedded in HTML, so "a > b"
// stays "a > b" instead of "a \u003e b".
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// marshalJSONIndent is json.MarshalIndent without HTML escaping.
func marshalJSONIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
