package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

const ollamaFixtures = "../testdata/fixtures/ollama"

const ollamaTestCreated = 1700000000

// ollamaReplay feeds an NDJSON body through an Ollama stream translator with the dialect's own event
// reader, as the engine does.
func ollamaReplay(t testing.TB, body []byte) (*recordingSink, error) {
	t.Helper()
	o := NewOllama(OllamaOptions{})
	tr := o.NewStream(&Request{ClientModel: "ollama/gemma3:1b", Stream: true})
	tr.(*ollamaStream).created = ollamaTestCreated
	return replayEvents(t, tr, o.NewEventReader(bytes.NewReader(body), 0), false)
}

func readOllamaFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ollamaFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var ollamaChunkID = regexp.MustCompile(`"id":"chatcmpl-[A-Za-z0-9]{24}"`)

// ollamaDeltas returns each chunk after the role chunk as "<delta> <finish_reason>", with minted tool call
// ids masked as call_X, checking that every chunk is valid JSON and carries the stream's one id.
func ollamaDeltas(t *testing.T, chunks [][]byte) []string {
	t.Helper()
	if len(chunks) == 0 {
		t.Fatal("no chunks")
	}
	id := gjson.GetBytes(chunks[0], "id").String()
	if !ollamaChunkID.MatchString(`"id":"` + id + `"`) {
		t.Errorf("chunk id %q is not chatcmpl- and 24 alphanumerics", id)
	}
	if d := gjson.GetBytes(chunks[0], "choices.0.delta").Raw; d != `{"role":"assistant","content":""}` {
		t.Errorf("first chunk delta = %s, want the role", d)
	}
	var out []string
	for i, c := range chunks {
		if !json.Valid(c) {
			t.Errorf("chunk %d is not valid JSON: %s", i, c)
		}
		if got := gjson.GetBytes(c, "id").String(); got != id {
			t.Errorf("chunk %d id %q, want %q on every chunk", i, got, id)
		}
		if i == 0 {
			continue
		}
		d := gjson.GetBytes(c, "choices.0.delta").Raw + " " + gjson.GetBytes(c, "choices.0.finish_reason").Raw
		out = append(out, regexp.MustCompile(`"id":"call_[A-Za-z0-9]{24}"`).ReplaceAllString(d, `"id":"call_X"`))
	}
	return out
}

