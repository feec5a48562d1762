package transform

import (
	"bytes"
	"encoding/base64"
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

const geminiFixtures = "../testdata/fixtures/gemini"

const geminiTestCreated = 1700000000

// recordingSink records what a translator passes on.
// geminiReplay feeds an upstream SSE body through a Gemini stream translator, as the engine does, and
// returns what the client would get and the error the stream ended with.
func geminiReplay(t testing.TB, body []byte) (*recordingSink, error) {
	t.Helper()
	tr := NewGemini(GeminiOptions{}).NewStream(&Request{ClientModel: "google/gemini", Stream: true})
	tr.(*geminiStream).created = geminiTestCreated
	return replayStream(t, tr, body, true)
}

func readGeminiFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(geminiFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var geminiCallIDPattern = regexp.MustCompile(`call_[A-Za-z0-9]{24}`)

// geminiChunkHead is the start of every chunk of a replayed stream with the given response id.
func geminiChunkHead(respID string) string {
	return `{"id":"chatcmpl-` + respID + `","object":"chat.completion.chunk","created":1700000000,"model":"google/gemini","choices":[{"index":0,"delta":`
}

func TestGeminiStreamFixtures(t *testing.T) {
	const tail = `,"logprobs":null,"finish_reason":null}]}`
	tests := []struct {
		fixture string
		respID  string
		deltas  []string // expected deltas after the role chunk; the last chunk is checked by finish
		finish  string
		usage   usage.Usage
	}{
		{
			fixture: "stream_function_call.sse",
			respID:  "1lpeaMTxIpW1nvgP-O3vwQY",
			deltas:  []string{`{"tool_calls":[{"index":0,"id":"call_X","type":"function","function":{"name":"get_capital","arguments":"{\"country\":\"France\"}"}}]}`},
			finish:  "tool_calls",
			usage:   usage.Usage{PromptTokens: 52, CompletionTokens: 5, TotalTokens: 57, Origin: usage.Reported},
		},
		{
			fixture: "stream_text_usage.sse",
			respID:  "w1peaMz6INOvnvgPgYfPiQY",
			deltas:  []string{`{"content":"The"}`, `{"content":" capital of France"}`, `{"content":" is Paris.\n"}`},
			finish:  "stop",
			// The last usageMetadata wins (prompt 13, not 15, and never 15+15+13).
			usage: usage.Usage{PromptTokens: 13, CompletionTokens: 8, TotalTokens: 21, Origin: usage.Reported},
		},
		{
			fixture: "stream_tool_call_thought_signature.sse",
			respID:  "QUVVadTSNJ6_qtsPvN7J8Q0",
			deltas:  []string{`{"tool_calls":[{"index":0,"id":"call_X","type":"function","function":{"name":"get_country","arguments":"{}"}}]}`},
			finish:  "tool_calls",
			usage:   usage.Usage{PromptTokens: 29, CompletionTokens: 212, TotalTokens: 241, ReasoningTokens: 202, Origin: usage.Reported},
		},
		{
			fixture: "stream_text_after_thought_signature.sse",
			respID:  "REVVabaiCdq4qtsPnZu96Qo",
			deltas:  []string{`{"content":"The capital of Mexico"}`, `{"content":" is Mexico City."}`},
			finish:  "stop",
			usage:   usage.Usage{PromptTokens: 257, CompletionTokens: 8, TotalTokens: 265, Origin: usage.Reported},
		},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			sink, err := geminiReplay(t, readGeminiFixture(t, tc.fixture))
			if err != nil {
				t.Fatalf("stream ended with error: %v", err)
			}
			head := geminiChunkHead(tc.respID)
			want := []string{head + `{"role":"assistant","content":""}` + tail}
			for _, d := range tc.deltas {
				want = append(want, head+d+tail)
			}
			want = append(want, head+`{},"logprobs":null,"finish_reason":"`+tc.finish+`"}]}`)
			var got []string
			for _, c := range sink.chunks {
				if !json.Valid(c) {
					t.Errorf("chunk is not valid JSON: %s", c)
				}
				// Tool call ids are random (and carry the signature): check their shape, then mask them.
				s := regexp.MustCompile(`"id":"call_[A-Za-z0-9]{24}(__thought__[A-Za-z0-9_-]+)?"`).ReplaceAllString(string(c), `"id":"call_X"`)
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("chunks:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			if len(sink.usages) != 1 || sink.usages[0] != tc.usage {
				t.Errorf("usage reports = %+v, want exactly one %+v", sink.usages, tc.usage)
			}
		})
	}
}

// TestGeminiThoughtSignatureRoundTrip replays the Gemini 3 tool call, feeds the minted id back as an OpenAI
// client would, and checks that the second-turn request is the one Gemini accepted in the recording.
func TestGeminiThoughtSignatureRoundTrip(t *testing.T) {
	sink, err := geminiReplay(t, readGeminiFixture(t, "stream_tool_call_thought_signature.sse"))
	if err != nil {
		t.Fatal(err)
	}
	id := gjson.GetBytes(sink.chunks[1], "choices.0.delta.tool_calls.0.id").String()
	if !strings.HasPrefix(id, "call_") || !strings.Contains(id, geminiSignatureSeparator) {
		t.Fatalf("tool call id %q does not carry the thought signature", id)
	}

	second := []byte(`{"model":"google/gemini-3-pro-preview","stream":true,"messages":[
		{"role":"user","content":"What is the capital of the user country? Call the tool"},
		{"role":"assistant","content":null,"tool_calls":[{"id":` + strconv.Quote(id) + `,"type":"function","function":{"name":"get_country","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":` + strconv.Quote(id) + `,"content":"{\"return_value\":\"Mexico\"}"}],
		"tools":[{"type":"function","function":{"name":"get_country","description":"","parameters":{"additionalProperties":false,"properties":{},"type":"object"}}}]}`)
	out, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Body: second, Model: "gemini-3-pro-preview", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != "/models/gemini-3-pro-preview:streamGenerateContent?alt=sse" {
		t.Errorf("path = %q", out.Path)
	}

	recorded := readGeminiFixture(t, "stream_text_after_thought_signature.request.json")
	wantSig := gjson.GetBytes(recorded, "contents.1.parts.0.thoughtSignature").String()
	gotSig := gjson.GetBytes(out.Body, "contents.1.parts.0.thoughtSignature").String()
	wantRaw, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(wantSig, "="))
	gotRaw, err2 := base64.StdEncoding.DecodeString(gotSig)
	if err1 != nil || err2 != nil || len(wantRaw) == 0 || !bytes.Equal(gotRaw, wantRaw) {
		t.Fatalf("thoughtSignature bytes differ from the recorded second turn (%v, %v):\n got %q\nwant %q", err1, err2, gotSig, wantSig)
	}
	// Gemini sent the signature in standard base64; it goes back exactly as sent.
	sent := gjson.Get(strings.SplitN(string(readGeminiFixture(t, "stream_tool_call_thought_signature.sse")), "\r\n", 2)[0][len("data: "):],
		"candidates.0.content.parts.0.thoughtSignature").String()
	if gotSig != sent {
		t.Errorf("thoughtSignature = %q, want it as Gemini sent it: %q", gotSig, sent)
	}

	// Apart from the ids each client chooses and the signature's base64 alphabet, the contents are the
	// recorded ones.
	norm := func(body []byte) any {
		var v any
		if err := json.Unmarshal([]byte(gjson.GetBytes(body, "contents").Raw), &v); err != nil {
			t.Fatal(err)
		}
		for _, c := range v.([]any) {
			for _, p := range c.(map[string]any)["parts"].([]any) {
				pm := p.(map[string]any)
				for _, k := range []string{"functionCall", "functionResponse"} {
					if f, ok := pm[k].(map[string]any); ok {
						delete(f, "id")
					}
				}
				if _, ok := pm["thoughtSignature"]; ok {
					pm["thoughtSignature"] = "SIG"
				}
			}
		}
		return v
	}
	if g, w := norm(out.Body), norm(recorded); !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		t.Errorf("contents:\n got %s\nwant %s", gj, wj)
	}
	base, _ := splitGeminiToolCallID(id)
	if got := gjson.GetBytes(out.Body, "contents.1.parts.0.functionCall.id").String(); got != base {
		t.Errorf("functionCall.id = %q, want the call id without the signature %q", got, base)
	}
	if got := gjson.GetBytes(out.Body, "contents.2.parts.0.functionResponse.id").String(); got != base {
		t.Errorf("functionResponse.id = %q, want %q", got, base)
	}
}

