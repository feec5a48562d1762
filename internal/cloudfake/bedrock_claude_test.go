package cloudfake

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/tidwall/gjson"
)

// TestBedrockFakeClaudeInvokeWithAWSSDK proves the fake's InvokeModel, InvokeModelWithResponseStream and
// CountTokens wire formats with AWS's own client: it signs them (the fake checks the signature), reads the
// Message, decodes the stream's chunk events into the Anthropic events they carry, and sends CountTokens'
// body as the fake reads it. A body with model or without anthropic_version is refused as Bedrock refuses it.
func TestBedrockFakeClaudeInvokeWithAWSSDK(t *testing.T) {
	fake := &Bedrock{Region: "us-east-1", Credentials: []aws.Credentials{testCreds}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	client := sdkClient(srv.URL, testCreds)
	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"thinking":{"type":"enabled","budget_tokens":512},` +
		`"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Weather in Paris?"}]}`

	out, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(body),
		ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	m := gjson.ParseBytes(out.Body)
	if m.Get("content.0.signature").Str != ClaudeSignature || m.Get("content.1.name").Str != "get_weather" ||
		m.Get("usage.cache_read_input_tokens").Int() != 3000 || m.Get("stop_reason").Str != "tool_use" {
		t.Errorf("InvokeModel answer %s", out.Body)
	}

	stream, err := client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), Body: []byte(body), ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	var types_ []string
	var sig, last string
	for ev := range stream.GetStream().Events() {
		chunk := ev.(*types.ResponseStreamMemberChunk).Value.Bytes
		e := gjson.ParseBytes(chunk)
		types_ = append(types_, e.Get("type").Str)
		if s := e.Get("delta.signature"); s.Exists() {
			sig = s.Str
		}
		last = string(chunk)
	}
	if err := stream.GetStream().Err(); err != nil {
		t.Fatalf("the SDK could not read the fake's stream: %v", err)
	}
	if types_[0] != "message_start" || types_[len(types_)-1] != "message_stop" || sig != ClaudeSignature ||
		gjson.Get(last, "amazon-bedrock-invocationMetrics.inputTokenCount").Int() != 12 {
		t.Errorf("streamed events %v, signature %q, last %s", types_, sig, last)
	}

	// CountTokens: the SDK sends the InvokeModel body as a blob, which the fake decodes and counts
	count := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1,"messages":[{"role":"user","content":"Hi"}]}`
	ct, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String("anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: []byte(count)}}})
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	if *ct.InputTokens != int32(ClaudeTokenCount([]byte(count))) {
		t.Errorf("CountTokens %d, want %d", *ct.InputTokens, ClaudeTokenCount([]byte(count)))
	}

	for name, bad := range map[string]string{
		"model in the body":    strings.Replace(body, `{`, `{"model":"claude",`, 1),
		"no anthropic_version": strings.Replace(body, `"anthropic_version":"bedrock-2023-05-31",`, ``, 1),
		"unknown beta":         strings.Replace(body, `{`, `{"anthropic_beta":["oauth-2025-04-20"],`, 1),
		"unknown member":       strings.Replace(body, `{`, `{"service_tier":"auto",`, 1),
	} {
		_, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(bad),
			ContentType: aws.String("application/json")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
			t.Errorf("%s: want a ValidationException, got %v", name, err)
		}
	}
}
