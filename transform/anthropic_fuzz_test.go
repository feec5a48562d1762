package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

func anthropicSeedStreams(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(anthropicFixtures, "*.sse"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(anthropicStreamHead + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\u2028\\ud800\"}}\n\n"))
	f.Add([]byte(anthropicStreamHead + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\",\"stop_details\":{\"type\":\"refusal\",\"category\":\"cyber\",\"explanation\":\"No \\u2028\\\"x\\\"\"}},\"usage\":{\"output_tokens\":2}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
}

// FuzzAnthropicStream checks that no upstream stream makes the translator panic, emit a chunk that is not
// valid JSON, or report usage more than once.
func FuzzAnthropicStream(f *testing.F) {
	anthropicSeedStreams(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("stream translation hangs on %q", body)) })
		defer hang.Stop()
		st := NewAnthropic(AnthropicOptions{}).NewStream(&Request{ClientModel: "anthropic/m"})
		sink := &anthropicCheckSink{t: t}
		r := NewSSEReader(bytes.NewReader(body), 1<<20)
		for {
			ev, err := r.Next()
			if err != nil {
				_ = st.Finish(sink, true)
				break
			}
			done, err := st.Translate(ev, sink)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !json.Valid(e.AppendJSON(nil)) {
					t.Fatalf("stream error %v is not a valid *Error", err)
				}
				break
			}
			if done {
				if err := st.Finish(sink, false); err != nil {
					t.Fatalf("Finish after message_stop: %v", err)
				}
				break
			}
		}
		if sink.usages > 1 {
			t.Fatalf("usage reported %d times", sink.usages)
		}
	})
}

// anthropicCheckSink fails the test on an invalid chunk and discards valid ones.
type anthropicCheckSink struct {
	t      *testing.T
	usages int
}

func (s *anthropicCheckSink) Chunk(data []byte) error {
	if !json.Valid(data) {
		s.t.Fatalf("invalid chunk JSON: %s", data)
	}
	return nil
}

func (s *anthropicCheckSink) Usage(usage.Usage, []byte) { s.usages++ }

// FuzzAnthropicRequest checks that any client body yields either valid upstream JSON or a 400 *Error.
func FuzzAnthropicRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/anthropic/request/*.in.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte(`{"messages":[{"role":"tool","content":null},{"role":"assistant","content":[{"type":"text","text":"\ud800"}]}]}`), false)
	a := NewAnthropic(AnthropicOptions{})
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		out, err := a.BuildRequest(&Request{Body: body, Model: "m", Stream: stream})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Fatalf("error %v is not a 400 *Error", err)
			}
			return
		}
		if !json.Valid(out.Body) {
			t.Fatalf("invalid upstream JSON for %s:\n%s", body, out.Body)
		}
	})
}

// anthropicGenerated is a Messages stream of n text deltas, produced on the fly so
// that the input itself does not occupy the heap.
type anthropicGenerated struct {
	n, i int
	buf  []byte
}

func (g *anthropicGenerated) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.i == 0:
			g.buf = append(g.buf, anthropicStreamHead...)
		case g.i <= g.n:
			g.buf = append(g.buf, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" token number "...)
			g.buf = strconv.AppendInt(g.buf, int64(g.i), 10)
			g.buf = append(g.buf, "\"}}      \n\n"...)
		case g.i == g.n+1:
			g.buf = append(g.buf, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"+
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":99}}\n\n"+
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
		default:
			return 0, io.EOF
		}
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	if len(g.buf) == 0 {
		g.buf = g.buf[:0:0]
	}
	return n, nil
}

// anthropicRetainedHeap runs a generated stream of n deltas and returns the live heap while the reader and
// translator are still in use at the end of it.
func anthropicRetainedHeap(t *testing.T, n int) (uint64, int) {
	st := NewAnthropic(AnthropicOptions{}).NewStream(&Request{ClientModel: "anthropic/m"})
	r := NewSSEReader(&anthropicGenerated{n: n}, 0)
	sink := &countingSink{}
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("stream of %d ended without message_stop: %v", n, err)
		}
		done, err := st.Translate(ev, sink)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if err := st.Finish(sink, false); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(r)
	return ms.HeapAlloc, sink.chunks
}

// TestAnthropicStreamMemoryFlat shows that a 10,000-event stream leaves the translator and reader holding
// no more memory than a 10-event one: nothing grows with the stream's length.
func TestAnthropicStreamMemoryFlat(t *testing.T) {
	anthropicRetainedHeap(t, 10) // warm up lazily allocated runtime structures
	small, nSmall := anthropicRetainedHeap(t, 10)
	large, nLarge := anthropicRetainedHeap(t, 10000)
	if nLarge != 10003 || nSmall != 13 {
		t.Fatalf("chunks %d and %d, want 13 and 10003", nSmall, nLarge)
	}
	const slack = 64 << 10 // the 10k stream's text alone is ~190 KiB
	t.Logf("live heap after 10 events: %d B, after 10000 events: %d B", small, large)
	if large > small+slack {
		t.Errorf("live heap grew from %d to %d bytes between a 10-event and a 10,000-event stream", small, large)
	}
}

// BenchmarkAnthropicStream measures translating the recorded parallel tool-use stream, per upstream event.
func BenchmarkAnthropicStream(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(anthropicFixtures, "messages_stream_text_parallel_tool_use.sse"))
	if err != nil {
		b.Fatal(err)
	}
	var events []Event
	r := NewSSEReader(bytes.NewReader(body), 0)
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		events = append(events, Event{Name: bytes.Clone(ev.Name), Data: bytes.Clone(ev.Data)})
	}
	a := NewAnthropic(AnthropicOptions{})
	req := &Request{ClientModel: "anthropic/claude-sonnet-4-5"}
	sink := &countingSink{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		st := a.NewStream(req)
		for _, ev := range events {
			if _, err := st.Translate(ev, sink); err != nil {
				b.Fatal(err)
			}
		}
		_ = st.Finish(sink, false)
	}
	b.StopTimer()
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(events))
	b.ReportMetric(1e9/perEvent, "events/s")
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(float64(testing.AllocsPerRun(10, func() {
		st := a.NewStream(req)
		for _, ev := range events {
			_, _ = st.Translate(ev, sink)
		}
	}))/float64(len(events)), "allocs/event")
}
