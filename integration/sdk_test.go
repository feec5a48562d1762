package integration

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// sdkGateway starts the gateway in front of the simulator (as openai, anthropic and google) and of a Gemini
// fixture replay (as gemfix), and returns an openai-go client for it with retries off.
func sdkGateway(t *testing.T) (openai.Client, *upstream) {
	sim := httptest.NewServer(simulator.New(simulator.Config{CompletionTokens: 12, ChunkTokens: 2, RequireKey: upstreamKey}))
	t.Cleanup(sim.Close)
	gemfix := newUpstream(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		if strings.Contains(string(body), `"functionResponse"`) {
			replaySSE(t, "gemini/stream_text_after_thought_signature.sse")(w, nil, body)
			return
		}
		replaySSE(t, "gemini/stream_tool_call_thought_signature.sse")(w, nil, body)
	})
	// the error cases ask the simulator for a fault with a client header, which these providers forward
	fault := "forward_headers " + simulator.FaultHeader
	s := startGateway(t, providerBlock("openai", "openai", sim.URL+"/v1", fault)+
		providerBlock("anthropic", "anthropic", sim.URL, fault)+
		providerBlock("google", "gemini", sim.URL+"/v1beta", fault)+
		providerBlock("gemfix", "gemini", gemfix.URL+"/v1beta")+
		"\t\tretry {\n\t\t\tmax_attempts 1\n\t\t}\n\t\tcooldown {\n\t\t\toff\n\t\t}\n")
	client := openai.NewClient(
		option.WithBaseURL(s.url+"/v1"),
		option.WithAPIKey(clientKey),
		option.WithMaxRetries(0),
		option.WithHTTPClient(s.client),
	)
	return client, gemfix
}

var sdkModels = []string{"openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash", "google/gemini-3-pro-preview"}

// weatherTool is a function tool with one required argument.
var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather in a city"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []string{"city"},
	},
})

// accumulate streams params and returns the accumulated completion.
func accumulate(t *testing.T, client openai.Client, params openai.ChatCompletionNewParams, opts ...option.RequestOption) openai.ChatCompletionAccumulator {
	t.Helper()
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params, opts...)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		chunks++
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("chunk %d does not follow the previous ones: %s", chunks, stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks < 3 {
		t.Errorf("only %d chunks: the answer was not streamed", chunks)
	}
	return acc
}

func TestOpenAISDKText(t *testing.T) {
	client, _ := sdkGateway(t)
	for _, model := range sdkModels {
		t.Run(model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say something.")},
			}
			whole, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatalf("non-streamed: %v", err)
			}
			if whole.Model != model || len(whole.Choices) != 1 || whole.Choices[0].Message.Content == "" ||
				whole.Choices[0].FinishReason != "stop" || !strings.HasPrefix(whole.ID, "chatcmpl") {
				t.Fatalf("non-streamed answer: %s", whole.RawJSON())
			}
			if u := whole.Usage; u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("non-streamed usage = %+v, want prompt and completion tokens and a consistent total", u)
			}

			acc := accumulate(t, client, params)
			if acc.Model != model || len(acc.Choices) != 1 {
				t.Fatalf("streamed answer: %+v", acc.ChatCompletion)
			}
			if got, want := acc.Choices[0].Message.Content, whole.Choices[0].Message.Content; got != want {
				t.Errorf("streamed content %q != non-streamed %q", got, want)
			}
			if acc.Choices[0].FinishReason != "stop" {
				t.Errorf("streamed finish_reason = %q", acc.Choices[0].FinishReason)
			}
			if g, w := acc.Usage, whole.Usage; g.PromptTokens != w.PromptTokens || g.CompletionTokens != w.CompletionTokens || g.TotalTokens != w.TotalTokens {
				t.Errorf("streamed usage %d/%d/%d != non-streamed %d/%d/%d", g.PromptTokens, g.CompletionTokens, g.TotalTokens,
					w.PromptTokens, w.CompletionTokens, w.TotalTokens)
			}
		})
	}
}

func TestOpenAISDKToolCalls(t *testing.T) {
	client, _ := sdkGateway(t)
	for _, model := range sdkModels {
		t.Run(model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
			}
			whole, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatalf("non-streamed: %v", err)
			}
			acc := accumulate(t, client, params)
			wantCalls, gotCalls := whole.Choices[0].Message.ToolCalls, acc.Choices[0].Message.ToolCalls
			if len(wantCalls) != 1 || whole.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("non-streamed answer has no single tool call: %s", whole.RawJSON())
			}
			if len(gotCalls) != 1 || acc.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("streamed tool calls = %+v, finish %q", gotCalls, acc.Choices[0].FinishReason)
			}
			w, g := wantCalls[0], gotCalls[0]
			if g.Function.Name != "get_weather" || g.Function.Name != w.Function.Name || g.Function.Arguments != w.Function.Arguments {
				t.Errorf("streamed call %s(%s) != non-streamed %s(%s)", g.Function.Name, g.Function.Arguments, w.Function.Name, w.Function.Arguments)
			}
			if !gjson.Valid(g.Function.Arguments) || !gjson.Get(g.Function.Arguments, "city").Exists() {
				t.Errorf("arguments %q are not the JSON object the schema asks for", g.Function.Arguments)
			}
			if g.ID == "" || w.ID == "" || g.Type != "function" {
				t.Errorf("tool call ids %q / %q, type %q", g.ID, w.ID, g.Type)
			}
		})
	}
}

