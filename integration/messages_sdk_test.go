package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// messagesGateway starts the gateway in front of the simulator as an Anthropic provider (served by
// passthrough), an OpenAI and a Gemini provider (served by translation through chat), with Claude Code's
// model names aliased by a glob, and returns the site and an anthropic-sdk-go client for it that sends the
// client key as x-api-key, as Claude Code does.
func messagesGateway(t *testing.T) (*site, anthropic.Client) {
	sim := httptest.NewServer(simulator.New(simulator.Config{CompletionTokens: 12, ChunkTokens: 2, RequireKey: upstreamKey}))
	t.Cleanup(sim.Close)
	s := startGateway(t, providerBlock("openai", "openai", sim.URL+"/v1")+
		providerBlock("anthropic", "anthropic", sim.URL)+
		providerBlock("google", "gemini", sim.URL+"/v1beta")+
		"\t\talias claude-* openai/gpt-4o-mini\n"+
		"\t\tretry {\n\t\t\tmax_attempts 1\n\t\t}\n")
	client := anthropic.NewClient(option.WithBaseURL(s.url), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	return s, client
}

// messagesModels are served by passthrough (anthropic/…) and by translation (the others; the last through
// the glob alias).
var messagesModels = []string{"anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini", "google/gemini-2.5-flash", "claude-haiku-4-5-20251001"}

func messagesTool() anthropic.ToolUnionParam {
	return anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"path": map[string]any{"type": "string"}},
		Required:   []string{"path"},
	}, "read_file")
}

func messagesParams(model, prompt string, tools bool) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 20000, // above max_output_tokens: clamped rather than refused (the SDK wants streaming past ~21K)
		System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
	if tools {
		p.Tools = []anthropic.ToolUnionParam{messagesTool()}
	}
	return p
}

