package bronze

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/zeebo/xxh3"

	"github.com/churnctl/churnctl/internal/exitcode"
)

// Input is one input file.
type Input struct {
	// Name is the path as resolved from the arguments ("-" for stdin); it
	// is stored in the source_file column.
	Name string
	// path is the file to open (a spool file for stdin).
	path string
	// Size is the on-disk size in bytes.
	Size int64
	// Hash is the content hash (XXH3-128 tree, see hashInputs), hex. For
	// a plain file it is computed while the file is read, unless the
	// ledger holds an input it may equal (see hashFirst).
	Hash string
	// Fingerprint (plain files only) is XXH3-128 over the size and the
	// first and last 64 KiB, hex: it stands for the content in the
	// ingest run id, so that rows can be written before the whole file is
	// hashed.
	Fingerprint string
	// plain is set for an input that is not gzip (read through a memory
	// map).
	plain bool
	// runKey names the content in the ingest run id (see hashFirst).
	runKey string
	// pipe is set for a named pipe or device to spool before reading.
	pipe string
}

// ResolveInputs expands the arguments: files, directories (recursive,
// regular non-hidden files, sorted), globs (sorted) and "-" (stdin, at most
// once). A missing or unreadable input is exitcode.ErrBadInput naming it.
// Duplicates are dropped (first occurrence kept).
func ResolveInputs(args []string) ([]Input, error) {
	var out []Input
	seen := map[string]bool{}
	add := func(p string) error {
		p = filepath.Clean(p)
		if seen[p] {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, p, errors.Unwrap(err))
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, p, err)
		}
		seen[p] = true
		if st.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0 {
			// A pipe (e.g. <(zcat ...)) is spooled like stdin.
			out = append(out, Input{Name: p, pipe: p})
			return nil
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%w: input %s: not a regular file", exitcode.ErrBadInput, p)
		}
		out = append(out, Input{Name: p, path: p, Size: st.Size()})
		return nil
	}
	for _, a := range args {
		if a == "-" {
			if seen["-"] {
				continue
			}
			seen["-"] = true
			out = append(out, Input{Name: "-"})
			continue
		}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("%w: glob %q: %v", exitcode.ErrUsage, a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%w: input %s: no file matches", exitcode.ErrBadInput, a)
			}
			slices.Sort(m)
			for _, p := range m {
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					if err := addDir(p, add); err != nil {
						return nil, err
					}
					continue
				}
				if err := add(p); err != nil {
					return nil, err
				}
			}
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, a, errors.Unwrap(err))
		}
		if st.IsDir() {
			if err := addDir(a, add); err != nil {
				return nil, err
			}
			continue
		}
		if err := add(a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func addDir(dir string, add func(string) error) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, p, err)
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		if err := add(f); err != nil {
			return err
		}
	}
	return nil
}

// spoolStdin copies r into a file in dir and points in at it.
func spoolStdin(in *Input, r io.Reader, dir string) error {
	f, err := os.CreateTemp(dir, "stdin-*.json")
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return fmt.Errorf("%w: reading stdin: %v", exitcode.ErrBadInput, err)
	}
	in.path, in.Size = f.Name(), n
	return nil
}

// hashBlock is the unit of the content hash: files are hashed in blocks on
// two goroutines, so one big file does not keep a core idle.
const hashBlock = 64 << 20

// hashInputs fills Hash for every input: XXH3-128 over the XXH3-128 of
// each 64 MiB block of the file and its size (a tree hash: deterministic,
// and computed on two cores).
func hashInputs(inputs []Input) error {
	type block struct {
		in     int
		off, n int64
	}
	var blocks []block
	digests := make([][][16]byte, len(inputs))
	for i, in := range inputs {
		nb := (in.Size + hashBlock - 1) / hashBlock
		digests[i] = make([][16]byte, nb)
		for b := range nb {
			blocks = append(blocks, block{i, b * hashBlock, min(hashBlock, in.Size-b*hashBlock)})
		}
	}
	work := make(chan block)
	errs := make([]error, len(inputs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 256 KiB: the hash reads what pread just copied while it is
			// still in the core's cache (4 MiB: 3-5% more CPU).
			buf := make([]byte, 256<<10)
			for b := range work {
				d, err := hashRange(inputs[b.in].path, b.off, b.n, buf)
				if err != nil {
					mu.Lock()
					errs[b.in] = fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, inputs[b.in].Name, err)
					mu.Unlock()
					continue
				}
				digests[b.in][b.off/hashBlock] = d
			}
		}()
	}
	for _, b := range blocks {
		work <- b
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range inputs {
		inputs[i].Hash = treeSum(inputs[i].Size, digests[i])
	}
	return nil
}

