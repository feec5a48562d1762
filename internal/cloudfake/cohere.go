package cloudfake

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// Cohere is a fake of Cohere's v2 API (chat, embed, rerank). It refuses a request without its API key (401,
// as Cohere does), a chat request in OpenAI's shape rather than v2's (top_p, stop, max_completion_tokens,
// developer messages, a tool_choice other than REQUIRED or NONE: 400), and answers chat (streamed as v2
// events: message-start, tool-plan-delta, tool-call-start/-delta/-end, content-start/-delta/-end,
// message-end with usage), embed (float embeddings) and rerank.
type Cohere struct {
	APIKey string

	mu    sync.Mutex
	calls []VertexCall
}

// Bodies returns the bodies of the requests accepted so far, by path.
func (c *Cohere) Bodies() map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for _, call := range c.calls {
		out[call.Method] = call.Body
	}
	return out
}

// ServeHTTP checks and answers one request.
func (c *Cohere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer "+c.APIKey {
		cohereFail(w, http.StatusUnauthorized, "invalid api token")
		return
	}
	g := gjson.ParseBytes(body)
	if !g.IsObject() || g.Get("model").String() == "" {
		cohereFail(w, http.StatusBadRequest, "invalid request: model is required")
		return
	}
	c.mu.Lock()
	c.calls = append(c.calls, VertexCall{Method: r.URL.Path, Body: body})
	c.mu.Unlock()
	switch r.URL.Path {
	case "/v2/chat":
		c.chat(w, g)
	case "/v2/embed":
		if !g.Get("texts").IsArray() || g.Get("input_type").String() == "" {
			cohereFail(w, http.StatusBadRequest, "invalid request: texts and input_type are required")
			return
		}
		var vecs []string
		for i := range g.Get("texts").Array() {
			vecs = append(vecs, fmt.Sprintf("[0.%d25,-0.5,0.75]", i+1))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"emb-1","texts":%s,"embeddings":{"float":[%s]},"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":%d}},"response_type":"embeddings_by_type"}`,
			g.Get("texts").Raw, strings.Join(vecs, ","), 3*len(vecs))
	case "/v2/rerank":
		if g.Get("query").String() == "" || !g.Get("documents").IsArray() {
			cohereFail(w, http.StatusBadRequest, "invalid request: query and documents are required")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"rr-1","results":[{"index":1,"relevance_score":0.91},{"index":0,"relevance_score":0.12}],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`)
	default:
		cohereFail(w, http.StatusNotFound, "not found")
	}
}

func (c *Cohere) chat(w http.ResponseWriter, g gjson.Result) {
	for _, f := range []string{"top_p", "stop", "max_completion_tokens", "n", "logit_bias", "parallel_tool_calls"} {
		if g.Get(f).Exists() {
			cohereFail(w, http.StatusBadRequest, "invalid request: unknown field: parameter "+f+" is not a valid field")
			return
		}
	}
	var bad string
	g.Get("messages").ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").String() {
		case "system", "user", "assistant", "tool":
		default:
			bad = "invalid request: unsupported role " + m.Get("role").String()
		}
		return bad == ""
	})
	if tc := g.Get("tool_choice"); tc.Exists() && tc.Str != "REQUIRED" && tc.Str != "NONE" {
		bad = "invalid request: tool_choice must be REQUIRED or NONE"
	}
	if bad != "" {
		cohereFail(w, http.StatusBadRequest, bad)
		return
	}
	tool := g.Get("tools.0.function.name").String()
	usage := `{"billed_units":{"input_tokens":20,"output_tokens":9},"tokens":{"input_tokens":520,"output_tokens":12},"cached_tokens":448}`
	if !g.Get("stream").Bool() {
		w.Header().Set("Content-Type", "application/json")
		if tool != "" {
			fmt.Fprintf(w, `{"id":"c-1","message":{"role":"assistant","tool_plan":"I will check the weather.","tool_calls":[{"id":"%s_abc123","type":"function","function":{"name":%q,"arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"TOOL_CALL","usage":%s}`, tool, tool, usage)
			return
		}
		fmt.Fprintf(w, `{"id":"c-1","message":{"role":"assistant","content":[{"type":"text","text":"Bonjour from Cohere."}]},"finish_reason":"COMPLETE","usage":%s}`, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(data string) {
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", gjson.Get(data, "type").Str, data)
		w.(http.Flusher).Flush()
	}
	send(`{"id":"c-1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}`)
	finish := "COMPLETE"
	if tool != "" {
		finish = "TOOL_CALL"
		send(`{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will check"}}}`)
		send(`{"type":"tool-plan-delta","delta":{"message":{"tool_plan":" the weather."}}}`)
		send(fmt.Sprintf(`{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"%s_abc123","type":"function","function":{"name":%q,"arguments":""}}}}}`, tool, tool))
		send(`{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"city\":"}}}}}`)
		send(`{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"\"Paris\"}"}}}}}`)
		send(`{"type":"tool-call-end","index":0}`)
	} else {
		send(`{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}`)
		send(`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Bonjour "}}}}`)
		send(`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"from Cohere."}}}}`)
		send(`{"type":"content-end","index":0}`)
	}
	send(`{"type":"message-end","delta":{"finish_reason":"` + finish + `","usage":` + usage + `}}`)
}

func cohereFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":"err-1","message":%q}`, msg)
}
