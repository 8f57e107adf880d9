package tailer

import "bytes"
import "io"
import "unsafe"

// MaxLineBytes is the default longest line handed on. Syslog daemons cut
// messages far shorter (rsyslog's default is 8 KiB); a longer line is
// skipped and reported, never held whole.
const MaxLineBytes = 64 << 10

// readRoom is the least room a read gets in a Splitter's buffer.
const readRoom = 64 << 10

// Splitter cuts a stream of bytes into lines with a buffer of fixed size:
// a line longer than its maximum is reported by its length and skipped as
// it streams past, so memory stays bounded whatever the input (a log's
// NUL-filled hole after a crash is one endless line). Lines end at '\n';
// the newline is not part of the line.
type Splitter struct {
	max      int
	buf      []byte
	start    int   // first byte in buf of the line not yet complete
	scan     int   // buf[start:scan] holds no newline
	end      int   // bytes in buf
	base     int64 // stream offset of buf[0]
	lineEnd  int64 // stream offset just after the last line returned
	long     bool  // inside a line already longer than max
	longSeen int64 // bytes of that line dropped so far
}

// NewSplitter returns a splitter for lines of at most max bytes (0 means
// MaxLineBytes) over a stream starting at offset.
func NewSplitter(max int, offset int64) *Splitter {
	if max <= 0 {
		max = MaxLineBytes
	}
	return &Splitter{max: max, buf: make([]byte, max+readRoom), base: offset, lineEnd: offset}
}

// Reset forgets everything buffered and starts again at offset.
func (s *Splitter) Reset(offset int64) {
	s.start, s.scan, s.end = 0, 0, 0
	s.base, s.lineEnd = offset, offset
	s.long, s.longSeen = false, 0
}

// Consumed is the stream offset of the next byte to read.
func (s *Splitter) Consumed() int64 { return s.base + int64(s.end) }

// LineEnd is the stream offset just after the last line returned by Next:
// where reading resumes without losing or repeating a line.
func (s *Splitter) LineEnd() int64 { return s.lineEnd }

// Fill reads once from r into the buffer and returns what r.Read returned.
func (s *Splitter) Fill(r io.Reader) (int, error) {
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.base += int64(s.start)
		s.scan -= s.start
		s.start, s.end = 0, n
	}
	// Next keeps at most max bytes of an incomplete line, so there is
	// always at least readRoom free.
	n, err := r.Read(s.buf[s.end:])
	s.end += n
	return n, err
}

// Next returns the next complete line in the buffer, valid until the next
// Fill (nothing else writes to the buffer), and end, the stream offset
// after its newline. For a line longer than the maximum, line is nil and
// tooLong is its length, newline included. ok is false when no complete
// line is buffered.
func (s *Splitter) Next() (line []byte, end, tooLong int64, ok bool) {
	i := bytes.IndexByte(s.buf[s.scan:s.end], '\n')
	if i < 0 {
		s.scan = s.end
		if s.long || s.end-s.start > s.max {
			// Too long already: drop what is buffered, remember its length.
			s.long = true
			s.longSeen += int64(s.end - s.start)
			s.base += int64(s.end)
			s.start, s.scan, s.end = 0, 0, 0
		}
		return nil, 0, 0, false
	}
	nl := s.scan + i
	end = s.base + int64(nl) + 1
	n := nl - s.start
	switch {
	case s.long:
		tooLong = s.longSeen + int64(n) + 1
		s.long, s.longSeen = false, 0
	case n > s.max:
		tooLong = int64(n) + 1
	default:
		line = s.buf[s.start:nl]
	}
	s.start, s.scan = nl+1, nl+1
	s.lineEnd = end
	return line, end, tooLong, true
}

// LineString returns a line the Splitter returned (by Next or Rest) as a
// string over the same bytes, without copying them: a copy per line was
// the largest single cost of reading a log. It is safe because nothing
// writes to those bytes until the next Fill (which moves the incomplete
// line to the front of the buffer and reads after it), and the readers
// hand a line on and finish with it before they Fill again. So the string
// is valid only until then: whoever keeps any part of it must copy it
// (strings.Clone) when keeping it.
func LineString(line []byte) string {
	if len(line) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(line), len(line))
}

// Rest returns what follows the last complete line: an unterminated final
// line (nil when there is none) or, when it is already longer than the
// maximum, its length in tooLong. It consumes it.
func (s *Splitter) Rest() (line []byte, tooLong int64) {
	n := s.end - s.start
	switch {
	case s.long:
		tooLong = s.longSeen + int64(n)
	case n > s.max:
		tooLong = int64(n)
	case n > 0:
		line = s.buf[s.start:s.end]
	}
	s.long, s.longSeen = false, 0
	s.start, s.scan = s.end, s.end
	s.lineEnd = s.Consumed()
	return line, tooLong
}
