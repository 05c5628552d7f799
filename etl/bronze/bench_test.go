package bronze

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/churnctl/churnctl/internal/parquetio"
)

// benchLines returns JSON lines for benchmarks: $BRONZE_BENCH_FILE's first
// 64 MiB if set, else synthetic lines in the generator's format.
func benchLines(b *testing.B) []byte {
	if p := os.Getenv("BRONZE_BENCH_FILE"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64<<20)
		n, _ := f.Read(buf)
		buf = buf[:n]
		return buf[:bytes.LastIndexByte(buf, '\n')+1]
	}
	return synthLines(100000, 0)
}

// synthLines writes n generator-like lines; every variant-th line (if
// variant > 0) uses an odd but valid form.
func synthLines(n, variant int) []byte {
	var b bytes.Buffer
	pages := []string{"NextSong", "NextSong", "NextSong", "Home", "Thumbs Up", "Add to Playlist", "Logout", "Roll Advert"}
	for i := range n {
		ts := int64(1538352000000) + int64(i)*25_000
		page := pages[i%len(pages)]
		user := fmt.Sprint(100 + i%997)
		if variant > 0 && i%variant == 0 {
			fmt.Fprintf(&b, `{"artist":null,"auth":"Logged In","firstName":"Owen","gender":"M","itemInSession":%d,"lastName":"Cox","length":null,"level":"paid","location":"Sacramento--Roseville--Arden-Arcade, CA","method":"PUT","page":%q,"registration":1521529156483.0,"sessionId":%d,"song":null,"status":200,"ts":%d,"userAgent":"\"Mozilla/5.0 (Windows NT 6.1) Chrome/36.0\"","userId":%s,"zip":"95811"}`+"\n",
				i%120, page, 1000+i%500, ts, user)
			continue
		}
		if page == "NextSong" {
			fmt.Fprintf(&b, `{"ts":%d,"userId":"%s","sessionId":%d,"page":"NextSong","auth":"Logged In","method":"PUT","status":200,"level":"paid","itemInSession":%d,"location":"Riverside-San Bernardino-Ontario, CA","userAgent":"\"Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36\"","lastName":"Boyd","firstName":"Piper","registration":1517747745754,"gender":"F","artist":"Layla O'Brien %d","song":"Broken (Album Version) %d","length":%d.7607}`+"\n",
				ts, user, 1000+i%500, i%120, i%5000, i%20000, 100+i%300)
		} else {
			fmt.Fprintf(&b, `{"ts":%d,"userId":"%s","sessionId":%d,"page":%q,"auth":"Logged In","method":"GET","status":200,"level":"free","itemInSession":%d,"location":"Dayton, OH","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0","lastName":"Kim","firstName":"Julia","registration":1536856433178,"gender":"F","artist":null,"song":null,"length":null}`+"\n",
				ts, user, 1000+i%500, page, i%120)
		}
	}
	return b.Bytes()
}

// BenchmarkDecode measures the line decoder alone (MB/s of JSON).
func BenchmarkDecode(b *testing.B) {
	data := benchLines(b)
	b.SetBytes(int64(len(data)))
	var d decoder
	var e event
	defer reportCPU(b, cpuTime(), len(data))
	for b.Loop() {
		rest := data
		for len(rest) > 0 {
			k := bytes.IndexByte(rest, '\n')
			if !d.decode(rest[:k], &e) {
				b.Fatalf("decode: %v: %s", d.err, rest[:k])
			}
			rest = rest[k+1:]
		}
	}
}

// BenchmarkDecodeToArrow measures decoding into Arrow record batches (one
// worker, 4 MiB chunks).
func BenchmarkDecodeToArrow(b *testing.B) {
	data := benchLines(b)
	b.SetBytes(int64(len(data)))
	defer reportCPU(b, cpuTime(), len(data))
	w := &worker{mem: memory.NewGoAllocator(), maxLine: 65536, rawCap: 4096, fromDay: -1 << 31, toDay: 1<<31 - 1, runID: "bench", sources: []string{"bench.json"}}
	for b.Loop() {
		for off := 0; off < len(data); {
			end := min(off+4<<20, len(data))
			if end < len(data) {
				end = off + bytes.LastIndexByte(data[off:end], '\n') + 1
			}
			res := w.process(&chunk{data: data[off:end], firstLine: 1})
			res.release()
			off = end
		}
	}
}

// BenchmarkWriteParquet measures writing decoded event batches to Parquet
// (MB/s of the JSON they came from).
func BenchmarkWriteParquet(b *testing.B) {
	data := benchLines(b)
	w := &worker{mem: memory.NewGoAllocator(), maxLine: 65536, rawCap: 4096, fromDay: -1 << 31, toDay: 1<<31 - 1, runID: "bench", sources: []string{"bench.json"}}
	var recs []arrow.RecordBatch
	for off := 0; off < len(data); {
		end := min(off+4<<20, len(data))
		if end < len(data) {
			end = off + bytes.LastIndexByte(data[off:end], '\n') + 1
		}
		res := w.process(&chunk{data: data[off:end], firstLine: int64(off)})
		for _, d := range res.days {
			recs = append(recs, d.rec)
		}
		off = end
	}
	variants := []struct {
		name string
		opts []parquetio.WriterOption
	}{
		{"current", eventWriteOpts},
		{"zstd", append(slices.Clone(eventWriteOpts), parquetio.WithCompression(&zstd.Codec{Level: zstd.SpeedFastest}))},
		{"no-delta", []parquetio.WriterOption{parquetio.WithDictionary(eventDictColumns...), parquetio.WithoutBounds(eventNoBounds...), parquetio.WithCompression(parquetio.Snappy{})}},
		{"dict-lowcard", []parquetio.WriterOption{parquetio.WithDictionary("user_id", "page", "auth", "method", "level", "gender", "location", "user_agent", "source_file", "ingest_run_id"), parquetio.WithoutBounds(eventNoBounds...), parquetio.WithDeltaEncoding(eventDeltaColumns...), parquetio.WithCompression(parquetio.Snappy{})}},
		{"no-dict", []parquetio.WriterOption{parquetio.WithoutBounds(eventNoBounds...), parquetio.WithDeltaEncoding(eventDeltaColumns...), parquetio.WithCompression(parquetio.Snappy{})}},
	}
	b.Run("current-sorted", func(b *testing.B) {
		// bronze's path for a day with logged-out rows: the users' rows
		// by reference, in (ts, source_file, line) order.
		users, _, ok := sortedRefs(recs)
		if !ok {
			b.Skip("no logged-out rows in the input: no reference path")
		}
		b.SetBytes(int64(len(data)))
		defer reportCPU(b, cpuTime(), len(data))
		for b.Loop() {
			var n countWriter
			if _, err := writeRows(&n, recs, users, false, eventWriteOpts...); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			defer reportCPU(b, cpuTime(), len(data))
			var n countWriter
			for b.Loop() {
				n = 0
				if _, err := writePlain(&n, EventsSchema, recs, v.opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/float64(len(data)), "out/in")
		})
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU seconds per GB of JSON (robust to a busy machine,
// unlike MB/s of wall time) as a metric.
func reportCPU(b *testing.B, start time.Duration, bytesPerOp int) {
	cpu := cpuTime() - start
	b.ReportMetric(cpu.Seconds()/float64(b.N)/(float64(bytesPerOp)/1e9), "cpu-s/GB")
}
