package objstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnctl/churnctl/internal/exitcode"
	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/objstore"
	"github.com/churnctl/churnctl/internal/secret"
)

// roundTrip writes and reads an object through c.
func roundTrip(t *testing.T, c *objstore.Client, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	u := objstore.URL{Bucket: bucket, Key: key}
	if _, err := c.PutBytes(ctx, u, []byte(key), objstore.PutOptions{}); err != nil {
		t.Fatalf("put through %v: %v", c, err)
	}
	if info, err := c.Stat(ctx, u); err != nil || info.Size != int64(len(key)) {
		t.Fatalf("stat through %v: %+v, %v", c, info, err)
	}
}

// The AWS environment alone, as a pod or an Airflow worker has it: keys,
// region and AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) in the environment, a
// zero Config.
func TestIntegrationCredentialsFromEnvironment(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	env.Setenv(t)
	c := newClient(t, objstore.Config{})
	if c.Endpoint() != env.Endpoint || c.Region() != miniotest.Region {
		t.Fatalf("client %v: endpoint %q region %q, want %q %q", c, c.Endpoint(), c.Region(), env.Endpoint, miniotest.Region)
	}
	if !strings.Contains(c.String(), "path-style") {
		t.Errorf("%v: an IP endpoint must use path-style addressing", c)
	}
	roundTrip(t, c, env.Bucket, "from-env")

	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", env.Endpoint)
	roundTrip(t, newClient(t, objstore.Config{}), env.Bucket, "from-generic-endpoint")

	// Config.Endpoint wins over the environment.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	roundTrip(t, newClient(t, objstore.Config{Endpoint: env.Endpoint}), env.Bucket, "explicit-endpoint")
}

// Shared config and credentials files with a named profile (AWS_PROFILE or
// Config.Profile), endpoint_url in the profile.
func TestIntegrationCredentialsFromSharedFiles(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	credFile := filepath.Join(dir, "credentials")
	must(t, os.WriteFile(cfgFile, []byte("[default]\nregion = eu-west-3\n\n[profile lake]\nregion = "+miniotest.Region+
		"\nendpoint_url = "+env.Endpoint+"\n"), 0o600))
	must(t, os.WriteFile(credFile, []byte("[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = default-profile-secret-1\n\n[lake]\naws_access_key_id = "+
		env.AccessKey+"\naws_secret_access_key = "+env.SecretKey+"\n"), 0o600))
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)

	t.Setenv("AWS_PROFILE", "lake")
	roundTrip(t, newClient(t, objstore.Config{}), env.Bucket, "profile-env")

	t.Setenv("AWS_PROFILE", "")
	roundTrip(t, newClient(t, objstore.Config{Profile: "lake"}), env.Bucket, "profile-config")

	// The default profile's keys are wrong for this server: denied, exit 3.
	c := newClient(t, objstore.Config{Endpoint: env.Endpoint})
	if c.Region() != "eu-west-3" {
		t.Errorf("default profile region %q, want eu-west-3", c.Region())
	}
	_, err := c.Stat(context.Background(), objstore.URL{Bucket: env.Bucket, Key: "profile-env"})
	if objstore.KindOf(err) != objstore.KindDenied || exitcode.Code(err) != exitcode.BadInput {
		t.Fatalf("default profile: %v, want denied (exit 3)", err)
	}

	_, err = objstore.New(context.Background(), objstore.Config{Profile: "nosuch"})
	if !errors.Is(err, exitcode.ErrUsage) || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("a missing profile: %v, want a usage error naming it", err)
	}
}

