// Package objstore is churnctl's S3 client layer: s3://bucket/key URLs,
// Stat, ranged and parallel reads, streaming and conditional writes,
// listing with globs, deletes, cleanup of incomplete multipart uploads, and
// a lease (a lock that expires) on object storage.
//
// It is built on aws-sdk-go-v2 (service/s3, config, and
// feature/s3/transfermanager for multipart uploads and parallel ranged
// downloads): no SigV4 or multipart code of our own. Credentials, region and
// endpoint are resolved the way every AWS tool resolves them — the standard
// environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE), the shared config and
// credentials files, web identity (AWS_WEB_IDENTITY_TOKEN_FILE +
// AWS_ROLE_ARN, as Kubernetes service accounts set them), SSO, container and
// instance roles; AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (or
// Config.Endpoint) for MinIO and other S3-compatible stores — with
// Config fields overriding them.
//
// Every error is classified (see classify): transient failures, after the
// SDK's retries with backoff, wrap errkind.Transient; a missing bucket,
// denied access or bad credentials wrap errkind.BadInput and name the
// bucket and key; a missing object wraps errkind.BadInput and
// fs.ErrNotExist and names its URL. Credentials never appear in an error or
// in any rendering of a Config or Client.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	tm "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/secret"
)

// Config overrides what the AWS environment says. The zero Config uses the
// environment and shared files alone.
type Config struct {
	// Endpoint is the S3 endpoint URL (http://127.0.0.1:9000 for a local
	// MinIO). Empty: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
	// endpoint_url, else AWS's own endpoints.
	Endpoint string
	// Region; empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's region,
	// else us-east-1 (what MinIO uses by default).
	Region string
	// Profile of the shared config files; empty: AWS_PROFILE, else default.
	Profile string
	// PathStyle addresses buckets as ENDPOINT/bucket/key rather than
	// bucket.ENDPOINT/key. Endpoints whose host is an IP address or
	// localhost always use path style.
	PathStyle bool

	// Static credentials, if set, win over the environment (both key id and
	// secret, or neither).
	AccessKeyID     secret.Value
	SecretAccessKey secret.Value
	SessionToken    secret.Value

	// MaxAttempts per request, retries included (default 5); MaxBackoff
	// caps the exponential backoff with jitter between them (default 20s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// ReadTimeout fails a request whose connection delivers no data for
	// that long (default 60s); it is retried like any timeout.
	ReadTimeout time.Duration
	// PartSize of multipart uploads and of parallel ranged reads (default
	// 16 MiB, at least 5 MiB); Concurrency is how many parts move at once
	// per transfer (default 4). A transfer holds at most about
	// (Concurrency+1) × PartSize bytes in memory.
	PartSize    int64
	Concurrency int
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 20 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 60 * time.Second
	}
	if c.PartSize <= 0 {
		c.PartSize = 16 << 20
	}
	if c.PartSize < 5<<20 {
		c.PartSize = 5 << 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	return c
}

// String renders the settings without any credential.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "objstore.Config{Endpoint:%q Region:%q Profile:%q PathStyle:%t", c.Endpoint, c.Region, c.Profile, c.PathStyle)
	if !c.AccessKeyID.IsZero() {
		b.WriteString(" credentials:static")
	}
	b.WriteString("}")
	return b.String()
}

// Format renders c as String does, for every verb.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	_, _ = io.WriteString(f, c.String())
}

// Client talks to one S3-compatible store. It is safe for concurrent use.
type Client struct{ c *client }

type client struct {
	s3         *s3.Client
	tm         *tm.Client
	cfg        Config
	endpoint   string // resolved, for messages ("" = AWS)
	region     string
	pathStyle  bool
	httpClient *awshttp.BuildableClient
}