func TestGeminiToolCallID(t *testing.T) {
	id := geminiMintCallID("", "ab+/cQ==")
	base, sig := splitGeminiToolCallID(id)
	if !geminiCallIDPattern.MatchString(base) || len(base) != len("call_")+24 {
		t.Errorf("minted call id %q", base)
	}
	if sig != "ab+/cQ==" {
		t.Errorf("signature = %q, want ab+/cQ==", sig)
	}
	if strings.ContainsAny(id, "+/=") {
		t.Errorf("id %q is not URL-safe", id)
	}
	if got := geminiMintCallID("fc_1", ""); got != "fc_1" {
		t.Errorf("Gemini's own id without signature = %q, want fc_1", got)
	}
	for _, foreign := range []string{"toolu_01A09q90qw90lq917835lq9", "call_abc", "", "x__thought__!!!"} {
		if b, s := splitGeminiToolCallID(foreign); b != foreign || s != "" {
			t.Errorf("splitGeminiToolCallID(%q) = %q, %q; want the id unchanged and no signature", foreign, b, s)
		}
	}
}

func TestGeminiRequestPathsAndAuth(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	body := []byte(`{"model":"google/x","messages":[{"role":"user","content":"hi"}]}`)
	out, err := g.BuildRequest(&Request{Body: body, Model: "gemini-2.5-flash-lite"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != "/models/gemini-2.5-flash-lite:generateContent" {
		t.Errorf("path = %q", out.Path)
	}
	if got := string(out.Body); got != `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}` {
		t.Errorf("body = %s", got)
	}
	out, _ = g.BuildRequest(&Request{Body: body, Model: "gemini-2.5-flash-lite", Stream: true})
	if out.Path != "/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse" {
		t.Errorf("stream path = %q", out.Path)
	}
	h := http.Header{}
	g.Authorize(&http.Request{Header: h}, "AIzaSECRET")
	if h.Get("x-goog-api-key") != "AIzaSECRET" || h.Get("Authorization") != "" {
		t.Errorf("auth headers = %v", h)
	}
	if strings.Contains(out.Path, "key=") {
		t.Errorf("the key must never be in the URL: %q", out.Path)
	}
}

func TestGeminiRequestToolChoice(t *testing.T) {
	tests := []struct{ choice, want string }{
		{`"auto"`, `{"mode":"AUTO"}`},
		{`"none"`, `{"mode":"NONE"}`},
		{`"required"`, `{"mode":"ANY"}`},
		{`{"type":"function","function":{"name":"f"}}`, `{"mode":"ANY","allowedFunctionNames":["f"]}`},
		{`{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}]}}`, `{"mode":"AUTO","allowedFunctionNames":["f","g"]}`},
		{`{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"g"}}]}}`, `{"mode":"ANY","allowedFunctionNames":["g"]}`},
	}
	for _, tc := range tests {
		body := `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"tool_choice":` + tc.choice + `}`
		out, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Body: []byte(body), Model: "m"})
		if err != nil {
			t.Errorf("%s: %v", tc.choice, err)
			continue
		}
		if got := gjson.GetBytes(out.Body, "toolConfig.functionCallingConfig").Raw; got != tc.want {
			t.Errorf("tool_choice %s -> %s, want %s", tc.choice, got, tc.want)
		}
	}
}

