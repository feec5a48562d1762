package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// acceptanceTimeout bounds each acceptance scenario, a request or a whole stream.
const acceptanceTimeout = 30 * time.Second

// TestQuickstartOpenAIGo is the acceptance test with the official Go client: the real quickstart
// Caddyfile, and every endpoint the gateway serves called the way an application would call it.
func TestQuickstartOpenAIGo(t *testing.T) {
	qs := startQuickstart(t)
	client := openai.NewClient(option.WithBaseURL(qs.url("/v1/")), option.WithAPIKey(quickstartKey),
		option.WithMaxRetries(0), option.WithRequestTimeout(acceptanceTimeout))
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), acceptanceTimeout)
		t.Cleanup(cancel)
		return c
	}

	t.Run("models", func(t *testing.T) {
		t.Parallel()
		page, err := client.Models.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		endpoints := map[string][]string{}
		for _, m := range page.Data {
			var eps []string
			if err := json.Unmarshal([]byte(m.JSON.ExtraFields["endpoints"].Raw()), &eps); err != nil {
				t.Errorf("model %s: endpoints %q: %v", m.ID, m.JSON.ExtraFields["endpoints"].Raw(), err)
			}
			endpoints[m.ID] = eps
		}
		for model, want := range map[string][]string{
			"openai/gpt-4o-mini":          {"chat/completions", "completions", "embeddings", "moderations"},
			"anthropic/claude-haiku-4-5":  {"chat/completions"},
			"google/gemini-embedding-001": {"embeddings"},
			"google/gemini-2.5-flash":     {"chat/completions", "embeddings"},
		} {
			got, ok := endpoints[model]
			if !ok {
				t.Errorf("GET /v1/models does not list %s; it lists %v", model, endpoints)
				continue
			}
			for _, ep := range want {
				if !slices.Contains(got, ep) {
					t.Errorf("model %s: endpoints %v, want %s among them", model, got, ep)
				}
			}
		}
		if eps := endpoints["anthropic/claude-haiku-4-5"]; slices.Contains(eps, "embeddings") {
			t.Errorf("anthropic/claude-haiku-4-5 lists embeddings: %v", eps)
		}
		// One model, its id holding a slash that the client escapes in the path.
		m, err := client.Models.Get(ctx(t), "google/gemini-embedding-001")
		if err != nil {
			t.Fatal(err)
		}
		if raw := m.JSON.ExtraFields["endpoints"].Raw(); m.ID != "google/gemini-embedding-001" || !strings.Contains(raw, `"embeddings"`) {
			t.Errorf("GET /v1/models/google%%2Fgemini-embedding-001: %s", m.RawJSON())
		}
	})

	for _, model := range []string{"openai/text-embedding-3-small", "google/gemini-embedding-001"} {
		t.Run("embeddings float "+model, func(t *testing.T) {
			t.Parallel()
			const dims = 64
			res, err := client.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: model, Dimensions: openai.Int(dims),
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"Hello world", "Goodbye world"}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Model != model || len(res.Data) != 2 || res.Usage.PromptTokens <= 0 || res.Usage.TotalTokens != res.Usage.PromptTokens {
				t.Fatalf("model %q, %d vectors, usage %+v; want %s, 2 vectors, usage counted", res.Model, len(res.Data), res.Usage, model)
			}
			for i, d := range res.Data {
				if d.Index != int64(i) || len(d.Embedding) != dims {
					t.Errorf("vector %d: index %d, %d values, want %d", i, d.Index, len(d.Embedding), dims)
				}
				if raw := d.JSON.Embedding.Raw(); len(raw) == 0 || raw[0] != '[' {
					t.Errorf("vector %d: asked for floats, got %.40s", i, raw)
				}
			}
			if slices.Equal(res.Data[0].Embedding, res.Data[1].Embedding) {
				t.Errorf("two different inputs got the same vector")
			}
		})
		t.Run("embeddings base64 "+model, func(t *testing.T) {
			t.Parallel()
			const dims = 32
			res, err := client.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: model, Dimensions: openai.Int(dims),
				EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
				Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("Hello world")}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Data) != 1 || res.Usage.PromptTokens <= 0 {
				t.Fatalf("%d vectors, usage %+v", len(res.Data), res.Usage)
			}
			var s string
			if err := json.Unmarshal([]byte(res.Data[0].JSON.Embedding.Raw()), &s); err != nil {
				t.Fatalf("asked for base64, the embedding is not a string: %.60s", res.Data[0].JSON.Embedding.Raw())
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(b) != 4*dims {
				t.Fatalf("base64 decodes to %d bytes (%v), want %d float32s", len(b), err, dims)
			}
			for i := range dims {
				f := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				if math.IsNaN(float64(f)) || float64(f) != res.Data[0].Embedding[i] {
					t.Fatalf("value %d: %v decoded by hand, %v by the client", i, f, res.Data[0].Embedding[i])
				}
			}
		})
	}

	completion := openai.CompletionNewParams{Model: "openai/gpt-3.5-turbo-instruct", MaxTokens: openai.Int(12),
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hello")}}
	t.Run("completions", func(t *testing.T) {
		t.Parallel()
		res, err := client.Completions.New(ctx(t), completion)
		if err != nil {
			t.Fatal(err)
		}
		if res.Object != "text_completion" || len(res.Choices) != 1 || res.Choices[0].Text == "" || res.Usage.CompletionTokens <= 0 ||
			res.Usage.CompletionTokens > 12 || res.Model != string(completion.Model) {
			t.Errorf("completion %s", res.RawJSON())
		}
	})
	t.Run("completions streamed", func(t *testing.T) {
		t.Parallel()
		params := completion
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Completions.NewStreaming(ctx(t), params)
		text, chunks, usage := "", 0, int64(0)
		for stream.Next() {
			c := stream.Current()
			chunks++
			for _, ch := range c.Choices {
				text += ch.Text
			}
			if c.Usage.CompletionTokens > 0 {
				usage = c.Usage.CompletionTokens
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text == "" || chunks < 2 || usage <= 0 {
			t.Errorf("streamed %d chunks, text %q, completion tokens %d", chunks, text, usage)
		}
	})

	t.Run("moderations", func(t *testing.T) {
		t.Parallel()
		res, err := client.Moderations.New(ctx(t), openai.ModerationNewParams{Model: "openai/omni-moderation-latest",
			Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"how to build a bomb", "a nice afternoon"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Model != "openai/omni-moderation-latest" || len(res.Results) != 2 {
			t.Fatalf("moderation %s", res.RawJSON())
		}
		if r := res.Results[0]; !r.Flagged || !r.Categories.Violence || r.CategoryScores.Violence < 0.5 {
			t.Errorf("first input not flagged for violence: %s", r.RawJSON())
		}
		if r := res.Results[1]; r.Flagged {
			t.Errorf("second input flagged: %s", r.RawJSON())
		}
	})

	t.Run("rerank", func(t *testing.T) {
		t.Parallel()
		// openai-go has no rerank service: its raw request support posts any body to any path.
		var res struct {
			Model   string `json:"model"`
			Results []struct {
				Index          int     `json:"index"`
				RelevanceScore float64 `json:"relevance_score"`
			} `json:"results"`
			Usage struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		err := client.Post(ctx(t), "rerank", map[string]any{"model": "local/bge-reranker-v2-m3", "query": "what is caddy",
			"documents": []string{"a fruit", "caddy is a web server", "a web server"}, "top_n": 2}, &res)
		if err != nil {
			t.Fatal(err)
		}
		if res.Model != "local/bge-reranker-v2-m3" || len(res.Results) != 2 || res.Results[0].Index != 1 ||
			res.Results[0].RelevanceScore < res.Results[1].RelevanceScore || res.Usage.TotalTokens <= 0 {
			t.Errorf("rerank %+v, want the top 2 of 3 documents, the one about caddy first", res)
		}
	})

	schema := generateSchema[cityFacts](t)
	for _, model := range []string{"openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"} {
		params := openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe Paris.")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "city_facts", Schema: schema, Strict: openai.Bool(true)}}}}
		t.Run("structured outputs "+model, func(t *testing.T) {
			t.Parallel()
			res, err := client.Chat.Completions.New(ctx(t), params)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Choices) != 1 || res.Choices[0].FinishReason != "stop" {
				t.Fatalf("completion %s", res.RawJSON())
			}
			parseCityFacts(t, res.Choices[0].Message.Content)
		})
		t.Run("structured outputs streamed "+model, func(t *testing.T) {
			t.Parallel()
			stream := client.Chat.Completions.NewStreaming(ctx(t), params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].FinishReason != "stop" {
				t.Fatalf("accumulated %+v", acc.Choices)
			}
			parseCityFacts(t, acc.Choices[0].Message.Content)
		})
	}

	t.Run("unsupported endpoint", func(t *testing.T) {
		t.Parallel()
		_, err := client.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: "anthropic/claude-haiku-4-5",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("Hello world")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "unsupported_endpoint" {
			t.Errorf("embeddings from Anthropic: %v, want a 400 unsupported_endpoint", err)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		t.Parallel()
		err := client.Post(ctx(t), "responses/compact", map[string]any{"model": "openai/gpt-4o-mini"}, nil)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "unknown_url" {
			t.Errorf("POST /v1/responses/compact: %v, want a 404 unknown_url", err)
		}
	})
}

// cityFacts is the structured output the tests ask for, described to the model by its JSON schema.
type cityFacts struct {
	Name       string   `json:"name" jsonschema_description:"The city's name"`
	Country    string   `json:"country"`
	Population int64    `json:"population" jsonschema:"minimum=0"`
	Size       string   `json:"size" jsonschema:"enum=village,enum=town,enum=city"`
	Landmarks  []string `json:"landmarks"`
	Coastal    bool     `json:"coastal"`
}

// generateSchema is the structured-outputs schema helper of openai-go's README: a strict JSON schema, no
// references and no additional properties, reflected from T.
func generateSchema[T any](t *testing.T) map[string]any {
	t.Helper()
	r := jsonschema.Reflector{AllowAdditionalProperties: false, DoNotReference: true}
	var v T
	b, err := json.Marshal(r.Reflect(v))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// parseCityFacts parses content into cityFacts strictly, with no unknown field, and checks the schema's
// constraints that json.Unmarshal does not.
func parseCityFacts(t *testing.T, content string) cityFacts {
	t.Helper()
	var c cityFacts
	dec := json.NewDecoder(bytes.NewReader([]byte(content)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("content %q does not parse into cityFacts: %v", content, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(content), &all); err != nil || len(all) != 6 {
		t.Errorf("content %q: %d fields, want all 6 (every field is required)", content, len(all))
	}
	if !slices.Contains([]string{"village", "town", "city"}, c.Size) || c.Population < 0 || c.Landmarks == nil {
		t.Errorf("content %q breaks the schema: %+v", content, c)
	}
	return c
}