// streamMessage streams params and returns the accumulated message and the first event's usage.
func streamMessage(t *testing.T, client anthropic.Client, params anthropic.MessageNewParams) (anthropic.Message, anthropic.Usage) {
	t.Helper()
	params.MaxTokens = 32000 // what Claude Code asks for
	stream := client.Messages.NewStreaming(context.Background(), params)
	defer stream.Close()
	var msg anthropic.Message
	var start anthropic.Usage
	events := 0
	for stream.Next() {
		ev := stream.Current()
		if events == 0 {
			if ev.Type != "message_start" {
				t.Fatalf("first event %s, want message_start", ev.Type)
			}
			start = ev.Message.Usage
		}
		events++
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("Accumulate event %d (%s): %v", events, ev.Type, err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if events < 5 {
		t.Errorf("only %d events: the answer was not streamed", events)
	}
	return msg, start
}

// TestMessagesSDK drives every provider through the Messages API with the official Go SDK: text and tool
// use, streamed and not, a tool round trip whose answer uses the tool's result, and count_tokens.
func TestMessagesSDK(t *testing.T) {
	_, client := messagesGateway(t)
	ctx := context.Background()
	for _, model := range messagesModels {
		t.Run(model, func(t *testing.T) {
			whole, err := client.Messages.New(ctx, messagesParams(model, "Tell me a story.", false))
			if err != nil {
				t.Fatalf("Messages.New: %v", err)
			}
			if len(whole.Content) != 1 || whole.Content[0].Text == "" || whole.StopReason != anthropic.StopReasonEndTurn ||
				string(whole.Model) != model || !strings.HasPrefix(whole.ID, "msg_") {
				t.Errorf("answer %s", whole.RawJSON())
			}
			if whole.Usage.InputTokens <= 0 || whole.Usage.OutputTokens <= 0 {
				t.Errorf("usage %s", whole.Usage.RawJSON())
			}

			streamed, start := streamMessage(t, client, messagesParams(model, "Tell me a story.", false))
			if len(streamed.Content) != 1 || streamed.Content[0].Text == "" || streamed.StopReason != anthropic.StopReasonEndTurn {
				t.Errorf("streamed %s", streamed.RawJSON())
			}
			if start.InputTokens <= 0 {
				t.Errorf("message_start usage %s: input_tokens must be the real count, never 0", start.RawJSON())
			}
			if streamed.Usage.OutputTokens <= 0 || streamed.Usage.InputTokens <= 0 {
				t.Errorf("streamed usage %s", streamed.Usage.RawJSON())
			}

			for _, stream := range []bool{false, true} {
				var call anthropic.Message
				if stream {
					call, _ = streamMessage(t, client, messagesParams(model, "Read notes.txt", true))
				} else {
					m, err := client.Messages.New(ctx, messagesParams(model, "Read notes.txt", true))
					if err != nil {
						t.Fatalf("Messages.New with tools: %v", err)
					}
					call = *m
				}
				if len(call.Content) == 0 || call.StopReason != anthropic.StopReasonToolUse {
					t.Fatalf("stream %v: %s, want a tool_use", stream, call.RawJSON())
				}
				use := call.Content[len(call.Content)-1].AsToolUse()
				var input map[string]any
				if use.Type != "tool_use" || use.Name != "read_file" || use.ID == "" || json.Unmarshal(use.Input, &input) != nil ||
					input["path"] == nil {
					t.Fatalf("stream %v: tool_use %s, want read_file with a JSON input that has path", stream, call.Content[len(call.Content)-1].RawJSON())
				}

				// The agent loop's next turn: the tool's result goes back, the answer uses it.
				next := messagesParams(model, "Read notes.txt", true)
				next.Messages = append(next.Messages, call.ToParam(),
					anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "the notes say 42 apples", false)))
				var final anthropic.Message
				if stream {
					final, _ = streamMessage(t, client, next)
				} else {
					m, err := client.Messages.New(ctx, next)
					if err != nil {
						t.Fatalf("tool result turn: %v", err)
					}
					final = *m
				}
				if len(final.Content) == 0 || !strings.Contains(final.Content[len(final.Content)-1].Text, "42 apples") ||
					final.StopReason != anthropic.StopReasonEndTurn {
					t.Errorf("stream %v: final answer %s does not use the tool's result", stream, final.RawJSON())
				}
			}

			count, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
				Model:    anthropic.Model(model),
				System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("You are terse.")},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a story about a dragon."))},
				Tools:    []anthropic.MessageCountTokensToolUnionParam{{OfTool: messagesTool().OfTool}},
			})
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			if count.InputTokens <= 0 {
				t.Errorf("count_tokens %s: want a real count", count.RawJSON())
			}
		})
	}
}

// TestMessagesErrors: the gateway's own refusals reach an Anthropic client in Anthropic's shape with the
// right status, and the SDK reads them.
func TestMessagesErrors(t *testing.T) {
	s, client := messagesGateway(t)
	ctx := context.Background()

	bad := anthropic.NewClient(option.WithBaseURL(s.url), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	_, err := bad.Messages.New(ctx, messagesParams("openai/gpt-4o-mini", "hi", false))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized ||
		gjson.Get(apiErr.RawJSON(), "error.type").Str != "authentication_error" {
		t.Errorf("wrong key: %v", err)
	}

	_, err = client.Messages.New(ctx, messagesParams("nobody/model", "hi", false))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound ||
		gjson.Get(apiErr.RawJSON(), "error.type").Str != "not_found_error" {
		t.Errorf("unknown model: %v", err)
	}

	for _, c := range []struct {
		body, typ string
		status    int
	}{
		{`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "invalid_request_error", 400},
		{`{"model":"openai/gpt-4o-mini","max_tokens":5,"messages":[{"role":"tool","content":"hi"}]}`, "invalid_request_error", 400},
		{`{"model":"openai/gpt-4o-mini","max_tokens":5,"messages":[`, "invalid_request_error", 400},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/messages?beta=true", strings.NewReader(c.body))
		req.Header.Set("x-api-key", clientKey)
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || gjson.GetBytes(b, "type").Str != "error" || gjson.GetBytes(b, "error.type").Str != c.typ ||
			gjson.GetBytes(b, "error.message").Str == "" {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, b)
		}
	}
}
