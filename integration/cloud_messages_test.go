package integration

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// cloudMessages is the gateway in front of the Bedrock and Vertex AI fakes (each verifying signatures or
// tokens and the Claude envelopes), with an anthropic-sdk-go client.
type cloudMessages struct {
	s       *site
	client  anthropic.Client
	bedrock *cloudfake.Bedrock
	vertex  *cloudfake.Vertex
}

// cloudMessagesGateway starts both fakes and the gateway (two attempts per request). The Bedrock fake
// answers Claude with cloudfake.ClaudeMessage unless the prompt says otherwise: "throttle once" is throttled
// on its first attempt, "throttle always" on every one; streamed, "cut me" ends after four events and
// "stream throttle" sends a throttlingException as its first event.
func cloudMessagesGateway(t *testing.T) *cloudMessages {
	var once atomic.Bool
	bedrock := &cloudfake.Bedrock{Region: "us-west-2", Credentials: []aws.Credentials{awsSet1},
		Answer: func(call cloudfake.BedrockCall) ([]byte, int, string, string) {
			body := string(call.Body)
			switch {
			case strings.Contains(body, "throttle always"), strings.Contains(body, "throttle once") && once.CompareAndSwap(false, true):
				return nil, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again."
			case !strings.Contains(call.ModelID, "anthropic.claude"):
				return []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Hello from Nova"}]}},"stopReason":"end_turn",` +
					`"usage":{"inputTokens":25,"outputTokens":11,"totalTokens":36}}`), 0, "", ""
			}
			return nil, 0, "", ""
		},
		StreamFault: func(call cloudfake.BedrockCall) (int, string, string) {
			switch body := string(call.Body); {
			case strings.Contains(body, "cut me"):
				return 4, "", ""
			case strings.Contains(body, "stream throttle"):
				return 0, "throttlingException", "Too many tokens, please wait before trying again."
			}
			return -1, "", ""
		}}
	bsrv := httptest.NewServer(bedrock)
	t.Cleanup(bsrv.Close)

	vertex := &cloudfake.Vertex{Project: "acme-prod", Location: "global", ClientEmail: "gateway@acme-prod.iam.gserviceaccount.com"}
	vsrv := httptest.NewServer(vertex)
	t.Cleanup(vsrv.Close)
	vertex.TokenURL = vsrv.URL + "/token"
	sa, key := cloudfake.NewServiceAccount(vertex.ClientEmail, "acme-prod", vertex.TokenURL)
	vertex.Key = &key.PublicKey
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startGateway(t, `		provider bedrock {
			type bedrock
			base_url `+bsrv.URL+`
			region us-west-2
			access_key_id `+awsSet1.AccessKeyID+`
			secret_access_key `+awsSet1.SecretAccessKey+`
		}
		provider vertex {
			type vertex
			base_url `+vsrv.URL+`
			credentials_file `+file+`
		}
		retry {
			max_attempts 2
		}
		cooldown {
			off
		}
`)
	client := anthropic.NewClient(option.WithBaseURL(s.url), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	return &cloudMessages{s: s, client: client, bedrock: bedrock, vertex: vertex}
}

// lastUpstream returns the last request the model's fake accepted: its body and operation (Bedrock's op,
// Vertex's model:method).
func (c *cloudMessages) lastUpstream(t *testing.T, model string) (body []byte, op string) {
	t.Helper()
	if strings.HasPrefix(model, "bedrock/") {
		calls := c.bedrock.Calls()
		if len(calls) == 0 {
			t.Fatal("Bedrock got no request")
		}
		return calls[len(calls)-1].Body, calls[len(calls)-1].Op
	}
	calls := c.vertex.Calls()
	if len(calls) == 0 {
		t.Fatal("Vertex AI got no request")
	}
	return calls[len(calls)-1].Body, calls[len(calls)-1].Model + ":" + calls[len(calls)-1].Method
}

