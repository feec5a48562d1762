package transform

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// recordingSink keeps everything a stream translator yields.
type recordingSink struct {
	chunks [][]byte
	usages []usage.Usage
	raw    []byte
}

func (s *recordingSink) Chunk(data []byte) error {
	s.chunks = append(s.chunks, append([]byte(nil), data...))
	return nil
}

func (s *recordingSink) Usage(u usage.Usage, raw []byte) {
	s.usages = append(s.usages, u)
	s.raw = append(s.raw[:0], raw...)
}

// countingSink keeps only how much a translator yielded, for benchmarks and memory tests.
type countingSink struct{ chunks, bytes int }

func (s *countingSink) Chunk(data []byte) error   { s.chunks++; s.bytes += len(data); return nil }
func (s *countingSink) Usage(usage.Usage, []byte) {}

// benchmarkRelay measures relaying body through a fresh reader and translator per iteration, as the engine
// does, and reports the time per event under unit.
func benchmarkRelay(b *testing.B, body []byte, newReader func(io.Reader) EventReader, newStream func() StreamTranslator, unit string) {
	sink := &countingSink{}
	rd := bytes.NewReader(body)
	events := 0
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		r := newReader(rd)
		tr := newStream()
		for {
			ev, err := r.Next()
			if err != nil {
				b.Fatalf("stream ended before its end-of-stream event: %v", err)
			}
			events++
			done, err := tr.Translate(ev, sink)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
		}
		if err := tr.Finish(sink, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), unit)
}

// replayStream feeds an upstream SSE body through tr the way the engine does, and returns what the client
// would get and the error the stream ended with. It fails the test when tr reports done for a dialect that
// has no end-of-stream event (noDone).
func replayStream(t testing.TB, tr StreamTranslator, body []byte, noDone bool) (*recordingSink, error) {
	t.Helper()
	return replayEvents(t, tr, NewSSEReader(bytes.NewReader(body), 0), noDone)
}

// replayEvents is replayStream for a body already wrapped in its dialect's reader (NDJSON for Ollama).
func replayEvents(t testing.TB, tr StreamTranslator, r EventReader, noDone bool) (*recordingSink, error) {
	t.Helper()
	sink := &recordingSink{}
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return sink, tr.Finish(sink, true)
		}
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		done, err := tr.Translate(ev, sink)
		if done && noDone {
			t.Fatal("Translate reported done for a dialect that has no end-of-stream event")
		}
		if err != nil {
			return sink, err
		}
		if done {
			return sink, tr.Finish(sink, false)
		}
	}
}

// fuzzRelay drives a fuzzed upstream body (already in its dialect's reader) through tr as the engine does: to
// the end of the body, a read error, the first translator error, or done. It checks what every translated
// stream must hold whatever the upstream sent: each chunk is valid JSON, and a stream that ended without an
// error has a chunk with a finish_reason. It returns the sink for further checks.
func fuzzRelay(t *testing.T, tr StreamTranslator, r EventReader) *recordingSink {
	t.Helper()
	sink := &recordingSink{}
	var streamErr error
	for {
		ev, err := r.Next()
		if err != nil {
			streamErr = tr.Finish(sink, true)
			break
		}
		done, err := tr.Translate(ev, sink)
		if err != nil {
			streamErr = err
			break
		}
		if done {
			streamErr = tr.Finish(sink, false)
			break
		}
	}
	finished := false
	for _, c := range sink.chunks {
		if !json.Valid(c) {
			t.Fatalf("chunk is not valid JSON: %q", c)
		}
		if bytes.Contains(c, []byte(`"finish_reason":"`)) {
			finished = true
		}
	}
	if streamErr == nil && !finished {
		t.Fatalf("the stream ended without error and without a finish chunk: %q", sink.chunks)
	}
	return sink
}
