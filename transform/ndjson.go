package transform

import (
	"bufio"
	"bytes"
	"io"
)

// EventReader yields a stream's events one at a time. SSEReader and nDJSONReader implement it.
type EventReader interface {
	// Next returns the next event; io.EOF at the end of the stream.
	Next() (Event, error)
	// Buffered reports how many bytes were read from the body but not yet returned as events; zero when
	// they hold no complete event, so that Next would wait for the upstream.
	Buffered() int
}

// FramedDialect is implemented by dialects whose streams are not server-sent events (Ollama's NDJSON).
type FramedDialect interface {
	Dialect
	// NewEventReader returns the reader that splits a streamed upstream body into events of at most maxEvent
	// bytes each (zero means defaultMaxEventSize).
	NewEventReader(body io.Reader, maxEvent int) EventReader
}

// nDJSONReader reads newline-delimited JSON (application/x-ndjson): every non-empty line is one event, with
// the line as its Data. Lines of any length up to the limit are read in constant memory per line.
type nDJSONReader struct {
	r    *bufio.Reader
	max  int
	line []byte
}

// newNDJSONReader returns a reader over r; maxLine bounds one line (zero means defaultMaxEventSize).
func newNDJSONReader(r io.Reader, maxLine int) *nDJSONReader {
	if maxLine <= 0 {
		maxLine = defaultMaxEventSize
	}
	return &nDJSONReader{r: bufio.NewReaderSize(r, 4<<10), max: maxLine}
}

// Next returns the next non-empty line; a last line without a newline is returned before io.EOF.
func (n *nDJSONReader) Next() (Event, error) {
	for {
		n.line = n.line[:0]
		for {
			frag, err := n.r.ReadSlice('\n')
			n.line = append(n.line, frag...)
			if len(n.line) > n.max {
				return Event{}, ErrEventTooLarge
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return Event{}, err
			}
			line := bytes.TrimSpace(n.line)
			if len(line) > 0 {
				return Event{Data: line}, nil
			}
			if err == io.EOF {
				return Event{}, io.EOF
			}
			break
		}
	}
}

// Buffered implements EventReader: zero unless a whole line is buffered.
func (n *nDJSONReader) Buffered() int {
	b, _ := n.r.Peek(n.r.Buffered()) // already buffered: never reads
	if bytes.IndexByte(b, '\n') < 0 {
		return 0
	}
	return len(b)
}

var (
	_ EventReader = (*SSEReader)(nil)
	_ EventReader = (*nDJSONReader)(nil)
)
