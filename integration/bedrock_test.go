package integration

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// The AWS credentials of the Bedrock tests: two access key sets and a Bedrock API key.
var (
	awsSet1 = aws.Credentials{AccessKeyID: "AKIDGATEWAY1", SecretAccessKey: "secret/one+EXAMPLE"}
	awsSet2 = aws.Credentials{AccessKeyID: "ASIAGATEWAY2", SecretAccessKey: "secret-two", SessionToken: "session/token=="}
)

const bedrockAPIKey = "ABSKbedrockapikeyexample"

// bedrockAnswer is the fake's Converse answer: a tool call when the request offers tools, else text.
func bedrockAnswer(call cloudfake.BedrockCall) ([]byte, int, string, string) {
	switch {
	case call.Op == "invoke" && strings.HasPrefix(call.ModelID, "amazon.titan-embed"):
		if !gjson.GetBytes(call.Body, "inputText").Exists() {
			return nil, 400, "ValidationException", "Malformed input request: required key [inputText] not found"
		}
		return []byte(`{"embedding":[0.125,-0.5,0.25],"inputTextTokenCount":7}`), 0, "", ""
	case call.Op == "invoke" && strings.HasPrefix(call.ModelID, "cohere.embed"):
		if !gjson.GetBytes(call.Body, "texts").IsArray() || gjson.GetBytes(call.Body, "input_type").Str == "" {
			return nil, 400, "ValidationException", "Malformed input request: texts and input_type are required"
		}
		return []byte(`{"embeddings":[[0.1,0.2],[0.3,0.4]],"id":"e1","response_type":"embeddings_floats","texts":["a","b"]}`), 0, "", ""
	case strings.Contains(string(call.Body), "throttle me"):
		return nil, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again."
	case strings.Contains(string(call.Body), "bad field"):
		return nil, http.StatusBadRequest, "ValidationException", "The model returned the following errors: messages.0: field required"
	case strings.Contains(string(call.Body), "not ready"):
		return nil, 429, "ModelNotReadyException", "Model is not ready for inference. Please retry."
	case gjson.GetBytes(call.Body, "toolConfig").Exists():
		return []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Let me check."},` +
			`{"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"get_weather","input":{"city":"Paris"}}}]}},` +
			`"stopReason":"tool_use","usage":{"inputTokens":381,"outputTokens":53,"totalTokens":434}}`), 0, "", ""
	}
	return []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Bonjour! The weather in Paris is mild today."}]}},` +
		`"stopReason":"end_turn","usage":{"inputTokens":25,"outputTokens":11,"totalTokens":36}}`), 0, "", ""
}

// bedrockGateway starts a signing-checking Bedrock fake and the gateway in front of it: provider bedrock
// signs with two credential sets (round robin), bedrockkey uses the Bedrock API key.
func bedrockGateway(t *testing.T) (openai.Client, *site, *cloudfake.Bedrock) {
	fake := &cloudfake.Bedrock{Region: "us-west-2", Credentials: []aws.Credentials{awsSet1, awsSet2},
		APIKeys: []string{bedrockAPIKey}, Answer: bedrockAnswer}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := startGateway(t, `		provider bedrock {
			type bedrock
			base_url `+srv.URL+`
			region us-west-2
			access_key_id `+awsSet1.AccessKeyID+`
			secret_access_key `+awsSet1.SecretAccessKey+`
			credentials `+awsSet2.AccessKeyID+` `+awsSet2.SecretAccessKey+` `+awsSet2.SessionToken+`
			policy round_robin
		}
		provider bedrockkey {
			type bedrock
			base_url `+srv.URL+`
			region us-west-2
			api_key `+bedrockAPIKey+`
		}
		provider bedrockbad {
			type bedrock
			base_url `+srv.URL+`
			region us-west-2
			access_key_id `+awsSet1.AccessKeyID+`
			secret_access_key not-the-secret
		}
		retry {
			max_attempts 2
		}
		cooldown {
			off
		}
`)
	client := openai.NewClient(option.WithBaseURL(s.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0),
		option.WithHTTPClient(s.client))
	return client, s, fake
}

