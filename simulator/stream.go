package simulator

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// errCut ends a stream that reached cut_after: the handler then aborts the connection.
var errCut = errors.New("simulator: stream cut after the configured number of events")

// framing is how a stream separates its events.
type framing uint8

const (
	// sseLF is server-sent events ending in "\n\n" (OpenAI, Anthropic).
	sseLF framing = iota
	// sseCRLF is server-sent events ending in "\r\n\r\n" (Gemini with alt=sse).
	sseCRLF
	// jsonArray is a JSON array streamed element by element (Gemini without alt=sse).
	jsonArray
)

// streamer writes a stream's events one at a time, flushing each, paced at the configured tokens per second,
// and cut after the configured number of events.
type streamer struct {
	ctx      context.Context
	w        http.ResponseWriter
	rc       *http.ResponseController
	framing  framing
	buf      []byte
	events   int
	cutAfter int
	burst    bool
	tps      float64
	first    time.Time // when the first token was due
	tokens   int       // tokens sent so far
}

func newStreamer(ctx context.Context, w http.ResponseWriter, f framing, k knobs) *streamer {
	return &streamer{
		ctx: ctx, w: w, rc: http.NewResponseController(w), framing: f,
		buf: make([]byte, 0, 1024), cutAfter: k.cutAfter, burst: k.burst, tps: k.tokensPerSecond,
	}
}

// start marks the time the first token is due.
func (s *streamer) start() { s.first = time.Now() }

// begin returns the buffer for the next event, holding its framing up to the data, to which the caller
// appends the event's JSON before calling send. name is the SSE event name; empty for none.
func (s *streamer) begin(name string) []byte {
	b := s.buf[:0]
	switch s.framing {
	case jsonArray:
		if s.events == 0 {
			return append(b, '[')
		}
		return append(b, ",\r\n"...)
	}
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	return append(b, "data: "...)
}

// send ends the event in b and writes it.
func (s *streamer) send(b []byte) error {
	switch s.framing {
	case sseLF:
		b = append(b, "\n\n"...)
	case sseCRLF:
		b = append(b, "\r\n\r\n"...)
	}
	s.buf = b
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	s.events++
	if s.cutAfter > 0 && s.events >= s.cutAfter {
		return errCut
	}
	return nil
}

// end writes the stream's terminator, if its framing has one.
func (s *streamer) end() error {
	if s.framing != jsonArray {
		return nil
	}
	b := s.buf[:0]
	if s.events == 0 {
		b = append(b, '[')
	}
	_, err := s.w.Write(append(b, "]"...))
	if err == nil {
		err = s.flush()
	}
	return err
}

func (s *streamer) flush() error {
	if s.burst {
		return nil
	}
	err := s.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// pace waits until n more tokens may be sent, and counts them as sent.
func (s *streamer) pace(n int) error {
	if s.tps > 0 && s.tokens > 0 {
		due := s.first.Add(time.Duration(float64(s.tokens) / s.tps * float64(time.Second)))
		if !sleep(s.ctx, time.Until(due)) {
			return s.ctx.Err()
		}
	}
	s.tokens += n
	return nil
}
