package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"
)

// TestQuickstartResponsesOpenAIGo calls the Responses API with the official Go client's Responses.New and
// NewStreaming through the quickstart: OpenAI behind it serves the API natively (passthrough to the
// simulator's Responses API), Anthropic and Gemini through their chat dialects.
func TestQuickstartResponsesOpenAIGo(t *testing.T) {
	qs := startQuickstart(t)
	client := openai.NewClient(option.WithBaseURL(qs.url("/v1/")), option.WithAPIKey(quickstartKey),
		option.WithMaxRetries(0), option.WithRequestTimeout(acceptanceTimeout))
	weather := responses.ToolParamOfFunction("get_weather", map[string]any{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []string{"city"}, "additionalProperties": false,
	}, true)
	for _, model := range []string{"openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), acceptanceTimeout)
			defer cancel()
			text := responses.ResponseNewParams{Model: model, Instructions: openai.String("Be terse."),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Tell me a story.")}}
			res, err := client.Responses.New(ctx, text)
			if err != nil {
				t.Fatalf("Responses.New: %v", err)
			}
			if res.Status != "completed" || res.Model != model || strings.TrimSpace(res.OutputText()) == "" ||
				res.Usage.InputTokens <= 0 || res.Usage.OutputTokens <= 0 || res.Usage.TotalTokens != res.Usage.InputTokens+res.Usage.OutputTokens {
				t.Errorf("response %s", res.RawJSON())
			}

			// Streamed: the deltas make the text of the completed response, which carries the usage.
			stream := client.Responses.NewStreaming(ctx, text)
			var deltas strings.Builder
			var completed responses.Response
			events := 0
			for stream.Next() {
				ev := stream.Current()
				if ev.SequenceNumber != int64(events) {
					t.Errorf("event %d (%s) has sequence_number %d", events, ev.Type, ev.SequenceNumber)
				}
				events++
				switch ev.Type {
				case "response.output_text.delta":
					deltas.WriteString(ev.Delta)
				case "response.completed":
					completed = ev.Response
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if completed.Status != "completed" || deltas.String() == "" || completed.OutputText() != deltas.String() ||
				completed.Usage.OutputTokens <= 0 {
				t.Errorf("deltas %q, completed %s", deltas.String(), completed.RawJSON())
			}

			// A tool call, then its result, streamed.
			ask := responses.ResponseNewParams{Model: model, Tools: []responses.ToolUnionParam{weather},
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")}}
			stream = client.Responses.NewStreaming(ctx, ask)
			args := ""
			for stream.Next() {
				ev := stream.Current()
				switch ev.Type {
				case "response.function_call_arguments.delta":
					args += ev.Delta
				case "response.completed":
					completed = ev.Response
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("tool stream: %v", err)
			}
			call := gjson.Get(completed.RawJSON(), `output.#(type=="function_call")`)
			if call.Get("name").Str != "get_weather" || call.Get("arguments").Str != args ||
				gjson.Get(args, "city").Type != gjson.String || call.Get("call_id").Str == "" {
				t.Fatalf("call %s, streamed arguments %q", call.Raw, args)
			}
			output := responses.ResponseInputItemParamOfFunctionCallOutput("21 degrees and sunny")
			output.OfFunctionCallOutput.CallID = openai.String(call.Get("call_id").Str)
			follow := responses.ResponseNewParams{Model: model, Tools: []responses.ToolUnionParam{weather},
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
					responses.ResponseInputItemParamOfMessage("Weather in Paris?", responses.EasyInputMessageRoleUser),
					responses.ResponseInputItemParamOfFunctionCall(call.Get("arguments").Str, call.Get("call_id").Str, "get_weather"),
					output,
				}}}
			res, err = client.Responses.New(ctx, follow)
			if err != nil {
				t.Fatalf("after the tool: %v", err)
			}
			if !strings.Contains(res.OutputText(), "21 degrees and sunny") {
				t.Errorf("the answer does not use the tool's result: %s", res.RawJSON())
			}
		})
	}
}
