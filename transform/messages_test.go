package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// goldenStopSequences are the request's stop_sequences in the response and stream golden cases.
var goldenStopSequences = []string{"END"}

// mintedIDs matches the ids the gateway mints, which differ on every run.
var mintedIDs = regexp.MustCompile(`"(msg|toolu|call)_[A-Za-z0-9]{24}"`)

func stableIDs(b []byte) []byte { return mintedIDs.ReplaceAll(b, []byte(`"${1}_minted"`)) }

// goldenCases runs f for every <name>.<ext> file under dir.
func goldenCases(t *testing.T, dir, ext string, f func(t *testing.T, name string, in []byte)) {
	ins, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil || len(ins) == 0 {
		t.Fatalf("%s: no golden inputs: %v", dir, err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ext)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f(t, name, body)
		})
	}
}

// TestMessagesRequestGolden translates every Messages request under testdata/messages/request into the chat
// request the dialects get; error_* cases must be refused, with the error the client gets.
func TestMessagesRequestGolden(t *testing.T) {
	dir := "testdata/messages/request"
	goldenCases(t, dir, ".in.json", func(t *testing.T, name string, body []byte) {
		out, err := MessagesToChat(body)
		if wantErr := strings.HasPrefix(name, "error_"); wantErr != (err != nil) {
			t.Fatalf("MessagesToChat: %v; a case named error_* must be refused and no other", err)
		}
		var o *Outgoing
		if err == nil {
			o = &Outgoing{Body: out}
		}
		golden(t, filepath.Join(dir, name+".out.json"), goldenRequest(t, o, err))
	})
}

// TestMessagesResponseGolden turns every chat.completion under testdata/messages/response into a Messages
// answer.
func TestMessagesResponseGolden(t *testing.T) {
	dir := "testdata/messages/response"
	goldenCases(t, dir, ".in.json", func(t *testing.T, name string, body []byte) {
		out, err := ChatToMessages(body, "claude-sonnet-4-5", goldenStopSequences)
		if wantErr := strings.HasPrefix(name, "error_"); wantErr != (err != nil) {
			t.Fatalf("ChatToMessages: %v; a case named error_* must fail and no other", err)
		}
		var got bytes.Buffer
		if err != nil {
			fmt.Fprintf(&got, "%s\n", AppendMessagesError(nil, asTestError(t, err)))
		} else {
			if err := json.Indent(&got, stableIDs(out), "", "  "); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			got.WriteByte('\n')
			var m anthropic.Message
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("the SDK cannot read the answer: %v", err)
			}
			for _, b := range m.Content {
				if b.Type == "tool_use" && !json.Valid(b.Input) {
					t.Errorf("tool_use input %s is not JSON", b.Input)
				}
			}
		}
		golden(t, filepath.Join(dir, name+".out.json"), got.Bytes())
	})
}

func asTestError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error: %v", err, err)
	}
	return e
}

// eventRecorder is an EventSink that keeps the events as SSE text.
type eventRecorder struct {
	recordingSink
	sse bytes.Buffer
}

func (r *eventRecorder) Event(name string, data []byte) error {
	if !json.Valid(data) {
		return fmt.Errorf("event %s: data is not JSON: %s", name, data)
	}
	fmt.Fprintf(&r.sse, "event: %s\ndata: %s\n\n", name, data)
	return nil
}

// accumulate reads the recorded events with the official SDK's accumulator, as a Go client would.
func (r *eventRecorder) accumulate(t *testing.T) anthropic.Message {
	t.Helper()
	var m anthropic.Message
	rd := NewSSEReader(bytes.NewReader(r.sse.Bytes()), 0)
	for {
		ev, err := rd.Next()
		if err != nil {
			break
		}
		var e anthropic.MessageStreamEventUnion
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			t.Fatalf("%s: %v", ev.Data, err)
		}
		if string(ev.Name) != e.Type {
			t.Fatalf("event name %s for data of type %s", ev.Name, e.Type)
		}
		if err := m.Accumulate(e); err != nil {
			t.Fatalf("the SDK refuses %s: %v", ev.Data, err)
		}
	}
	return m
}