// New resolves credentials, region and endpoint (see the package doc) and
// returns a client. It does not contact the store; credentials are fetched
// on first use.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.AccessKeyID.IsZero() != cfg.SecretAccessKey.IsZero() {
		return nil, fmt.Errorf("%w: objstore: set both the access key id and the secret key, or neither", errkind.Usage)
	}
	hc := awshttp.NewBuildableClient().
		WithReadTimeout(cfg.ReadTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = 4 * cfg.Concurrency
			t.ResponseHeaderTimeout = cfg.ReadTimeout
		})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = cfg.MaxBackoff
				o.Backoff = retry.NewExponentialJitterBackoff(cfg.MaxBackoff)
				// A retry quota shared by the whole process would turn a
				// burst of throttling into hard failures.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if !cfg.AccessKeyID.IsZero() {
		opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID.Reveal(), cfg.SecretAccessKey.Reveal(), cfg.SessionToken.Reveal()))))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Shared config files that do not parse, or a profile that does
		// not exist: the run's configuration is wrong.
		return nil, fmt.Errorf("%w: objstore: AWS configuration: %s", errkind.Usage, secret.Scrub(err.Error()))
	}
	// The SDK logs nothing of its own on churnctl's stderr (its logs are not
	// churnctl's JSON lines, and some modes print request headers).
	awsCfg.Logger = logging.Nop{}
	awsCfg.ClientLogMode = 0
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	c := &client{cfg: cfg, region: awsCfg.Region, httpClient: hc}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = &markedCreds{inner: awsCfg.Credentials, c: c}
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if o.BaseEndpoint != nil {
			c.endpoint = *o.BaseEndpoint
		}
		o.UsePathStyle = cfg.PathStyle || localHost(c.endpoint)
		c.pathStyle = o.UsePathStyle
		// Checksums only where the API requires them: MinIO and other
		// S3-compatible stores do not all accept the newer default
		// trailing CRC checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	c.s3 = s3c
	c.tm = tm.New(s3c, func(o *tm.Options) {
		o.PartSizeBytes = cfg.PartSize
		o.MultipartUploadThreshold = cfg.PartSize
		o.Concurrency = cfg.Concurrency
		o.GetObjectType = tmtypes.GetObjectRanges
		o.GetObjectBufferSize = int64(cfg.Concurrency) * cfg.PartSize
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		// Abort a failed or cancelled multipart upload with a fresh
		// context, so the parts do not outlive a cancelled run.
		o.FailTimeout = 30 * time.Second
	})
	return &Client{c: c}, nil
}

// localHost reports whether endpoint's host is an IP literal or localhost,
// where virtual-hosted bucket names cannot resolve.
func localHost(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h) != nil
}

// String names the endpoint, region and addressing, never credentials.
func (c Client) String() string {
	if c.c == nil {
		return "objstore.Client(nil)"
	}
	ep := c.c.endpoint
	if ep == "" {
		ep = "aws"
	}
	style := "virtual-hosted"
	if c.c.pathStyle {
		style = "path-style"
	}
	return fmt.Sprintf("objstore.Client(%s, %s, %s)", ep, c.c.region, style)
}

// Format renders c as String does, for every verb.
func (c Client) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	_, _ = io.WriteString(f, c.String())
}

// Region returns the resolved region.
func (c *Client) Region() string { return c.c.region }

// Endpoint returns the resolved endpoint URL ("" for AWS's own).
func (c *Client) Endpoint() string { return c.c.endpoint }

// S3 returns the underlying SDK client, for operations this package does
// not wrap (tests, admin tools). Its errors are not classified.
func (c *Client) S3() *s3.Client { return c.c.s3 }

// markedCreds remembers the credentials it hands out (so that errors can be
// scrubbed of them) and marks its failures as credential failures.
type markedCreds struct {
	inner aws.CredentialsProvider
	c     *client
}

func (m *markedCreds) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cr, err := m.inner.Retrieve(ctx)
	if err != nil {
		return cr, &credError{err: err}
	}
	// Credentials fetched at run time (web identity, a profile's keys)
	// join the process's scrubber, as those given in Config did when
	// they were made (secret.NewValue).
	secret.Register(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken)
	return cr, nil
}

// credError is a failure to obtain credentials.
type credError struct{ err error }

func (e *credError) Error() string { return "resolve AWS credentials: " + e.err.Error() }
func (e *credError) Unwrap() error { return e.err }

func (c *client) scrubText(s string) string { return secret.Scrub(s) }

var errClosed = errors.New("objstore: use of closed reader or writer")
