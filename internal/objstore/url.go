package objstore

import (
	"fmt"
	"strings"

	"github.com/churnctl/churnctl/internal/errkind"
)

// Scheme is the URL scheme of object storage locations.
const Scheme = "s3://"

// URL is an object or prefix location: s3://Bucket/Key. A Key ending in
// "/" (or empty) names a prefix.
type URL struct {
	Bucket string
	Key    string
}

// IsURL reports whether s is an s3:// location (and not a local path).
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL parses s3://bucket[/key]. The bucket must be a valid S3 bucket
// name; the key is kept as written (no cleaning: "a//b" and "a/./b" are
// other keys than "a/b" on S3). A bad URL wraps errkind.Usage.
func ParseURL(s string) (URL, error) {
	if !IsURL(s) {
		return URL{}, fmt.Errorf("%w: objstore: %q is not an s3://bucket/key URL", errkind.Usage, s)
	}
	rest := s[len(Scheme):]
	bucket, key, _ := strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return URL{}, fmt.Errorf("%w: objstore: %q: %v", errkind.Usage, s, err)
	}
	if strings.ContainsAny(key, "\x00\r\n") {
		return URL{}, fmt.Errorf("%w: objstore: %q: control character in key", errkind.Usage, s)
	}
	if len(key) > 1024 {
		return URL{}, fmt.Errorf("%w: objstore: %q: key longer than 1024 bytes", errkind.Usage, s)
	}
	return URL{Bucket: bucket, Key: key}, nil
}

// checkBucket applies S3's bucket naming rules (3–63 characters of a–z,
// 0–9, '.', '-', starting and ending with a letter or digit).
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("bucket name %q: character %q not allowed (a-z, 0-9, '.', '-')", b, c)
		}
	}
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q: two adjacent periods", b)
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// String returns s3://bucket/key.
func (u URL) String() string {
	if u.Key == "" {
		return Scheme + u.Bucket + "/"
	}
	return Scheme + u.Bucket + "/" + u.Key
}

// Join returns u with elem appended to its key, "/" separated (u's key is
// taken as a prefix: a "/" is added after it unless it is empty or already
// ends with one).
func (u URL) Join(elem ...string) URL {
	k := u.Key
	for _, e := range elem {
		e = strings.TrimPrefix(e, "/")
		if e == "" {
			continue
		}
		if k != "" && !strings.HasSuffix(k, "/") {
			k += "/"
		}
		k += e
	}
	return URL{Bucket: u.Bucket, Key: k}
}

// Dir returns u as a prefix: its key with a trailing "/" (unless empty).
func (u URL) Dir() URL {
	if u.Key != "" && !strings.HasSuffix(u.Key, "/") {
		return URL{Bucket: u.Bucket, Key: u.Key + "/"}
	}
	return u
}
