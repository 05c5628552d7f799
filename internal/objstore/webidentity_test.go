package objstore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/objstore"
)

// oidcIssuer is a minimal OpenID Connect identity provider, as a
// Kubernetes API server is one for its service-account tokens: a discovery
// document and a JWKS, and tokens signed with its RSA key.
type oidcIssuer struct {
	url string
	key *rsa.PrivateKey
	srv *http.Server
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{url: "http://" + ln.Addr().String(), key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.url, "jwks_uri": iss.url + "/jwks",
			"authorization_endpoint": iss.url + "/auth", "token_endpoint": iss.url + "/token",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	iss.srv = &http.Server{Handler: mux}
	go func() { _ = iss.srv.Serve(ln) }()
	t.Cleanup(func() { _ = iss.srv.Close() })
	return iss
}

// token returns a signed service-account token for audience aud.
func (iss *oidcIssuer) token(t *testing.T, aud string, extra map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	claims := map[string]any{"iss": iss.url, "sub": "system:serviceaccount:churn:churnctl", "aud": aud,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	body, _ := json.Marshal(claims)
	signing := b64(hdr) + "." + b64(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, iss.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// A Kubernetes pod's credentials, end to end: a service-account token in
// AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, traded by the SDK at STS
// (MinIO's, trusting our identity provider) for temporary keys and a
// session token, which then read and write the bucket. None of those
// credentials appears in what the client renders or in its errors.
func TestIntegrationWebIdentity(t *testing.T) {
	isolate(t)
	iss := newOIDCIssuer(t)
	env := miniotest.NewServer(t,
		"MINIO_IDENTITY_OPENID_CONFIG_URL="+iss.url+"/.well-known/openid-configuration",
		"MINIO_IDENTITY_OPENID_CLIENT_ID=churnctl",
		"MINIO_IDENTITY_OPENID_CLAIM_NAME=policy")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	jwt := iss.token(t, "churnctl", map[string]any{"policy": "readwrite"})
	must(t, os.WriteFile(tokenFile, []byte(jwt), 0o600))
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/churnctl")
	t.Setenv("AWS_ROLE_SESSION_NAME", "churnctl-test")
	t.Setenv("AWS_ENDPOINT_URL_STS", env.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_S3", env.Endpoint)
	t.Setenv("AWS_REGION", miniotest.Region)
	c := newClient(t, objstore.Config{})
	// MinIO loads its built-in policies (readwrite) and its OpenID
	// provider's role in the background after it starts answering: until
	// then STS refuses the claim ("None of the given policies ... are
	// defined", or, under load, a RoleARN it cannot resolve yet). Retry
	// until the exchange works, for at most a minute; a real fault then
	// fails in roundTrip below with the last error.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		_, err := c.S3().Options().Credentials.Retrieve(context.Background())
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	roundTrip(t, c, env.Bucket, "from-web-identity")

	creds, err := c.S3().Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.SessionToken == "" || creds.AccessKeyID == env.AccessKey || creds.Source == "" {
		t.Fatalf("credentials %q from %q: want temporary ones with a session token", creds.AccessKeyID, creds.Source)
	}
	t.Logf("credentials from %s", creds.Source)
	_, err = c.Stat(context.Background(), objstore.URL{Bucket: "no-such-bucket-wi", Key: "k"})
	var out strings.Builder
	for _, v := range []any{err, c, *c} {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			out.WriteString(fmtSprintf(verb, v))
		}
	}
	for name, v := range map[string]string{"key": creds.AccessKeyID, "secret": creds.SecretAccessKey, "session token": creds.SessionToken, "token": jwt} {
		if strings.Contains(out.String(), v) {
			t.Errorf("the web-identity %s appears in %s", name, out.String())
		}
	}

	// A token for another audience is refused: bad input, not transient.
	must(t, os.WriteFile(tokenFile, []byte(iss.token(t, "someone-else", map[string]any{"policy": "readwrite"})), 0o600))
	_, err = newClient(t, objstore.Config{MaxAttempts: 2}).Stat(context.Background(), objstore.URL{Bucket: env.Bucket, Key: "from-web-identity"})
	if objstore.KindOf(err) != objstore.KindDenied {
		t.Fatalf("a token for another audience: %v, want denied", err)
	}
}

func fmtSprintf(verb string, v any) string { return fmt.Sprintf(verb, v) + "\n" }
