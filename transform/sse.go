package transform

import (
	"bytes"
	"errors"
	"io"
)

// defaultMaxEventSize bounds one SSE line or NDJSON line. The official SDKs use 32 MiB: Gemini thought
// signatures, inline images and long tool arguments arrive on single lines far above bufio's 64 KiB default.
const defaultMaxEventSize = 32 << 20

// ErrEventTooLarge is returned when one line exceeds the reader's limit.
var ErrEventTooLarge = errors.New("upstream stream line exceeds the maximum event size")

// Event is one server-sent event. Name and Data are only valid until the next call to Next.
type Event struct {
	// Name is the value of the event's "event:" field, empty when it had none.
	Name []byte
	// Data is the event's "data:" lines joined with '\n'.
	Data []byte
}

// SSEReader reads server-sent events from an upstream body one at a time. It accepts LF and CRLF line endings
// (Gemini ends events with CRLF), ignores comments and unknown fields, and holds at most one event in
// memory, so a stream of any length is read in constant memory.
type SSEReader struct {
	r       *streamBuffer
	max     int
	line    []byte
	name    []byte
	data    []byte
	hasData bool
}

// NewSSEReader returns a reader over r. maxEvent bounds a single line and a single event's data; zero means
// defaultMaxEventSize.
func NewSSEReader(r io.Reader, maxEvent int) *SSEReader {
	if maxEvent <= 0 {
		maxEvent = defaultMaxEventSize
	}
	return NewPooledSSEReader(r, maxEvent, nil)
}

// NewPooledSSEReader is NewSSEReader reading bursts (events that arrive together, faster than 4 KiB per read)
// into buffers lent by lender, in as few reads as reverse_proxy makes. Release gives back what it holds.
func NewPooledSSEReader(r io.Reader, maxEvent int, lender *Buffers) *SSEReader {
	if maxEvent <= 0 {
		maxEvent = defaultMaxEventSize
	}
	return &SSEReader{r: newStreamBuffer(r, lender), max: maxEvent}
}

// Release gives back the buffer lent for a burst, if the reader holds one. The reader must not be used after.
func (s *SSEReader) Release() { s.r.close() }

// Next returns the next event that carries data. At the end of the stream it returns io.EOF; a final event
// that the upstream did not terminate with a blank line is still returned first.
func (s *SSEReader) Next() (Event, error) {
	s.name = s.name[:0]
	s.data = s.data[:0]
	s.hasData = false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && s.hasData {
				return Event{Name: s.name, Data: s.data}, nil
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if s.hasData {
				return Event{Name: s.name, Data: s.data}, nil
			}
			s.name = s.name[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if s.hasData {
				s.data = append(s.data, '\n')
			}
			if len(s.data)+len(value) > s.max {
				return Event{}, ErrEventTooLarge
			}
			s.data = append(s.data, value...)
			s.hasData = true
		case "event":
			s.name = append(s.name[:0], value...)
		}
	}
}

// Buffered reports how many bytes of the upstream body have been read but not yet returned as events, or zero
// when they hold no complete event (no blank line), as Next would then wait for the upstream. A relay flushes
// its client when it is zero: events that arrived together then leave together, and none waits for the rest
// of a later one.
func (s *SSEReader) Buffered() int {
	b := s.r.buffered()
	n := len(b)
	if n == 0 {
		return 0
	}
	// Next leaves the buffer at the start of a line, so a blank line is at its start or after a line break.
	if b[0] == '\n' || bytes.HasPrefix(b, crlf) || bytes.Contains(b, lflf) || bytes.Contains(b, lfcrlf) {
		return n
	}
	return 0
}

var (
	crlf   = []byte("\r\n")
	lflf   = []byte("\n\n")
	lfcrlf = []byte("\n\r\n")
)

// readLine returns the next line without its terminator. The slice is valid until the next call.
func (s *SSEReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, full, err := s.r.readSlice('\n')
		switch {
		case full:
			if len(s.line)+len(frag) > s.max {
				return nil, ErrEventTooLarge
			}
			s.line = append(s.line, frag...)
		case err == nil:
			if len(s.line) == 0 {
				return trimEOL(frag), nil
			}
			s.line = append(s.line, frag...)
			return trimEOL(s.line), nil
		case err == io.EOF:
			s.line = append(s.line, frag...)
			if len(s.line) == 0 {
				return nil, io.EOF
			}
			return trimEOL(s.line), nil
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