// feedChunks sends chat chunks through a MessagesStream; the usage is read from the chunk that has one.
func feedChunks(t *testing.T, ms *MessagesStream, chunks [][]byte, u usage.Usage) *eventRecorder {
	t.Helper()
	rec := &eventRecorder{}
	for _, c := range chunks {
		if err := CheckJSON(c); err != nil {
			t.Fatalf("chunk %s: %v", c, err)
		}
		if cu := gjson.GetBytes(c, "usage"); cu.IsObject() {
			u = ChatUsage(cu)
		}
		if err := ms.Chunk(c, rec); err != nil {
			t.Fatal(err)
		}
	}
	if !ms.Finished() {
		t.Fatal("the stream has no finish_reason")
	}
	if err := ms.Finish(u, -1, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestMessagesStreamGolden replays the chat chunks under testdata/messages/stream (one per line) through
// MessagesStream, compares the events with the golden files and checks the SDK accumulates them.
func TestMessagesStreamGolden(t *testing.T) {
	dir := "testdata/messages/stream"
	goldenCases(t, dir, ".chunks", func(t *testing.T, name string, body []byte) {
		chunks := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
		rec := feedChunks(t, NewMessagesSurfaceStream("claude-haiku-4-5", 321, goldenStopSequences), chunks, usage.Usage{})
		golden(t, filepath.Join(dir, name+".events"), stableIDs(rec.sse.Bytes()))
		m := rec.accumulate(t)
		if m.Usage.InputTokens == 0 {
			t.Error("input_tokens 0")
		}
		switch name {
		case "text_then_interleaved_tools":
			if len(m.Content) != 3 || m.Content[0].Text != `Checking "both"` ||
				string(m.Content[1].Input) != `{"path": "a.txt"}` || m.Content[1].ID != "call_A" ||
				string(m.Content[2].Input) != `{"dir": "/"}` || m.Content[2].Name != "list" ||
				m.StopReason != "tool_use" {
				t.Errorf("accumulated %s", m.RawJSON())
			}
			if m.Usage.InputTokens != 20 || m.Usage.CacheReadInputTokens != 100 || m.Usage.OutputTokens != 40 {
				t.Errorf("usage %+v", m.Usage)
			}
		case "reasoning_then_text_no_usage":
			if len(m.Content) != 2 || m.Content[0].Thinking != "Hmm, let me think." || m.Content[1].Text != "Answer: 4" ||
				m.StopReason != "max_tokens" || m.Usage.InputTokens != 321 {
				t.Errorf("accumulated %s", m.RawJSON())
			}
		case "tools_in_one_chunk":
			if len(m.Content) != 2 || string(m.Content[1].Input) != `{"city":"Rome"}` || m.Content[0].ID != "get_weather_0" {
				t.Errorf("accumulated %s", m.RawJSON())
			}
		case "refusal_empty_tool_calls":
			if len(m.Content) != 1 || m.StopReason != "refusal" {
				t.Errorf("accumulated %s", m.RawJSON())
			}
		case "vllm_stop_sequence":
			if m.StopReason != "stop_sequence" || m.StopSequence != "END" {
				t.Errorf("accumulated %s", m.RawJSON())
			}
		}
	})
}

// TestMessagesStreamFromRecordedStreams replays recorded upstream streams (OpenAI's chat stream of a tool
// call, Anthropic's and Gemini's streams) through their dialect's translator and then MessagesStream, as the
// Messages surface serves them when it translates, and checks what a client accumulates.
func TestMessagesStreamFromRecordedStreams(t *testing.T) {
	cases := []struct {
		file    string
		dialect Dialect
		check   func(t *testing.T, m anthropic.Message)
	}{
		{"openai/chat_stream_tool_call.sse", NewOpenAI(OpenAIOptions{}), func(t *testing.T, m anthropic.Message) {
			if len(m.Content) != 1 || m.Content[0].Type != "tool_use" || m.StopReason != "tool_use" {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
			var input map[string]any
			if err := json.Unmarshal(m.Content[0].Input, &input); err != nil || len(input) == 0 {
				t.Errorf("tool input %s: %v", m.Content[0].Input, err)
			}
		}},
		{"openai/chat_stream_text_after_tool.sse", NewOpenAI(OpenAIOptions{}), func(t *testing.T, m anthropic.Message) {
			if len(m.Content) != 1 || m.Content[0].Text == "" || m.StopReason != "end_turn" || m.Usage.OutputTokens == 0 {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
		}},
		{"anthropic/messages_stream_text_parallel_tool_use.sse", NewAnthropic(AnthropicOptions{}), func(t *testing.T, m anthropic.Message) {
			if len(m.Content) != 3 || string(m.Content[1].Input) != `{"billAmount": 50, "tipPercentage": 15}` ||
				string(m.Content[2].Input) != `{}` || m.StopReason != "tool_use" || m.Usage.InputTokens != 679 {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
		}},
		{"anthropic/messages_stream_thinking.sse", NewAnthropic(AnthropicOptions{}), func(t *testing.T, m anthropic.Message) {
			if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[1].Type != "text" {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
		}},
		{"gemini/stream_function_call.sse", NewGemini(GeminiOptions{}), func(t *testing.T, m anthropic.Message) {
			if len(m.Content) == 0 || m.Content[len(m.Content)-1].Type != "tool_use" || m.StopReason != "tool_use" {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("../testdata/fixtures", c.file))
			if err != nil {
				t.Fatal(err)
			}
			sink, err := replayStream(t, c.dialect.NewStream(&Request{Model: "m", ClientModel: "claude-x", Stream: true, IncludeUsage: true}), body, false)
			if err != nil {
				t.Fatal(err)
			}
			var u usage.Usage
			if len(sink.usages) > 0 {
				u = sink.usages[len(sink.usages)-1]
			}
			rec := feedChunks(t, NewMessagesSurfaceStream("claude-x", 99, nil), sink.chunks, u)
			golden(t, filepath.Join("testdata/messages/replay", strings.ReplaceAll(c.file, "/", "_")+".events"), stableIDs(rec.sse.Bytes()))
			c.check(t, rec.accumulate(t))
		})
	}
}

// TestMessagesStreamFail sends an error event in Anthropic's shape after the started message.
func TestMessagesStreamFail(t *testing.T) {
	ms := NewMessagesSurfaceStream("m", 5, nil)
	rec := &eventRecorder{}
	if err := ms.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Hel"}}]}`), rec); err != nil {
		t.Fatal(err)
	}
	ms.Fail(StreamCut("provider 'x' closed the stream"), rec)
	got := rec.sse.String()
	want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"provider 'x' closed the stream\"}}\n\n"
	if !strings.HasPrefix(got, "event: message_start\n") || !strings.HasSuffix(got, want) || strings.Contains(got, "message_stop") {
		t.Errorf("got\n%s", got)
	}
}

// TestMessagesErrorShape checks each status's Anthropic error type, and that an Anthropic upstream's own
// error body goes to the client unchanged.
func TestMessagesErrorShape(t *testing.T) {
	for status, typ := range map[int]string{400: "invalid_request_error", 401: "authentication_error",
		402: "billing_error", 403: "permission_error", 404: "not_found_error", 413: "request_too_large",
		429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error", 529: "overloaded_error",
		504: "timeout_error"} {
		b := AppendMessagesError(nil, NewError(status, "x", "y", "went wrong"))
		if want := `{"type":"error","error":{"type":"` + typ + `","message":"went wrong"}}`; string(b) != want {
			t.Errorf("%d: %s, want %s", status, b, want)
		}
	}
	raw, err := os.ReadFile("../testdata/fixtures/anthropic/error_404_not_found.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendMessagesError(nil, &Error{Status: 404, Raw: raw}); !bytes.Equal(got, raw) {
		t.Errorf("Anthropic's body changed:\n%s", got)
	}
	openai := []byte(`{"error":{"message":"bad model","type":"invalid_request_error","param":null,"code":null}}`)
	if got := string(AppendMessagesError(nil, &Error{Status: 400, Raw: openai})); got != `{"type":"error","error":{"type":"invalid_request_error","message":"bad model"}}` {
		t.Errorf("OpenAI body: %s", got)
	}
}

// TestCountMessagesTokens counts requests locally: more text, more tokens; tools and images count.
func TestCountMessagesTokens(t *testing.T) {
	tok := usage.NewTokenizer()
	count := func(body string) int {
		t.Helper()
		n, err := CountMessagesTokens(tok, "openai/gpt-4o", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	short := count(`{"model":"m","messages":[{"role":"user","content":"Hello"}]}`)
	long := count(`{"model":"m","messages":[{"role":"user","content":"Hello, how are you doing on this fine day?"}]}`)
	system := count(`{"model":"m","system":"You are terse.","messages":[{"role":"user","content":"Hello"}]}`)
	tools := count(`{"model":"m","tools":[{"name":"read_file","description":"Read a file from disk","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}],"messages":[{"role":"user","content":"Hello"}]}`)
	if short <= 0 || long <= short || system <= short || tools <= short {
		t.Errorf("short %d long %d system %d tools %d", short, long, system, tools)
	}
	// "Hello" is 1 token in o200k: 3 per message + 1 (role) + 1 + 3 reply primer = 8.
	if short != 8 {
		t.Errorf("short = %d, want 8", short)
	}
	if _, err := CountMessagesTokens(tok, "m", []byte(`{"messages":"x"}`)); err == nil {
		t.Error("a bad request was counted")
	}
	if got := string(AppendCountTokens(nil, 42)); got != `{"input_tokens":42}` {
		t.Error(got)
	}
}