// treeSum is the content hash of a file of size bytes whose hash blocks
// have the given digests.
func treeSum(size int64, digests [][16]byte) string {
	h := xxh3.New()
	fmt.Fprintf(h, "%d\x00", size)
	for _, d := range digests {
		h.Write(d[:])
	}
	b := h.Sum128().Bytes()
	return hex.EncodeToString(b[:])
}

// treeHash computes the content hash of hashInputs from a file's bytes
// fed in order (the reader hashes each chunk right after cutting it, while
// its bytes are in the cache, instead of reading the file a second time).
type treeHash struct {
	h       *xxh3.Hasher
	inBlock int64 // bytes of the current block hashed so far
	size    int64
	digests [][16]byte
}

func newTreeHash() *treeHash { return &treeHash{h: xxh3.New()} }

func (t *treeHash) write(p []byte) {
	for len(p) > 0 {
		n := min(int64(len(p)), hashBlock-t.inBlock)
		t.h.Write(p[:n])
		t.inBlock += n
		t.size += n
		p = p[n:]
		if t.inBlock == hashBlock {
			t.digests = append(t.digests, t.h.Sum128().Bytes())
			t.h.Reset()
			t.inBlock = 0
		}
	}
}

// sum returns the hash of what was written and its length.
func (t *treeHash) sum() (string, int64) {
	digests := t.digests
	if t.inBlock > 0 {
		digests = append(digests[:len(digests):len(digests)], t.h.Sum128().Bytes())
	}
	return treeSum(t.size, digests), t.size
}

// fingerprintEdge is how many bytes at each end of a file its fingerprint
// reads: enough to tell most files apart, cheap for many small files.
const fingerprintEdge = 64 << 10

// fingerprintInput fills in.Fingerprint: XXH3-128 of the input's size and
// of its first and last fingerprintEdge bytes. Files it does not tell
// apart are told apart by their hashes (see hashFirst).
func fingerprintInput(in *Input) error {
	f, err := os.Open(in.path)
	if err != nil {
		return fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, in.Name, err)
	}
	defer f.Close()
	h := xxh3.New()
	fmt.Fprintf(h, "fingerprint\x00%d\x00", in.Size)
	head := min(in.Size, fingerprintEdge)
	tail := max(head, in.Size-fingerprintEdge)
	for _, r := range [][2]int64{{0, head}, {tail, in.Size}} {
		if _, err := io.Copy(h, io.NewSectionReader(f, r[0], r[1]-r[0])); err != nil {
			return fmt.Errorf("%w: input %s: %v", exitcode.ErrBadInput, in.Name, err)
		}
	}
	b := h.Sum128().Bytes()
	in.Fingerprint = hex.EncodeToString(b[:])
	return nil
}

func hashRange(path string, off, n int64, buf []byte) ([16]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [16]byte{}, err
	}
	defer f.Close()
	h := xxh3.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, off, n), buf); err != nil {
		return [16]byte{}, err
	}
	return h.Sum128().Bytes(), nil
}

// chunk is a run of whole lines from one input.
type chunk struct {
	seq       int
	input     int
	data      []byte // whole lines; the last may lack its '\n' at EOF
	firstLine int64  // line number (1-based) of data's first line
	offset    int64  // byte offset of data[0] in the (decompressed) input
	// long is set for a single line longer than the chunk buffer: data
	// holds its first bytes, longLen its full length.
	long    bool
	longLen int64
	// done is called once the chunk has been decoded (returns its buffer
	// to the pool or releases its part of a memory map).
	done func()
}

