package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.yaml.in/yaml/v3"

	"github.com/churnctl/churnctl/internal/secret"
)

func TestMaskDSN(t *testing.T) {
	t.Setenv("PGPASSWORD", "") // the cross-check with pgx must not see the caller's
	tests := []struct {
		name, in, want string
		pw             string // the password pgx reads ("" if none or unparsable)
	}{
		{"empty", "", "", ""},
		{"kv no password", "host=/tmp user=bob dbname=x", "host=/tmp user=bob dbname=x", ""},
		{"kv plain", "host=/tmp user=bob password=s3cretXYZ dbname=x", "host=/tmp user=bob password=**** dbname=x", "s3cretXYZ"},
		{"kv first", "password=s3cretXYZ host=h", "password=**** host=h", "s3cretXYZ"},
		{"kv last, trailing space", "host=h password=s3cretXYZ  ", "host=h password=****  ", "s3cretXYZ"},
		{"kv quoted with a space", "host=h password='a b c d' dbname=x", "host=h password=**** dbname=x", "a b c d"},
		{"kv escaped space", `host=h password=a\ bcd dbname=x`, "host=h password=**** dbname=x", "a bcd"},
		{"kv quoted escaped quote", `host=h password='it\'s me' dbname=x`, "host=h password=**** dbname=x", "it's me"},
		{"kv spaces around =", "host=h password = pw12345 dbname=x", "host=h password = **** dbname=x", "pw12345"},
		{"kv newline separated", "host=h\npassword=pw12345\ndbname=x", "host=h\npassword=****\ndbname=x", "pw12345"},
		{"kv empty value takes the next token", "password= host=h", "password= ****", "host=h"},
		{"kv sslpassword", "host=h sslpassword=keypass1 user=u", "host=h sslpassword=**** user=u", ""},
		{"kv two passwords", "password=first111 password=second22", "password=**** password=****", "second22"},
		{"kv unterminated quote", "host=h password='abc def", secret.Mask, ""},
		{"kv no =", "host=h s3cretXYZ", secret.Mask, ""},
		{"kv space in key", "host=h pass word=s3cretXYZ", secret.Mask, ""},
		{"not a dsn", "hunter2hunter2", secret.Mask, ""},
		{"url no password", "postgres://bob@db/x", "postgres://bob@db/x", ""},
		{"url password", "postgres://bob:pw9876@db:5432/x?sslmode=disable", "postgres://bob:****@db:5432/x?sslmode=disable", "pw9876"},
		{"postgresql url", "postgresql://u:pw9876@h/db", "postgresql://u:****@h/db", "pw9876"},
		{"url encoded password", "postgres://u:p%40ss%20w@h/db", "postgres://u:****@h/db", "p@ss w"},
		{"url query password", "postgresql://u@h/db?sslmode=disable&password=qpw12345", "postgresql://u@h/db?sslmode=disable&password=****", "qpw12345"},
		{"url query encoded key", "postgres://u@h/db?pass%77ord=qpw12345", "postgres://u@h/db?pass%77ord=****", "qpw12345"},
		{"url query sslpassword", "postgres://u@h/db?sslpassword=keypass1", "postgres://u@h/db?sslpassword=****", ""},
		{"url both", "postgres://u:one11111@h/db?password=two22222", "postgres://u:****@h/db?password=****", "two22222"},
		{"url password with a colon", "postgres://u:a:b:c123@h/db", "postgres://u:****@h/db", "a:b:c123"},
		{"url multi-host", "postgres://u:pw9876@h1:5432,h2:5433/db", "postgres://u:****@h1:5432,h2:5433/db", "pw9876"},
		{"url stranded by a slash", "postgres://u:pa/ss99@h/db", secret.Mask, ""},
		{"url ? in the password", "postgres://u:pa?ss99@h/db", "postgres://u:****@h/db", "pa?ss99"},
		{"url stranded after the host", "postgres://u@h/db?x=pa@ss99", secret.Mask, ""},
		{"url query extra =", "postgres://u@h/db?password=a=b123", secret.Mask, ""},
		{"url query without =", "postgres://u@h/db?password", secret.Mask, ""},
		{"url unix socket host", "postgres:///db?host=/tmp&password=qpw12345", "postgres:///db?host=/tmp&password=****", "qpw12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secret.MaskDSN(tt.in)
			if got != tt.want {
				t.Errorf("MaskDSN(%q) = %q, want %q", tt.in, got, tt.want)
			}
			d := secret.NewDSN(tt.in)
			if d.String() != tt.want {
				t.Errorf("NewDSN(%q).String() = %q, want %q", tt.in, d.String(), tt.want)
			}
			if d.Reveal() != tt.in {
				t.Errorf("Reveal() = %q, want the input", d.Reveal())
			}
			// Differential check against pgx: the password it would send
			// is never in the rendering.
			cfg, err := pgconn.ParseConfig(tt.in)
			if err == nil && cfg.Password != tt.pw {
				t.Errorf("pgx reads password %q from %q, the table says %q", cfg.Password, tt.in, tt.pw)
			}
			if tt.pw != "" && strings.Contains(got, tt.pw) {
				t.Errorf("MaskDSN(%q) = %q still holds the password", tt.in, got)
			}
		})
	}
}

