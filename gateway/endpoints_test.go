package gateway

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// postTo posts body to path and returns the recorder and the Result.
func postTo(t *testing.T, g *Gateway, path, body string) (*httptest.ResponseRecorder, *Result) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	return rec, g.Serve(rec, req)
}

func TestEmbeddingsPassThroughReplaysRecording(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/embeddings.json", "application/json"))
	g := newGateway(t, base)
	reqBody := strings.Replace(string(fixture(t, "openai/embeddings.request.json")), `"text-embedding-3-small"`,
		`"openai/text-embedding-3-small"`, 1)
	rec, res := postTo(t, g, "/v1/embeddings", reqBody)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/embeddings" || string(up.body) != string(fixture(t, "openai/embeddings.request.json")) {
		t.Errorf("upstream got %s %s, want the client's bytes with the model rewritten", up.path, up.body)
	}
	if up.header.Get("Authorization") != "Bearer sk-upstream-secret" {
		t.Errorf("upstream credential missing")
	}
	want := strings.Replace(string(fixture(t, "openai/embeddings.json")), `"model": "text-embedding-3-small"`,
		`"model": "openai/text-embedding-3-small"`, 1)
	if rec.Body.String() != want {
		t.Errorf("the answer must be the upstream's bytes with model replaced:\n%s", rec.Body)
	}
	if n := len(gjson.Get(rec.Body.String(), "data.0.embedding").Array()); n != 256 {
		t.Errorf("%d dimensions, want 256", n)
	}
	if res.Endpoint != "embeddings" || res.Usage.PromptTokens != 2 || res.Usage.TotalTokens != 2 {
		t.Errorf("result: endpoint %q usage %+v", res.Endpoint, res.Usage)
	}
	if got := rec.Header().Get("X-AI-Gateway-Cost"); got != "0.00000004" {
		t.Errorf("X-AI-Gateway-Cost %q: text-embedding-3-small is $0.02 per 1M tokens", got)
	}

	// Token-id inputs, base64 and dimensions reach the upstream as sent.
	body := `{"model":"openai/text-embedding-3-small","input":[[1,2,3],[4]],"encoding_format":"base64","dimensions":8}`
	if rec, _ := postTo(t, g, "/v1/embeddings", body); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if up := <-seen; string(up.body) != `{"model":"text-embedding-3-small","input":[[1,2,3],[4]],"encoding_format":"base64","dimensions":8}` {
		t.Errorf("upstream body %s", up.body)
	}
}

func TestEmbeddingsValidation(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	for body, param := range map[string]string{
		`{"model":"openai/e"}`:                                       "input",
		`{"model":"openai/e","input":""}`:                            "input",
		`{"model":"openai/e","input":[]}`:                            "input",
		`{"model":"openai/e","input":{"a":1}}`:                       "input",
		`{"model":"openai/e","input":"x","dimensions":0}`:            "dimensions",
		`{"model":"openai/e","input":"x","encoding_format":"int8"}`:  "encoding_format",
		`{"input":"x"}`:                                              "model",
		`{"model":"openai/e","input":"x","models":"openai/f"}`:       "models",
		`{"model":"openai/e\u0001","input":"x"}`:                     "model",
		`{"model":"openai/e","input":["a",""]}`:                      "input",
		`{"model":"openai/e","input":"x","dimensions":"256"}`:        "dimensions",
		`{"model":"openai/e","input":"x","encoding_format":"float"}`: "",
	} {
		rec, _ := postTo(t, g, "/v1/embeddings", body)
		if param == "" {
			if rec.Code == http.StatusBadRequest {
				t.Errorf("%s: refused: %s", body, rec.Body)
			}
			continue
		}
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.param").Str != param {
			t.Errorf("%s: %d %s, want a 400 naming %s", body, rec.Code, rec.Body, param)
		}
	}
}

// geminiGateway has one Gemini provider at base.
func geminiGateway(t *testing.T, base string) *Gateway {
	return newGateway(t, base, func(c *Config) {
		c.ReportCost = true
		c.Providers = []Provider{{Name: "gemini", BaseURL: base, APIKeys: []string{"g-key"},
			Dialect: transform.NewGemini(transform.GeminiOptions{})}}
	})
}

