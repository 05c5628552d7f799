package bronze

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/churnctl/churnctl/internal/lake"
)

// TestTreeHashMatchesHashInputs checks that the hash computed while a file
// is read (treeHash, fed by mapReader) equals hashInputs' hash of the file,
// around the 64 MiB block boundaries, with a line longer than a chunk.
func TestTreeHashMatchesHashInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes files of up to 134 MB")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for _, size := range []int64{0, 1000, hashBlock, hashBlock + 1, 2*hashBlock + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = 'a' + byte(rng.IntN(26))
			if rng.IntN(80) == 0 {
				data[i] = '\n'
			}
		}
		if size > 5000 {
			copy(data[3000:], bytes.Repeat([]byte{'x'}, 2<<20)) // longer than a chunk
		}
		path := filepath.Join(dir, "in.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want := []Input{{Name: path, path: path, Size: size}}
		if err := hashInputs(want); err != nil {
			t.Fatal(err)
		}

		m, err := mmapFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := &mapReader{m: m, size: 1 << 20, rawCap: 100, hash: newTreeHash()}
		for ch := r.next(); ch != nil; ch = r.next() {
			ch.done()
		}
		m.release()
		got, n := r.hash.sum()
		if got != want[0].Hash || n != size {
			t.Errorf("size %d: read hash %s over %d bytes, hashInputs %s", size, got, n, want[0].Hash)
		}

		// Fed in uneven pieces.
		h := newTreeHash()
		for p := data; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(40<<20))
			h.write(p[:k])
			p = p[k:]
		}
		if got, _ := h.sum(); got != want[0].Hash {
			t.Errorf("size %d: pieces hash %s, hashInputs %s", size, got, want[0].Hash)
		}
	}
}

// TestHashFirst covers which inputs are hashed before reading and what
// names their content in the ingest run id.
func TestHashFirst(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("a.json", goodLine+"\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(goodLine + "\n"))
	zw.Close()
	gzPath := write("b.json.gz", gz.String())
	full := func(p string) string {
		in, err := ResolveInputs([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		if err := hashInputs(in); err != nil {
			t.Fatal(err)
		}
		return in[0].Hash
	}
	plainHash := full(plain)
	prepare := func(ledger map[string]ledgerEntry, p string) Input {
		t.Helper()
		in, err := ResolveInputs([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		if err := hashFirst(in, ledger); err != nil {
			t.Fatal(err)
		}
		return in[0]
	}

	// New plain file: hashed while read, named by its fingerprint.
	in := prepare(nil, plain)
	if in.Hash != "" || in.Fingerprint == "" || in.runKey != "fingerprint:"+in.Fingerprint || !in.plain {
		t.Errorf("new plain input = %+v", in)
	}
	fp := in.Fingerprint
	// gzip: hashed first, named by its hash.
	in = prepare(nil, gzPath)
	if in.Hash != full(gzPath) || in.Fingerprint != "" || in.runKey != "xxh3_128:"+in.Hash {
		t.Errorf("gzip input = %+v", in)
	}
	// Already in the ledger: hashed first (to be skipped), same run key.
	size := int64(len(goodLine) + 1)
	in = prepare(map[string]ledgerEntry{plainHash: {Hash: plainHash, Fingerprint: fp, Bytes: size}}, plain)
	if in.Hash != plainHash || in.runKey != "fingerprint:"+fp {
		t.Errorf("ledgered input = %+v", in)
	}
	// A ledger entry written before fingerprints, same size: hashed first.
	in = prepare(map[string]ledgerEntry{"other": {Hash: "other", Bytes: size}}, plain)
	if in.Hash != plainHash || in.runKey != "xxh3_128:"+plainHash {
		t.Errorf("input sized like an old entry = %+v", in)
	}
	// Same size and fingerprint, other content: hashed first, and named by
	// its hash so that its run id differs from that entry's run.
	in = prepare(map[string]ledgerEntry{"other": {Hash: "other", Fingerprint: fp, Bytes: size}}, plain)
	if in.Hash != plainHash || in.runKey != "xxh3_128:"+plainHash {
		t.Errorf("input sharing a fingerprint = %+v", in)
	}
	// Other size: not hashed first.
	in = prepare(map[string]ledgerEntry{"other": {Hash: "other", Fingerprint: fp, Bytes: size + 1}}, plain)
	if in.Hash != "" {
		t.Errorf("input of another size = %+v", in)
	}
}

// TestRunLedgerHash checks that a run that hashed its input while reading
// it records the same hash as hashInputs, and its fingerprint, and that
// the next run skips the input.
func TestRunLedgerHash(t *testing.T) {
	root := t.TempDir()
	path := mixedInput(t, t.TempDir())
	if _, err := run(t, testConfig(root, path)); err != nil {
		t.Fatal(err)
	}
	ledger, err := readLedger(lake.New(root))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ResolveInputs([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if err := hashInputs(in); err != nil {
		t.Fatal(err)
	}
	e, ok := ledger[in[0].Hash]
	if !ok || len(ledger) != 1 || e.Fingerprint == "" || e.Bytes != in[0].Size {
		t.Fatalf("ledger = %+v, want one entry for hash %s with a fingerprint", ledger, in[0].Hash)
	}
	if st, err := run(t, testConfig(root, path)); err == nil || st.SkippedInputs != 1 {
		t.Errorf("second run = %v, skipped %d", err, st.SkippedInputs)
	}
}

// TestFingerprint: the fingerprint sees the size and both ends of a file,
// not its middle (which the hash covers).
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	fp := func(body []byte) string {
		p := filepath.Join(dir, "f.json")
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		in := Input{Name: p, path: p, Size: int64(len(body))}
		if err := fingerprintInput(&in); err != nil {
			t.Fatal(err)
		}
		return in.Fingerprint
	}
	base := bytes.Repeat([]byte("0123456789abcdef\n"), 3*fingerprintEdge/17)
	edit := func(i int) []byte {
		b := bytes.Clone(base)
		b[i] = 'X'
		return b
	}
	f := fp(base)
	if fp(edit(10)) == f || fp(edit(len(base)-10)) == f || fp(base[:len(base)-1]) == f {
		t.Error("fingerprint missed a change at an end or in the size")
	}
	if fp(edit(len(base)/2)) != f {
		t.Error("fingerprint changed with the middle of the file")
	}
	if fp(nil) == fp([]byte("\n")) || fp([]byte("a\n")) == fp([]byte("b\n")) {
		t.Error("small files not told apart")
	}
}