// Every rendering masks; only Reveal gives the value.
func TestRenderingsMask(t *testing.T) {
	const pw = "Plant3d-Rend3r"
	d := secret.NewDSN("host=db user=u password=" + pw + " dbname=x")
	v := secret.NewValue(pw + "-value")
	type exported struct {
		D secret.DSN
		V secret.Value
	}
	type unexported struct {
		d secret.DSN
		v secret.Value
	}
	type pointers struct {
		D *secret.DSN
		V *secret.Value
	}
	var b bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v", "%T"} {
		for _, x := range []any{d, v, &d, &v, exported{d, v}, &exported{d, v}, unexported{d, v}, pointers{&d, &v}, []secret.DSN{d}, map[string]secret.Value{"k": v}} {
			fmt.Fprintf(&b, verb+"|", x)
		}
	}
	fmt.Fprint(&b, d, v, "|")
	fmt.Fprintln(&b, d, v)
	b.WriteString(d.String() + v.String() + d.GoString() + v.GoString())
	for _, x := range []any{d, v, exported{d, v}, map[string]any{"d": d, "v": v}} {
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		y, err := yaml.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(y)
	}
	tb, _ := d.MarshalText()
	b.Write(tb)
	for _, h := range []slog.Handler{slog.NewJSONHandler(&b, nil), slog.NewTextHandler(&b, nil)} {
		l := slog.New(h)
		l.Info("x", "dsn", d, "value", v, "struct", exported{d, v})
		l.With("dsn", d).Info("with")
	}
	err := fmt.Errorf("connect %v: %w", d, errors.New("refused"))
	b.WriteString(err.Error())
	if strings.Contains(b.String(), pw) {
		t.Fatalf("a rendering shows the secret:\n%s", b.String())
	}
	for _, want := range []string{"password=****", "host=db", `"****"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("renderings lack %q:\n%s", want, b.String())
		}
	}
	if d.Reveal() != "host=db user=u password="+pw+" dbname=x" || v.Reveal() != pw+"-value" {
		t.Errorf("Reveal lost the value")
	}
	if !d.HasPassword() || secret.NewDSN("host=db").HasPassword() {
		t.Errorf("HasPassword is wrong")
	}
	var zero secret.DSN
	var zv secret.Value
	if zero.String() != "" || zv.String() != "" || !zero.IsZero() || !zv.IsZero() || zero.Reveal() != "" {
		t.Errorf("zero secrets render %q %q", zero, zv)
	}
}

// Text that others built (a driver quoting the connection string) is
// scrubbed of every registered form of the password.
func TestScrub(t *testing.T) {
	secret.NewDSN(`host=h password='sp ace\'d-1' dbname=x`)
	secret.NewDSN("postgres://u:ur%2Fl-pw-2@h/db")
	secret.NewValue("opaque-key-3")
	secret.NewValue("abc") // too short to scrub
	for _, tt := range []struct{ in, leak string }{
		{`cannot parse host=h password='sp ace\'d-1' dbname=x`, "sp ace"},
		{`server said: sp ace'd-1 is wrong`, "sp ace'd-1"},
		{"dial postgres://u:ur%2Fl-pw-2@h/db: refused", "ur%2Fl-pw-2"},
		{"bad password ur/l-pw-2", "ur/l-pw-2"},
		{"key opaque-key-3 denied", "opaque-key-3"},
	} {
		got := secret.Scrub(tt.in)
		if strings.Contains(got, tt.leak) || !strings.Contains(got, secret.Mask) {
			t.Errorf("Scrub(%q) = %q, want %q masked", tt.in, got, tt.leak)
		}
	}
	// A masked DSN (as a stage receives it) is not a secret: it stays
	// readable.
	masked := secret.NewDSN("dbname=zz7 password=masked-pw-6").String()
	secret.NewDSN(masked)
	if got := secret.Scrub(masked); got != masked || secret.MaskDSN(masked) != masked {
		t.Errorf("a masked DSN is scrubbed to %q, masked again to %q, want it kept", got, secret.MaskDSN(masked))
	}
	if got := secret.Scrub("abc abc"); got != "abc abc" {
		t.Errorf("a 3-byte secret masks ordinary text: %q", got)
	}

	base := fmt.Errorf("open: %w", fs.ErrNotExist)
	err := secret.ScrubError(fmt.Errorf("login with opaque-key-3: %w", base))
	if strings.Contains(err.Error(), "opaque-key-3") || strings.Contains(fmt.Sprintf("%+v", err), "opaque-key-3") {
		t.Errorf("ScrubError kept the secret: %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ScrubError lost the chain: errors.Is(%v, ErrNotExist) = false", err)
	}
	if secret.ScrubError(nil) != nil {
		t.Error("ScrubError(nil) != nil")
	}
	if e := errors.New("clean"); secret.ScrubError(e) != e {
		t.Error("ScrubError rewrapped a clean error")
	}
}

