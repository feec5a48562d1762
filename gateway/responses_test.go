package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// namedEvent is one server-sent event of a Responses stream.
type namedEvent struct {
	name string
	data gjson.Result
}

func parseNamedEvents(t *testing.T, body string) []namedEvent {
	t.Helper()
	var out []namedEvent
	for _, block := range strings.Split(body, "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		var ev namedEvent
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				ev.data = gjson.Parse(v)
			}
		}
		if ev.name == "" || ev.data.Get("type").Str != ev.name {
			t.Fatalf("event %q: name and type must agree", block)
		}
		out = append(out, ev)
	}
	for i, ev := range out {
		if ev.data.Get("sequence_number").Int() != int64(i) {
			t.Fatalf("event %d (%s) has sequence_number %d", i, ev.name, ev.data.Get("sequence_number").Int())
		}
	}
	return out
}

func eventNames(evs []namedEvent) string {
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = strings.TrimPrefix(e.name, "response.")
	}
	return strings.Join(names, " ")
}

func anthropicGateway(t *testing.T, base string, mutate ...func(*Config)) *Gateway {
	return newGateway(t, base, append([]func(*Config){func(c *Config) {
		c.Providers = []Provider{anthropicProvider(strings.TrimSuffix(base, "/v1"))}
	}}, mutate...)...)
}

func TestResponsesTranslatedToAnthropic(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[`+
			`{"type":"thinking","thinking":"Paris is the capital.","signature":"sig"},`+
			`{"type":"text","text":"Let me check."},`+
			`{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],`+
			`"stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":9,"cache_read_input_tokens":4}}`)
	})
	g := anthropicGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"anthropic/claude-x","instructions":"Be terse.",`+
		`"input":[{"role":"user","content":[{"type":"input_text","text":"Weather in Paris?"}]}],`+
		`"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}],`+
		`"max_output_tokens":100,"reasoning":{"effort":"low"}}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/messages" || gjson.GetBytes(up.body, "system").String() == "" ||
		gjson.GetBytes(up.body, "tools.0.name").Str != "get_weather" || gjson.GetBytes(up.body, "thinking.type").Str != "enabled" {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	body := gjson.Parse(rec.Body.String())
	if body.Get("object").Str != "response" || body.Get("status").Str != "completed" || body.Get("model").Str != "anthropic/claude-x" {
		t.Errorf("response %s", rec.Body)
	}
	if p, _, ok := unwrapResourceID(body.Get("id").Str); !ok || p != "anthropic" {
		t.Errorf("id %s must name the provider", body.Get("id"))
	}
	types := body.Get("output.#.type").Raw
	if types != `["reasoning","message","function_call"]` {
		t.Errorf("output types %s", types)
	}
	if c := body.Get("output.2"); c.Get("call_id").Str != "toolu_1" || gjson.Parse(c.Get("arguments").Str).Get("city").Str != "Paris" {
		t.Errorf("function call %s", c.Raw)
	}
	if body.Get("output.1.content.0.text").Str != "Let me check." || body.Get("output.0.summary.0.text").Str != "Paris is the capital." {
		t.Errorf("output %s", body.Get("output").Raw)
	}
	u := body.Get("usage")
	if int(u.Get("input_tokens").Int()) != res.Usage.PromptTokens || u.Get("output_tokens").Int() != 9 ||
		int(u.Get("total_tokens").Int()) != res.Usage.TotalTokens || u.Get("input_tokens_details.cached_tokens").Int() != 4 {
		t.Errorf("usage %s, result %+v", u.Raw, res.Usage)
	}
	if res.Endpoint != "responses" || res.Usage.Origin.String() != "reported" {
		t.Errorf("result %+v", res)
	}
}

func TestResponsesStreamTranslatedToolCalls(t *testing.T) {
	base, _ := fakeUpstream(t, replay(t, "anthropic/messages_stream_text_parallel_tool_use.sse", "text/event-stream"))
	g := anthropicGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"anthropic/claude-x","input":"tip?","stream":true,`+
		`"tools":[{"type":"function","name":"calculateTip","parameters":{"type":"object"}},{"type":"function","name":"getWaiterName","parameters":{"type":"object"}}]}`)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	evs := parseNamedEvents(t, rec.Body.String())
	names := eventNames(evs)
	if !strings.HasPrefix(names, "created in_progress output_item.added content_part.added output_text.delta") ||
		!strings.HasSuffix(names, "function_call_arguments.done output_item.done completed") {
		t.Fatalf("events: %s", names)
	}
	var args = map[string]string{}
	var deltas = map[string]string{}
	for _, ev := range evs {
		switch ev.name {
		case "response.function_call_arguments.delta":
			deltas[ev.data.Get("item_id").Str] += ev.data.Get("delta").Str
		case "response.function_call_arguments.done":
			args[ev.data.Get("item_id").Str] = ev.data.Get("arguments").Str
		}
	}
	if len(args) != 2 {
		t.Fatalf("%d function calls, want 2: %s", len(args), names)
	}
	for id, a := range args {
		if deltas[id] != a {
			t.Errorf("item %s: deltas %q, done %q", id, deltas[id], a)
		}
	}
	done := evs[len(evs)-1].data.Get("response")
	if done.Get("status").Str != "completed" || done.Get("output.#").Int() != 3 ||
		done.Get("output.0.content.0.text").Str != "I'll calculate the tip and get the waiter's name for you." {
		t.Errorf("completed %s", done.Raw)
	}
	if done.Get("usage.input_tokens").Int() != 679 || int(done.Get("usage.output_tokens").Int()) != res.Usage.CompletionTokens ||
		res.Usage.Origin.String() != "reported" {
		t.Errorf("usage %s, result %+v", done.Get("usage").Raw, res.Usage)
	}
	if evs[0].data.Get("response.id").Str != done.Get("id").Str {
		t.Errorf("ids differ: %s, %s", evs[0].data.Get("response.id"), done.Get("id"))
	}
}

