package bronze

import (
	"bufio"
	"bytes"
	"context"
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
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/zeebo/xxh3"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/objstore"
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
	// object is set for an input on object storage (Name is its URL),
	// downloaded into the spool directory before reading (see s3input.go).
	object *objstore.ObjectInfo
}

// Skipped is an input that a run does not read, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	// warn marks a reason worth a warning (a broken link, a symlink loop,
	// a pipe in a directory), not a file that is simply not events.
	warn bool
}

// IsEventFile reports whether a file found in a directory is read as
// events: its name ends in .json, .jsonl or .ndjson, optionally followed
// by .gz (case-insensitive). A file named explicitly, or matched by a
// glob, is read whatever its name.
func IsEventFile(name string) bool {
	n := strings.TrimSuffix(strings.ToLower(name), ".gz")
	return strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".jsonl") || strings.HasSuffix(n, ".ndjson")
}

// ResolveInputs expands the arguments: files, directories (recursive,
// sorted: their event files, see IsEventFile; symbolic links followed),
// globs (sorted) and "-" (stdin, at most once). A missing or unreadable
// input is errkind.BadInput naming it. A file named twice (or reached
// twice, through links) is read once, at its first occurrence. Inputs on
// object storage (s3://) are resolved by Run only: here they are a usage
// error.
func ResolveInputs(args []string) ([]Input, error) {
	in, _, err := resolveInputs(args, nil)
	return in, err
}

// fileID identifies a file or directory whatever the path to it.
type fileID struct{ dev, ino uint64 }

func idOf(st fs.FileInfo) (fileID, bool) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(s.Dev), uint64(s.Ino)}, true
	}
	return fileID{}, false
}

// resolveInputs is ResolveInputs, also listing what it skipped: files in
// directories that are not event files, second names of one file, broken
// links, directories reached again through a link, and pipes or devices
// inside directories. Names starting with "." in directories are ignored
// without a word (editors' and rsync's temporary files, .git). An s3://
// argument is expanded by objects (see resolveObjects); nil objects makes
// it a usage error.
func resolveInputs(args []string, objects func(arg string) ([]Input, []Skipped, error)) ([]Input, []Skipped, error) {
	var out []Input
	var skipped []Skipped
	seen := map[string]bool{}     // cleaned paths
	files := map[fileID]string{}  // file -> first name
	walked := map[fileID]string{} // directories walked -> first name
	// preferred names a file that a directory holds under its own name
	// and also through a link: that name is read, the link's skipped.
	preferred := map[fileID]string{}
	add := func(p string) error {
		p = filepath.Clean(p)
		if seen[p] {
			skipped = append(skipped, Skipped{Path: p, Reason: "named more than once"})
			return nil
		}
		seen[p] = true
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", errkind.BadInput, p, errors.Unwrap(err))
		}
		if st.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0 {
			// A pipe (e.g. <(zcat ...)) is spooled like stdin. Not opened
			// here: opening a FIFO waits for its writer (Run opens it,
			// cancellably).
			if err := syscall.Access(p, 4 /* R_OK */); err != nil {
				return fmt.Errorf("%w: input %s: %v", errkind.BadInput, p, err)
			}
			out = append(out, Input{Name: p, pipe: p})
			return nil
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%w: input %s: not a regular file", errkind.BadInput, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", errkind.BadInput, p, errors.Unwrap(err))
		}
		f.Close()
		if id, ok := idOf(st); ok {
			first, dup := files[id]
			if pref := preferred[id]; !dup && pref != "" && pref != p {
				first, dup = pref, true
			}
			if dup {
				skipped = append(skipped, Skipped{Path: p, Reason: "same file as " + first})
				return nil
			}
			files[id] = p
		}
		out = append(out, Input{Name: p, path: p, Size: st.Size()})
		return nil
	}
	addDir := func(dir string) error {
		found, sk, err := walkInputDir(dir, walked)
		skipped = append(skipped, sk...)
		if err != nil {
			return err
		}
		for _, f := range found {
			if !f.viaLink {
				if id, ok := idOf(f.st); ok && preferred[id] == "" {
					preferred[id] = filepath.Clean(f.path)
				}
			}
		}
		for _, f := range found {
			if err := add(f.path); err != nil {
				return err
			}
		}
		return nil
	}
	for _, a := range args {
		if objstore.IsURL(a) {
			if objects == nil {
				return nil, nil, fmt.Errorf("%w: input %s: object storage inputs are read by a run only", errkind.Usage, a)
			}
			found, sk, err := objects(a)
			if err != nil {
				return nil, nil, err
			}
			skipped = append(skipped, sk...)
			for _, in := range found {
				if seen[in.Name] {
					skipped = append(skipped, Skipped{Path: in.Name, Reason: "named more than once"})
					continue
				}
				seen[in.Name] = true
				out = append(out, in)
			}
			continue
		}
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
				return nil, nil, fmt.Errorf("%w: glob %q: %v", errkind.Usage, a, err)
			}
			if len(m) == 0 {
				return nil, nil, fmt.Errorf("%w: input %s: no file matches", errkind.BadInput, a)
			}
			slices.Sort(m)
			for _, p := range m {
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					if err := addDir(p); err != nil {
						return nil, nil, err
					}
					continue
				}
				if err := add(p); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: input %s: %v", errkind.BadInput, a, errors.Unwrap(err))
		}
		if st.IsDir() {
			if err := addDir(a); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err := add(a); err != nil {
			return nil, nil, err
		}
	}
	return out, skipped, nil
}

