package bronze

import (
	"bytes"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const msPerDay = 86_400_000

// chunkStats counts what happened to the lines of a chunk.
type chunkStats struct {
	lines, empty, written, quarantined, filtered int64
	byRule                                       [numRules]int64
	drift                                        map[string]int64
}

func (s *chunkStats) add(o *chunkStats) {
	s.lines += o.lines
	s.empty += o.empty
	s.written += o.written
	s.quarantined += o.quarantined
	s.filtered += o.filtered
	for i := range s.byRule {
		s.byRule[i] += o.byRule[i]
	}
	for k, v := range o.drift {
		if s.drift == nil {
			s.drift = map[string]int64{}
		}
		s.drift[k] += v
	}
}

func ruleIndex(rule string) int {
	for i, r := range Rules {
		if r == rule {
			return i
		}
	}
	return 0
}

// dayBatch is the events of one day from one chunk.
type dayBatch struct {
	day   int32 // days since 1970-01-01
	rec   arrow.RecordBatch
	bytes int64
}

// result is a decoded chunk.
type result struct {
	seq        int
	days       []dayBatch // sorted by day
	quarantine arrow.RecordBatch
	stats      chunkStats
	err        error
}

// worker decodes chunks; one per goroutine.
type worker struct {
	mem      memory.Allocator
	dec      decoder
	ev       event
	maxLine  int
	rawCap   int
	fromDay  int32 // inclusive; math.MinInt32 if none
	toDay    int32 // inclusive
	runID    string
	sources  []string // source_file per input index
	builders []*eventBuilder
	days     []int32
}

func (w *worker) process(ch *chunk) *result {
	res := &result{seq: ch.seq}
	src := w.sources[ch.input]
	var qb *quarantineBuilder
	quarantine := func(line []byte, lineNo, off int64, fullLen int64, rule, msg string) {
		if qb == nil {
			qb = newQuarantineBuilder(w.mem)
		}
		qb.append(src, lineNo, off, rule, msg, line[:min(len(line), w.rawCap)], fullLen, w.runID)
		res.stats.quarantined++
		res.stats.byRule[ruleIndex(rule)]++
	}
	if ch.long {
		res.stats.lines++
		quarantine(ch.data, ch.firstLine, ch.offset, ch.longLen, RuleLineTooLong,
			"line of "+strconv.FormatInt(ch.longLen, 10)+" bytes exceeds "+strconv.Itoa(w.maxLine))
	} else {
		w.decodeLines(ch, src, res, quarantine)
	}
	for i, b := range w.builders {
		if b.rows > 0 {
			rec := b.finish(src, w.runID)
			res.days = append(res.days, dayBatch{day: w.days[i], rec: rec, bytes: batchBytes(rec)})
		}
	}
	w.builders = w.builders[:0]
	w.days = w.days[:0]
	sortDayBatches(res.days)
	if qb != nil {
		res.quarantine = qb.finish()
	}
	return res
}

func (w *worker) decodeLines(ch *chunk, src string, res *result, quarantine func([]byte, int64, int64, int64, string, string)) {
	data := ch.data
	lineNo := ch.firstLine
	off := ch.offset
	est := len(data)/400 + 16
	for len(data) > 0 {
		var line []byte
		k := bytes.IndexByte(data, '\n')
		if k < 0 {
			line, data = data, nil
		} else {
			line, data = data[:k], data[k+1:]
		}
		n := int64(len(line)) + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		res.stats.lines++
		switch {
		case isBlank(line):
			res.stats.empty++
			res.stats.lines--
		case len(line) > w.maxLine:
			quarantine(line, lineNo, off, int64(len(line)), RuleLineTooLong,
				"line of "+strconv.Itoa(len(line))+" bytes exceeds "+strconv.Itoa(w.maxLine))
		case !w.dec.decode(line, &w.ev):
			quarantine(line, lineNo, off, int64(len(line)), w.dec.err.rule, w.dec.err.msg)
		default:
			e := &w.ev
			if len(e.unknown) > 0 {
				if res.stats.drift == nil {
					res.stats.drift = map[string]int64{}
				}
				for _, k := range e.unknown {
					res.stats.drift[string(k)]++
				}
			}
			day := int32(e.ts / msPerDay)
			if day < w.fromDay || day > w.toDay {
				res.stats.filtered++
				break
			}
			w.builder(day, est).append(e, lineNo)
			res.stats.written++
		}
		lineNo++
		off += n
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// builder returns the chunk's builder for day.
func (w *worker) builder(day int32, est int) *eventBuilder {
	for i, d := range w.days {
		if d == day {
			return w.builders[i]
		}
	}
	if len(w.builders) > 0 {
		// A second day in one chunk is usually a few late events: start
		// small instead of reserving a whole chunk's worth.
		est = 64
	}
	b := newEventBuilder(est)
	w.days = append(w.days, day)
	w.builders = append(w.builders, b)
	return b
}

func sortDayBatches(d []dayBatch) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].day < d[j-1].day; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// quarantineBuilder accumulates quarantine rows.
type quarantineBuilder struct {
	rb *array.RecordBuilder
}

func newQuarantineBuilder(mem memory.Allocator) *quarantineBuilder {
	return &quarantineBuilder{rb: array.NewRecordBuilder(mem, QuarantineSchema)}
}

func (q *quarantineBuilder) append(src string, line, off int64, rule, msg string, raw []byte, rawLen int64, runID string) {
	q.rb.Field(qSourceFile).(*array.StringBuilder).Append(src)
	q.rb.Field(qLineNumber).(*array.Int64Builder).Append(line)
	q.rb.Field(qByteOffset).(*array.Int64Builder).Append(off)
	q.rb.Field(qRule).(*array.StringBuilder).Append(rule)
	q.rb.Field(qMessage).(*array.StringBuilder).Append(msg)
	q.rb.Field(qRawLine).(*array.BinaryBuilder).Append(raw)
	q.rb.Field(qRawBytes).(*array.Int64Builder).Append(rawLen)
	q.rb.Field(qIngestRunID).(*array.StringBuilder).Append(runID)
}

func (q *quarantineBuilder) finish() arrow.RecordBatch {
	rec := q.rb.NewRecordBatch()
	q.rb.Release()
	return rec
}
