package bronze

import (
	"bytes"
	"os"
	"sync/atomic"
	"syscall"
)

// mapped is a read-only memory map of a plain input file. Chunks are
// slices of it (no copy); each chunk holds a reference, and the map is
// unmapped when the reader and every chunk are done. Pages of processed
// chunks are dropped from the process (MADV_DONTNEED: they stay in the
// page cache), so RSS does not grow with the input.
type mapped struct {
	data []byte
	refs atomic.Int32
}

func mmapFile(path string) (*mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		m := &mapped{}
		m.refs.Store(1)
		return m, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	m := &mapped{data: data}
	m.refs.Store(1)
	return m, nil
}

func (m *mapped) release() {
	if m.refs.Add(-1) == 0 && m.data != nil {
		_ = syscall.Munmap(m.data) // nobody may touch m.data any more
	}
}

// dropPages releases the whole pages inside m.data[lo:hi] from the process.
func (m *mapped) dropPages(lo, hi int) {
	const page = 4096
	lo = (lo + page - 1) &^ (page - 1)
	hi &^= page - 1
	if hi > lo {
		_ = syscall.Madvise(m.data[lo:hi], syscall.MADV_DONTNEED)
	}
}

// mapReader cuts a mapped file into chunks on newline boundaries.
type mapReader struct {
	m        *mapped
	pos      int
	size     int
	rawCap   int
	line     int64
	inputIdx int
	hash     *treeHash // if set, fed every byte cut into a chunk
}

func (r *mapReader) next() *chunk {
	data := r.m.data
	if r.pos == 0 && bytes.HasPrefix(data, utf8BOM) {
		// A byte order mark starts the file: not part of its first line
		// (offsets stay the file's).
		r.pos = len(utf8BOM)
		if r.hash != nil {
			r.hash.write(data[:r.pos])
		}
	}
	if r.pos >= len(data) {
		return nil
	}
	start := r.pos
	end := min(start+r.size, len(data))
	ch := &chunk{firstLine: r.line + 1, offset: int64(start), input: r.inputIdx}
	if end < len(data) {
		k := bytes.LastIndexByte(data[start:end], '\n')
		if k < 0 {
			// One line longer than a chunk: keep its head, skip the rest.
			j := bytes.IndexByte(data[end:], '\n')
			lineEnd := len(data)
			next := len(data)
			if j >= 0 {
				lineEnd, next = end+j, end+j+1
			}
			n := lineEnd - start
			if n > 0 && data[lineEnd-1] == '\r' {
				n--
			}
			ch.data = data[start : start+min(n, r.rawCap)]
			ch.long, ch.longLen = true, int64(n)
			r.pos = next
			r.line++
			r.hold(ch, start, next)
			if r.hash != nil {
				r.hash.write(data[start:next])
			}
			return ch
		}
		end = start + k + 1
	}
	ch.data = data[start:end]
	// Count lines and hash in 256 KiB steps: the hash reads what the count
	// just brought into the cache.
	for lo := start; lo < end; lo += 256 << 10 {
		hi := min(lo+256<<10, end)
		r.line += int64(bytes.Count(data[lo:hi], []byte{'\n'}))
		if r.hash != nil {
			r.hash.write(data[lo:hi])
		}
	}
	if ch.data[len(ch.data)-1] != '\n' {
		r.line++
	}
	r.pos = end
	r.hold(ch, start, end)
	return ch
}

// hold makes ch keep the map alive, and drop its pages once processed.
func (r *mapReader) hold(ch *chunk, lo, hi int) {
	m := r.m
	m.refs.Add(1)
	ch.done = func() {
		m.dropPages(lo, hi)
		m.release()
	}
}