func TestResponsesStreamCutEndsWithFailed(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}`+"\n\n")
	})
	g := newGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi","stream":true}`)
	evs := parseNamedEvents(t, rec.Body.String())
	names := eventNames(evs)
	if !strings.HasSuffix(names, "output_text.delta error failed") {
		t.Fatalf("events %s", names)
	}
	if evs[len(evs)-2].data.Get("error.code").Str != "upstream_stream_cut" || res.Err == nil {
		t.Errorf("error event %s", evs[len(evs)-2].data.Raw)
	}
}

func TestResponsesErrorsAreOpenAIShaped(t *testing.T) {
	base, seen := fakeUpstream(t, answer(1, 1))
	g := newGateway(t, base)
	for body, param := range map[string]string{
		`{"model":"openai/m","input":42}`:                                       "input",
		`{"model":"openai/m","input":"x","max_output_tokens":0}`:                "max_output_tokens",
		`{"model":"openai/m","input":[{"type":"item_reference","id":"msg_1"}]}`: "input[0]",
		`{"model":"openai/m","input":"x","background":true}`:                    "background",
		`{"model":"openai/m","input":"x","previous_response_id":"resp_nope"}`:   "previous_response_id",
	} {
		rec, _ := postTo(t, g, "/v1/responses", body)
		e := gjson.Get(rec.Body.String(), "error")
		if rec.Code != http.StatusBadRequest || e.Get("message").Str == "" || e.Get("param").Str != param {
			t.Errorf("%s: %d %s, want 400 naming %s", body, rec.Code, rec.Body, param)
		}
	}
	select {
	case up := <-seen:
		t.Errorf("a refused request reached the upstream: %s", up.body)
	default:
	}
}

func TestResponsesLimitsAndBudgets(t *testing.T) {
	base, _ := fakeUpstream(t, answer(1000000, 0))
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t,
			ratelimit.Rule{Name: "tokens", Tokens: ratelimit.Rate{Limit: 200, Window: time.Hour}},
			ratelimit.Rule{Name: "spend", Budget: mustBudget(t, "0.2usd/1d")})
		c.Claims = func(*http.Request, LimitScope) []ratelimit.Claim {
			return []ratelimit.Claim{{Rule: "tokens", Key: "k"}, {Rule: "spend", Key: "k"}}
		}
	})
	// The token limit sees max_output_tokens: 1024 by default would not fit 200 tokens.
	if rec, _ := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi"}`); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("over the token limit: %d %s", rec.Code, rec.Body)
	}
	g = newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "spend", Budget: mustBudget(t, "0.2usd/1d")})
		c.Claims = func(*http.Request, LimitScope) []ratelimit.Claim { return []ratelimit.Claim{{Rule: "spend", Key: "k"}} }
	})
	// Each answer reports 1M prompt tokens of gpt-4o-mini: $0.15. The second is over the $0.20 budget.
	for i, want := range []int{200, 200, 429} {
		rec, res := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi","max_output_tokens":10}`)
		if rec.Code != want {
			t.Fatalf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
		if want == 200 && (res.CostUSD != 0.15 || gjson.Get(rec.Body.String(), "usage.input_tokens").Int() != 1000000) {
			t.Errorf("cost %v, body %s", res.CostUSD, rec.Body)
		}
	}
}