func TestOpenAISDKTwoTurnToolConversation(t *testing.T) {
	client, gemfix := sdkGateway(t)
	for _, model := range []string{"anthropic/claude-sonnet-4-5", "google/gemini-3-pro-preview", "openai/gpt-4o-mini"} {
		t.Run(model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
			}
			acc := accumulate(t, client, params)
			calls := acc.Choices[0].Message.ToolCalls
			if len(calls) != 1 {
				t.Fatalf("turn 1: want one tool call, got %+v", calls)
			}
			params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(),
				openai.ToolMessage(`{"temperature_c":21}`, calls[0].ID))
			// The simulator refuses, as Gemini 3 does, a history whose function call lost its thought signature.
			second, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatalf("turn 2 refused: %v", err)
			}
			if second.Choices[0].Message.Content == "" || second.Choices[0].FinishReason != "stop" {
				t.Errorf("turn 2 answer: %s", second.RawJSON())
			}
		})
	}

	t.Run("recorded Gemini 3 stream keeps its thought signature", func(t *testing.T) {
		params := openai.ChatCompletionNewParams{
			Model:    "gemfix/gemini-3-pro-preview",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the capital of the user country? Call the tool")},
			Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: "get_country", Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{}},
			})},
		}
		acc := accumulate(t, client, params)
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_country" || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("turn 1: %+v finish %q", calls, acc.Choices[0].FinishReason)
		}
		if acc.Usage.CompletionTokens == 0 || acc.Usage.CompletionTokensDetails.ReasoningTokens == 0 {
			t.Errorf("turn 1 usage %+v: want the recorded completion and thinking tokens", acc.Usage)
		}
		params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(), openai.ToolMessage("Mexico", calls[0].ID))
		acc2 := accumulate(t, client, params)
		if acc2.Choices[0].Message.Content == "" {
			t.Errorf("turn 2 has no text: %+v", acc2.ChatCompletion)
		}

		reqs := gemfix.requests()
		if len(reqs) != 2 {
			t.Fatalf("upstream saw %d requests, want 2", len(reqs))
		}
		recorded := gjson.GetBytes(splitEvents(fixture(t, "gemini/stream_tool_call_thought_signature.sse"))[0][len("data: "):],
			"candidates.0.content.parts.0.thoughtSignature").String()
		turn2 := gjson.ParseBytes(reqs[1].Body)
		call := turn2.Get(`contents.#(role=="model").parts.#(functionCall)`)
		if got := call.Get("thoughtSignature").String(); got != recorded || recorded == "" {
			t.Errorf("turn 2 functionCall part %s\nwant thoughtSignature %q (as Gemini sent it)", call.Raw, recorded)
		}
		if name := turn2.Get(`contents.#(role=="user")#.parts.#(functionResponse).functionResponse.name`).Array(); len(name) != 1 || name[0].String() != "get_country" {
			t.Errorf("turn 2 functionResponse name = %v, want get_country (recovered from the tool call)", name)
		}
		if reqs[1].Header.Get("X-Goog-Api-Key") != upstreamKey || strings.Contains(reqs[1].RawQuery, "key=") {
			t.Errorf("Gemini key must go in x-goog-api-key only: header %q, query %q", reqs[1].Header.Get("X-Goog-Api-Key"), reqs[1].RawQuery)
		}
	})
}

func TestOpenAISDKErrors(t *testing.T) {
	client, _ := sdkGateway(t)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	for _, tc := range []struct {
		name   string
		model  string
		opts   []option.RequestOption
		status int
		code   string
	}{
		{"unknown model", "nope/gpt-4o-mini", nil, 404, "model_not_found"},
		{"wrong client key", "openai/gpt-4o-mini", []option.RequestOption{option.WithAPIKey("sk-wrong")}, 401, "invalid_api_key"},
		{"OpenAI upstream 429", "openai/gpt-4o-mini", []option.RequestOption{option.WithHeader(simulator.FaultHeader, "status=429")}, 429, ""},
		{"Anthropic overloaded 529 becomes 503", "anthropic/claude-sonnet-4-5", []option.RequestOption{option.WithHeader(simulator.FaultHeader, "status=529")}, 503, ""},
		{"Gemini 429", "google/gemini-2.5-flash", []option.RequestOption{option.WithHeader(simulator.FaultHeader, "status=429")}, 429, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: tc.model, Messages: msgs}, tc.opts...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *openai.Error", err, err)
			}
			if apiErr.StatusCode != tc.status || (tc.code != "" && apiErr.Code != tc.code) || apiErr.Message == "" || apiErr.Type == "" {
				t.Errorf("status %d code %q type %q message %q, want status %d code %q", apiErr.StatusCode, apiErr.Code,
					apiErr.Type, apiErr.Message, tc.status, tc.code)
			}
		})
	}
}
