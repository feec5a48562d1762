package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// weatherArgs is the input the simulator gives a call to weatherTool: one example value per required property.
const weatherArgs = `{"location":"sample","unit":"celsius","days":1}`

func anthropicClient(t *testing.T) anthropic.Client {
	t.Helper()
	srv := startSimulator(t)
	return anthropic.NewClient(
		option.WithBaseURL(srv.URL),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
	)
}

func anthropicText() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a story."))},
	}
}

func anthropicTool() anthropic.MessageNewParams {
	p := anthropicText()
	p.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))}
	p.Tools = []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
		Properties: map[string]any{
			"location": map[string]any{"type": "string"},
			"unit":     map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			"days":     map[string]any{"type": "integer"},
		},
		Required: []string{"location", "unit", "days"},
	}, "get_weather")}
	return p
}

// accumulate runs a streamed request and returns the message Message.Accumulate builds from its events.
func accumulate(t *testing.T, client anthropic.Client, params anthropic.MessageNewParams) anthropic.Message {
	t.Helper()
	stream := client.Messages.NewStreaming(context.Background(), params)
	defer stream.Close()
	var msg anthropic.Message
	events := 0
	for stream.Next() {
		events++
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate event %d (%s): %v", events, stream.Current().Type, err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return msg
}

func TestAnthropicSDKText(t *testing.T) {
	client := anthropicClient(t)
	whole, err := client.Messages.New(context.Background(), anthropicText())
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	if len(whole.Content) != 1 || whole.Content[0].Type != "text" {
		t.Fatalf("content = %s, want one text block", whole.RawJSON())
	}
	if got := wordCount(whole.Content[0].Text); got != textWords {
		t.Errorf("text %q has %d words, want %d", whole.Content[0].Text, got, textWords)
	}
	if whole.StopReason != anthropic.StopReasonEndTurn || whole.Role != "assistant" || whole.Model != "claude-sonnet-4-5" {
		t.Errorf("stop_reason %q, role %q, model %q; want end_turn, assistant, claude-sonnet-4-5",
			whole.StopReason, whole.Role, whole.Model)
	}
	if whole.Usage.OutputTokens != textWords || whole.Usage.InputTokens <= 0 {
		t.Errorf("usage = %s, want output_tokens %d and some input_tokens", whole.Usage.RawJSON(), textWords)
	}

	streamed := accumulate(t, client, anthropicText())
	if len(streamed.Content) != 1 || streamed.Content[0].Text != whole.Content[0].Text {
		t.Errorf("streamed content = %s, want the text %q", streamed.RawJSON(), whole.Content[0].Text)
	}
	if streamed.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("streamed stop_reason = %q, want end_turn", streamed.StopReason)
	}
	if streamed.Usage.InputTokens != whole.Usage.InputTokens || streamed.Usage.OutputTokens != whole.Usage.OutputTokens {
		t.Errorf("streamed usage = %s, want the non-streamed %s", streamed.Usage.RawJSON(), whole.Usage.RawJSON())
	}
}

func TestAnthropicSDKMaxTokens(t *testing.T) {
	client := anthropicClient(t)
	params := anthropicText()
	params.MaxTokens = 3
	whole, err := client.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	for name, msg := range map[string]anthropic.Message{"whole": *whole, "streamed": accumulate(t, client, params)} {
		if msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.OutputTokens != 3 ||
			len(msg.Content) != 1 || wordCount(msg.Content[0].Text) != 3 {
			t.Errorf("%s: %s, want 3 words ending with max_tokens", name, msg.RawJSON())
		}
	}
}

func TestAnthropicSDKToolUse(t *testing.T) {
	client := anthropicClient(t)
	whole, err := client.Messages.New(context.Background(), anthropicTool())
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	streamed := accumulate(t, client, anthropicTool())
	for name, msg := range map[string]*anthropic.Message{"whole": whole, "streamed": &streamed} {
		if len(msg.Content) != 1 {
			t.Fatalf("%s: content = %s, want one tool_use block", name, msg.RawJSON())
		}
		call := msg.Content[0].AsToolUse()
		if call.Type != "tool_use" || call.Name != "get_weather" || call.ID == "" {
			t.Errorf("%s: block = %s, want a tool_use of get_weather with an id", name, msg.Content[0].RawJSON())
		}
		assertJSON(t, name+" input", call.Input, weatherArgs)
		if msg.StopReason != anthropic.StopReasonToolUse {
			t.Errorf("%s: stop_reason = %q, want tool_use", name, msg.StopReason)
		}
		if msg.Usage.OutputTokens <= 0 || msg.Usage.InputTokens <= 0 {
			t.Errorf("%s: usage = %s, want input and output tokens", name, msg.Usage.RawJSON())
		}
	}
	if streamed.Usage.OutputTokens != whole.Usage.OutputTokens {
		t.Errorf("streamed output_tokens %d, non-streamed %d", streamed.Usage.OutputTokens, whole.Usage.OutputTokens)
	}

	// The second turn sends the accumulated call back with its result; the model then answers in text.
	next := anthropicTool()
	next.Messages = append(next.Messages, streamed.ToParam(), anthropic.NewUserMessage(
		anthropic.NewToolResultBlock(streamed.Content[0].ID, `{"temperature":21}`, false)))
	answer, err := client.Messages.New(context.Background(), next)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if answer.StopReason != anthropic.StopReasonEndTurn || len(answer.Content) != 1 || answer.Content[0].Type != "text" {
		t.Errorf("second turn = %s, want a text answer ending with end_turn", answer.RawJSON())
	}
}