func TestResponsesConversationStore(t *testing.T) {
	base, seen := fakeUpstream(t, answer(3, 1))
	g := newGateway(t, base)
	rec, _ := postTo(t, g, "/v1/responses", `{"model":"openai/m","input":"My name is Ada.","instructions":"Be kind."}`)
	id := gjson.Get(rec.Body.String(), "id").Str
	<-seen
	rec, _ = postTo(t, g, "/v1/responses", `{"model":"openai/m","input":"What is my name?","previous_response_id":"`+id+`","store":false}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	msgs := gjson.GetBytes(up.body, "messages")
	if msgs.Get("#").Int() != 3 || msgs.Get("0.content").Str != "My name is Ada." || msgs.Get("1.role").Str != "assistant" ||
		msgs.Get("1.content").Str != "ok" || msgs.Get("2.content").Str != "What is my name?" {
		t.Errorf("instructions are not carried over and earlier turns are: %s", msgs.Raw)
	}
	if gjson.Get(rec.Body.String(), "previous_response_id").Str != id {
		t.Errorf("previous_response_id echoed as %s", gjson.Get(rec.Body.String(), "previous_response_id"))
	}
	// store: false kept nothing.
	second := gjson.Get(rec.Body.String(), "id").Str
	rec, _ = postTo(t, g, "/v1/responses", `{"model":"openai/m","input":"x","previous_response_id":"`+second+`"}`)
	if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.code").Str != "previous_response_not_found" {
		t.Errorf("continuing a store:false response: %d %s", rec.Code, rec.Body)
	}
	// The kept response can be read, listed and deleted.
	get := func(method, path string) *httptest.ResponseRecorder {
		r := httptest.NewRecorder()
		g.ServeHTTP(r, httptest.NewRequest(method, path, nil))
		return r
	}
	if r := get(http.MethodGet, "/v1/responses/"+id); r.Code != 200 || gjson.Get(r.Body.String(), "id").Str != id {
		t.Errorf("GET: %d %s", r.Code, r.Body)
	}
	if r := get(http.MethodGet, "/v1/responses/"+id+"/input_items"); r.Code != 200 || gjson.Get(r.Body.String(), "data.0.content").Str != "My name is Ada." ||
		gjson.Get(r.Body.String(), "data.#").Int() != 1 {
		t.Errorf("input_items: %d %s", r.Code, r.Body)
	}
	if r := get(http.MethodDelete, "/v1/responses/"+id); r.Code != 200 || !gjson.Get(r.Body.String(), "deleted").Bool() {
		t.Errorf("DELETE: %d %s", r.Code, r.Body)
	}
	if r := get(http.MethodGet, "/v1/responses/"+id); r.Code != 404 || gjson.Get(r.Body.String(), "error.message").Str == "" {
		t.Errorf("GET after DELETE: %d %s", r.Code, r.Body)
	}
}

func nativeResponsesGateway(t *testing.T, base string) *Gateway {
	return newGateway(t, base, func(c *Config) {
		c.Providers[0].Dialect = transform.NewOpenAI(transform.OpenAIOptions{NativeResponses: true})
		c.Providers = append(c.Providers, anthropicProvider("http://127.0.0.1:1"))
	})
}

func TestResponsesNativePassthrough(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"id":"resp_up1","object":"response","model":"gpt-5","status":"completed","output":[]}`)
			return
		}
		io.WriteString(w, `{"id":"resp_up1","object":"response","created_at":1,"status":"completed","model":"gpt-5-2025",`+
			`"output":[{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAA"}],`+
			`"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":2},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":17}}`)
	})
	g := nativeResponsesGateway(t, base)
	in := `{"model":"openai/gpt-5","input":"hi","store":true,"include":["reasoning.encrypted_content"],"tools":[{"type":"web_search"}],"background":false}`
	rec, res := postTo(t, g, "/v1/responses", in)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/responses" || string(up.body) != strings.Replace(in, "openai/gpt-5", "gpt-5", 1) {
		t.Errorf("upstream %s %s: the body must pass through with only model rewritten", up.path, up.body)
	}
	id := gjson.Get(rec.Body.String(), "id").Str
	if p, upID, ok := unwrapResourceID(id); !ok || p != "openai" || upID != "resp_up1" {
		t.Errorf("id %q", id)
	}
	if gjson.Get(rec.Body.String(), "model").Str != "openai/gpt-5" || gjson.Get(rec.Body.String(), "output.0.encrypted_content").Str != "gAAA" {
		t.Errorf("answer %s", rec.Body)
	}
	if res.Usage.PromptTokens != 12 || res.Usage.CompletionTokens != 5 || res.Usage.ReasoningTokens != 3 || res.Usage.CachedTokens != 2 {
		t.Errorf("usage %+v", res.Usage)
	}
	// previous_response_id goes back unwrapped, to the provider that holds it.
	rec, _ = postTo(t, g, "/v1/responses", `{"model":"openai/gpt-5","input":"more","previous_response_id":"`+id+`"}`)
	if up := <-seen; rec.Code != 200 || gjson.GetBytes(up.body, "previous_response_id").Str != "resp_up1" {
		t.Errorf("continuation %d, upstream %s", rec.Code, up.body)
	}
	rec, _ = postTo(t, g, "/v1/responses", `{"model":"anthropic/claude-x","input":"more","previous_response_id":"`+id+`"}`)
	if rec.Code != http.StatusBadRequest || !strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, "'openai'") {
		t.Errorf("continuation on another provider: %d %s", rec.Code, rec.Body)
	}
	// Stored responses are asked of the provider that holds them.
	r := httptest.NewRecorder()
	g.ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/v1/responses/"+id+"?include[]=x", nil))
	if up := <-seen; r.Code != 200 || up.path != "/v1/responses/resp_up1?include[]=x" || gjson.Get(r.Body.String(), "id").Str != id {
		t.Errorf("GET %d %s, upstream %s", r.Code, r.Body, up.path)
	}
	for _, m := range []struct{ method, path, up string }{
		{http.MethodDelete, "", "/v1/responses/resp_up1"},
		{http.MethodGet, "/input_items", "/v1/responses/resp_up1/input_items"},
		{http.MethodPost, "/cancel", "/v1/responses/resp_up1/cancel"},
	} {
		r := httptest.NewRecorder()
		g.ServeHTTP(r, httptest.NewRequest(m.method, "/v1/responses/"+id+m.path, nil))
		if up := <-seen; r.Code != 200 || up.path != m.up {
			t.Errorf("%s %s: %d, upstream %s", m.method, m.path, r.Code, up.path)
		}
	}
}