func TestGeminiEmbeddingsTranslated(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"embeddings":[{"values":[0.5,-1.25]},{"values":[1,2]}]}`)
	})
	g := geminiGateway(t, base)
	rec, res := postTo(t, g, "/v1/embeddings", `{"model":"gemini/gemini-embedding-001","input":["hello","world"],"dimensions":2}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/models/gemini-embedding-001:batchEmbedContents" {
		t.Errorf("upstream path %s", up.path)
	}
	const wantUp = `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"outputDimensionality":2},` +
		`{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"world"}]},"outputDimensionality":2}]}`
	if string(up.body) != wantUp {
		t.Errorf("upstream body\n%s\nwant\n%s", up.body, wantUp)
	}
	if up.header.Get("X-Goog-Api-Key") != "g-key" {
		t.Errorf("Gemini credential missing")
	}
	n := res.Usage.PromptTokens
	if n <= 0 || res.Usage.TotalTokens != n {
		t.Fatalf("usage %+v: Gemini reports none, the gateway counts the input", res.Usage)
	}
	want := fmt.Sprintf(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1.25]},`+
		`{"object":"embedding","index":1,"embedding":[1,2]}],"model":"gemini/gemini-embedding-001",`+
		`"usage":{"prompt_tokens":%d,"total_tokens":%d,"cost":%s}}`, n, n, formatCost(float64(n)*0.15/1e6))
	if rec.Body.String() != want {
		t.Errorf("answer\n%s\nwant\n%s", rec.Body, want)
	}

	// base64: little-endian float32, as the OpenAI SDKs decode it.
	rec, _ = postTo(t, g, "/v1/embeddings", `{"model":"gemini/gemini-embedding-001","input":"hello","encoding_format":"base64"}`)
	<-seen
	raw, err := base64.StdEncoding.DecodeString(gjson.Get(rec.Body.String(), "data.0.embedding").Str)
	if err != nil || len(raw) != 8 {
		t.Fatalf("base64 embedding: %v %s", err, rec.Body)
	}
	if a, b := math.Float32frombits(binary.LittleEndian.Uint32(raw)), math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])); a != 0.5 || b != -1.25 {
		t.Errorf("decoded %v %v, want 0.5 -1.25", a, b)
	}

	// Token ids cannot be embedded by Gemini.
	rec, _ = postTo(t, g, "/v1/embeddings", `{"model":"gemini/gemini-embedding-001","input":[[1,2]]}`)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "gemini") {
		t.Errorf("token ids to Gemini: %d %s", rec.Code, rec.Body)
	}
}

func TestOllamaEmbeddingsTranslated(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"all-minilm","embeddings":[[0.25,0.5]],"total_duration":1,"prompt_eval_count":3}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = []Provider{{Name: "ollama", BaseURL: strings.TrimSuffix(base, "/v1"),
			Dialect: transform.NewOllama(transform.OllamaOptions{KeepAlive: "5m"})}}
	})
	rec, res := postTo(t, g, "/v1/embeddings", `{"model":"ollama/all-minilm","input":"hi there","dimensions":2}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/api/embed" || string(up.body) != `{"model":"all-minilm","input":"hi there","dimensions":2,"keep_alive":"5m"}` {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	const want = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,0.5]}],"model":"ollama/all-minilm","usage":{"prompt_tokens":3,"total_tokens":3}}`
	if rec.Body.String() != want {
		t.Errorf("answer\n%s\nwant\n%s", rec.Body, want)
	}
	if res.Usage.PromptTokens != 3 || res.Usage.Origin.String() != "reported" {
		t.Errorf("usage %+v, want prompt_eval_count as reported usage", res.Usage)
	}
}

// anthropicProvider is a provider whose dialect serves chat only.
func anthropicProvider(base string) Provider {
	return Provider{Name: "anthropic", BaseURL: base, APIKeys: []string{"a-key"},
		Dialect: transform.NewAnthropic(transform.AnthropicOptions{})}
}

func TestEndpointNoTargetServesIsUnsupported(t *testing.T) {
	base, seen := fakeUpstream(t, answer(1, 1))
	g := newGateway(t, base, func(c *Config) { c.Providers = []Provider{anthropicProvider(base)} })
	for path, body := range map[string]string{
		"/v1/embeddings":  `{"model":"anthropic/claude-x","input":"hi"}`,
		"/v1/completions": `{"model":"anthropic/claude-x","prompt":"hi"}`,
		"/v1/moderations": `{"model":"anthropic/claude-x","input":"hi"}`,
		"/v1/rerank":      `{"model":"anthropic/claude-x","query":"q","documents":["a"]}`,
	} {
		rec, res := postTo(t, g, path, body)
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.code").Str != "unsupported_endpoint" ||
			!strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, "'anthropic'") {
			t.Errorf("%s: %d %s, want 400 unsupported_endpoint naming the provider", path, rec.Code, rec.Body)
		}
		if len(res.Attempts) != 0 {
			t.Errorf("%s: %d attempts", path, len(res.Attempts))
		}
	}
	select {
	case up := <-seen:
		t.Fatalf("an unsupported endpoint reached the upstream: %s", up.path)
	default:
	}
}

