package simulator

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func vectorOf(t *testing.T, v gjson.Result) []float64 {
	t.Helper()
	var out []float64
	if v.Type == gjson.String {
		raw, err := base64.StdEncoding.DecodeString(v.Str)
		if err != nil || len(raw)%4 != 0 {
			t.Fatalf("base64 embedding: %v (%d bytes)", err, len(raw))
		}
		for i := 0; i < len(raw); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
		}
		return out
	}
	v.ForEach(func(_, f gjson.Result) bool {
		out = append(out, f.Float())
		return true
	})
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestEmbeddings(t *testing.T) {
	srv := startServer(t, Config{})
	for model, dims := range map[string]int{"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
		"text-embedding-ada-002": 1536, "nomic-embed-text": 768} {
		got := jsonBody(t, post(t, srv, "/v1/embeddings", `{"model":"`+model+`","input":"hello world"}`), 200)
		if n := len(vectorOf(t, got.Get("data.0.embedding"))); n != dims {
			t.Errorf("%s: %d dimensions, want %d", model, n, dims)
		}
	}
	body := `{"model":"text-embedding-3-small","dimensions":256,"input":["the cat sat on the mat","the cat sat on a mat","stock prices fell sharply"]}`
	got := jsonBody(t, post(t, srv, "/v1/embeddings", body), 200)
	if got.Get("object").String() != "list" || got.Get("data.#").Int() != 3 || got.Get("data.2.index").Int() != 2 ||
		got.Get("data.0.object").String() != "embedding" || got.Get("model").String() != "text-embedding-3-small" {
		t.Errorf("response %.300s", got.Raw)
	}
	u := got.Get("usage")
	if u.Get("prompt_tokens").Int() < 12 || u.Get("total_tokens").Int() != u.Get("prompt_tokens").Int() {
		t.Errorf("usage %s", u.Raw)
	}
	var vs [3][]float64
	for i := range vs {
		vs[i] = vectorOf(t, got.Get("data."+string(rune('0'+i))+".embedding"))
		if len(vs[i]) != 256 || math.Abs(dot(vs[i], vs[i])-1) > 1e-5 {
			t.Errorf("vector %d: %d dimensions, norm² %v", i, len(vs[i]), dot(vs[i], vs[i]))
		}
	}
	if !(dot(vs[0], vs[1]) > 0.5 && dot(vs[0], vs[2]) < 0.3) {
		t.Errorf("similar texts %.3f, unrelated %.3f", dot(vs[0], vs[1]), dot(vs[0], vs[2]))
	}

	b64 := jsonBody(t, post(t, srv, "/v1/embeddings", strings.Replace(body, "{", `{"encoding_format":"base64",`, 1)), 200)
	decoded := vectorOf(t, b64.Get("data.0.embedding"))
	for i := range decoded {
		if float32(decoded[i]) != float32(vs[0][i]) {
			t.Fatalf("base64 value %d is %v, float value %v", i, decoded[i], vs[0][i])
		}
	}
	tokens := jsonBody(t, post(t, srv, "/v1/embeddings", `{"model":"m","input":[[1,2,3],[4,5]]}`), 200)
	if tokens.Get("data.#").Int() != 2 || tokens.Get("usage.prompt_tokens").Int() != 5 {
		t.Errorf("token inputs: %.200s", tokens.Raw)
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	srv := startServer(t, Config{})
	one := jsonBody(t, post(t, srv, "/v1beta/models/gemini-embedding-001:embedContent",
		`{"content":{"parts":[{"text":"the cat sat on the mat"}]},"outputDimensionality":256}`), 200)
	batch := jsonBody(t, post(t, srv, "/v1beta/models/gemini-embedding-001:batchEmbedContents",
		`{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"the cat sat on the mat"}]},"outputDimensionality":256},`+
			`{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]}}]}`), 200)
	a, b := vectorOf(t, one.Get("embedding.values")), vectorOf(t, batch.Get("embeddings.0.values"))
	if len(a) != 256 || len(b) != 256 || math.Abs(dot(a, b)-1) > 1e-5 {
		t.Errorf("embedContent %d values, batch %d, same text similarity %v", len(a), len(b), dot(a, b))
	}
	if n := len(vectorOf(t, batch.Get("embeddings.1.values"))); n != 3072 {
		t.Errorf("default gemini-embedding-001 dimensions %d, want 3072", n)
	}
	ollama := jsonBody(t, post(t, srv, "/api/embed", `{"model":"nomic-embed-text","input":["a","b"]}`), 200)
	if ollama.Get("embeddings.#").Int() != 2 || len(vectorOf(t, ollama.Get("embeddings.1"))) != 768 ||
		ollama.Get("prompt_eval_count").Int() != 2 {
		t.Errorf("ollama %.200s", ollama.Raw)
	}
}

func TestCompletions(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5, ChunkTokens: 2})
	body := `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","n":2,"logprobs":2}`
	got := jsonBody(t, post(t, srv, "/v1/completions", body), 200)
	if got.Get("object").String() != "text_completion" || !strings.HasPrefix(got.Get("id").String(), "cmpl-") ||
		got.Get("choices.#").Int() != 2 || got.Get("choices.0.text").String() != storyWords(5) ||
		got.Get("choices.1.index").Int() != 1 || got.Get("choices.0.finish_reason").String() != "stop" {
		t.Errorf("response %s", got.Raw)
	}
	lp := got.Get("choices.0.logprobs")
	if lp.Get("tokens.#").Int() != 5 || lp.Get("token_logprobs.#").Int() != 5 || lp.Get("text_offset.1").Int() != 3 ||
		len(lp.Get("top_logprobs.0").Map()) != 2 {
		t.Errorf("logprobs %s", lp.Raw)
	}
	if u := got.Get("usage"); u.Get("completion_tokens").Int() != 10 || u.Get("prompt_tokens").Int() != 5 {
		t.Errorf("usage %s", u.Raw)
	}

	events := mustEvents(t, post(t, srv, "/v1/completions",
		`{"model":"m","prompt":"Say this is a test","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}`))
	if text := streamText(events, "choices.0.text"); text != storyWords(3) {
		t.Errorf("streamed text %q", text)
	}
	finish := gjson.Get(events[len(events)-3].data, "choices.0.finish_reason").String()
	usage := gjson.Get(events[len(events)-2].data, "usage")
	if finish != "length" || usage.Get("completion_tokens").Int() != 3 || events[len(events)-1].data != "[DONE]" {
		t.Errorf("finish %q, usage %s, last %s", finish, usage.Raw, events[len(events)-1].data)
	}
}