// readError is a damaged input: what was read before it is kept.
type readError struct {
	input    string
	lastLine int64
	err      error
}

func (e *readError) Error() string {
	return fmt.Sprintf("input %s: %v: last good line %d", e.input, e.err, e.lastLine)
}

// chunkReader splits one input into chunks on newline boundaries.
type chunkReader struct {
	r         io.Reader
	pool      *sync.Pool
	size      int
	carry     []byte
	line      int64 // lines emitted so far
	complete  int64 // lines emitted with their '\n'
	lastByte  byte  // last byte of a long line before its '\n'
	offset    int64 // bytes emitted so far
	eof       bool
	err       error
	rawCap    int
	inputIdx  int
	bytesRead *int64
}

// openInput opens an input, transparently gunzipping (by magic bytes).
func openInput(path string) (io.ReadCloser, *countingReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	cr := &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 1<<20)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return &gzipFile{zr: zr, f: f}, cr, nil
	}
	return &plainFile{r: br, f: f}, cr, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type plainFile struct {
	r *bufio.Reader
	f *os.File
}

func (p *plainFile) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *plainFile) Close() error               { return p.f.Close() }

type gzipFile struct {
	zr *gzip.Reader
	f  *os.File
}

func (g *gzipFile) Read(b []byte) (int, error) {
	n, err := g.zr.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}
func (g *gzipFile) Close() error { g.zr.Close(); return g.f.Close() }

// next returns the next chunk, or nil at the end (then c.err tells whether
// the input was damaged).
func (c *chunkReader) next() *chunk {
	if c.eof && len(c.carry) == 0 {
		return nil
	}
	bp := c.pool.Get().(*[]byte)
	buf := (*bp)[:c.size]
	n := copy(buf, c.carry)
	c.carry = c.carry[:0]
	for n < len(buf) && !c.eof {
		m, err := c.r.Read(buf[n:])
		n += m
		if err != nil {
			c.eof = true
			if err != io.EOF {
				c.err = err
			}
		}
	}
	data := buf[:n]
	ch := &chunk{data: data, firstLine: c.line + 1, offset: c.offset, input: c.inputIdx, done: func() { c.pool.Put(bp) }}
	if k := bytes.LastIndexByte(data, '\n'); k >= 0 && k+1 < len(data) && !c.eof {
		c.carry = append(c.carry, data[k+1:]...)
		ch.data = data[:k+1]
	} else if k < 0 && !c.eof {
		// One line longer than the buffer: keep its head, skip the rest.
		total := int64(n)
		head := append([]byte(nil), data[:min(n, c.rawCap)]...)
		c.lastByte = data[n-1]
		for {
			m, err := c.r.Read(buf)
			if j := bytes.IndexByte(buf[:m], '\n'); j >= 0 {
				if j > 0 {
					c.lastByte = buf[j-1]
				}
				total += int64(j)
				c.offset++ // the '\n'
				c.carry = append(c.carry, buf[j+1:m]...)
				break
			}
			total += int64(m)
			if m > 0 {
				c.lastByte = buf[m-1]
			}
			if err != nil {
				c.eof = true
				if err != io.EOF {
					c.err = err
				}
				break
			}
		}
		ch.data, ch.long, ch.longLen = head, true, total
		if total > 0 && c.lastByte == '\r' {
			ch.longLen-- // CRLF: like decodeLines, do not count the '\r'
		}
		c.line++
		c.complete = c.line
		c.offset += total
		return ch
	}
	c.line += int64(bytes.Count(ch.data, []byte{'\n'}))
	c.complete = c.line
	if len(ch.data) > 0 && ch.data[len(ch.data)-1] != '\n' {
		c.line++ // last line without newline
	}
	c.offset += int64(len(ch.data))
	return ch
}

// isPlain reports whether path is a regular, non-gzip file (memory-mapped).
func isPlain(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [2]byte
	n, _ := io.ReadFull(f, magic[:])
	return !(n == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
}