func TestRouteSkipsTargetsThatCannotServeTheEndpoint(t *testing.T) {
	var anthropicCalls atomic.Int32
	aBase, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		anthropicCalls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	oBase, seen := fakeUpstream(t, replay(t, "openai/embeddings.json", "application/json"))
	g := newGateway(t, oBase, func(c *Config) {
		c.Providers = append(c.Providers, anthropicProvider(aBase))
		c.Routes = []router.RouteConfig{{Name: "smart", Tiers: [][]router.WeightedTarget{
			{{Model: "anthropic/claude-x"}}, {{Model: "openai/text-embedding-3-small"}}}}}
	})
	rec, res := postTo(t, g, "/v1/embeddings", `{"model":"smart","input":"hi"}`)
	if rec.Code != http.StatusOK || rec.Header().Get("X-AI-Gateway-Provider") != "openai" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if up := <-seen; gjson.GetBytes(up.body, "model").Str != "text-embedding-3-small" {
		t.Errorf("upstream model %s", up.body)
	}
	if anthropicCalls.Load() != 0 || len(res.Attempts) != 1 {
		t.Errorf("anthropic called %d times, %d attempts: a target that cannot serve the endpoint is skipped",
			anthropicCalls.Load(), len(res.Attempts))
	}
	if gjson.Get(rec.Body.String(), "model").Str != "smart" {
		t.Errorf("model %s, want the route's name", gjson.Get(rec.Body.String(), "model"))
	}
}

func TestEmbeddingsLimitsAndBudgets(t *testing.T) {
	base, _ := fakeUpstream(t, replay(t, "openai/embeddings.json", "application/json"))
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t,
			ratelimit.Rule{Name: "tokens", Tokens: ratelimit.Rate{Limit: 100, Window: time.Hour}},
			ratelimit.Rule{Name: "requests", Requests: ratelimit.Rate{Limit: 2, Window: time.Hour}})
		c.Claims = func(*http.Request, LimitScope) []ratelimit.Claim {
			return []ratelimit.Claim{{Rule: "tokens", Key: "k"}, {Rule: "requests", Key: "k"}}
		}
	})
	// An embedding reserves its input only (no completion estimate), so it fits a 100-token limit that a chat
	// request (prompt plus 1024 reserved for the answer) does not.
	if rec := post(t, g, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("chat over the token limit: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := postTo(t, g, "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"Hello world"}`); rec.Code != http.StatusOK {
		t.Fatalf("embedding within limits: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := postTo(t, g, "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"`+strings.Repeat("word ", 150)+`"}`); rec.Code != http.StatusTooManyRequests ||
		!strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, `"tokens"`) {
		t.Fatalf("embedding over the token limit: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := postTo(t, g, "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"Hello"}`); rec.Code != http.StatusOK {
		t.Fatalf("second embedding: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := postTo(t, g, "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"Hello"}`); rec.Code != http.StatusTooManyRequests ||
		!strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, `"requests"`) {
		t.Fatalf("third embedding over 2 requests per hour: %d %s", rec.Code, rec.Body)
	}
}

func TestEmbeddingsSpendBudget(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]}],"model":"m","usage":{"prompt_tokens":1000000,"total_tokens":1000000}}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "spend", Budget: mustBudget(t, "0.15usd/1d")})
		c.Claims = func(*http.Request, LimitScope) []ratelimit.Claim { return []ratelimit.Claim{{Rule: "spend", Key: "k"}} }
	})
	// Each answer reports 1M tokens: $0.13 on text-embedding-3-large. The second exceeds the $0.15 budget.
	for i, want := range []int{200, 200, 429} {
		rec, res := postTo(t, g, "/v1/embeddings", `{"model":"openai/text-embedding-3-large","input":"x"}`)
		if rec.Code != want {
			t.Fatalf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
		if want == 200 && res.CostUSD != 0.13 {
			t.Errorf("cost %v, want 0.13", res.CostUSD)
		}
	}
}

