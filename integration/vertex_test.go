package integration

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// vertexGateway starts the Vertex fake (token endpoint and API) and the gateway in front of it: provider
// vertex reads the service account key from a file, vertexenv from a placeholder.
func vertexGateway(t *testing.T, lifetime time.Duration) (openai.Client, *cloudfake.Vertex) {
	fake := &cloudfake.Vertex{Project: "acme-prod", Location: "global", ClientEmail: "gateway@acme-prod.iam.gserviceaccount.com",
		TokenLifetime: lifetime}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.TokenURL = srv.URL + "/token"
	sa, key := cloudfake.NewServiceAccount(fake.ClientEmail, "acme-prod", "https://oauth2.googleapis.com/token")
	fake.Key = &key.PublicKey
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := cloudfake.NewServiceAccount(fake.ClientEmail, "acme-prod", fake.TokenURL)
	t.Setenv("AIGW_TEST_VERTEX_SA", string(other))
	s := startGateway(t, `		provider vertex {
			type vertex
			base_url `+srv.URL+`
			credentials_file `+file+`
			token_url `+fake.TokenURL+`
		}
		provider vertexbadkey {
			type vertex
			base_url `+srv.URL+`
			credentials_json {env.AIGW_TEST_VERTEX_SA}
		}
		retry {
			max_attempts 1
		}
		cooldown {
			off
		}
`)
	return openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client)), fake
}

// TestVertexOpenAISDK: openai-go through the gateway to Gemini and Claude on Vertex AI, streamed and not,
// tools included, every request with an access token the fake issued for the service account's signed
// assertion, one token shared by all of them.
func TestVertexOpenAISDK(t *testing.T) {
	client, fake := vertexGateway(t, time.Hour)
	ctx := context.Background()
	cases := []struct {
		model, text, publisher, method string
	}{
		{"vertex/gemini-2.5-flash", "Hello from Vertex Gemini.", "google", "generateContent"},
		{"vertex/claude-sonnet-4-5@20250929", "Hello from Claude on Vertex.", "anthropic", "rawPredict"},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: c.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hi")}}
			whole, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("non-streamed: %v", err)
			}
			if whole.Choices[0].Message.Content != c.text || whole.Choices[0].FinishReason != "stop" || whole.Model != c.model {
				t.Fatalf("answer %s", whole.RawJSON())
			}
			call := fake.Calls()[len(fake.Calls())-1]
			if call.Publisher != c.publisher || call.Method != c.method || call.Model != strings.TrimPrefix(c.model, "vertex/") {
				t.Errorf("the fake got %s/%s:%s", call.Publisher, call.Model, call.Method)
			}
			acc := accumulate(t, client, params)
			if acc.Choices[0].Message.Content != c.text || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("streamed %q %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
			}
			if acc.Usage.PromptTokens != whole.Usage.PromptTokens || acc.Usage.CompletionTokens != whole.Usage.CompletionTokens ||
				acc.Usage.PromptTokensDetails.CachedTokens != whole.Usage.PromptTokensDetails.CachedTokens {
				t.Errorf("streamed usage %+v, non-streamed %+v", acc.Usage, whole.Usage)
			}
			params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
			whole, err = client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("tools: %v", err)
			}
			tc := whole.Choices[0].Message.ToolCalls
			if len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city":"Paris"}` || whole.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("tool answer %s", whole.RawJSON())
			}
			acc = accumulate(t, client, params)
			if stc := acc.Choices[0].Message.ToolCalls; len(stc) != 1 || stc[0].Function.Arguments != `{"city":"Paris"}` {
				t.Errorf("streamed tool calls %+v", stc)
			}
		})
	}
	claude := fake.Calls()[len(fake.Calls())-1]
	if gjson.GetBytes(claude.Body, "anthropic_version").Str != "vertex-2023-10-16" || gjson.GetBytes(claude.Body, "model").Exists() {
		t.Errorf("Claude body %s", claude.Body)
	}
	if n := fake.Issued(); n != 1 {
		t.Errorf("%d tokens issued for %d requests: want one shared token", n, len(fake.Calls()))
	}

	// Claude on Vertex reports cache reads and writes: they are in prompt_tokens and its details
	whole, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "vertex/claude-haiku-4-5@20251001",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if u := whole.Usage; u.PromptTokens != 4512 || u.PromptTokensDetails.CachedTokens != 3000 ||
		gjson.Get(u.RawJSON(), "prompt_tokens_details.cache_creation_input_tokens").Int() != 1500 {
		t.Errorf("usage %s", u.RawJSON())
	}

	// a key the token endpoint does not know: the request is never sent, the client gets a clear 502
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "vertexbadkey/gemini-2.5-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || apiErr.Code != "upstream_auth_failed" {
		t.Errorf("unknown service account key: %v", err)
	}
}

// TestVertexTokenRefresh: concurrent requests share one access token, and a token is replaced before it
// expires (a minute early), so no request reaches the fake, which refuses expired tokens, with one.
func TestVertexTokenRefresh(t *testing.T) {
	ask := func(client openai.Client) error {
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "vertex/gemini-2.5-flash",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
		return err
	}
	client, fake := vertexGateway(t, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- ask(client) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.Issued(); n != 1 {
		t.Fatalf("%d tokens for 8 concurrent requests: want one shared token", n)
	}

	client, fake = vertexGateway(t, 61*time.Second) // good for 1s by the gateway's one-minute margin
	if err := ask(client); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := ask(client); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if n := fake.Issued(); n != 2 || calls[1].Token == calls[0].Token {
		t.Errorf("after the refresh margin: %d tokens issued, tokens %q then %q: want a new token before the old one expired", n, calls[0].Token, calls[1].Token)
	}
}

// TestVertexEmbeddings: openai-go's embeddings through the gateway to Vertex AI's :predict.
func TestVertexEmbeddings(t *testing.T) {
	client, fake := vertexGateway(t, time.Hour)
	emb, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "vertex/text-embedding-005",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one two", "three four five"}}, Dimensions: openai.Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || emb.Data[1].Embedding[0] != 0.25 || emb.Usage.PromptTokens != 5 {
		t.Errorf("embeddings %s", emb.RawJSON())
	}
	call := fake.Calls()[len(fake.Calls())-1]
	if call.Method != "predict" || gjson.GetBytes(call.Body, "instances.1.content").Str != "three four five" ||
		gjson.GetBytes(call.Body, "parameters.outputDimensionality").Int() != 3 {
		t.Errorf("request %s %s", call.Method, call.Body)
	}
}