// TestOllamaRequestMatchesRecording builds the OpenAI equivalent of the recorded langchaingo request and
// checks it is the request Ollama answered in the fixture.
func TestOllamaRequestMatchesRecording(t *testing.T) {
	body := []byte(`{"model":"ollama/gemma3:1b","messages":[{"role":"user","content":"Count from 1 to 5"}],"stream":true,"max_tokens":50,"temperature":0}`)
	out, err := NewOllama(OllamaOptions{}).BuildRequest(&Request{Body: body, Model: "gemma3:1b", ClientModel: "ollama/gemma3:1b", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != "/api/chat" || out.Header != nil { // the gateway sets Content-Type for every dialect
		t.Errorf("path %q, headers %v", out.Path, out.Header)
	}
	// The recorded client sent an empty format, which Ollama treats as none.
	recorded := bytes.Replace(readOllamaFixture(t, "api_chat_stream.request.json"), []byte(`"format":"",`), nil, 1)
	if !bytes.Equal(out.Body, recorded) {
		t.Errorf("request:\n got %s\nwant %s", out.Body, recorded)
	}
}

func TestOllamaRequestStreamAndAuth(t *testing.T) {
	o := NewOllama(OllamaOptions{})
	out, err := o.BuildRequest(&Request{Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`), Model: "llama3.2"})
	if err != nil {
		t.Fatal(err)
	}
	// Ollama streams unless told not to, so a non-streaming client must send stream:false.
	if want := `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}`; string(out.Body) != want {
		t.Errorf("body = %s, want %s", out.Body, want)
	}
	h := http.Header{}
	o.Authorize(&http.Request{Header: h}, "")
	if len(h) != 0 {
		t.Errorf("a keyless local server must get no auth header: %v", h)
	}
	o.Authorize(&http.Request{Header: h}, "ollama-cloud-key")
	if got := h.Get("Authorization"); got != "Bearer ollama-cloud-key" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestOllamaRequestErrors(t *testing.T) {
	tests := []struct{ name, body, param, msg string }{
		{"not JSON", `{"messages":`, "", "not valid JSON"},
		{"not an object", `[1]`, "", "JSON object"},
		{"messages missing", `{"model":"m"}`, "messages", "array"},
		{"n", `{"n":2,"messages":[{"role":"user","content":"x"}]}`, "n", "one answer"},
		{"http image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, "messages[0].content[0].image_url.url", "cannot fetch image URLs"},
		{"non-base64 data URL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url", "data: URL"},
		{"audio", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}`, "messages[0].content[0].type", "input_audio"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]}]}`, "messages[0].content[0].type", "use text"},
		{"role", `{"messages":[{"role":"critic","content":"x"}]}`, "messages[0].role", "critic"},
		{"arguments", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments", "JSON object"},
		{"call without name", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name", "name"},
		{"tool type", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type", "custom"},
		{"response_format", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}`, "response_format.type", "json_schema"},
		{"schema missing", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format.json_schema.schema", "schema"},
		{"max_tokens", `{"messages":[{"role":"user","content":"x"}],"max_tokens":1.5}`, "max_tokens", "integer"},
		{"temperature", `{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, "temperature", "number"},
		{"stop", `{"messages":[{"role":"user","content":"x"}],"stop":["a",1]}`, "stop", "strings"},
	}
	o := NewOllama(OllamaOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := o.BuildRequest(&Request{Body: []byte(tc.body), Model: "m"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Status != http.StatusBadRequest || e.Type != "invalid_request_error" || e.Param != tc.param || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %d %s param %q %q; want 400 param %q containing %q", e.Status, e.Type, e.Param, e.Message, tc.param, tc.msg)
			}
		})
	}
}

func TestOllamaStreamFixture(t *testing.T) {
	sink, err := ollamaReplay(t, readOllamaFixture(t, "api_chat_stream.ndjson"))
	if err != nil {
		t.Fatalf("stream ended with error: %v", err)
	}
	var want []string
	for _, s := range []string{"Okay", ",", " here", " we", " go", "!", "\n\n", "1", ",", " ", "2", ",", " ", "3", ",", " ", "4", ",", " ", "5", "\n"} {
		want = append(want, `{"content":`+strconv.Quote(s)+`} null`)
	}
	want = append(want, `{} "stop"`)
	if got := ollamaDeltas(t, sink.chunks); !reflect.DeepEqual(got, want) {
		t.Errorf("deltas:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	wantHead := `{"id":"chatcmpl-X","object":"chat.completion.chunk","created":1700000000,"model":"ollama/gemma3:1b","choices":[{"index":0,"delta":{"content":"Okay"},"logprobs":null,"finish_reason":null}]}`
	if got := ollamaChunkID.ReplaceAllString(string(sink.chunks[1]), `"id":"chatcmpl-X"`); got != wantHead {
		t.Errorf("first delta chunk:\n got %s\nwant %s", got, wantHead)
	}
	wantUsage := usage.Usage{PromptTokens: 16, CompletionTokens: 22, TotalTokens: 38, Origin: usage.Reported}
	if len(sink.usages) != 1 || sink.usages[0] != wantUsage || sink.raw != nil {
		t.Errorf("usage reports = %+v (raw %q), want exactly one %+v", sink.usages, sink.raw, wantUsage)
	}
}

func TestOllamaStreamToolCallsAndThinking(t *testing.T) {
	line := func(s string) string { return s + "\n" }
	body := line(`{"model":"qwen3","created_at":"2025-08-20T13:48:24Z","message":{"role":"assistant","content":"","thinking":"Two cities."},"done":false}`) +
		line(`{"model":"qwen3","created_at":"2025-08-20T13:48:25Z","message":{"role":"assistant","content":"","tool_calls":[`+
			`{"id":"call_own","function":{"index":0,"name":"get_weather","arguments":{"city": "Paris","units":["c"]}}},`+
			`{"function":{"index":1,"name":"get_time","arguments":{}}}]},"done":false}`) +
		line(`{"model":"qwen3","created_at":"2025-08-20T13:48:26Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":120,"prompt_eval_cached_count":100,"eval_count":30}`)
	sink, err := ollamaReplay(t, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"reasoning_content":"Two cities."} null`,
		`{"tool_calls":[{"index":0,"id":"call_own","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"units\":[\"c\"]}"}}]} null`,
		`{"tool_calls":[{"index":1,"id":"call_X","type":"function","function":{"name":"get_time","arguments":"{}"}}]} null`,
		`{} "tool_calls"`,
	}
	if got := ollamaDeltas(t, sink.chunks); !reflect.DeepEqual(got, want) {
		t.Errorf("deltas:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	wantUsage := usage.Usage{PromptTokens: 120, CompletionTokens: 30, TotalTokens: 150, CachedTokens: 100, Origin: usage.Reported}
	if len(sink.usages) != 1 || sink.usages[0] != wantUsage {
		t.Errorf("usage = %+v, want %+v", sink.usages, wantUsage)
	}
}

func TestOllamaStreamEdgeCases(t *testing.T) {
	const text = `{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}` + "\n"
	t.Run("length", func(t *testing.T) {
		sink, err := ollamaReplay(t, []byte(text+`{"message":{"role":"assistant","content":""},"done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := ollamaDeltas(t, sink.chunks); !reflect.DeepEqual(got, []string{`{"content":"Hi"} null`, `{} "length"`}) {
			t.Errorf("deltas %q", got)
		}
	})
	for name, done := range map[string]string{
		"no prompt_eval_count": `{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":1}`,
		"no eval_count":        `{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":7}`,
		"bare done":            `{"done":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			sink, err := ollamaReplay(t, []byte(text+done))
			if err != nil {
				t.Fatal(err)
			}
			if len(sink.usages) != 0 {
				t.Errorf("a missing count must leave usage unknown (the engine counts), got %+v", sink.usages)
			}
			if got := ollamaDeltas(t, sink.chunks); !reflect.DeepEqual(got, []string{`{"content":"Hi"} null`, `{} "stop"`}) {
				t.Errorf("deltas %q", got)
			}
		})
	}
	t.Run("error line", func(t *testing.T) {
		sink, err := ollamaReplay(t, []byte(text+`{"error":"an error was encountered while running the model: unexpected EOF"}`+"\n"))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadGateway || !strings.Contains(e.Message, "unexpected EOF") {
			t.Fatalf("err = %v, want a 502 with the upstream's message", err)
		}
		if len(sink.chunks) != 2 || len(sink.usages) != 0 {
			t.Errorf("chunks %q usages %+v: want role + text and nothing more", sink.chunks, sink.usages)
		}
	})
	t.Run("cut", func(t *testing.T) {
		sink, err := ollamaReplay(t, []byte(text+text))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadGateway || e.Code != "upstream_stream_cut" {
			t.Fatalf("err = %v, want a stream-cut error", err)
		}
		if e.Kind != KindNoAnswer {
			t.Errorf("kind %v, want no_answer (what retries read)", e.Kind)
		}
		for _, c := range sink.chunks {
			if gjson.GetBytes(c, "choices.0.finish_reason").String() != "" {
				t.Errorf("no finish chunk may be sent for a cut stream: %s", c)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		sink, err := ollamaReplay(t, nil)
		if err == nil || len(sink.chunks) != 0 {
			t.Errorf("an empty stream must fail: %v %q", err, sink.chunks)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		if _, err := ollamaReplay(t, []byte(text+"<html>502 Bad Gateway</html>\n")); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("escapes pass through", func(t *testing.T) {
		sink, err := ollamaReplay(t, []byte(`{"message":{"content":"a\u003cb\u2028\"c\"\n"},"done":true,"prompt_eval_count":1,"eval_count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(sink.chunks[1], "choices.0.delta.content").String(); got != "a<b\u2028\"c\"\n" {
			t.Errorf("content = %q", got)
		}
	})
}

func TestOllamaResponse(t *testing.T) {
	o := NewOllama(OllamaOptions{})
	req := &Request{ClientModel: "ollama/qwen3"}
	t.Run("text", func(t *testing.T) {
		// The non-streamed answer is the stream's last line with the whole message.
		body := []byte(`{"model":"gemma3:1b","created_at":"2025-08-20T13:48:24.421331Z","message":{"role":"assistant","content":"Okay, here we go!\n\n1, 2, 3, 4, 5\n","thinking":"Count."},"done_reason":"stop","done":true,"total_duration":171946792,"load_duration":38473250,"prompt_eval_count":16,"prompt_eval_duration":27608250,"eval_count":22,"eval_duration":105611917}`)
		out, u, err := o.TranslateResponse(req, body)
		if err != nil {
			t.Fatal(err)
		}
		want := usage.Usage{PromptTokens: 16, CompletionTokens: 22, TotalTokens: 38, Origin: usage.Reported}
		if u != want {
			t.Errorf("usage = %+v, want %+v", u, want)
		}
		r := gjson.ParseBytes(out)
		checks := map[string]string{
			"object":                              "chat.completion",
			"model":                               "ollama/qwen3",
			"choices.0.message.role":              "assistant",
			"choices.0.message.content":           "Okay, here we go!\n\n1, 2, 3, 4, 5\n",
			"choices.0.message.reasoning_content": "Count.",
			"choices.0.finish_reason":             "stop",
			"usage.prompt_tokens":                 "16",
			"usage.completion_tokens":             "22",
			"usage.total_tokens":                  "38",
		}
		for path, w := range checks {
			if g := r.Get(path).String(); g != w {
				t.Errorf("%s = %q, want %q", path, g, w)
			}
		}
		if !strings.HasPrefix(r.Get("id").String(), "chatcmpl-") || r.Get("created").Int() < time.Now().Add(-time.Minute).Unix() {
			t.Errorf("id %q created %d", r.Get("id"), r.Get("created").Int())
		}
	})
	t.Run("tool calls", func(t *testing.T) {
		body := []byte(`{"model":"qwen3","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}},{"id":"call_9","function":{"name":"get_time","arguments":{}}}]},"done_reason":"stop","done":true,"prompt_eval_count":50,"eval_count":12}`)
		out, _, err := o.TranslateResponse(req, body)
		if err != nil {
			t.Fatal(err)
		}
		r := gjson.ParseBytes(out)
		if r.Get("choices.0.finish_reason").String() != "tool_calls" || r.Get("choices.0.message.content").Type != gjson.Null {
			t.Errorf("finish %s content %s", r.Get("choices.0.finish_reason").Raw, r.Get("choices.0.message.content").Raw)
		}
		calls := r.Get("choices.0.message.tool_calls").Array()
		if len(calls) != 2 ||
			!regexp.MustCompile(`^call_[A-Za-z0-9]{24}$`).MatchString(calls[0].Get("id").String()) ||
			calls[0].Get("function.arguments").String() != `{"city":"Tokyo"}` ||
			calls[1].Get("id").String() != "call_9" || calls[1].Get("function.arguments").String() != "{}" {
			t.Errorf("tool_calls = %s", r.Get("choices.0.message.tool_calls").Raw)
		}
	})
	t.Run("missing count", func(t *testing.T) {
		out, u, err := o.TranslateResponse(req, []byte(`{"message":{"role":"assistant","content":"Hi"},"done_reason":"length","done":true,"eval_count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if u.Known() || gjson.GetBytes(out, "usage").Exists() {
			t.Errorf("usage %+v / %s: a missing prompt_eval_count must be unknown, not 0", u, gjson.GetBytes(out, "usage").Raw)
		}
		if gjson.GetBytes(out, "choices.0.finish_reason").String() != "length" {
			t.Errorf("finish_reason = %s", gjson.GetBytes(out, "choices.0.finish_reason").Raw)
		}
	})
	for _, bad := range []string{`<html>`, `[]`, `{"error":"model runner crashed"}`} {
		if _, _, err := o.TranslateResponse(req, []byte(bad)); err == nil {
			t.Errorf("TranslateResponse(%s): want an error", bad)
		} else if e := (*Error)(nil); !errors.As(err, &e) || e.Status != http.StatusBadGateway {
			t.Errorf("TranslateResponse(%s) = %v, want a 502 *Error", bad, err)
		}
	}
}

func TestOllamaTranslateError(t *testing.T) {
	o := NewOllama(OllamaOptions{})
	tests := []struct {
		status        int
		body          string
		typ, code     string
		msgContaining string
	}{
		{404, `{"error":"model 'llama9' not found"}`, "not_found_error", "model_not_found", "model 'llama9' not found"},
		{400, `{"error":"registry.ollama.ai/library/gemma3:1b does not support tools"}`, "invalid_request_error", "", "does not support tools"},
		{404, "404 page not found", "not_found_error", "", "without /v1"},
		{401, `{"error":"unauthorized"}`, "authentication_error", "invalid_api_key", "unauthorized"},
		{500, "", "server_error", "", "HTTP 500: Internal Server Error"},
		{400, `{"error":{"message":"invalid format","type":"invalid_request_error","param":null,"code":null}}`, "invalid_request_error", "", "invalid format"},
	}
	for _, tc := range tests {
		e := o.TranslateError(tc.status, http.Header{}, []byte(tc.body))
		if e.Status != tc.status || e.Type != tc.typ || e.Code != tc.code || !strings.Contains(e.Message, tc.msgContaining) || !strings.HasPrefix(e.Message, "ollama: ") {
			t.Errorf("TranslateError(%d, %s) = %d %s %q %q; want %s %q containing %q", tc.status, tc.body, e.Status, e.Type, e.Code, e.Message, tc.typ, tc.code, tc.msgContaining)
		}
	}
	if e := o.TranslateError(503, http.Header{"Retry-After": {"4"}}, []byte(`{"error":"server busy"}`)); e.RetryAfter != 4*time.Second {
		t.Errorf("retry-after: %v", e.RetryAfter)
	}
}

// ollamaEndlessBody generates n NDJSON text lines, then a done line, without holding the stream in memory.
type ollamaEndlessBody struct {
	n, i int
	buf  []byte
}

func (b *ollamaEndlessBody) Read(p []byte) (int, error) {
	if len(b.buf) == 0 {
		switch {
		case b.i < b.n:
			b.buf = append(b.buf[:0], `{"model":"gemma3:1b","created_at":"2025-08-20T13:48:24.316155Z","message":{"role":"assistant","content":" token `...)
			b.buf = strconv.AppendInt(b.buf, int64(b.i), 10)
			b.buf = append(b.buf, `"},"done":false}`+"\n"...)
		case b.i == b.n:
			b.buf = append(b.buf[:0], `{"model":"gemma3:1b","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":16,"eval_count":22}`+"\n"...)
		default:
			return 0, io.EOF
		}
		b.i++
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// TestOllamaStreamHeapFlat translates 10,000 lines and checks the heap does not grow with the stream.
func TestOllamaStreamHeapFlat(t *testing.T) {
	run := func(n int) (uint64, int) {
		o := NewOllama(OllamaOptions{})
		tr := o.NewStream(&Request{ClientModel: "ollama/gemma3:1b"})
		r := o.NewEventReader(&ollamaEndlessBody{n: n}, 0)
		sink := &countingSink{}
		var ms runtime.MemStats
		var peak uint64
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("stream ended before the done line: %v", err)
			}
			done, err := tr.Translate(ev, sink)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
			if i%2000 == 1000 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		if err := tr.Finish(sink, false); err != nil {
			t.Fatal(err)
		}
		return peak, sink.chunks
	}
	run(100) // warm up
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak, chunks := run(10000)
	if chunks != 10002 {
		t.Fatalf("%d chunks, want 10002 (role, 10000 deltas, finish)", chunks)
	}
	if peak > base.HeapAlloc+256<<10 {
		t.Errorf("heap grew from %d to %d bytes over 10,000 lines: the translator keeps stream data", base.HeapAlloc, peak)
	}
}

// BenchmarkOllamaStream measures the relay of an Ollama stream, per line: NDJSON read, line translated to
// one chunk, chunk handed to the sink (comparable with BenchmarkOpenAIRelay).
func BenchmarkOllamaStream(b *testing.B) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(&ollamaEndlessBody{n: 200})
	o := NewOllama(OllamaOptions{})
	req := &Request{ClientModel: "ollama/gemma3:1b", Stream: true}
	benchmarkRelay(b, body.Bytes(), func(r io.Reader) EventReader { return o.NewEventReader(r, 0) }, func() StreamTranslator { return o.NewStream(req) }, "ns/line")
}