// cloudClaudeModels are Claude on each cloud, with the cost of the fake's answer (input 12, cache writes
// 1500, cache reads 3000, output 7): Bedrock's us. profile at its regional prices ($3.30, $4.125, $0.33,
// $16.50 per million), Vertex at Anthropic's ($3, $3.75, $0.30, $15).
var cloudClaudeModels = []struct {
	model, upstreamOp, streamOp string
	cost                        float64
}{
	{"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "invoke", "invoke-with-response-stream",
		(12*3.30 + 1500*4.125 + 3000*0.33 + 7*16.50) / 1e6},
	{"vertex/claude-sonnet-4-5@20250929", "claude-sonnet-4-5@20250929:rawPredict", "claude-sonnet-4-5@20250929:streamRawPredict",
		(12*3 + 1500*3.75 + 3000*0.30 + 7*15) / 1e6},
}

func weatherParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 4096,
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(1024),
		System:    []anthropic.TextBlockParam{{Text: "You are terse.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}, "get_weather")},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
	}
}

// TestCloudMessagesClaudeSDK drives Claude on Bedrock and on Vertex AI through the Messages API with the
// official Go SDK, natively (InvokeModel, rawPredict): a thinking block with its signature and a tool_use,
// streamed and not, the next turn sending them back with the tool result, cache reads and writes in the
// usage, and count_tokens answered by the cloud's own count.
func TestCloudMessagesClaudeSDK(t *testing.T) {
	c := cloudMessagesGateway(t)
	ctx := context.Background()
	for _, m := range cloudClaudeModels {
		t.Run(m.model, func(t *testing.T) {
			params := weatherParams(m.model)
			whole, err := c.client.Messages.New(ctx, params)
			if err != nil {
				t.Fatalf("Messages.New: %v", err)
			}
			if string(whole.Model) != m.model || len(whole.Content) != 2 || whole.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("answer %s", whole.RawJSON())
			}
			thinking, use := whole.Content[0].AsThinking(), whole.Content[1].AsToolUse()
			if thinking.Signature != cloudfake.ClaudeSignature || thinking.Thinking != cloudfake.ClaudeThinking ||
				use.Name != "get_weather" || string(use.Input) != `{"city":"Paris"}` {
				t.Errorf("content %s", whole.RawJSON())
			}
			if u := whole.Usage; u.InputTokens != 12 || u.CacheReadInputTokens != 3000 || u.CacheCreationInputTokens != 1500 || u.OutputTokens != 7 {
				t.Errorf("usage %s", u.RawJSON())
			}
			sent, op := c.lastUpstream(t, m.model)
			if op != m.upstreamOp || gjson.GetBytes(sent, "model").Exists() ||
				gjson.GetBytes(sent, "system.0.cache_control.type").Str != "ephemeral" || gjson.GetBytes(sent, "thinking.budget_tokens").Int() != 1024 {
				t.Errorf("upstream %s got %s", op, sent)
			}

			// the next turn sends the thinking block back with the tool result: the signature arrives intact
			next := weatherParams(m.model)
			next.Messages = append(next.Messages, whole.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "18°C and sunny", false)))
			final, err := c.client.Messages.New(ctx, next)
			if err != nil {
				t.Fatalf("tool result turn: %v", err)
			}
			if final.Content[len(final.Content)-1].Text != "The tool said: 18°C and sunny" {
				t.Errorf("final %s", final.RawJSON())
			}
			sent, _ = c.lastUpstream(t, m.model)
			back := gjson.GetBytes(sent, "messages.1.content.0")
			if back.Get("type").Str != "thinking" || back.Get("signature").Str != cloudfake.ClaudeSignature || back.Get("thinking").Str != cloudfake.ClaudeThinking {
				t.Errorf("the thinking block went upstream as %s", back.Raw)
			}

			streamed, start := streamMessage(t, c.client, params)
			if _, op := c.lastUpstream(t, m.model); op != m.streamOp {
				t.Errorf("streamed through %s", op)
			}
			if len(streamed.Content) != 2 || streamed.Content[0].AsThinking().Signature != cloudfake.ClaudeSignature ||
				string(streamed.Content[1].AsToolUse().Input) != `{"city":"Paris"}` || string(streamed.Model) != m.model {
				t.Errorf("streamed %s", streamed.RawJSON())
			}
			if start.CacheReadInputTokens != 3000 || start.CacheCreationInputTokens != 1500 || streamed.Usage.OutputTokens != 7 {
				t.Errorf("streamed usage: start %s, final %s", start.RawJSON(), streamed.Usage.RawJSON())
			}

			count, err := c.client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
				Model:    anthropic.Model(m.model),
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("How many tokens is this?"))},
			})
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			sent, op = c.lastUpstream(t, m.model)
			counted := sent
			if strings.HasPrefix(m.model, "bedrock/") {
				if op != "count-tokens" || c.bedrock.Calls()[len(c.bedrock.Calls())-1].ModelID != "anthropic.claude-sonnet-4-5-20250929-v1:0" {
					t.Errorf("count went to %s %s", c.bedrock.Calls()[len(c.bedrock.Calls())-1].ModelID, op)
				}
				counted, _ = base64.StdEncoding.DecodeString(gjson.GetBytes(sent, "input.invokeModel.body").Str)
			} else if op != "count-tokens:rawPredict" || gjson.GetBytes(sent, "model").Str != "claude-sonnet-4-5@20250929" {
				t.Errorf("count went to %s with %s", op, sent)
			}
			if want := cloudfake.ClaudeTokenCount(counted); count.InputTokens != int64(want) {
				t.Errorf("count_tokens %d, want the upstream's %d", count.InputTokens, want)
			}
		})
	}
}

