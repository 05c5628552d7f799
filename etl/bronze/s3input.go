package bronze

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/churnctl/churnctl/internal/objstore"
)

// Inputs on object storage (s3://bucket/key, s3://bucket/prefix/, globs)
// are resolved by listing (objstore.Client.Expand) and, unless the ledger
// shows the object (same URL, ETag, size and version id) already ingested,
// downloaded into the run's spool directory before the run reads them:
// from there on an object is a local file, so the bytes out are those of a
// local run of the same content. A download streams through parallel ranged
// GETs pinned to one ETag (objstore.Client.NewReader), so memory stays
// bounded whatever the object's size; the disk holds the spooled copies
// until the run ends.

// objectStore returns the run's object-store client, made on first use
// from the AWS environment unless Config.Store is set.
func (c *Config) objectStore(ctx context.Context) (*objstore.Client, error) {
	if c.Store != nil {
		return c.Store, nil
	}
	s, err := objstore.New(ctx, objstore.Config{})
	if err != nil {
		return nil, err
	}
	c.Store = s
	return s, nil
}

// resolveObjects expands one s3:// argument into inputs the way a local
// path is expanded: a glob reads every object it matches, whatever its
// name; an object reads itself; a prefix reads its event files (see
// IsEventFile) recursively, in key order, skipping the others and, without
// a word, keys with a path segment below the prefix that starts with "."
// (as in directories).
func resolveObjects(ctx context.Context, store *objstore.Client, arg string) ([]Input, []Skipped, error) {
	u, err := objstore.ParseURL(arg)
	if err != nil {
		return nil, nil, err
	}
	found, err := store.Expand(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	named := objstore.HasMeta(u.Key) || (len(found) == 1 && found[0].URL.Key == u.Key && !strings.HasSuffix(u.Key, "/"))
	prefix := u.Dir().Key
	var out []Input
	var skipped []Skipped
	for _, o := range found {
		info := o
		if !named {
			rel := strings.TrimPrefix(o.URL.Key, prefix)
			if hidden(rel) {
				continue
			}
			if !IsEventFile(rel[strings.LastIndexByte(rel, '/')+1:]) {
				skipped = append(skipped, Skipped{Path: o.URL.String(), Reason: "not an event file (*.json, *.jsonl, *.ndjson, or .gz of one); name it to read it"})
				continue
			}
		}
		out = append(out, Input{Name: o.URL.String(), Size: o.Size, object: &info})
	}
	return out, skipped, nil
}

// hidden reports whether a relative key has a segment starting with ".".
func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// ingestedObject returns the ledger entry that records the object in as
// ingested (same URL, ETag and size, and version id when both have one),
// if there is one.
func ingestedObject(in *Input, byPath map[string]ledgerEntry) (ledgerEntry, bool) {
	e, ok := byPath[in.Name]
	o := in.object
	if !ok || o == nil || e.ETag == "" || e.ETag != o.ETag || e.Bytes != o.Size {
		return ledgerEntry{}, false
	}
	if e.VersionID != "" && o.VersionID != "" && e.VersionID != o.VersionID {
		return ledgerEntry{}, false
	}
	return e, true
}

// download copies the object of in into a file in dir and points in at
// it, recording the ETag and version id of the bytes it got.
func download(ctx context.Context, store *objstore.Client, in *Input, dir string) error {
	rc, info, err := store.NewReader(ctx, in.object.URL)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "s3-*.spool")
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(f, rc, make([]byte, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	o := *in.object
	o.Size = n
	if info.ETag != "" {
		o.ETag = info.ETag
	}
	if info.VersionID != "" {
		o.VersionID = info.VersionID
	}
	in.object = &o
	in.path, in.Size = f.Name(), n
	return nil
}