func TestAnthropicSDKCountTokens(t *testing.T) {
	client := anthropicClient(t)
	p := anthropicText()
	count, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model: p.Model, Messages: p.Messages, System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: p.System},
	})
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	whole, err := client.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	if count.InputTokens != whole.Usage.InputTokens {
		t.Errorf("count_tokens = %d, want the input_tokens the message reports, %d", count.InputTokens, whole.Usage.InputTokens)
	}
}

func TestAnthropicSDKError(t *testing.T) {
	client := anthropicClient(t)
	fault := option.WithHeader(simulator.FaultHeader, "status=529")
	_, err := client.Messages.New(context.Background(), anthropicText(), fault)
	assertAnthropicError(t, "New", err, 529, "overloaded_error")

	stream := client.Messages.NewStreaming(context.Background(), anthropicText(), fault)
	defer stream.Close()
	if stream.Next() {
		t.Errorf("NewStreaming yielded event %s from a failed request", stream.Current().Type)
	}
	assertAnthropicError(t, "NewStreaming", stream.Err(), 529, "overloaded_error")

	bad := anthropicClient(t)
	_, err = bad.Messages.New(context.Background(), anthropicText(), option.WithAPIKey("wrong"))
	assertAnthropicError(t, "wrong key", err, http.StatusUnauthorized, "authentication_error")
}

func TestAnthropicSDKCutStream(t *testing.T) {
	client := anthropicClient(t)
	// Four events are sent: message_start, content_block_start, ping (which the SDK drops) and one delta.
	stream := client.Messages.NewStreaming(context.Background(), anthropicText(),
		option.WithHeader(simulator.FaultHeader, "cut_after=4"))
	defer stream.Close()
	var msg anthropic.Message
	events := 0
	for stream.Next() {
		events++
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	if events != 3 || stream.Err() == nil {
		t.Errorf("a stream cut after 4 events gave %d events and error %v, want 3 events then an error", events, stream.Err())
	}
	if msg.StopReason != "" || len(msg.Content) != 1 || wordCount(msg.Content[0].Text) != 2 {
		t.Errorf("cut stream accumulated stop_reason %q and content %+v, want one two-word chunk and no stop_reason",
			msg.StopReason, msg.Content)
	}
}

func assertAnthropicError(t *testing.T, what string, err error, status int, typ string) {
	t.Helper()
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: error %v (%T), want *anthropic.Error", what, err, err)
	}
	if apiErr.StatusCode != status || string(apiErr.Type()) != typ || apiErr.RequestID == "" {
		t.Errorf("%s: status %d, type %q, request id %q; want %d, %s and a request id",
			what, apiErr.StatusCode, apiErr.Type(), apiErr.RequestID, status, typ)
	}
}

func assertJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var gotV, wantV any
	raw, err := json.Marshal(got)
	if err == nil {
		err = json.Unmarshal(raw, &gotV)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(gotV)
	b, _ := json.Marshal(wantV)
	if string(a) != string(b) {
		t.Errorf("%s = %s, want %s", what, a, b)
	}
}

func TestAnthropicSDKThinking(t *testing.T) {
	client := anthropicClient(t)
	params := anthropicText()
	params.MaxTokens = 2048
	params.Thinking = anthropic.ThinkingConfigParamOfEnabled(1024)
	whole, err := client.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	streamed := accumulate(t, client, params)
	for name, msg := range map[string]*anthropic.Message{"whole": whole, "streamed": &streamed} {
		if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[1].Type != "text" {
			t.Fatalf("%s: content %s, want a thinking block then a text block", name, msg.RawJSON())
		}
		thinking := msg.Content[0].AsThinking()
		if wordCount(thinking.Thinking) != 16 || thinking.Signature == "" || wordCount(msg.Content[1].Text) != textWords {
			t.Errorf("%s: thinking %q, signature %q, text %q", name, thinking.Thinking, thinking.Signature, msg.Content[1].Text)
		}
		if msg.Usage.OutputTokens != 16+textWords {
			t.Errorf("%s: output_tokens %d, want thinking and text", name, msg.Usage.OutputTokens)
		}
	}
	if streamed.Content[0].Thinking != whole.Content[0].Thinking {
		t.Errorf("streamed thinking %q, want %q", streamed.Content[0].Thinking, whole.Content[0].Thinking)
	}
}

func TestAnthropicSDKStructuredOutputs(t *testing.T) {
	client := anthropicClient(t)
	params := anthropicText()
	params.OutputConfig = anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: recipeSchema}}
	whole, err := client.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	checkRecipe(t, "whole", whole.Content[0].Text)
	streamed := accumulate(t, client, params)
	checkRecipe(t, "streamed", streamed.Content[0].Text)
}
