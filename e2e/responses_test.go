package e2e

import (
	"context"
	"io"
	"net/http"
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

// TestResponsesConversationSharedThroughRedis: with rate_limit_store redis, a response one gateway made
// through chat completions is continued with previous_response_id on another gateway sharing the Redis, and
// read and deleted there.
func TestResponsesConversationSharedThroughRedis(t *testing.T) {
	requireE2E(t)
	redis := startRedis(t)
	sim := startSimulator(t, "simulator", "")
	cfg := gatewayConfig(simProvider("sim", sim, "") + redisStore(redis, ""))
	a, b := startCaddy(t, "gateway-a", cfg), startCaddy(t, "gateway-b", cfg)
	c := newClient(t)
	send := func(gw *caddyProc, method, path, body string) (int, gjson.Result) {
		req, err := http.NewRequest(method, gw.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, gjson.ParseBytes(raw)
	}
	st, first := send(a, http.MethodPost, "/v1/responses", `{"model":"sim/gpt-4o-mini","input":"My name is Ada."}`)
	id := first.Get("id").Str
	if st != http.StatusOK || id == "" {
		t.Fatalf("first turn: %d %s", st, first.Raw)
	}
	st, second := send(b, http.MethodPost, "/v1/responses",
		`{"model":"sim/gpt-4o-mini","input":"What is my name?","previous_response_id":"`+id+`"}`)
	if st != http.StatusOK || second.Get("previous_response_id").Str != id || second.Get("usage.input_tokens").Int() <= first.Get("usage.input_tokens").Int() {
		t.Fatalf("second turn on the other gateway: %d %s (the earlier turn must count in its input)", st, second.Raw)
	}
	if st, got := send(b, http.MethodGet, "/v1/responses/"+id, ""); st != http.StatusOK || got.Get("id").Str != id {
		t.Errorf("GET on the other gateway: %d %s", st, got.Raw)
	}
	if st, got := send(a, http.MethodDelete, "/v1/responses/"+id, ""); st != http.StatusOK || !got.Get("deleted").Bool() {
		t.Errorf("DELETE: %d %s", st, got.Raw)
	}
	if st, _ := send(b, http.MethodGet, "/v1/responses/"+id, ""); st != http.StatusNotFound {
		t.Errorf("GET after DELETE on the other gateway: %d", st)
	}
}
