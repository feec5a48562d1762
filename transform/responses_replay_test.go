package transform

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// eventSink records named events, as the gateway's stream writer receives them.
type eventSink struct {
	recordingSink
	names  []string
	events [][]byte
}

func (s *eventSink) Event(name string, data []byte) error {
	s.names = append(s.names, name)
	s.events = append(s.events, append([]byte(nil), data...))
	return nil
}

// fixtureEvents reads a recorded SSE stream of testdata/fixtures.
func fixtureEvents(t testing.TB, name string) []Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	r := NewSSEReader(bytes.NewReader(data), 0)
	var out []Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Event{Name: bytes.Clone(ev.Name), Data: bytes.Clone(ev.Data)})
	}
}

var responsesFixtures = []string{"openai/responses_stream_text.sse", "openai/responses_stream_reasoning_tool_call.sse",
	"openai/responses_stream_phase.sse"}

func wrapForTest(id string) string { return "wrapped." + id }

// TestResponsesFixturesRelayedNatively replays recorded Responses streams through the native relay: every
// event goes out as it came, under its own name, only the response's model and id rewritten; the usage is
// that of response.completed.
func TestResponsesFixturesRelayedNatively(t *testing.T) {
	for _, name := range responsesFixtures {
		t.Run(name, func(t *testing.T) {
			in := fixtureEvents(t, name)
			req := &Request{ClientModel: "openai/gpt-x", ResourceID: wrapForTest}
			tr := NewOpenAI(OpenAIOptions{NativeResponses: true}).NewResponsesStream(req)
			sink := &eventSink{}
			done := false
			for i, ev := range in {
				if done {
					t.Fatalf("event %d after the end of the stream", i)
				}
				var err error
				if done, err = tr.Translate(ev, sink); err != nil {
					t.Fatal(err)
				}
			}
			if err := tr.Finish(sink, !done); err != nil || !done {
				t.Fatalf("finish: %v (done %v)", err, done)
			}
			if len(sink.events) != len(in) {
				t.Fatalf("%d events relayed, %d recorded", len(sink.events), len(in))
			}
			for i, ev := range in {
				got, want := gjson.ParseBytes(sink.events[i]), gjson.ParseBytes(ev.Data)
				if sink.names[i] != string(ev.Name) {
					t.Errorf("event %d named %s, recorded %s", i, sink.names[i], ev.Name)
				}
				if !want.Get("response").Exists() {
					if !bytes.Equal(sink.events[i], ev.Data) {
						t.Errorf("event %d changed:\n%s\n%s", i, sink.events[i], ev.Data)
					}
					continue
				}
				if got.Get("response.model").Str != "openai/gpt-x" || got.Get("response.id").Str != "wrapped."+want.Get("response.id").Str {
					t.Errorf("event %d: model %s id %s", i, got.Get("response.model"), got.Get("response.id"))
				}
				if got.Get("response.output").Raw != want.Get("response.output").Raw || got.Get("sequence_number").Raw != want.Get("sequence_number").Raw {
					t.Errorf("event %d: output or sequence_number changed", i)
				}
			}
			last := gjson.ParseBytes(in[len(in)-1].Data).Get("response.usage")
			if len(sink.usages) != 1 || sink.usages[0].PromptTokens != int(last.Get("input_tokens").Int()) ||
				sink.usages[0].CompletionTokens != int(last.Get("output_tokens").Int()) {
				t.Errorf("usage %+v, recorded %s", sink.usages, last.Raw)
			}
		})
	}
}