// cause is err without its *fs.PathError wrapping (whose path the caller
// names anyway).
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// foundFile is an event file in a directory.
type foundFile struct {
	path    string
	st      fs.FileInfo
	viaLink bool // the path goes through a symbolic link
}

// walkInputDir lists the event files under dir, sorted by path, following
// symbolic links to files and directories. walked holds the directories
// already walked (by device and inode): one reached again (a link loop, or
// a second link to it) is skipped, which also ends any loop.
func walkInputDir(dir string, walked map[fileID]string) (files []foundFile, skipped []Skipped, err error) {
	var walk func(d string, st fs.FileInfo, viaLink bool) error
	walk = func(d string, st fs.FileInfo, viaLink bool) error {
		if id, ok := idOf(st); ok {
			if first, again := walked[id]; again {
				skipped = append(skipped, Skipped{Path: d, Reason: "directory already read as " + first + " (a link loop or a second link)", warn: true})
				return nil
			}
			walked[id] = d
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("%w: input %s: %v", errkind.BadInput, d, errors.Unwrap(err))
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(d, e.Name())
			var st fs.FileInfo
			link := e.Type()&fs.ModeSymlink != 0
			if link {
				if st, err = os.Stat(p); err != nil {
					skipped = append(skipped, Skipped{Path: p, Reason: "broken symbolic link: " + cause(err).Error(), warn: true})
					continue
				}
			} else if st, err = e.Info(); err != nil {
				return fmt.Errorf("%w: input %s: %v", errkind.BadInput, p, err)
			}
			switch {
			case st.IsDir():
				if err := walk(p, st, viaLink || link); err != nil {
					return err
				}
			case !st.Mode().IsRegular():
				skipped = append(skipped, Skipped{Path: p, Reason: "not a regular file (" + kindOf(st.Mode()) + "); name it to read it", warn: true})
			case IsEventFile(e.Name()):
				files = append(files, foundFile{p, st, viaLink || link})
			default:
				skipped = append(skipped, Skipped{Path: p, Reason: "not an event file (*.json, *.jsonl, *.ndjson, or .gz of one); name it to read it"})
			}
		}
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: input %s: %v", errkind.BadInput, dir, errors.Unwrap(err))
	}
	if err := walk(filepath.Clean(dir), st, false); err != nil {
		return nil, skipped, err
	}
	slices.SortFunc(files, func(a, b foundFile) int { return strings.Compare(a.path, b.path) })
	return files, skipped, nil
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
					errs[b.in] = fmt.Errorf("%w: input %s: %v", errkind.BadInput, inputs[b.in].Name, err)
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
		return fmt.Errorf("%w: input %s: %v", errkind.BadInput, in.Name, err)
	}
	defer f.Close()
	h := xxh3.New()
	fmt.Fprintf(h, "fingerprint\x00%d\x00", in.Size)
	head := min(in.Size, fingerprintEdge)
	tail := max(head, in.Size-fingerprintEdge)
	for _, r := range [][2]int64{{0, head}, {tail, in.Size}} {
		if _, err := io.Copy(h, io.NewSectionReader(f, r[0], r[1]-r[0])); err != nil {
			return fmt.Errorf("%w: input %s: %v", errkind.BadInput, in.Name, err)
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
	started   bool // the first chunk was read (and a BOM dropped)
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
		zr.Multistream(false)
		return &gzipFile{zr: zr, br: br, cr: cr, f: f}, cr, nil
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

// gzipFile reads a gzip file member by member (RFC 1952: a file is a
// series of members, read as the concatenation of their data). After the
// last member it accepts zero bytes to the end, as gzip -d does (tape and
// block devices pad files with them), counting them in padding; any other
// trailing data is an error naming its offset.
type gzipFile struct {
	zr *gzip.Reader
	br *bufio.Reader // positioned just after a member when zr ends one
	cr *countingReader
	f  *os.File
	// padding is how many zero bytes followed the last member.
	padding int64
	done    bool
}

func (g *gzipFile) Read(b []byte) (int, error) {
	for !g.done {
		n, err := g.zr.Read(b)
		if err == io.EOF {
			// The end of a member (its CRC and size checked): another one,
			// the end of the file, or padding.
			err = g.next()
		}
		if err != nil && err != io.EOF {
			err = fmt.Errorf("gzip: %w", err)
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.EOF
}

// next moves to the member after the one just read, or ends the file.
func (g *gzipFile) next() error {
	magic, err := g.br.Peek(2)
	switch {
	case len(magic) == 0 && err == io.EOF:
		g.done = true
		return io.EOF
	case len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		if err := g.zr.Reset(g.br); err != nil {
			return noEOF(err)
		}
		g.zr.Multistream(false)
		return nil
	}
	// Not a member: zero padding to the end, or garbage.
	at := g.cr.n - int64(g.br.Buffered()) // compressed offset of the byte after the member
	for {
		buf, err := g.br.Peek(max(g.br.Buffered(), 1))
		for i, c := range buf {
			if c != 0 {
				return fmt.Errorf("trailing garbage after the last gzip member at compressed byte %d", at+g.padding+int64(i))
			}
		}
		g.padding += int64(len(buf))
		_, _ = g.br.Discard(len(buf))
		if err == io.EOF {
			g.done = true
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
}

// noEOF turns an EOF inside a gzip header into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (g *gzipFile) Close() error { g.zr.Close(); return g.f.Close() }

// utf8BOM is the byte order mark some Windows tools write at the start of
// a UTF-8 file; JSON (RFC 8259 §8.1) may ignore it there, and bronze does.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// openPipe opens a named pipe (or device) for reading. Opening a FIFO
// waits for a writer; when ctx is done first, openPipe opens the FIFO as a
// writer for a moment to end that wait, and returns the cause.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		if st, err := os.Stat(path); err == nil && st.Mode()&fs.ModeNamedPipe != 0 {
			if fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0); err == nil {
				syscall.Close(fd)
			}
		}
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// spool copies r (stdin, a pipe) into a file in dir and points in at it.
// It returns at the end of r or as soon as ctx is done, so that a pipe that
// never ends does not keep the run (and its lake lock) from stopping: r is
// read on a goroutine. A reader with SetReadDeadline (a FIFO from
// openPipe, an os.Pipe) is then unblocked at once; one read by a blocking
// system call (stdin inherited from a shell) stays blocked until its read
// returns or the process exits.
func spool(ctx context.Context, in *Input, r io.Reader, dir string) error {
	f, err := os.CreateTemp(dir, "stdin-*.json")
	if err != nil {
		return err
	}
	defer f.Close()
	type piece struct {
		b   []byte
		err error
	}
	pieces := make(chan piece)
	free := make(chan []byte, 2)
	for range 2 {
		free <- make([]byte, 1<<20)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := r.Read(b)
			select {
			case pieces <- piece{b[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var size int64
	for {
		if ctx.Err() != nil {
			return stopReading(ctx, r)
		}
		select {
		case <-ctx.Done():
			return stopReading(ctx, r)
		case p := <-pieces:
			if _, err := f.Write(p.b); err != nil {
				return err
			}
			size += int64(len(p.b))
			switch {
			case p.err == io.EOF:
				in.path, in.Size = f.Name(), size
				return nil
			case p.err != nil:
				return fmt.Errorf("%w: input %s: reading: %v", errkind.BadInput, in.Name, p.err)
			}
			free <- p.b[:cap(p.b)]
		}
	}
}

// stopReading unblocks a pending read of r if r can be (see spool) and
// returns ctx's cause.
func stopReading(ctx context.Context, r io.Reader) error {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(time.Now())
	}
	return context.Cause(ctx)
}

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
	if !c.started {
		// A byte order mark starts the input: not part of its first line
		// (offsets stay the input's). The first read filled the buffer,
		// so it holds the whole mark if there is one.
		c.started = true
		if bytes.HasPrefix(buf[:n], utf8BOM) {
			n = copy(buf, buf[len(utf8BOM):n])
			c.offset = int64(len(utf8BOM))
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