// A Kubernetes service account: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN.
// The SDK trades the token at STS (here MinIO's STS, which has no identity
// provider configured and so refuses it): a refused token is bad input
// (exit 3), never transient, and names no token.
func TestIntegrationWebIdentityRefused(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	token := filepath.Join(t.TempDir(), "token")
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2h1cm46Y2h1cm5jdGwifQ.c2lnbmF0dXJlLXBsYW50ZWQ"
	must(t, os.WriteFile(token, []byte(jwt), 0o600))
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/churnctl")
	t.Setenv("AWS_ENDPOINT_URL_STS", env.Endpoint)
	t.Setenv("AWS_REGION", miniotest.Region)
	c := newClient(t, objstore.Config{Endpoint: env.Endpoint, MaxAttempts: 2})
	u := objstore.URL{Bucket: env.Bucket, Key: "k"}
	_, err := c.Stat(context.Background(), u)
	if objstore.KindOf(err) != objstore.KindDenied || exitcode.Code(err) != exitcode.BadInput {
		t.Fatalf("refused web identity: %v (exit %d), want denied, exit 3", err, exitcode.Code(err))
	}
	if !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "c2lnbmF0dXJlLXBsYW50ZWQ") {
		t.Fatalf("refused web identity: %q should say credentials and not hold the token", err)
	}
	t.Logf("web identity refused: %v", err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Planted credentials, in every source, never appear in any error or any
// rendering of a Config or Client.
func TestIntegrationSecretsNeverRendered(t *testing.T) {
	isolate(t)
	env := miniotest.New(t)
	planted := map[string]string{
		"cfg key":       "AKIAPLANTEDCONFIG001",
		"cfg secret":    "planted/Config+Secret0001",
		"cfg token":     "plantedConfigSessionToken0001",
		"env key":       "AKIAPLANTEDENVIRON01",
		"env secret":    "planted/Environ+Secret0002",
		"env token":     "plantedEnvironSessionToken02",
		"file key":      "AKIAPLANTEDFILEKEY01",
		"file secret":   "planted/File+Secret0003",
		"file token":    "plantedFileSessionToken0003",
		"server key":    env.AccessKey,
		"server secret": env.SecretKey,
	}
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	textLogger := slog.New(slog.NewTextHandler(&out, nil))
	render := func(vs ...any) {
		for _, v := range vs {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				fmt.Fprintf(&out, verb+"\n", v)
			}
			if b, err := json.Marshal(v); err == nil {
				out.Write(b)
				out.WriteByte('\n')
			}
			logger.Info("render", "value", v)
			textLogger.Info("render", "value", v)
			if err, ok := v.(error); ok {
				logger.Error("failed", "err", err)
				for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
					fmt.Fprintf(&out, "%v\n", e)
				}
			}
		}
	}
	ctx := context.Background()
	u := objstore.URL{Bucket: env.Bucket, Key: "secret/probe"}
	ops := func(c *objstore.Client) {
		_, err := c.Stat(ctx, u)
		render(err)
		_, err = c.PutBytes(ctx, u, []byte("x"), objstore.PutOptions{})
		render(err)
		_, err = c.ListAll(ctx, u)
		render(err)
		_, _, err = c.NewReader(ctx, u)
		render(err)
		_, err = c.AcquireLease(ctx, u, "run", 0)
		render(err)
		render(c, *c)
	}

	// Static credentials in the Config (wrong for this server).
	cfg := testConfig(env)
	cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken = secret.NewValue(planted["cfg key"]), secret.NewValue(planted["cfg secret"]), secret.NewValue(planted["cfg token"])
	render(cfg, &cfg, cfg.SecretAccessKey, cfg.AccessKeyID)
	ops(newClient(t, cfg))
	// Only the key id set: a usage error that must not echo it.
	_, err := objstore.New(ctx, objstore.Config{AccessKeyID: secret.NewValue(planted["cfg key"])})
	render(err)

	// The environment.
	t.Setenv("AWS_ACCESS_KEY_ID", planted["env key"])
	t.Setenv("AWS_SECRET_ACCESS_KEY", planted["env secret"])
	t.Setenv("AWS_SESSION_TOKEN", planted["env token"])
	ops(newClient(t, objstore.Config{Endpoint: env.Endpoint, MaxAttempts: 1}))

	// A shared credentials file, then a broken one.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	credFile := filepath.Join(t.TempDir(), "credentials")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	must(t, os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+planted["file key"]+"\naws_secret_access_key = "+
		planted["file secret"]+"\naws_session_token = "+planted["file token"]+"\n"), 0o600))
	ops(newClient(t, objstore.Config{Endpoint: env.Endpoint, MaxAttempts: 1}))
	must(t, os.WriteFile(credFile, []byte("[default\naws_access_key_id = "+planted["file key"]+"\n= "+planted["file secret"]+"\n"), 0o600))
	if c, err := objstore.New(ctx, objstore.Config{Endpoint: env.Endpoint, MaxAttempts: 1}); err != nil {
		render(err)
	} else {
		ops(c)
	}

	// The right credentials: successes and failures alike.
	good := newClient(t, testConfig(env))
	ops(good)
	_, err = good.Stat(ctx, objstore.URL{Bucket: "no-such-bucket-secrets", Key: "k"})
	render(err)

	if out.Len() < 1000 {
		t.Fatalf("rendered only %d bytes: the test renders nothing", out.Len())
	}
	for name, v := range planted {
		if strings.Contains(out.String(), v) {
			i := strings.Index(out.String(), v)
			t.Errorf("the %s %q appears in the output: ...%s...", name, v, out.String()[max(0, i-200):min(out.Len(), i+50)])
		}
	}
}

// Every rendering of a Secret is masked; Reveal is the only way out.
func TestSecretRenderings(t *testing.T) {
	s := secret.NewValue("s3cret-value-XYZ")
	var b bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		fmt.Fprintf(&b, verb+"|", s)
		fmt.Fprintf(&b, verb+"|", struct{ S secret.Value }{s})
		fmt.Fprintf(&b, verb+"|", &struct{ S secret.Value }{s})
	}
	j, _ := json.Marshal(map[string]any{"s": s, "p": &s})
	b.Write(j)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "s", s)
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "s", s)
	if strings.Contains(b.String(), "s3cret") || strings.Contains(b.String(), fmt.Sprintf("%x", "s3cret")) {
		t.Fatalf("secret rendered: %s", b.String())
	}
	if !strings.Contains(b.String(), "****") {
		t.Fatalf("no mask rendered: %s", b.String())
	}
	if s.Reveal() != "s3cret-value-XYZ" {
		t.Fatal("Reveal lost the value")
	}
	if secret.NewValue("").String() != "" {
		t.Fatal("an empty secret should render empty")
	}
}
