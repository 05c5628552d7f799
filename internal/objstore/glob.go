package objstore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/churnctl/churnctl/internal/errkind"
)

// HasMeta reports whether key holds glob metacharacters (* ? [ \).
func HasMeta(key string) bool { return strings.ContainsAny(key, `*?[\`) }

// Glob returns the objects whose keys match pattern.Key with path.Match
// semantics, as filepath.Glob on a local directory tree: '*' and '?' do not
// cross '/', so s3://b/bronze/events/dt=*/*.parquet matches one level of
// partitions. It lists only under the pattern's literal prefix. A bad pattern
// is a usage error; no match is an empty result.
func (c *Client) Glob(ctx context.Context, pattern URL) ([]ObjectInfo, error) {
	if _, err := path.Match(pattern.Key, ""); err != nil {
		return nil, fmt.Errorf("%w: objstore: glob %s: %v", errkind.Usage, pattern, err)
	}
	lit := pattern.Key
	if i := strings.IndexAny(lit, `*?[\`); i >= 0 {
		lit = lit[:i]
	}
	depth := strings.Count(pattern.Key, "/")
	var out []ObjectInfo
	err := c.List(ctx, URL{Bucket: pattern.Bucket, Key: lit}, func(o ObjectInfo) error {
		if strings.Count(o.URL.Key, "/") != depth {
			return nil
		}
		if ok, _ := path.Match(pattern.Key, o.URL.Key); ok {
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// Expand resolves an input location the way a local path is resolved: a
// glob (see Glob), else the object itself if it exists, else every object
// under it as a directory (u.Key + "/", recursively; a key ending in "/" is a
// directory already). Directory markers (keys ending in "/") are left out.
// Nothing found is a KindNotFound error naming u.
func (c *Client) Expand(ctx context.Context, u URL) ([]ObjectInfo, error) {
	var found []ObjectInfo
	var err error
	switch {
	case HasMeta(u.Key):
		found, err = c.Glob(ctx, u)
	case u.Key != "" && !strings.HasSuffix(u.Key, "/"):
		var info ObjectInfo
		info, err = c.Stat(ctx, u)
		if err == nil {
			return []ObjectInfo{info}, nil
		}
		if KindOf(err) != KindNotFound {
			return nil, err
		}
		found, err = c.ListAll(ctx, u.Dir())
	default:
		found, err = c.ListAll(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	out := found[:0]
	for _, o := range found {
		if !strings.HasSuffix(o.URL.Key, "/") {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		if err := c.bucketExists(ctx, u); err != nil {
			return nil, err
		}
		return nil, &Error{Op: "expand", URL: u, Kind: KindNotFound, msg: "no object matches"}
	}
	return out, nil
}

// KindOf returns the Kind of an error this package returned, wherever it is
// in err's chain (KindOther when there is none).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}
