package main

import (
	"context"
	"strings"

	"github.com/churnctl/churnctl/internal/config"
	"github.com/churnctl/churnctl/internal/secret"
	"github.com/churnctl/churnctl/sql"
)

// How secrets travel inside churnctl without being written anywhere:
//
//   - Flags, the environment and the config file parse a DSN into a
//     secret.DSN, which renders masked everywhere (logs, run records,
//     --dry-run, config show) and registers its password with the scrubber.
//   - `run` gives each stage its arguments with the DSN masked (so the stage
//     argv, the "stage start" log line, the run record and the fingerprint
//     hold no password) and the real DSN in the context: the stage resolves
//     the masked placeholder in-process (stageDSN).
//   - Every error printed, every log line and every run record passes
//     through the scrubber, for text that others built (a driver's error
//     quoting the connection string).

type stageSecretsKey struct{}

// withStageSecrets returns ctx carrying the real values of the secrets a
// stage receives masked on its command line.
func withStageSecrets(ctx context.Context, dsns ...secret.DSN) context.Context {
	m := map[string]secret.DSN{}
	if prev, ok := ctx.Value(stageSecretsKey{}).(map[string]secret.DSN); ok {
		for k, v := range prev {
			m[k] = v
		}
	}
	for _, d := range dsns {
		if !d.IsZero() {
			m[d.String()] = d
		}
	}
	return context.WithValue(ctx, stageSecretsKey{}, m)
}

// stageDSN resolves a DSN given masked on a stage's command line to the
// real one `run` put in the context; any other DSN is returned as is.
func stageDSN(ctx context.Context, d secret.DSN) secret.DSN {
	if m, ok := ctx.Value(stageSecretsKey{}).(map[string]secret.DSN); ok {
		if real, ok := m[d.Reveal()]; ok {
			return real
		}
	}
	return d
}

// secretFlags are the flags whose value is a secret.
func secretFlags() map[string]bool {
	out := map[string]bool{"dsn": true}
	c := config.Default()
	for _, s := range config.Settings(&c) {
		if s.Secret {
			out[s.Key] = true
			out[s.Flag] = true
		}
	}
	return out
}

// redactArgs masks the secrets in a command line: the value of every
// secret flag (--dsn X, --dsn=X), and anything else that looks like a DSN
// or holds a known secret.
func redactArgs(args []string) []string {
	secrets := secretFlags()
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		s := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(s, "-"), "=")
		isFlag := strings.HasPrefix(s, "--")
		switch {
		case isFlag && secrets[name] && hasVal:
			s = s[:len(s)-len(val)] + secret.MaskDSN(val)
		case isFlag && secrets[name] && i+1 < len(args):
			out[i] = s
			i++
			s = secret.MaskDSN(args[i])
		default:
			s = sql.RedactArg(s)
		}
		out[i] = secret.Scrub(s)
	}
	return out
}

// scrubRecord removes every known secret from the text a run record holds
// (arguments, the error, the config, the stages' summaries).
func scrubRecord(r *runRecord) *runRecord {
	c := *r
	c.Args = scrubStrings(r.Args)
	c.Error = secret.Scrub(r.Error)
	c.Config = secret.Scrub(r.Config)
	c.Counts = scrubMap(r.Counts)
	c.Stages = make([]stageResult, len(r.Stages))
	for i, st := range r.Stages {
		st.Args = scrubStrings(st.Args)
		st.Summary = scrubMap(st.Summary)
		c.Stages[i] = st
	}
	return &c
}

func scrubStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = secret.Scrub(s)
	}
	return out
}

func scrubMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = scrubAny(v)
	}
	return out
}

func scrubAny(v any) any {
	switch x := v.(type) {
	case string:
		return secret.Scrub(x)
	case map[string]any:
		return scrubMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrubAny(e)
		}
		return out
	case []string:
		return scrubStrings(x)
	}
	return v
}

// dropMaskedSecrets removes from a recorded command line the secret flags
// whose value is masked (the password is not recorded), and names them.
func dropMaskedSecrets(args []string) ([]string, []string) {
	secrets := secretFlags()
	var out, dropped []string
	for i := 0; i < len(args); i++ {
		s := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(s, "-"), "=")
		if !strings.HasPrefix(s, "--") || !secrets[name] {
			out = append(out, s)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				out = append(out, s)
				continue
			}
			i++
			val = args[i]
		}
		if secret.IsMasked(val) {
			dropped = append(dropped, name)
			continue
		}
		out = append(out, "--"+name+"="+val)
	}
	return out, dropped
}