// TestCloudMessagesBytesAndCost: a Claude Code turn's messages (a thinking block with its signature, unusual
// escapes and a tool_result) reach Bedrock and Vertex AI byte for byte; the answer's cache reads and writes
// are priced at the cloud's cache prices, streamed and not.
func TestCloudMessagesBytesAndCost(t *testing.T) {
	c := cloudMessagesGateway(t)
	messages := `[{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"Call the tool.\n\u00e9\u2028 \"q\"","signature":"ErUBCkYIBxgCIkD+/Zz=="},` +
		`{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18C","cache_control":{"type":"ephemeral"}}]}]`
	for _, m := range cloudClaudeModels {
		t.Run(m.model, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				body := `{"model":"` + m.model + `","max_tokens":1024,"service_tier":"auto","stream":` + strconv.FormatBool(stream) +
					`,"thinking":{"type":"enabled","budget_tokens":512},"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":` + messages + `}`
				resp := c.s.request(context.Background(), http.MethodPost, "/v1/messages", body, "anthropic-version", "2023-06-01")
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("stream %v: %d %s", stream, resp.StatusCode, b)
				}
				sent, _ := c.lastUpstream(t, m.model)
				if got := gjson.GetBytes(sent, "messages").Raw; got != messages {
					t.Errorf("stream %v: messages upstream\n%s\nwant\n%s", stream, got, messages)
				}
				costHeader := resp.Header.Get("X-AI-Gateway-Cost")
				if stream {
					costHeader = resp.Trailer.Get("X-AI-Gateway-Cost")
					if !strings.Contains(string(b), `"cache_read_input_tokens":3000`) || !strings.Contains(string(b), "event: message_stop") {
						t.Errorf("stream %s", b)
					}
				} else if gjson.GetBytes(b, "usage.cache_creation_input_tokens").Int() != 1500 {
					t.Errorf("answer %s", b)
				}
				if got, err := strconv.ParseFloat(costHeader, 64); err != nil || math.Abs(got-m.cost) > 1e-9 {
					t.Errorf("stream %v: cost %q, want %v", stream, costHeader, m.cost)
				}
			}
		})
	}
}