func TestCompletionsPassThroughWithUsageFilled(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		io.WriteString(w, `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":" world, hello again","index":0,"logprobs":null,"finish_reason":"stop"}]}`)
	})
	g := newGateway(t, base)
	rec, res := postTo(t, g, "/v1/completions", `{"model":"openai/gpt-3.5-turbo-instruct","prompt":["Hello","there"],"max_tokens":5}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if up := <-seen; up.path != "/v1/completions" || string(up.body) != `{"model":"gpt-3.5-turbo-instruct","prompt":["Hello","there"],"max_tokens":5}` {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	u := gjson.Get(rec.Body.String(), "usage")
	if u.Get("prompt_tokens").Int() != 2 || u.Get("completion_tokens").Int() < 4 || res.Usage.Origin.String() != "counted" {
		t.Errorf("usage %s (%+v): the prompt array and the answer's text are counted when the upstream reports none", u.Raw, res.Usage)
	}
	if res.Endpoint != "completions" {
		t.Errorf("endpoint %q", res.Endpoint)
	}
}

func TestCompletionsStreamUsageFilled(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, text := range []string{"Hello", " world", ""} {
			reason := "null"
			if text == "" {
				reason = `"length"`
			}
			fmt.Fprintf(w, "data: {\"id\":\"cmpl-9\",\"object\":\"text_completion\",\"created\":7,\"model\":\"m\",\"choices\":[{\"text\":%q,\"index\":0,\"logprobs\":null,\"finish_reason\":%s}]}\n\n", text, reason)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	g := newGateway(t, base)
	rec, res := postTo(t, g, "/v1/completions", `{"model":"openai/gpt-3.5-turbo-instruct","prompt":"Say hello","stream":true,"stream_options":{"include_usage":true}}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	<-seen
	events := sseEvents(rec.Body.String())
	if len(events) != 5 || events[4] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	if gjson.Get(events[0], "model").Str != "openai/gpt-3.5-turbo-instruct" || gjson.Get(events[1], "choices.0.text").Str != " world" {
		t.Errorf("chunks must pass with model replaced: %q", events[:3])
	}
	last := gjson.Parse(events[3])
	if last.Get("object").Str != "text_completion" || last.Get("id").Str != "cmpl-9" || last.Get("created").Int() != 7 ||
		last.Get("usage.prompt_tokens").Int() != 2 || last.Get("usage.completion_tokens").Int() < 2 {
		t.Errorf("usage chunk %s: a text_completion chunk with the prompt and the streamed text counted", events[3])
	}
	if res.Usage.Origin.String() != "counted" || !res.Stream {
		t.Errorf("result %+v", res.Usage)
	}
}

func TestModerationsAndRerankPassThrough(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if strings.HasSuffix(r.URL.Path, "/moderations") {
			io.WriteString(w, `{"id":"modr-1","model":"omni-moderation-latest","results":[{"flagged":false,"categories":{"hate":false},"category_scores":{"hate":0.001}}]}`)
			return
		}
		io.WriteString(w, `{"id":"rr-1","model":"bge-reranker","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}],"usage":{"total_tokens":12}}`)
	})
	g := newGateway(t, base)
	rec, res := postTo(t, g, "/v1/moderations", `{"model":"openai/omni-moderation-latest","input":["a","b"]}`)
	if rec.Code != http.StatusOK || rec.Body.String() != `{"id":"modr-1","model":"openai/omni-moderation-latest","results":[{"flagged":false,"categories":{"hate":false},"category_scores":{"hate":0.001}}]}` {
		t.Fatalf("moderations: %d %s", rec.Code, rec.Body)
	}
	if up := <-seen; up.path != "/v1/moderations" || string(up.body) != `{"model":"omni-moderation-latest","input":["a","b"]}` {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	if res.Endpoint != "moderations" || res.Usage.PromptTokens != 2 {
		t.Errorf("result %q %+v: the input is counted for limits", res.Endpoint, res.Usage)
	}
	rec, res = postTo(t, g, "/v1/rerank", `{"model":"openai/bge-reranker","query":"q","documents":["x","y"],"top_n":2}`)
	if rec.Code != http.StatusOK || gjson.Get(rec.Body.String(), "model").Str != "openai/bge-reranker" ||
		gjson.Get(rec.Body.String(), "results.0.index").Int() != 1 {
		t.Fatalf("rerank: %d %s", rec.Code, rec.Body)
	}
	if up := <-seen; up.path != "/v1/rerank" || gjson.GetBytes(up.body, "model").Str != "bge-reranker" {
		t.Errorf("upstream %s %s", up.path, up.body)
	}
	if res.Usage.TotalTokens != 12 {
		t.Errorf("rerank usage %+v", res.Usage)
	}
	if rec, _ := postTo(t, g, "/v1/rerank", `{"model":"openai/bge-reranker","query":"q"}`); rec.Code != 400 ||
		gjson.Get(rec.Body.String(), "error.param").Str != "documents" {
		t.Errorf("rerank without documents: %d %s", rec.Code, rec.Body)
	}
}

