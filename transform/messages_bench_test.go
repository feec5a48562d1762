package transform

import (
	"os"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// BenchmarkMessagesToChat translates the largest golden Messages request (a tool round trip with images).
func BenchmarkMessagesToChat(b *testing.B) {
	body, err := os.ReadFile("testdata/messages/request/tool_round_trip.in.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MessagesToChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessagesSurfaceStream measures the Messages API served through chat: OpenAI's recorded tool-call
// stream translated to chat chunks and those to Messages events, per upstream event.
func BenchmarkMessagesSurfaceStream(b *testing.B) {
	events := fixtureEvents(b, "openai/chat_stream_tool_call.sse")
	o := NewOpenAI(OpenAIOptions{})
	req := &Request{ClientModel: "claude-sonnet-4-5", Stream: true, IncludeUsage: true}
	out := &discardEvents{}
	run := func() {
		sink := &surfaceSink{ss: NewMessagesSurfaceStream(req.ClientModel, 100, nil), out: out}
		st := o.NewStream(req)
		for _, ev := range events {
			if _, err := st.Translate(ev, sink); err != nil {
				b.Fatal(err)
			}
		}
		_ = st.Finish(sink, false)
		_ = sink.ss.Finish(usage.Usage{}, -1, out)
	}
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(testing.AllocsPerRun(10, run)/float64(len(events)), "allocs/event")
}

// BenchmarkMessagesRelay measures the Anthropic passthrough relay of a recorded stream, per event.
func BenchmarkMessagesRelay(b *testing.B) {
	events := fixtureEvents(b, "anthropic/messages_stream_text_parallel_tool_use.sse")
	a := NewAnthropic(AnthropicOptions{})
	req := &Request{ClientModel: "anthropic/claude-sonnet-4-5"}
	out := &discardEvents{}
	run := func() {
		st := a.NewMessagesStream(req)
		for _, ev := range events {
			if _, err := st.Translate(ev, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(testing.AllocsPerRun(10, run)/float64(len(events)), "allocs/event")
}