// TestCloudMessagesOtherModels: Bedrock's non-Claude models and Gemini on Vertex AI keep being served through
// chat (Converse, generateContent), and their count_tokens is the gateway's own count.
func TestCloudMessagesOtherModels(t *testing.T) {
	c := cloudMessagesGateway(t)
	ctx := context.Background()
	for model, want := range map[string][2]string{
		"bedrock/amazon.nova-pro-v1:0": {"Hello from Nova", "converse"},
		"vertex/gemini-2.5-flash":      {"Hello from Vertex Gemini.", "gemini-2.5-flash:generateContent"},
	} {
		msg, err := c.client.Messages.New(ctx, messagesParams(model, "Hi", false))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != want[0] || string(msg.Model) != model {
			t.Errorf("%s: %s", model, msg.RawJSON())
		}
		if _, op := c.lastUpstream(t, model); op != want[1] {
			t.Errorf("%s went through %s", model, op)
		}
		before := len(c.bedrock.Calls()) + len(c.vertex.Calls())
		count, err := c.client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: anthropic.Model(model),
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a story."))}})
		if err != nil || count.InputTokens <= 0 {
			t.Errorf("%s: count %v %v", model, count, err)
		}
		if after := len(c.bedrock.Calls()) + len(c.vertex.Calls()); after != before {
			t.Errorf("%s: count_tokens called the upstream", model)
		}
	}
}

// TestCloudMessagesBedrockFaults: throttling is retried and, when it persists, reaches the client as
// Anthropic's 429 rate_limit_error (also when the stream's first event is the exception); a stream cut
// mid-answer ends with an Anthropic error event.
func TestCloudMessagesBedrockFaults(t *testing.T) {
	c := cloudMessagesGateway(t)
	ctx := context.Background()
	const model = "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	calls := func(word string) int {
		n := 0
		for _, call := range c.bedrock.Calls() {
			if strings.Contains(string(call.Body), word) {
				n++
			}
		}
		return n
	}

	msg, err := c.client.Messages.New(ctx, messagesParams(model, "throttle once", false))
	if err != nil || msg.Content[0].Text != "Hello from Claude on Bedrock." {
		t.Fatalf("a throttled first attempt was not retried: %v", err)
	}
	if n := calls("throttle once"); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}

	_, err = c.client.Messages.New(ctx, messagesParams(model, "throttle always", false))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests ||
		gjson.Get(apiErr.RawJSON(), "error.type").Str != "rate_limit_error" ||
		!strings.Contains(gjson.Get(apiErr.RawJSON(), "error.message").Str, "ThrottlingException: Too many requests") {
		t.Errorf("persistent throttling: %v", err)
	}
	if n := calls("throttle always"); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}

	params := messagesParams(model, "stream throttle", false)
	stream := c.client.Messages.NewStreaming(ctx, params)
	for stream.Next() {
		t.Errorf("event %s from a throttled stream", stream.Current().Type)
	}
	if err := stream.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests ||
		gjson.Get(apiErr.RawJSON(), "error.type").Str != "rate_limit_error" {
		t.Errorf("throttled stream: %v", err)
	}
	stream.Close()
	if n := calls("stream throttle"); n != 2 {
		t.Errorf("%d attempts of the throttled stream, want 2", n)
	}

	resp := c.s.request(ctx, http.MethodPost, "/v1/messages", `{"model":"`+model+`","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"cut me"}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := string(b)
	if resp.StatusCode != 200 || !strings.Contains(out, "event: message_start") || strings.Contains(out, "event: message_stop") {
		t.Fatalf("cut stream: %d %s", resp.StatusCode, out)
	}
	last := out[strings.LastIndex(strings.TrimSpace(out), "event: "):]
	if !strings.HasPrefix(last, "event: error\n") || !strings.Contains(last, `"type":"error"`) {
		t.Errorf("the cut stream ends with %q, want an Anthropic error event", last)
	}
}