func TestResponsesNativeStreamRelaysEvents(t *testing.T) {
	events := []string{
		`{"type":"response.created","sequence_number":0,"response":{"id":"resp_s1","object":"response","model":"gpt-5-x","status":"in_progress","output":[],"usage":null}}`,
		`{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":"ab"}`,
		`{"type":"response.completed","sequence_number":2,"response":{"id":"resp_s1","object":"response","model":"gpt-5-x","status":"completed","output":[],"usage":{"input_tokens":4,"output_tokens":1,"total_tokens":5}}}`,
	}
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", gjson.Get(e, "type").Str, e)
		}
	})
	g := nativeResponsesGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-5","input":"hi","stream":true}`)
	evs := parseNamedEvents(t, rec.Body.String())
	if len(evs) != 3 || evs[1].data.Raw != events[1] || evs[2].data.Get("response.model").Str != "openai/gpt-5" {
		t.Fatalf("events %s", rec.Body)
	}
	if _, upID, ok := unwrapResourceID(evs[2].data.Get("response.id").Str); !ok || upID != "resp_s1" {
		t.Errorf("response id %s", evs[2].data.Get("response.id"))
	}
	if res.Usage.PromptTokens != 4 || res.Usage.CompletionTokens != 1 || strings.Contains(rec.Body.String(), "[DONE]") {
		t.Errorf("usage %+v, body %s", res.Usage, rec.Body)
	}
}

