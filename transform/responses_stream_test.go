package transform

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TestResponsesStreamInterleavedToolCalls feeds chat chunks whose two tool calls' fragments interleave (and a
// third call whole in one chunk, as Gemini sends them): each function_call item gets its own arguments, whole in
// its .done events and in response.completed.
func TestResponsesStreamInterleavedToolCalls(t *testing.T) {
	chunks := []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{\"y\":"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":\"a\\\"b"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"2}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"id":"call_c","type":"function","function":{"name":"h","arguments":"{}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	}
	ss := NewResponsesSurfaceStream(&Request{Body: []byte(`{"input":"x"}`), ClientModel: "m"}, false)
	out := &eventSink{}
	for _, c := range chunks {
		if err := ss.Chunk([]byte(c), out); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Finish(usage.Usage{PromptTokens: 3, CompletionTokens: 9, Origin: usage.Reported}, -1, out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"call_a": `{"x":"a\"b"}`, "call_b": `{"y":2}`, "call_c": `{}`}
	done := map[string]string{}
	deltas := map[string]string{}
	for i, name := range out.names {
		ev := gjson.ParseBytes(out.events[i])
		switch name {
		case "response.function_call_arguments.delta":
			deltas[ev.Get("item_id").Str] += ev.Get("delta").Str
		case "response.function_call_arguments.done":
			done[strings.TrimPrefix(ev.Get("item_id").Str, "fc_")] = ev.Get("arguments").Str
		}
	}
	final := gjson.ParseBytes(out.events[len(out.events)-1]).Get("response")
	for id, args := range want {
		if done[id] != args || deltas["fc_"+id] != args {
			t.Errorf("%s: done %q, deltas %q, want %q", id, done[id], deltas["fc_"+id], args)
		}
		if got := final.Get(`output.#(call_id=="` + id + `").arguments`).Str; got != args {
			t.Errorf("%s in response.completed: %q", id, got)
		}
	}
	if final.Get("usage.output_tokens").Int() != 9 || final.Get("output.#").Int() != 3 || out.names[len(out.names)-1] != "response.completed" {
		t.Errorf("completed %s", final.Raw)
	}
	// Each item is added before its deltas and done once.
	added := strings.Count(strings.Join(out.names, " "), "response.output_item.added")
	doneItems := strings.Count(strings.Join(out.names, " "), "response.output_item.done")
	if added != 3 || doneItems != 3 {
		t.Errorf("%d items added, %d done: %v", added, doneItems, out.names)
	}
}

// TestResponsesStreamLengthIsIncomplete: a chat answer cut by max_tokens ends with response.incomplete.
func TestResponsesStreamLengthIsIncomplete(t *testing.T) {
	ss := NewResponsesSurfaceStream(&Request{Body: []byte(`{"input":"x"}`), ClientModel: "m"}, false)
	out := &eventSink{}
	for _, c := range []string{`{"choices":[{"index":0,"delta":{"content":"Once"}}]}`, `{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`} {
		if err := ss.Chunk([]byte(c), out); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Finish(usage.Usage{}, 0.5, out); err != nil {
		t.Fatal(err)
	}
	last := gjson.ParseBytes(out.events[len(out.events)-1])
	if last.Get("type").Str != "response.incomplete" || last.Get("response.incomplete_details.reason").Str != "max_output_tokens" ||
		last.Get("response.usage.cost").Float() != 0.5 {
		t.Errorf("last event %s", last.Raw)
	}
}

// surfaceSink hands a translator's chat chunks to a surface stream, as the gateway's stream writer does.
type surfaceSink struct {
	ss  SurfaceStream
	out EventSink
}

func (s *surfaceSink) Chunk(data []byte) error   { return s.ss.Chunk(data, s.out) }
func (s *surfaceSink) Usage(usage.Usage, []byte) {}

// discardEvents is an EventSink that keeps nothing.
type discardEvents struct{ countingSink }

func (*discardEvents) Event(string, []byte) error { return nil }

// BenchmarkResponsesSurfaceStream measures the Responses API served through chat: the recorded Anthropic
// parallel tool-use stream, translated to chat chunks and those to Responses events, per upstream event.
func BenchmarkResponsesSurfaceStream(b *testing.B) {
	events := fixtureEvents(b, "anthropic/messages_stream_text_parallel_tool_use.sse")
	a := NewAnthropic(AnthropicOptions{})
	req := &Request{ClientModel: "anthropic/claude-sonnet-4-5", Body: []byte(`{"input":"x"}`)}
	out := &discardEvents{}
	run := func() {
		sink := &surfaceSink{ss: NewResponsesSurfaceStream(req, false), out: out}
		st := a.NewStream(req)
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
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(events))
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(testing.AllocsPerRun(10, run)/float64(len(events)), "allocs/event")
}
