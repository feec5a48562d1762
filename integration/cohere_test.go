package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// TestCohereOpenAISDK: openai-go through the gateway to a Cohere v2 fake that refuses OpenAI-shaped
// requests: chat streamed and not, tools, embeddings; and the rerank endpoint.
func TestCohereOpenAISDK(t *testing.T) {
	fake := &cloudfake.Cohere{APIKey: upstreamKey}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := startGateway(t, providerBlock("cohere", "cohere", srv.URL)+"\t\tretry {\n\t\t\tmax_attempts 1\n\t\t}\n")
	client := openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "cohere/command-a-03-2025", TopP: openai.Float(0.9),
		Stop:     openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("END")},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.DeveloperMessage("Be brief."), openai.UserMessage("Hi")}}
	whole, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("non-streamed: %v", err)
	}
	if whole.Choices[0].Message.Content != "Bonjour from Cohere." || whole.Choices[0].FinishReason != "stop" ||
		whole.Usage.PromptTokens != 520 || whole.Usage.PromptTokensDetails.CachedTokens != 448 {
		t.Fatalf("answer %s", whole.RawJSON())
	}
	sent := gjson.ParseBytes(fake.Bodies()["/v2/chat"])
	if sent.Get("p").Float() != 0.9 || sent.Get("stop_sequences.0").Str != "END" || sent.Get("messages.0.role").Str != "system" {
		t.Errorf("sent %s", sent.Raw)
	}
	acc := accumulate(t, client, params)
	if acc.Choices[0].Message.Content != "Bonjour from Cohere." || acc.Usage.PromptTokens != 520 || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("streamed %+v", acc.ChatCompletion)
	}

	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	whole, err = client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("tools: %v", err)
	}
	tc := whole.Choices[0].Message.ToolCalls
	if len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city":"Paris"}` || whole.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("tool answer %s", whole.RawJSON())
	}
	acc = accumulate(t, client, params)
	if stc := acc.Choices[0].Message.ToolCalls; len(stc) != 1 || stc[0].ID != tc[0].ID || stc[0].Function.Arguments != `{"city":"Paris"}` ||
		acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("streamed tool calls %+v", stc)
	}
	params.Messages = append(params.Messages, whole.Choices[0].Message.ToParam(), openai.ToolMessage("18C", tc[0].ID))
	if _, err := client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatalf("tool result round trip: %v", err)
	}

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "cohere/embed-v4.0",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 3 || emb.Usage.PromptTokens != 6 {
		t.Errorf("embeddings %s", emb.RawJSON())
	}

	resp := s.request(ctx, "POST", "/v1/rerank", `{"model":"cohere/rerank-v3.5","query":"capital of France","documents":["Berlin","Paris"],"top_n":2}`)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || gjson.GetBytes(b, "results.0.index").Int() != 1 || gjson.GetBytes(fake.Bodies()["/v2/rerank"], "model").Str != "rerank-v3.5" {
		t.Errorf("rerank: %d %s", resp.StatusCode, b)
	}

	bad := startGateway(t, strings.Replace(providerBlock("cohere", "cohere", srv.URL), upstreamKey, "wrong-key", 1))
	badClient := openai.NewClient(option.WithBaseURL(bad.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0), option.WithHTTPClient(bad.client))
	_, err = badClient.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "cohere/command-a-03-2025",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || !strings.Contains(apiErr.Message, "invalid api token") {
		t.Errorf("wrong key: %v", err)
	}
}