func TestModelsListTheirEndpoints(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1", func(c *Config) {
		c.Providers[0].Models = []string{"text-embedding-3-small"}
		p := anthropicProvider("http://127.0.0.1:1")
		p.Models = []string{"claude-x"}
		c.Providers = append(c.Providers, p)
	})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
	got := map[string]string{}
	gjson.Get(rec.Body.String(), "data").ForEach(func(_, m gjson.Result) bool {
		got[m.Get("id").Str] = m.Get("endpoints").Raw
		return true
	})
	if got["openai/text-embedding-3-small"] != `["chat/completions","completions","embeddings","moderations","responses",`+
		`"messages","messages/count_tokens","rerank","images/generations","images/edits","audio/speech",`+
		`"audio/transcriptions","audio/translations","videos"]` ||
		got["anthropic/claude-x"] != `["chat/completions","responses","messages","messages/count_tokens"]` {
		t.Errorf("endpoints per model: %v", got)
	}
}

func TestUnknownPathIsOpenAIShaped404(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	rec, res := postTo(t, g, "/v1/assistants", `{}`)
	if rec.Code != http.StatusNotFound || gjson.Get(rec.Body.String(), "error.code").Str != "unknown_url" || res.Endpoint != "" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/embeddings", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET embeddings: %d %v", rec.Code, rec.Header())
	}
}