// TestResponsesNativeRelaysRecordedStream replays a recorded OpenAI Responses stream (reasoning summary, then a
// function call) through the gateway: every event reaches the client under its name and with its bytes,
// only the response's model and id rewritten, and the usage of response.completed is the exchange's.
func TestResponsesNativeRelaysRecordedStream(t *testing.T) {
	base, _ := fakeUpstream(t, replay(t, "openai/responses_stream_reasoning_tool_call.sse", "text/event-stream"))
	g := nativeResponsesGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-5.1-codex-max","input":"57*10?","stream":true}`)
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", "openai", "responses_stream_reasoning_tool_call.sse"))
	if err != nil {
		t.Fatal(err)
	}
	want := parseNamedEvents(t, string(raw))
	got := parseNamedEvents(t, rec.Body.String())
	if len(got) != len(want) {
		t.Fatalf("%d events, recorded %d", len(got), len(want))
	}
	for i := range want {
		if want[i].data.Get("response").Exists() {
			if got[i].data.Get("response.model").Str != "openai/gpt-5.1-codex-max" ||
				got[i].data.Get("response.output").Raw != want[i].data.Get("response.output").Raw {
				t.Errorf("event %d: %.200s", i, got[i].data.Raw)
			}
			continue
		}
		if got[i].data.Raw != want[i].data.Raw {
			t.Errorf("event %d changed:\n%s\n%s", i, got[i].data.Raw, want[i].data.Raw)
		}
	}
	if res.Usage.PromptTokens != 134 || res.Usage.CompletionTokens != 28 || res.Usage.Origin.String() != "reported" {
		t.Errorf("usage %+v", res.Usage)
	}
}