func TestHandlerScrubs(t *testing.T) {
	secret.NewValue("handler-secret-4")
	var b bytes.Buffer
	l := slog.New(secret.Handler(slog.NewJSONHandler(&b, nil)))
	l.With("pre", "x handler-secret-4").Info("msg handler-secret-4",
		"s", "handler-secret-4", "err", errors.New("e handler-secret-4"),
		"list", []string{"handler-secret-4"}, slog.Group("g", "inner", "handler-secret-4"), "n", 3)
	out := b.String()
	if strings.Contains(out, "handler-secret-4") {
		t.Fatalf("the handler let a secret through: %s", out)
	}
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rec["n"] != float64(3) || rec["pre"] != "x ****" {
		t.Errorf("record = %v, want other attributes kept", rec)
	}
}

func TestDecode(t *testing.T) {
	var c struct {
		DSN secret.DSN   `yaml:"dsn" json:"dsn"`
		Key secret.Value `yaml:"key" json:"key"`
	}
	if err := yaml.Unmarshal([]byte("dsn: host=h password='a b c'\nkey: decoded-key-5\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.DSN.Reveal() != "host=h password='a b c'" || c.Key.Reveal() != "decoded-key-5" {
		t.Fatalf("YAML decoded %q %q", c.DSN.Reveal(), c.Key.Reveal())
	}
	if c.DSN.String() != "host=h password=****" {
		t.Errorf("decoded DSN renders %q", c.DSN)
	}
	if err := json.Unmarshal([]byte(`{"dsn":"postgres://u:pw9876@h/db"}`), &c); err != nil || c.DSN.Reveal() != "postgres://u:pw9876@h/db" {
		t.Fatalf("JSON decoded %q, %v", c.DSN.Reveal(), err)
	}
}
