package secret

import (
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// MaskDSN returns s with every password masked, parsed as pgx parses a
// connection string: a postgres:// or postgresql:// URL (the userinfo
// password, ?password= and ?sslpassword=) or libpq keyword/value pairs
// (password= and sslpassword=, quoted 'a b' or escaped a\ b). A string that
// does not parse, or whose password pgx would find elsewhere than where
// this parser did, is masked whole.
func MaskDSN(s string) string {
	m, _ := maskDSN(s)
	return m
}

// passwordKeys are the connection parameters that hold a secret.
func isPasswordKey(k string) bool { return k == "password" || k == "sslpassword" }

// maskDSN returns the masked string and the secret values it hid (decoded
// as pgx reads them, and as written), for the scrubber.
func maskDSN(s string) (string, []string) {
	if strings.TrimSpace(s) == "" {
		return s, nil
	}
	var (
		masked  string
		secrets []string
		ok      bool
	)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		masked, secrets, ok = maskURL(s)
	} else {
		masked, secrets, ok = maskKeywordValue(s)
	}
	if !ok {
		return Mask, append(secrets, s)
	}
	// Cross-check with pgx itself: the password it would send must not be
	// in what we show. (It may come from PGPASSWORD or a passfile too: a
	// coincidence with visible text masks the whole string, which is safe.)
	// A DSN already masked (a stage's argv) has the password Mask: nothing
	// to check, nothing to register.
	if cfg, err := pgconn.ParseConfig(s); err == nil && cfg.Password != "" && cfg.Password != Mask {
		secrets = append(secrets, cfg.Password)
		if strings.Contains(masked, cfg.Password) {
			return Mask, append(secrets, s)
		}
	}
	return masked, secrets
}

// maskURL masks a connection URI with pgx's (libpq's) rules: the userinfo
// ends at the first '@' before any '/', its password after the first ':';
// query pairs are '&'-separated key=value, keys percent-decoded.
func maskURL(s string) (string, []string, bool) {
	prefix := "postgres://"
	if strings.HasPrefix(s, "postgresql://") {
		prefix = "postgresql://"
	}
	p := s[len(prefix):]
	var b strings.Builder
	b.WriteString(prefix)
	var secrets []string
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		user, pw, hasPW := strings.Cut(p[:i], ":")
		b.WriteString(user)
		if hasPW && pw != "" {
			b.WriteString(":" + Mask)
			secrets = append(secrets, pw, uriDecode(pw))
		} else if hasPW {
			b.WriteString(":")
		}
		b.WriteByte('@')
		p = p[i+1:]
	}
	// An '@' after the userinfo means a password with an unencoded '/' left
	// part of it stranded in the path or query (postgres://u:pa/ss@h/db):
	// no boundary can be trusted.
	if strings.IndexByte(p, '@') >= 0 {
		return "", secrets, false
	}
	q := strings.IndexByte(p, '?')
	if q < 0 {
		b.WriteString(p)
		return b.String(), secrets, true
	}
	b.WriteString(p[:q+1])
	pairs := strings.Split(p[q+1:], "&")
	for i, pair := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, found := strings.Cut(pair, "=")
		if pair == "" && i == len(pairs)-1 {
			continue // a trailing '&'
		}
		if !found || strings.IndexByte(v, '=') >= 0 {
			// pgx refuses it; a password with an unencoded '=' lands here.
			return "", append(secrets, v), false
		}
		b.WriteString(k + "=")
		if isPasswordKey(strings.TrimSpace(uriDecode(k))) && v != "" {
			b.WriteString(Mask)
			secrets = append(secrets, v, uriDecode(v))
			continue
		}
		b.WriteString(v)
	}
	return b.String(), secrets, true
}

func uriDecode(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// kvSpace is libpq's whitespace in keyword/value strings.
const kvSpace = " \t\n\r\v\f"

func isKVSpace(c byte) bool { return strings.IndexByte(kvSpace, c) >= 0 }

// maskKeywordValue masks libpq keyword/value pairs, tokenised exactly as
// pgconn's parseKeywordValueSettings does, replacing each password value
// (with its quotes) by Mask and keeping every other byte as written.
func maskKeywordValue(s string) (string, []string, bool) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", nil, false
	}
	var b strings.Builder
	var secrets []string
	i := 0
	skip := func() {
		for i < len(s) && isKVSpace(s[i]) {
			i++
		}
	}
	skip()
	b.WriteString(s[:i])
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return "", secrets, false
		}
		key := strings.Trim(s[i:i+eq], kvSpace)
		if key == "" || strings.ContainsAny(key, kvSpace) {
			return "", secrets, false
		}
		b.WriteString(s[i : i+eq+1])
		i += eq + 1
		start := i
		skip()
		b.WriteString(s[start:i])
		vStart := i
		var inner string // the value as written, without quotes
		switch {
		case i == len(s):
		case s[i] != '\'':
			for i < len(s) && !isKVSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i > len(s) {
				i = len(s)
			}
			inner = s[vStart:i]
		default:
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return "", append(secrets, s[vStart:]), false // unterminated quote
			}
			inner = s[vStart+1 : i]
			i++ // the closing quote
		}
		if isPasswordKey(key) && i > vStart {
			b.WriteString(Mask)
			secrets = append(secrets, s[vStart:i], inner, unescapeKV(inner))
		} else {
			b.WriteString(s[vStart:i])
		}
		start = i
		skip()
		b.WriteString(s[start:i])
	}
	return b.String(), secrets, true
}

// unescapeKV drops libpq's backslash escapes.
func unescapeKV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