func TestModerations(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/moderations", `{"input":["I will kill the process","a sunny day"]}`), 200)
	flagged, clean := got.Get("results.0"), got.Get("results.1")
	if got.Get("model").String() != "omni-moderation-latest" || !strings.HasPrefix(got.Get("id").String(), "modr-") {
		t.Errorf("response %s", got.Raw)
	}
	if !flagged.Get("flagged").Bool() || !flagged.Get("categories.violence").Bool() ||
		flagged.Get(`categories.harassment`).Bool() || flagged.Get("category_scores.violence").Float() < 0.9 {
		t.Errorf("flagged result %s", flagged.Raw)
	}
	if clean.Get("flagged").Bool() || clean.Get("category_scores.violence").Float() > 0.01 ||
		!clean.Get(`categories.self-harm/intent`).Exists() || len(clean.Get("categories").Map()) != len(moderationCategories) {
		t.Errorf("clean result %s", clean.Raw)
	}
	parts := jsonBody(t, post(t, srv, "/v1/moderations",
		`{"model":"omni-moderation-latest","input":[{"type":"text","text":"nsfw"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}`), 200)
	if parts.Get("results.#").Int() != 1 || !parts.Get("results.0.categories.sexual").Bool() ||
		parts.Get(`results.0.category_applied_input_types.sexual.1`).String() != "image" {
		t.Errorf("parts %s", parts.Raw)
	}
}

func TestRerank(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"model":"rerank-v3.5","query":"capital of France","documents":["Berlin is the capital of Germany",` +
		`"Paris is the capital of France","Bananas are yellow"],"top_n":2}`
	got := jsonBody(t, post(t, srv, "/v1/rerank", body), 200)
	results := got.Get("results").Array()
	if len(results) != 2 || results[0].Get("index").Int() != 1 || results[1].Get("index").Int() != 0 ||
		!(results[0].Get("relevance_score").Float() > results[1].Get("relevance_score").Float()) ||
		results[0].Get("document.text").String() != "Paris is the capital of France" {
		t.Errorf("results %s", got.Get("results").Raw)
	}
	again := jsonBody(t, post(t, srv, "/v2/rerank", strings.Replace(body, `"top_n":2`, `"return_documents":false`, 1)), 200)
	if again.Get("results.#").Int() != 3 || again.Get("results.0.relevance_score").Raw != results[0].Get("relevance_score").Raw ||
		again.Get("results.2.index").Int() != 2 || again.Get("results.0.document").Exists() {
		t.Errorf("scores are not deterministic or documents returned: %s", again.Raw)
	}
	if got.Get("usage.total_tokens").Int() <= 0 || got.Get("meta.billed_units.search_units").Int() != 1 {
		t.Errorf("usage %s, meta %s", got.Get("usage").Raw, got.Get("meta").Raw)
	}
}