func TestRetryReadsErrorKinds(t *testing.T) {
	// A port nobody listens on: the request is never sent.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/v1"
	l.Close()
	// A server that reads the request and hangs up: sent, then failed.
	hangup, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	good, _ := fakeUpstream(t, answer(1, 1))
	g := newGateway(t, good, func(c *Config) {
		c.Providers = append(c.Providers,
			Provider{Name: "down", BaseURL: closed, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})},
			Provider{Name: "hangup", BaseURL: hangup, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
		c.Retry = router.RetryPolicy{MaxAttempts: 3, Statuses: []int{503}}
	})
	rec, res := postTo(t, g, "/v1/chat/completions", `{"model":"down/m","models":["hangup/m","openai/m"],"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK || len(res.Attempts) != 3 {
		t.Fatalf("%d %s %+v", rec.Code, rec.Body, res.Attempts)
	}
	if k := res.Attempts[0].Kind; k != transform.KindNotSent {
		t.Errorf("refused connection: kind %v, want not_sent", k)
	}
	if k := res.Attempts[1].Kind; k != transform.KindNoAnswer {
		t.Errorf("connection closed after the request: kind %v, want no_answer", k)
	}
	// An upstream's answer is judged by its status, whatever its code says.
	e := &transform.Error{Status: http.StatusBadRequest, Code: "upstream_unavailable"}
	if g.retryable(e) {
		t.Errorf("a 400 answer coded upstream_unavailable was retryable: retries must read the kind, not the code")
	}
	if !g.retryable(&transform.Error{Status: http.StatusBadGateway, Kind: transform.KindNotSent}) {
		t.Errorf("a request never sent must always be retryable")
	}
}

func TestStreamUsageChunkKeepsUpstreamFields(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","system_fingerprint":"fp_1","service_tier":"default","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"obfuscation":"ab"}`+"\n\n")
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","system_fingerprint":"fp_1","service_tier":"default","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"obfuscation":"cd"}`+"\n\n")
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":6,"model":"m","system_fingerprint":"fp_1","service_tier":"default","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"obfuscation":"xyz"}`+"\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
	})
	g := newGateway(t, base)
	rec, _ := postTo(t, g, "/v1/chat/completions", `{"model":"openai/unpriced-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	events := sseEvents(rec.Body.String())
	if len(events) != 4 {
		t.Fatalf("events %q", events)
	}
	const want = `{"id":"c1","object":"chat.completion.chunk","created":6,"model":"openai/unpriced-model","system_fingerprint":"fp_1","service_tier":"default","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"obfuscation":"xyz"}`
	if events[2] != want {
		t.Errorf("usage chunk\n%s\nwant the upstream's\n%s", events[2], want)
	}
	tr := rec.Result().Trailer
	if tr.Get("X-AI-Gateway-Usage") != "reported" {
		t.Errorf("usage trailer %v", tr)
	}
	if _, sent := tr["X-Ai-Gateway-Cost"]; sent {
		t.Errorf("the cost trailer was sent (%q) for a model with no price", tr.Values("X-AI-Gateway-Cost"))
	}
}

func TestCountedStreamUsageChunkKeepsFingerprint(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c2","object":"chat.completion.chunk","created":5,"model":"m","system_fingerprint":"fp_2","service_tier":"flex","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`+"\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
	})
	g := newGateway(t, base)
	rec, _ := postTo(t, g, "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	events := sseEvents(rec.Body.String())
	if len(events) != 3 {
		t.Fatalf("events %q", events)
	}
	u := gjson.Parse(events[1])
	if u.Get("system_fingerprint").Str != "fp_2" || u.Get("service_tier").Str != "flex" || u.Get("created").Int() != 5 || u.Get("id").Str != "c2" {
		t.Errorf("counted usage chunk %s lost the stream's fields", events[1])
	}
	if rec.Result().Trailer.Get("X-AI-Gateway-Cost") == "" {
		t.Errorf("gpt-4o-mini has a price: the cost trailer must be sent")
	}
}

func mustBudget(t *testing.T, s string) ratelimit.Budget {
	b, err := ratelimit.ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestNeverSentGivesBackItsLimits(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/v1"
	l.Close()
	good, _ := fakeUpstream(t, answer(1, 1))
	g := newGateway(t, good, func(c *Config) {
		c.Providers = append(c.Providers, Provider{Name: "down", BaseURL: closed, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
		c.Retry = router.RetryPolicy{MaxAttempts: 1}
		c.Limiter = mustRateLimiter(t,
			ratelimit.Rule{Name: "per-key", Requests: ratelimit.Rate{Limit: 1, Window: time.Hour}},
			ratelimit.Rule{Name: "down-cap", Requests: ratelimit.Rate{Limit: 1, Window: time.Hour}})
		c.Claims = func(_ *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target == "" {
				return []ratelimit.Claim{{Rule: "per-key", Key: "k"}}
			}
			if strings.HasPrefix(s.Target, "down/") {
				return []ratelimit.Claim{{Rule: "down-cap", Key: "k"}}
			}
			return nil
		}
	})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	// Twice: connection refused, so neither the request nor the target's request is counted.
	for i := 0; i < 2; i++ {
		rec, res := postTo(t, g, "/v1/chat/completions", `{"model":"down/m",`+msgs+`}`)
		if rec.Code != http.StatusBadGateway || len(res.Attempts) != 1 || res.Attempts[0].Kind != transform.KindNotSent {
			t.Fatalf("request %d to a closed port: %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec, _ := postTo(t, g, "/v1/chat/completions", `{"model":"openai/m",`+msgs+`}`); rec.Code != http.StatusOK {
		t.Fatalf("after two requests that were never sent, the limit of 1 must still allow one: %d %s", rec.Code, rec.Body)
	}
}

func TestAzureServesOnlyItsEndpoints(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/embeddings.json", "application/json"))
	g := newGateway(t, base, func(c *Config) {
		c.Providers[0] = Provider{Name: "azure", BaseURL: strings.TrimSuffix(base, "/v1"), APIKeys: []string{"az-key"},
			Dialect: transform.NewOpenAI(transform.OpenAIOptions{Azure: &transform.AzureOptions{APIVersion: "2024-10-21",
				Deployments: map[string]string{"text-embedding-3-small": "emb"}}})}
	})
	if rec, _ := postTo(t, g, "/v1/embeddings", `{"model":"azure/text-embedding-3-small","input":"hi"}`); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if up := <-seen; up.path != "/openai/deployments/emb/embeddings?api-version=2024-10-21" || up.header.Get("Api-Key") != "az-key" {
		t.Errorf("upstream %s %v", up.path, up.header)
	}
	if rec, _ := postTo(t, g, "/v1/rerank", `{"model":"azure/x","query":"q","documents":["a"]}`); rec.Code != http.StatusBadRequest ||
		gjson.Get(rec.Body.String(), "error.code").Str != "unsupported_endpoint" {
		t.Errorf("rerank on Azure: %d %s", rec.Code, rec.Body)
	}
}