func TestResponsesFixtureErrorEventFailsTheStream(t *testing.T) {
	in := fixtureEvents(t, "openai/responses_stream_error.sse")
	tr := NewOpenAI(OpenAIOptions{NativeResponses: true}).NewResponsesStream(&Request{ClientModel: "m"})
	sink := &eventSink{}
	var err error
	for _, ev := range in {
		if _, err = tr.Translate(ev, sink); err != nil {
			break
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.Code != "insufficient_quota" || !strings.Contains(e.Message, "quota") {
		t.Fatalf("error %#v", err)
	}
	if len(sink.events) != 2 {
		t.Errorf("%d events before the error, want response.created and response.in_progress", len(sink.events))
	}
	// The gateway ends the stream the way OpenAI does: an error event with the error nested, then response.failed.
	out := &eventSink{}
	NewResponsesSurfaceStream(&Request{ClientModel: "m", Body: []byte(`{}`)}, true).Fail(e, out)
	if strings.Join(out.names, " ") != "error response.failed" ||
		gjson.GetBytes(out.events[0], "error.code").Str != "insufficient_quota" || gjson.GetBytes(out.events[0], "code").Str != "insufficient_quota" ||
		gjson.GetBytes(out.events[1], "response.status").Str != "failed" || gjson.GetBytes(out.events[1], "response.error.code").Str != "insufficient_quota" {
		t.Errorf("failure events %s %s", out.events[0], out.events[1])
	}
}

// responsesToChatChunks turns a recorded Responses stream into the chat.completion.chunk payloads a chat
// upstream would have sent for the same answer (the mapping of api-surfaces.md §1.7), for the round trip.
func responsesToChatChunks(t *testing.T, in []Event) ([][]byte, usage.Usage) {
	t.Helper()
	var out [][]byte
	var u usage.Usage
	b := newChunkBuilder("chatcmpl-x", 1, "m")
	out = append(out, bytes.Clone(b.Role()))
	calls := map[string]int{}
	finish := "stop"
	for _, ev := range in {
		d := gjson.ParseBytes(ev.Data)
		switch string(ev.Name) {
		case "response.output_text.delta":
			out = append(out, bytes.Clone(b.Content([]byte(d.Get("delta").Raw))))
		case "response.reasoning_summary_text.delta":
			out = append(out, bytes.Clone(b.Reasoning([]byte(d.Get("delta").Raw))))
		case "response.output_item.added":
			if item := d.Get("item"); item.Get("type").Str == "function_call" {
				calls[item.Get("id").Str] = len(calls)
				out = append(out, bytes.Clone(b.ToolCallStart(calls[item.Get("id").Str], item.Get("call_id").Str, item.Get("name").Str, nil)))
				finish = "tool_calls"
			}
		case "response.function_call_arguments.delta":
			out = append(out, bytes.Clone(b.ToolCallArgs(calls[d.Get("item_id").Str], []byte(d.Get("delta").Raw))))
		case "response.completed":
			ru := d.Get("response.usage")
			u, _ = parseResponsesUsage(ru)
		}
	}
	return append(out, bytes.Clone(b.Finish(finish))), u
}

// TestResponsesFixturesRoundTrip replays recorded Responses streams as the chat chunks of the same answer
// through the translation the gateway uses for chat providers: the events come out in the recorded order,
// one delta for each recorded delta with the same text, and response.completed holds the same items and
// usage.
func TestResponsesFixturesRoundTrip(t *testing.T) {
	for _, name := range responsesFixtures {
		t.Run(name, func(t *testing.T) {
			in := fixtureEvents(t, name)
			chunks, u := responsesToChatChunks(t, in)
			ss := NewResponsesSurfaceStream(&Request{ClientModel: "anthropic/x", Body: []byte(`{"input":"hi"}`), ResourceID: wrapForTest}, false)
			out := &eventSink{}
			for _, c := range chunks {
				if err := ss.Chunk(c, out); err != nil {
					t.Fatal(err)
				}
			}
			if err := ss.Finish(u, -1, out); err != nil {
				t.Fatal(err)
			}
			recorded := make([]string, len(in))
			for i, ev := range in {
				recorded[i] = string(ev.Name)
			}
			want := strings.Join(recorded, " ")
			if name == "openai/responses_stream_phase.sse" {
				// Chat has one message per answer: the two recorded messages come out as one.
				want = "response.created response.in_progress response.output_item.added response.content_part.added " +
					strings.Repeat("response.output_text.delta ", 4) + "response.output_text.done response.content_part.done " +
					"response.output_item.done response.completed"
			}
			if got := strings.Join(out.names, " "); got != want {
				t.Fatalf("events:\n%s\nwant:\n%s", got, want)
			}
			deltas := func(names []string, data func(int) []byte) (d []string) {
				for i, n := range names {
					if strings.HasSuffix(n, ".delta") {
						d = append(d, gjson.GetBytes(data(i), "delta").Str)
					}
				}
				return d
			}
			have := deltas(out.names, func(i int) []byte { return out.events[i] })
			wantDeltas := deltas(recorded, func(i int) []byte { return in[i].Data })
			if strings.Join(have, "\x00") != strings.Join(wantDeltas, "\x00") {
				t.Errorf("deltas %q, recorded %q", have, wantDeltas)
			}
			for i, ev := range out.events {
				if n := gjson.GetBytes(ev, "sequence_number").Int(); n != int64(i) {
					t.Fatalf("event %d has sequence_number %d", i, n)
				}
			}
			final := gjson.ParseBytes(out.events[len(out.events)-1]).Get("response")
			rec := gjson.ParseBytes(in[len(in)-1].Data).Get("response")
			if final.Get("output.#.type").Raw != rec.Get("output.#.type").Raw && name != "openai/responses_stream_phase.sse" {
				t.Errorf("output types %s, recorded %s", final.Get("output.#.type").Raw, rec.Get("output.#.type").Raw)
			}
			for _, f := range []string{"call_id", "name", "arguments"} {
				path := `output.#(type=="function_call").` + f
				if final.Get(path).Str != rec.Get(path).Str {
					t.Errorf("%s %q, recorded %q", f, final.Get(path).Str, rec.Get(path).Str)
				}
			}
			// The recorded text: its deltas (the phase recording keeps only a few of them), which for a whole
			// recording are the text of its message.
			recText := ""
			for i, n := range recorded {
				if n == "response.output_text.delta" {
					recText += gjson.GetBytes(in[i].Data, "delta").Str
				}
			}
			if name != "openai/responses_stream_phase.sse" && recText != rec.Get(`output.#(type=="message").content.0.text`).Str {
				t.Fatalf("the recording's deltas do not make its text")
			}
			if gotText := final.Get(`output.#(type=="message").content.0.text`).Str; gotText != recText {
				t.Errorf("text %q, recorded %q", gotText, recText)
			}
			for _, f := range []string{"input_tokens", "output_tokens", "total_tokens", "input_tokens_details.cached_tokens", "output_tokens_details.reasoning_tokens"} {
				if final.Get("usage."+f).Int() != rec.Get("usage."+f).Int() {
					t.Errorf("usage.%s %d, recorded %d", f, final.Get("usage."+f).Int(), rec.Get("usage."+f).Int())
				}
			}
			if final.Get("id").Str == "" || !strings.HasPrefix(final.Get("id").Str, "wrapped.resp_") || final.Get("model").Str != "anthropic/x" {
				t.Errorf("id %s model %s", final.Get("id"), final.Get("model"))
			}
		})
	}
}