// TestBedrockOpenAISDK: openai-go through the gateway to Bedrock, streamed and not, text and tools, with every
// request's SigV4 signature checked by the fake and both credential sets used.
func TestBedrockOpenAISDK(t *testing.T) {
	client, _, fake := bedrockGateway(t)
	ctx := context.Background()
	for _, model := range []string{"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrockkey/amazon.nova-pro-v1:0",
		"bedrock/arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"} {
		t.Run(model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Weather?")}}
			whole, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("non-streamed: %v", err)
			}
			if whole.Model != model || whole.Choices[0].Message.Content != "Bonjour! The weather in Paris is mild today." ||
				whole.Choices[0].FinishReason != "stop" {
				t.Fatalf("answer: %s", whole.RawJSON())
			}
			if u := whole.Usage; u.PromptTokens != 25 || u.CompletionTokens != 11 || u.TotalTokens != 36 {
				t.Errorf("usage %+v", u)
			}
			call := fake.Calls()[len(fake.Calls())-1]
			if want := model[strings.IndexByte(model, '/')+1:]; call.ModelID != want || call.Op != "converse" {
				t.Errorf("the fake got model %q op %q, want %q converse", call.ModelID, call.Op, want)
			}
			if sys := gjson.GetBytes(call.Body, "system.0.text").String(); sys != "Be brief." {
				t.Errorf("system = %q in %s", sys, call.Body)
			}

			acc := accumulate(t, client, params)
			if acc.Choices[0].Message.Content != whole.Choices[0].Message.Content || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("streamed %q finish %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
			}
			if acc.Usage.PromptTokens != 25 || acc.Usage.CompletionTokens != 11 {
				t.Errorf("streamed usage %+v", acc.Usage)
			}
			if op := fake.Calls()[len(fake.Calls())-1].Op; op != "converse-stream" {
				t.Errorf("streamed op %q", op)
			}

			params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
			whole, err = client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("tools: %v", err)
			}
			tc := whole.Choices[0].Message.ToolCalls
			if len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city":"Paris"}` ||
				tc[0].ID != "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q" || whole.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("tool answer: %s", whole.RawJSON())
			}
			spec := gjson.GetBytes(fake.Calls()[len(fake.Calls())-1].Body, "toolConfig.tools.0.toolSpec")
			if spec.Get("name").Str != "get_weather" || spec.Get("inputSchema.json.required.0").Str != "city" {
				t.Errorf("toolSpec %s", spec.Raw)
			}
			acc = accumulate(t, client, params)
			stc := acc.Choices[0].Message.ToolCalls
			if len(stc) != 1 || stc[0].Function.Arguments != `{"city":"Paris"}` || stc[0].ID != tc[0].ID ||
				acc.Choices[0].FinishReason != "tool_calls" || acc.Choices[0].Message.Content != "Let me check." {
				t.Errorf("streamed tool call %+v finish %q content %q", stc, acc.Choices[0].FinishReason, acc.Choices[0].Message.Content)
			}

			// the tool result goes back as a toolResult in a user message
			params.Messages = append(params.Messages, whole.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp_c":18}`, tc[0].ID))
			if _, err := client.Chat.Completions.New(ctx, params); err != nil {
				t.Fatalf("tool result: %v", err)
			}
			msgs := gjson.GetBytes(fake.Calls()[len(fake.Calls())-1].Body, "messages")
			if got := msgs.Get("2.content.0.toolResult"); msgs.Get("2.role").Str != "user" || got.Get("toolUseId").Str != tc[0].ID ||
				got.Get("content.0.text").Str != `{"temp_c":18}` || msgs.Get("1.content.1.toolUse.input.city").Str != "Paris" {
				t.Errorf("messages sent: %s", msgs.Raw)
			}
		})
	}
	keys := map[string]int{}
	for _, c := range fake.Calls() {
		keys[c.AccessKeyID+c.APIKey]++
	}
	if keys[awsSet1.AccessKeyID] == 0 || keys[awsSet2.AccessKeyID] == 0 || keys[bedrockAPIKey] == 0 {
		t.Errorf("requests per credential = %v: want both credential sets and the API key used", keys)
	}
}

// TestBedrockErrors: AWS exceptions become OpenAI errors with AWS's message and the right status; a
// throttled request is retried on the provider's other credential set.
func TestBedrockErrors(t *testing.T) {
	client, _, fake := bedrockGateway(t)
	ctx := context.Background()
	cases := []struct {
		prompt string
		status int
		msg    string
	}{
		{"throttle me", 429, "ThrottlingException: Too many requests"},
		{"bad field", 400, "ValidationException: The model returned the following errors"},
		{"not ready", 503, "ModelNotReadyException: Model is not ready"},
	}
	before := len(fake.Calls())
	_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "bedrockbad/amazon.nova-lite-v1:0",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || !strings.Contains(apiErr.Message, "signature we calculated does not match") ||
		strings.Contains(apiErr.Message, "not-the-secret") {
		t.Errorf("a wrong secret: got %v, want the fake's 403 signature mismatch", err)
	}
	if len(fake.Calls()) != before {
		t.Error("the fake accepted a request signed with a wrong secret")
	}
	for _, c := range cases {
		before := len(fake.Calls())
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "bedrock/amazon.nova-lite-v1:0",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.prompt)}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != c.status || !strings.Contains(apiErr.Message, c.msg) {
			t.Errorf("%s: got %v, want %d with %q", c.prompt, err, c.status, c.msg)
			continue
		}
		attempts := len(fake.Calls()) - before
		if c.status == 400 && attempts != 1 || c.status != 400 && attempts != 2 {
			t.Errorf("%s: %d attempts", c.prompt, attempts)
		}
	}
}

// TestBedrockEmbeddings: openai-go's embeddings through the gateway to Titan and Cohere Embed on Bedrock
// (InvokeModel), signed requests checked by the fake.
func TestBedrockEmbeddings(t *testing.T) {
	client, _, fake := bedrockGateway(t)
	ctx := context.Background()
	titan, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "bedrock/amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello world")}, Dimensions: openai.Int(256)})
	if err != nil {
		t.Fatalf("titan: %v", err)
	}
	if len(titan.Data) != 1 || titan.Data[0].Embedding[1] != -0.5 || titan.Usage.PromptTokens != 7 {
		t.Errorf("titan %s", titan.RawJSON())
	}
	call := fake.Calls()[len(fake.Calls())-1]
	if call.Op != "invoke" || gjson.GetBytes(call.Body, "dimensions").Int() != 256 || gjson.GetBytes(call.Body, "inputText").Str != "hello world" {
		t.Errorf("titan request %s %s", call.Op, call.Body)
	}
	co, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "bedrock/cohere.embed-english-v3",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil {
		t.Fatalf("cohere: %v", err)
	}
	if len(co.Data) != 2 || co.Data[1].Embedding[0] != 0.3 {
		t.Errorf("cohere %s", co.RawJSON())
	}
	_, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "bedrock/amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Errorf("two texts for Titan: %v", err)
	}
}
