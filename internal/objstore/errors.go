package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Kind is what an object-store failure means for the run.
type Kind int

// The kinds, each mapped to churnctl's exit codes by kindSentinels.
const (
	KindOther        Kind = iota // unexpected (a bug, or an error we do not know): exit 1
	KindTransient                // timeouts, 5xx, throttling, connection refused, after retries: exit 4
	KindNotFound                 // the object (or upload) does not exist: exit 3
	KindNoBucket                 // the bucket does not exist: exit 3
	KindDenied                   // access denied, bad or expired credentials: exit 3
	KindPrecondition             // a conditional write or read lost (If-None-Match, If-Match): exit 4
	KindUsage                    // a bad bucket name, glob pattern or setting: exit 2
	KindCanceled                 // the caller's context was cancelled
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindNotFound:
		return "not found"
	case KindNoBucket:
		return "no such bucket"
	case KindDenied:
		return "access denied"
	case KindPrecondition:
		return "precondition failed"
	case KindUsage:
		return "usage"
	case KindCanceled:
		return "canceled"
	}
	return "error"
}

// Sentinels for errors.Is, beside the errkind kinds each Kind wraps.
var (
	// ErrNotFound: the object does not exist (also fs.ErrNotExist).
	ErrNotFound = errors.New("object not found")
	// ErrPrecondition: a conditional write found the object created or
	// changed by somebody else.
	ErrPrecondition = errors.New("precondition failed: the object was created or changed concurrently")
)

// kindSentinels is the one place that maps kinds to churnctl's error
// kinds (internal/errkind).
func kindSentinels(k Kind) []error {
	switch k {
	case KindTransient:
		return []error{errkind.Transient}
	case KindNotFound:
		return []error{errkind.BadInput, ErrNotFound, fs.ErrNotExist}
	case KindNoBucket, KindDenied:
		return []error{errkind.BadInput}
	case KindPrecondition:
		return []error{errkind.Transient, ErrPrecondition}
	case KindUsage:
		return []error{errkind.Usage}
	case KindCanceled:
		return []error{context.Canceled}
	}
	return nil
}

// Error is a classified object-store failure. Its message names the
// operation, the bucket and key, the kind and what the store said; it never
// holds a credential.
type Error struct {
	Op     string // "stat", "get", "put", "list", "delete", "abort upload", ...
	URL    URL
	Kind   Kind
	Code   string // the store's error code (NoSuchBucket, SlowDown, ...), if any
	Status int    // the HTTP status, if any
	// Attempts made before giving up (0 when not known).
	Attempts int
	msg      string
	err      error
	cred     bool // obtaining credentials failed
}

func (e *Error) Error() string {
	var what string
	switch e.Kind {
	case KindNotFound:
		what = e.URL.String() + " does not exist"
	case KindNoBucket:
		what = fmt.Sprintf("bucket %q does not exist (key %q)", e.URL.Bucket, e.URL.Key)
	case KindDenied:
		if e.cred {
			what = fmt.Sprintf("no usable AWS credentials for bucket %q, key %q", e.URL.Bucket, e.URL.Key)
		} else {
			what = fmt.Sprintf("access denied to bucket %q, key %q", e.URL.Bucket, e.URL.Key)
		}
	default:
		what = e.Kind.String()
	}
	s := "objstore: " + e.Op + " " + e.URL.String() + ": " + what
	if e.Code != "" || e.Status != 0 {
		s += ":"
		if e.Code != "" {
			s += " " + e.Code
		}
		if e.Status != 0 {
			s += fmt.Sprintf(" (HTTP %d)", e.Status)
		}
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap gives the kind's sentinels and the SDK's error.
func (e *Error) Unwrap() []error {
	errs := kindSentinels(e.Kind)
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// Codes the stores send, by kind.
var (
	transientCodes = set("SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
		"RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded", "RequestTimeout",
		"RequestTimeoutException", "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed",
		"EC2ThrottledException", "PriorRequestNotComplete", "XMinioServerNotInitialized", "XMinioStorageFull",
		"XMinioReadQuorum", "XMinioWriteQuorum", "IDPCommunicationError")
	notFoundCodes = set("NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchUpload")
	deniedCodes   = set("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
		"TokenRefreshRequired", "AllAccessDisabled", "AccountProblem", "InvalidSecurity", "InvalidIdentityToken",
		"ExpiredTokenException", "InvalidClientTokenId", "InvalidTokenId", "UnrecognizedClientException", "AuthorizationHeaderMalformed",
		"InvalidObjectState")
	preconditionCodes = set("PreconditionFailed", "ConditionalRequestConflict")
	usageCodes        = set("InvalidBucketName", "InvalidArgument")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// classify turns an SDK error from operation op on u into an *Error of the
// right Kind. It is the only place that decides what a store failure means.
func (c *client) classify(op string, u URL, err error) error {
	if err == nil {
		return nil
	}
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	e := &Error{Op: op, URL: u, err: err}
	var maxErr *retry.MaxAttemptsError
	if errors.As(err, &maxErr) {
		e.Attempts = maxErr.Attempt
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		e.Status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
		e.msg = api.ErrorMessage()
	}
	var ce *credError
	isCred := errors.As(err, &ce)
	switch {
	case errors.Is(err, context.Canceled):
		e.Kind = KindCanceled
	case isCred:
		e.cred = true
		// Only a store or STS that answered "try later" is transient; no
		// credentials anywhere, a bad token file or a refused token is
		// a configuration the run cannot fix by retrying.
		if transientCodes[e.Code] || e.Status >= 500 || e.Status == 429 {
			e.Kind = KindTransient
		} else {
			e.Kind = KindDenied
		}
		if e.msg == "" {
			e.msg = ce.Error()
		} else {
			e.msg = "resolve AWS credentials: " + e.msg
		}
	case preconditionCodes[e.Code] || e.Status == 412:
		e.Kind = KindPrecondition
	case e.Code == "NoSuchBucket":
		e.Kind = KindNoBucket
	case notFoundCodes[e.Code] || (e.Code == "" && e.Status == 404):
		e.Kind = KindNotFound
	case deniedCodes[e.Code] || e.Status == 401 || e.Status == 403:
		e.Kind = KindDenied
	case usageCodes[e.Code]:
		e.Kind = KindUsage
	case transientCodes[e.Code] || e.Status >= 500 || e.Status == 429:
		e.Kind = KindTransient
	case e.Code == "" && e.Status == 0 && isTransientTransport(err):
		e.Kind = KindTransient
		e.msg = transportMessage(err)
	default:
		e.Kind = KindOther
		if e.msg == "" {
			e.msg = err.Error()
		}
	}
	e.msg = c.scrubText(e.msg)
	return e
}

// isTransientTransport reports network-level failures: timeouts, refused or
// reset connections, truncated bodies, and whatever the SDK's retryer
// itself would retry.
func isTransientTransport(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return true
	}
	for _, r := range retry.DefaultRetryables {
		if r.IsErrorRetryable(err) == aws.TrueTernary { // the SDK gave up on what it deems retryable
			return true
		}
	}
	return false
}

func transportMessage(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed mid-response"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "network: " + oe.Op + ": " + oe.Err.Error()
	}
	return "network error"
}