// TestResponsesCodexShapedRequestTranslated sends a request shaped like Codex's (developer and user messages,
// an earlier reasoning item, a shell function call and its output, a custom apply_patch tool, store: false,
// include, prompt_cache_key, client metadata) to a chat provider: it is translated, and the answer's call to
// the custom tool comes back as a custom_tool_call item.
func TestResponsesCodexShapedRequestTranslated(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[`+
			`{"type":"tool_use","id":"toolu_9","name":"apply_patch","input":{"input":"*** Begin Patch\n*** End Patch"}}],`+
			`"stop_reason":"tool_use","usage":{"input_tokens":50,"output_tokens":10}}`)
	})
	g := anthropicGateway(t, base)
	body := `{"model":"anthropic/claude-x","instructions":"You are Codex.","store":false,"stream":false,
		"include":["reasoning.encrypted_content"],"prompt_cache_key":"thread-1","client_metadata":{"x":"y"},
		"reasoning":{"effort":"medium","summary":"auto"},"parallel_tool_calls":false,"tool_choice":"auto",
		"text":{"verbosity":"low"},
		"tools":[{"type":"function","name":"shell","description":"Run","strict":false,"parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"]}},
			{"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
			{"type":"web_search"}],
		"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},
			{"type":"message","role":"user","content":[{"type":"input_text","text":"List files"}]},
			{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":null},
			{"type":"function_call","name":"shell","arguments":"{\"command\":[\"ls\"]}","call_id":"call_1"},
			{"type":"function_call_output","call_id":"call_1","output":"a.go\nb.go"},
			{"type":"message","role":"user","content":[{"type":"input_text","text":"Now patch a.go"}]}]}`
	rec, _ := postTo(t, g, "/v1/responses", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	msgs := gjson.GetBytes(up.body, "messages")
	if msgs.Get("#").Int() != 3 || msgs.Get("1.content.0.type").Str != "tool_use" || msgs.Get("2.content.0.type").Str != "tool_result" ||
		gjson.GetBytes(up.body, "tools.#").Int() != 2 {
		t.Errorf("upstream %s", up.body)
	}
	item := gjson.Get(rec.Body.String(), "output.0")
	if item.Get("type").Str != "custom_tool_call" || item.Get("input").Str != "*** Begin Patch\n*** End Patch" || item.Get("call_id").Str != "toolu_9" {
		t.Errorf("output %s", item.Raw)
	}
}

// TestResponsesKeptPerClientKey: a response kept by the gateway is only continued, read or deleted with the
// client key that made it; ids naming a provider cannot reach other upstream paths.
func TestResponsesKeptPerClientKey(t *testing.T) {
	base, seen := fakeUpstream(t, answer(3, 1))
	g := newGateway(t, base, func(c *Config) { c.ClientKeys = []string{"key-a", "key-b"} })
	do := func(key, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec
	}
	rec := do("key-a", http.MethodPost, "/v1/responses", `{"model":"openai/m","input":"secret"}`)
	<-seen
	id := gjson.Get(rec.Body.String(), "id").Str
	if r := do("key-b", http.MethodPost, "/v1/responses", `{"model":"openai/m","input":"x","previous_response_id":"`+id+`"}`); r.Code != http.StatusBadRequest {
		t.Errorf("another key continued the response: %d %s", r.Code, r.Body)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if r := do("key-b", m, "/v1/responses/"+id, ""); r.Code != http.StatusNotFound {
			t.Errorf("another key: %s %d %s", m, r.Code, r.Body)
		}
	}
	if r := do("key-a", http.MethodGet, "/v1/responses/"+id, ""); r.Code != http.StatusOK {
		t.Errorf("the owner: GET %d %s", r.Code, r.Body)
	}

	nbase, nseen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		io.WriteString(w, `{"object":"response","id":"r"}`)
	})
	ng := nativeResponsesGateway(t, nbase)
	for _, upID := range []string{"..", "x?limit=1", "a%2Fb"} {
		r := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/v1/responses/x", nil)
		req.URL.Path = "/v1/responses/" + wrapResourceID("openai", upID)
		ng.ServeHTTP(r, req)
		select {
		case up := <-nseen:
			if !strings.HasPrefix(up.path, "/v1/responses/") || strings.Count(up.path, "/") != 3 || strings.Contains(up.path, "?") {
				t.Errorf("id %q reached %s", upID, up.path)
			}
		default:
			if r.Code != http.StatusNotFound {
				t.Errorf("id %q: %d", upID, r.Code)
			}
		}
	}
}

// TestResponsesStreamFromOllamaNative replays a recorded Ollama /api/chat stream (NDJSON) as a Responses
// stream: the text deltas make the completed message, and Ollama's counts are the usage.
func TestResponsesStreamFromOllamaNative(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "ollama/api_chat_stream.ndjson", "application/x-ndjson"))
	g := newGateway(t, base, func(c *Config) {
		c.Providers = []Provider{{Name: "ollama", BaseURL: strings.TrimSuffix(base, "/v1"),
			Dialect: transform.NewOllama(transform.OllamaOptions{})}}
	})
	rec, res := postTo(t, g, "/v1/responses", `{"model":"ollama/gemma3:1b","input":"Hi","instructions":"Be brief.","stream":true}`)
	if up := <-seen; up.path != "/api/chat" || gjson.GetBytes(up.body, "messages.0.role").Str != "system" {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	evs := parseNamedEvents(t, rec.Body.String())
	text := ""
	for _, ev := range evs {
		if ev.name == "response.output_text.delta" {
			text += ev.data.Get("delta").Str
		}
	}
	done := evs[len(evs)-1]
	if done.name != "response.completed" || text == "" || done.data.Get("response.output.0.content.0.text").Str != text {
		t.Fatalf("text %q, last event %s", text, done.data.Raw)
	}
	if done.data.Get("response.usage.output_tokens").Int() != int64(res.Usage.CompletionTokens) || res.Usage.Origin.String() != "reported" {
		t.Errorf("usage %s, result %+v", done.data.Get("response.usage").Raw, res.Usage)
	}
}

// TestResponsesAzureNative: Azure serves the Responses API at /openai/v1/responses, the deployment named by
// model, with its api-key header.
func TestResponsesAzureNative(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		io.WriteString(w, `{"id":"resp_az","object":"response","status":"completed","model":"gpt-5","output":[],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers[0] = Provider{Name: "azure", BaseURL: strings.TrimSuffix(base, "/v1"), APIKeys: []string{"az-key"},
			Dialect: transform.NewOpenAI(transform.OpenAIOptions{NativeResponses: true, Azure: &transform.AzureOptions{
				APIVersion: "2024-10-21", Deployments: map[string]string{"gpt-5": "prod-gpt5"}}})}
	})
	rec, _ := postTo(t, g, "/v1/responses", `{"model":"azure/gpt-5","input":"hi"}`)
	up := <-seen
	if rec.Code != http.StatusOK || up.path != "/openai/v1/responses" || up.header.Get("Api-Key") != "az-key" ||
		gjson.GetBytes(up.body, "model").Str != "prod-gpt5" {
		t.Fatalf("%d %s; upstream %s %v %s", rec.Code, rec.Body, up.path, up.header, up.body)
	}
	id := gjson.Get(rec.Body.String(), "id").Str
	r := httptest.NewRecorder()
	g.ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/v1/responses/"+id, nil))
	if up := <-seen; up.path != "/openai/v1/responses/resp_az" || r.Code != http.StatusOK {
		t.Errorf("GET %d, upstream %s", r.Code, up.path)
	}
}