func TestGeminiRequestErrors(t *testing.T) {
	const user = `{"role":"user","content":"x"}`
	tests := []struct {
		name, body, param string
		stream            bool
	}{
		{"invalid JSON", `{"messages":[`, "", false},
		{"only system", `{"messages":[{"role":"system","content":"s"}]}`, "messages", false},
		{"unknown role", `{"messages":[{"role":"robot","content":"x"}]}`, "messages[0].role", false},
		{"tool id without call", `{"messages":[` + user + `,{"role":"tool","tool_call_id":"nope","content":"r"}]}`, "messages[1].tool_call_id", false},
		{"arguments not an object", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments", false},
		{"arguments not JSON", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`, "messages[1].tool_calls[0].function.arguments", false},
		{"unsupported part", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, "messages[0].content[0].type", false},
		{"not base64 data URL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url", false},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url", false},
		{"file id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, "messages[0].content[0].file", false},
		{"bad tool_choice", `{"messages":[` + user + `],"tool_choice":"sometimes"}`, "tool_choice", false},
		{"non-function tool", `{"messages":[` + user + `],"tools":[{"type":"web_search"}]}`, "tools[0].type", false},
		{"too many stops", `{"messages":[` + user + `],"stop":["1","2","3","4","5","6"]}`, "stop", false},
		{"stop not strings", `{"messages":[` + user + `],"stop":[1]}`, "stop", false},
		{"seed not integer", `{"messages":[` + user + `],"seed":1.5}`, "seed", false},
		{"n streamed", `{"messages":[` + user + `],"n":2}`, "n", true},
		{"bad response_format", `{"messages":[` + user + `],"response_format":{"type":"yaml"}}`, "response_format.type", false},
	}
	for _, tc := range tests {
		_, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Body: []byte(tc.body), Model: "m", Stream: tc.stream})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: err = %v, want an *Error", tc.name, err)
			continue
		}
		if e.Status != http.StatusBadRequest || e.Type != "invalid_request_error" || e.Param != tc.param || e.Message == "" {
			t.Errorf("%s: got %d %s param=%q %q, want 400 invalid_request_error param=%q", tc.name, e.Status, e.Type, e.Param, e.Message, tc.param)
		}
	}
}

func TestGeminiRequestOptions(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":"x"},
		{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"call_2","type":"function","function":{"name":"g","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"1"},{"role":"tool","tool_call_id":"call_2","content":"2"}]}`)
	g := NewGemini(GeminiOptions{IncludeThoughts: true, SignatureFallback: "skip_thought_signature_validator"})
	out, err := g.BuildRequest(&Request{Body: body, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	parts := gjson.GetBytes(out.Body, "contents.1.parts")
	if got := parts.Get("0.thoughtSignature").String(); got != "skip_thought_signature_validator" {
		t.Errorf("first call of a foreign history: thoughtSignature = %q, want the fallback; parts %s", got, parts.Raw)
	}
	if parts.Get("1.thoughtSignature").Exists() {
		t.Errorf("only the first call of a step gets the fallback: %s", parts.Raw)
	}
	if got := gjson.GetBytes(out.Body, "generationConfig.thinkingConfig").Raw; got != `{"includeThoughts":true}` {
		t.Errorf("thinkingConfig = %s", got)
	}
	// Both results of the step go back in one user turn.
	if got := gjson.GetBytes(out.Body, "contents.#").Int(); got != 3 {
		t.Errorf("%d contents, want 3: %s", got, out.Body)
	}
	if got := gjson.GetBytes(out.Body, "contents.2.parts.1.functionResponse").Raw; got != `{"name":"g","response":{"result":"2"},"id":"call_2"}` {
		t.Errorf("second functionResponse = %s", got)
	}
}

func TestGeminiResponse(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	req := &Request{ClientModel: "google/gemini-2.0-flash"}

	// A recorded stream event is a whole GenerateContentResponse, the same as a non-streamed answer.
	event := bytes.TrimPrefix(bytes.TrimSpace(readGeminiFixture(t, "stream_function_call.sse")), []byte("data: "))
	out, u, err := g.TranslateResponse(req, event)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	checks := map[string]string{
		"id":                                  "chatcmpl-1lpeaMTxIpW1nvgP-O3vwQY",
		"object":                              "chat.completion",
		"model":                               "google/gemini-2.0-flash",
		"choices.0.finish_reason":             "tool_calls",
		"choices.0.message.role":              "assistant",
		"choices.0.message.content":           "",
		"choices.0.message.tool_calls.0.type": "function",
		"choices.0.message.tool_calls.0.function.name":      "get_capital",
		"choices.0.message.tool_calls.0.function.arguments": `{"country":"France"}`,
		"usage.prompt_tokens":                               "52",
		"usage.completion_tokens":                           "5",
		"usage.total_tokens":                                "57",
	}
	for path, want := range checks {
		if got := gjson.GetBytes(out, path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if gjson.GetBytes(out, "choices.0.message.content").Type != gjson.Null {
		t.Errorf("content must be null beside tool calls: %s", out)
	}
	if id := gjson.GetBytes(out, "choices.0.message.tool_calls.0.id").String(); !geminiCallIDPattern.MatchString(id) {
		t.Errorf("tool call id %q", id)
	}
	if c := gjson.GetBytes(out, "created").Int(); c < time.Now().Add(-time.Minute).Unix() {
		t.Errorf("created = %d", c)
	}
	if u != (usage.Usage{PromptTokens: 52, CompletionTokens: 5, TotalTokens: 57, Origin: usage.Reported}) {
		t.Errorf("usage = %+v", u)
	}

	// Thoughts, text, cached and tool-use prompt tokens, and a second candidate.
	body := []byte(`{"candidates":[
		{"content":{"role":"model","parts":[{"text":"Let me think.","thought":true},{"text":"Hello"},{"text":""},{"text":" world"}]},"finishReason":"MAX_TOKENS","index":0},
		{"content":{"role":"model","parts":[{"text":"Hi"}]},"finishReason":"SAFETY","index":1}],
		"usageMetadata":{"promptTokenCount":100,"toolUsePromptTokenCount":7,"cachedContentTokenCount":60,"candidatesTokenCount":10,"thoughtsTokenCount":20,"totalTokenCount":137}}`)
	out, u, err = g.TranslateResponse(req, body)
	if err != nil {
		t.Fatal(err)
	}
	checks = map[string]string{
		"choices.#":                                        "2",
		"choices.0.message.content":                        "Hello world",
		"choices.0.message.reasoning_content":              "Let me think.",
		"choices.0.finish_reason":                          "length",
		"choices.1.index":                                  "1",
		"choices.1.message.content":                        "Hi",
		"choices.1.finish_reason":                          "content_filter",
		"usage.prompt_tokens":                              "107",
		"usage.completion_tokens":                          "30",
		"usage.total_tokens":                               "137",
		"usage.prompt_tokens_details.cached_tokens":        "60",
		"usage.completion_tokens_details.reasoning_tokens": "20",
	}
	for path, want := range checks {
		if got := gjson.GetBytes(out, path).String(); got != want {
			t.Errorf("%s = %q, want %q (%s)", path, got, want, out)
		}
	}
	if !json.Valid(out) || gjson.GetBytes(out, "choices.1.message.reasoning_content").Exists() {
		t.Errorf("bad second choice: %s", out)
	}
	if u.PromptTokens != 107 || u.CompletionTokens != 30 || u.ReasoningTokens != 20 || u.CachedTokens != 60 {
		t.Errorf("usage = %+v", u)
	}

	// A blocked prompt has no candidates.
	out, _, err = g.TranslateResponse(req, []byte(`{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}`))
	if err != nil || gjson.GetBytes(out, "choices.0.finish_reason").String() != "content_filter" || gjson.GetBytes(out, "choices.0.message.content").String() != "" {
		t.Errorf("blocked prompt: %s, %v", out, err)
	}
	if _, _, err := g.TranslateResponse(req, []byte("<html>")); err == nil {
		t.Error("a non-JSON body must be an error")
	}
}

func TestGeminiFinishReason(t *testing.T) {
	tests := []struct {
		reason string
		call   bool
		want   string
	}{
		{"STOP", false, "stop"}, {"STOP", true, "tool_calls"}, {"MAX_TOKENS", true, "length"},
		{"SAFETY", false, "content_filter"}, {"RECITATION", false, "content_filter"}, {"BLOCKLIST", false, "content_filter"},
		{"PROHIBITED_CONTENT", false, "content_filter"}, {"SPII", false, "content_filter"}, {"LANGUAGE", false, "content_filter"},
		{"IMAGE_SAFETY", false, "content_filter"}, {"OTHER", false, "stop"}, {"MALFORMED_FUNCTION_CALL", false, "stop"},
	}
	for _, tc := range tests {
		if got := geminiFinishReason(tc.reason, tc.call); got != tc.want {
			t.Errorf("geminiFinishReason(%s, %v) = %s, want %s", tc.reason, tc.call, got, tc.want)
		}
	}
}

func TestGeminiTranslateError(t *testing.T) {
	g := NewGemini(GeminiOptions{})
	e := g.TranslateError(429, http.Header{}, readGeminiFixture(t, "error_429_resource_exhausted.json"))
	if e.Status != 429 || e.Type != "rate_limit_error" || e.Code != "rate_limit_exceeded" || e.RetryAfter != 34400*time.Millisecond {
		t.Errorf("429 = %+v", e)
	}
	if !strings.Contains(e.Message, "You exceeded your current quota") {
		t.Errorf("message = %q", e.Message)
	}
	h := http.Header{}
	e.WriteHeaders(h)
	if h.Get("Retry-After") != "35" {
		t.Errorf("Retry-After = %q, want 35", h.Get("Retry-After"))
	}
	if !json.Valid(e.AppendJSON(nil)) {
		t.Errorf("error body is not JSON: %s", e.AppendJSON(nil))
	}

	rpc := func(code int, status, extra string) []byte {
		return []byte(`{"error":{"code":` + strconv.Itoa(code) + `,"message":"m","status":"` + status + `"` + extra + `}}`)
	}
	tests := []struct {
		name       string
		status     int
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{"bad key", 400, rpc(400, "INVALID_ARGUMENT", `,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]`), 401, "invalid_api_key"},
		{"invalid argument", 400, rpc(400, "INVALID_ARGUMENT", ""), 400, ""},
		{"permission", 403, rpc(403, "PERMISSION_DENIED", ""), 403, ""},
		{"unknown model", 404, rpc(404, "NOT_FOUND", ""), 404, "model_not_found"},
		{"internal", 500, rpc(500, "INTERNAL", ""), 500, ""},
		{"overloaded", 503, rpc(503, "UNAVAILABLE", ""), 503, ""},
		{"deadline", 504, rpc(504, "DEADLINE_EXCEEDED", ""), 504, ""},
		{"array wrapped", 503, []byte(`[{"error":{"code":503,"message":"m","status":"UNAVAILABLE"}}]`), 503, ""},
		{"html", 502, []byte("<html><body>Bad Gateway</body></html>"), 502, ""},
	}
	for _, tc := range tests {
		e := g.TranslateError(tc.status, http.Header{}, tc.body)
		if e.Status != tc.wantStatus || e.Code != tc.wantCode || e.Type != TypeForStatus(tc.wantStatus) || e.Message == "" {
			t.Errorf("%s: got %d %s code=%q %q", tc.name, e.Status, e.Type, e.Code, e.Message)
		}
	}
	if e := g.TranslateError(502, http.Header{}, []byte("<html>Bad Gateway</html>")); !strings.Contains(e.Message, "Bad Gateway") {
		t.Errorf("non-JSON body: message %q should quote the body", e.Message)
	}
	if e := g.TranslateError(503, http.Header{"Retry-After": {"7"}}, []byte("busy")); e.RetryAfter != 7*time.Second {
		t.Errorf("retry-after header: %v", e.RetryAfter)
	}
}

func TestGeminiStreamEdgeCases(t *testing.T) {
	ev := func(json string) string { return "data: " + json + "\r\n\r\n" }
	t.Run("error event", func(t *testing.T) {
		sink, err := geminiReplay(t, []byte(ev(`{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}`)+
			ev(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`)))
		var e *Error
		if !errors.As(err, &e) || e.Status != 503 || !strings.Contains(e.Message, "overloaded") {
			t.Fatalf("err = %v", err)
		}
		if len(sink.chunks) != 2 || len(sink.usages) != 1 || sink.usages[0].PromptTokens != 3 {
			t.Errorf("chunks %q usages %+v: want role + text and the usage that arrived", sink.chunks, sink.usages)
		}
	})
	t.Run("cut", func(t *testing.T) {
		sink, err := geminiReplay(t, []byte(ev(`{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}`)))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadGateway || e.Code != "upstream_stream_cut" {
			t.Fatalf("err = %v, want a stream-cut error", err)
		}
		if e.Kind != KindNoAnswer {
			t.Errorf("kind %v, want no_answer (what retries read)", e.Kind)
		}
		if len(sink.usages) != 1 {
			t.Errorf("usage that arrived must still be reported: %+v", sink.usages)
		}
		for _, c := range sink.chunks {
			if gjson.GetBytes(c, "choices.0.finish_reason").String() != "" {
				t.Errorf("no finish chunk may be sent for a cut stream: %s", c)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		sink, err := geminiReplay(t, nil)
		if err == nil || len(sink.chunks) != 0 {
			t.Errorf("an empty stream must fail: %v %q", err, sink.chunks)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		if _, err := geminiReplay(t, []byte(ev(`{"candidates":`))); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("thoughts, parallel calls, late events", func(t *testing.T) {
		sink, err := geminiReplay(t, []byte(
			ev(`{"candidates":[{"content":{"parts":[{"text":"**Plan**","thought":true}]}}]}`)+
				ev(`{"candidates":[{"content":{"parts":[{"text":"ok","thoughtSignature":"AAAA"},{"functionCall":{"name":"a","args":{"x": [1, 2]}},"thoughtSignature":"c2ln"},{"functionCall":{"name":"b"}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"thoughtsTokenCount":6,"totalTokenCount":19}}`)+
				ev(`{"candidates":[{"content":{"parts":[{"text":"late"}]}}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"thoughtsTokenCount":6,"totalTokenCount":20}}`)))
		if err != nil {
			t.Fatal(err)
		}
		var deltas []string
		for _, c := range sink.chunks[1:] {
			deltas = append(deltas, gjson.GetBytes(c, "choices.0.delta").Raw+" "+gjson.GetBytes(c, "choices.0.finish_reason").Raw)
		}
		want := []string{
			`{"reasoning_content":"**Plan**"} null`,
			`{"content":"ok"} null`,
			`{"tool_calls":[{"index":0,"id":"ID","type":"function","function":{"name":"a","arguments":"{\"x\":[1,2]}"}}]} null`,
			`{"tool_calls":[{"index":1,"id":"ID","type":"function","function":{"name":"b","arguments":"{}"}}]} null`,
			`{} "tool_calls"`,
		}
		for i := range deltas {
			deltas[i] = regexp.MustCompile(`"id":"[^"]*"`).ReplaceAllString(deltas[i], `"id":"ID"`)
		}
		if !reflect.DeepEqual(deltas, want) {
			t.Errorf("deltas:\n got %s\nwant %s", strings.Join(deltas, "\n     "), strings.Join(want, "\n     "))
		}
		if _, sig := splitGeminiToolCallID(gjson.GetBytes(sink.chunks[3], "choices.0.delta.tool_calls.0.id").String()); sig != "c2ln" {
			t.Errorf("first call signature = %q", sig)
		}
		if id := gjson.GetBytes(sink.chunks[4], "choices.0.delta.tool_calls.0.id").String(); strings.Contains(id, geminiSignatureSeparator) {
			t.Errorf("second call has no signature, its id must not carry one: %q", id)
		}
		if len(sink.usages) != 1 || sink.usages[0].TotalTokens != 20 || sink.usages[0].CompletionTokens != 11 {
			t.Errorf("usage = %+v, want the last one (20 total, 5+6 completion)", sink.usages)
		}
	})
	t.Run("blocked prompt", func(t *testing.T) {
		sink, err := geminiReplay(t, []byte(ev(`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8}}`)))
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.chunks) != 2 || gjson.GetBytes(sink.chunks[1], "choices.0.finish_reason").String() != "content_filter" {
			t.Errorf("chunks %q", sink.chunks)
		}
	})
}

// geminiEndlessBody generates n text events, then a final one, without holding the stream in memory.
type geminiEndlessBody struct {
	n, i int
	buf  []byte
}

func (b *geminiEndlessBody) Read(p []byte) (int, error) {
	if len(b.buf) == 0 {
		switch {
		case b.i < b.n:
			b.buf = append(b.buf[:0], `data: {"candidates": [{"content": {"parts": [{"text": "token `...)
			b.buf = strconv.AppendInt(b.buf, int64(b.i), 10)
			b.buf = append(b.buf, ` and some more words"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 15,"candidatesTokenCount": `...)
			b.buf = strconv.AppendInt(b.buf, int64(b.i), 10)
			b.buf = append(b.buf, `,"totalTokenCount": 99},"modelVersion": "gemini-2.5-flash","responseId": "w1peaMz6INOvnvgPgYfPiQY"}`+"\r\n\r\n"...)
		case b.i == b.n:
			b.buf = append(b.buf[:0], `data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP"}]}`+"\r\n\r\n"...)
		default:
			return 0, io.EOF
		}
		b.i++
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// TestGeminiStreamHeapFlat translates 10,000 events and checks the heap does not grow with the stream.
func TestGeminiStreamHeapFlat(t *testing.T) {
	run := func(n int) (uint64, int) {
		tr := NewGemini(GeminiOptions{}).NewStream(&Request{ClientModel: "google/gemini"})
		r := NewSSEReader(&geminiEndlessBody{n: n}, 0)
		sink := &countingSink{}
		var ms runtime.MemStats
		var peak uint64
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Translate(ev, sink); err != nil {
				t.Fatal(err)
			}
			if i%2000 == 1000 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		if err := tr.Finish(sink, true); err != nil {
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
		t.Errorf("heap grew from %d to %d bytes over 10,000 events: the translator keeps stream data", base.HeapAlloc, peak)
	}
}

// BenchmarkGeminiStream measures translating one text event (with usage, as Gemini sends) to one chunk.
func BenchmarkGeminiStream(b *testing.B) {
	data := []byte(`{"candidates": [{"content": {"parts": [{"text": " capital of France"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 15,"totalTokenCount": 15,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 15}]},"modelVersion": "gemini-2.0-flash-exp","responseId": "w1peaMz6INOvnvgPgYfPiQY"}`)
	tr := NewGemini(GeminiOptions{}).NewStream(&Request{ClientModel: "google/gemini"})
	sink := &countingSink{}
	ev := Event{Data: data}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Translate(ev, sink); err != nil {
			b.Fatal(err)
		}
	}
}