// TestResponsesCostReported: with report_cost, usage.cost is in the Response, native or translated, whole
// or streamed (the native stream's response.completed, held until the usage is settled).
func TestResponsesCostReported(t *testing.T) {
	completed := `{"type":"response.completed","sequence_number":1,"response":{"id":"resp_1","object":"response","model":"gpt-4o-mini","status":"completed","output":[],"usage":{"input_tokens":1000,"output_tokens":1000,"total_tokens":2000}}}`
	nbase, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if gjson.GetBytes(body, "stream").Bool() {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"model\":\"x\",\"output\":[]}}\n\n")
			io.WriteString(w, "event: response.completed\ndata: "+completed+"\n\n")
			return
		}
		io.WriteString(w, gjson.Get(completed, "response").Raw)
	})
	whole := answer(1000, 1000)
	cbase, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if !gjson.GetBytes(body, "stream").Bool() {
			whole(w, r, body)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}`+"\n\n")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}}`+"\n\ndata: [DONE]\n\n")
	})
	g := newGateway(t, nbase, func(c *Config) {
		c.ReportCost = true
		c.Providers[0].Dialect = transform.NewOpenAI(transform.OpenAIOptions{NativeResponses: true})
		c.Providers = append(c.Providers, Provider{Name: "chat", BaseURL: cbase, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
	})
	for _, model := range []string{"openai/gpt-4o-mini", "chat/gpt-4o-mini"} {
		for _, stream := range []bool{false, true} {
			rec, res := postTo(t, g, "/v1/responses", fmt.Sprintf(`{"model":%q,"input":"hi","stream":%v}`, model, stream))
			usage := gjson.Get(rec.Body.String(), "usage")
			if stream {
				evs := parseNamedEvents(t, rec.Body.String())
				last := evs[len(evs)-1]
				if last.name != "response.completed" {
					t.Fatalf("%s: last event %s", model, last.name)
				}
				usage = last.data.Get("response.usage")
			}
			if res.CostUSD <= 0 || usage.Get("cost").Float() != res.CostUSD {
				t.Errorf("%s stream %v: usage %s, cost %v", model, stream, usage.Raw, res.CostUSD)
			}
		}
	}
}

// TestResponsesMaxOutputTokensClamped: an agent client's max_output_tokens above the gateway's
// max_output_tokens is lowered to it (and to the target model's own limit), not refused, natively and
// through chat, and the clamp is recorded for the request log.
func TestResponsesMaxOutputTokensClamped(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"resp_up1","object":"response","created_at":1,"status":"completed","model":"gpt-5",`+
			`"output":[],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}`)
	})
	g := nativeResponsesGateway(t, base)
	rec, res := postTo(t, g, "/v1/responses", `{"model":"openai/gpt-5","input":"hi","max_output_tokens":128000}`)
	up := <-seen
	if rec.Code != http.StatusOK || gjson.GetBytes(up.body, "max_output_tokens").Int() != DefaultMaxOutputTokens ||
		res.MaxTokensAsked != 128000 || res.MaxTokensSent != DefaultMaxOutputTokens {
		t.Errorf("native: %d, upstream got %s, recorded %d → %d", rec.Code, up.body, res.MaxTokensAsked, res.MaxTokensSent)
	}

	base, seen = fakeUpstream(t, answer(1, 1))
	g = newGateway(t, base, func(c *Config) { c.MaxOutputTokens = 100000 })
	rec, _ = postTo(t, g, "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi","max_output_tokens":50000}`)
	up = <-seen
	if rec.Code != http.StatusOK || gjson.GetBytes(up.body, "max_tokens").Int()+gjson.GetBytes(up.body, "max_completion_tokens").Int() != 16384 {
		t.Errorf("through chat: %d, upstream got %s, want gpt-4o-mini's own limit, 16384", rec.Code, up.body)
	}
}
