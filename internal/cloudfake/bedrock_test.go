package cloudfake

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

// sdkClient is AWS's own bedrockruntime client pointed at the fake.
func sdkClient(url string, creds aws.Credentials) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		HTTPClient:       http.DefaultClient,
		RetryMaxAttempts: 1,
	})
}

// TestBedrockFakeAcceptsAWSSDKSignatures proves the fake's SigV4 check with AWS's own client: requests it
// signs are accepted (model ids with ':' and ARNs with '/' included), and the same requests signed with a
// wrong secret, an unknown key, or for another region are refused with 403 as AWS refuses them.
func TestBedrockFakeAcceptsAWSSDKSignatures(t *testing.T) {
	fake := &Bedrock{Region: "us-east-1", Credentials: []aws.Credentials{testCreds, {AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "sess/token+=="}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	models := []string{
		"us.anthropic.claude-sonnet-4-5-20250929-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
	}
	for _, model := range models {
		out, err := sdkClient(srv.URL, testCreds).Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId: aws.String(model),
			Messages: []types.Message{{Role: types.ConversationRoleUser,
				Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hi"}}}},
		})
		if err != nil {
			t.Fatalf("%s: the fake refused AWS's own signature: %v", model, err)
		}
		text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
		if text != "Hello from Bedrock" {
			t.Errorf("answer %q", text)
		}
		if got := fake.Calls()[len(fake.Calls())-1].ModelID; got != model {
			t.Errorf("the fake saw model %q, want %q", got, model)
		}
	}
	// temporary credentials: the session token is checked too
	temp := aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "sess/token+=="}
	if _, err := sdkClient(srv.URL, temp).Converse(ctx, converseInput(models[0])); err != nil {
		t.Fatalf("temporary credentials refused: %v", err)
	}

	stream, err := sdkClient(srv.URL, testCreds).ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(models[0]),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hi"}}}},
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var text strings.Builder
	var usage *types.TokenUsage
	for ev := range stream.GetStream().Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			text.WriteString(e.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		case *types.ConverseStreamOutputMemberMetadata:
			usage = e.Value.Usage
		}
	}
	if err := stream.GetStream().Err(); err != nil {
		t.Fatalf("the SDK could not read the fake's event stream: %v", err)
	}
	if text.String() != "Hello from Bedrock" || usage == nil || *usage.InputTokens != 12 {
		t.Errorf("streamed %q, usage %+v", text.String(), usage)
	}

	for name, creds := range map[string]aws.Credentials{
		"wrong secret":        {AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "not-the-secret"},
		"unknown key":         {AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testCreds.SecretAccessKey},
		"wrong session token": {AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "other"},
	} {
		_, err := sdkClient(srv.URL, creds).Converse(ctx, converseInput(models[0]))
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Errorf("%s: want a 403 refusal, got %v", name, err)
		}
	}
	other := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, ""), RetryMaxAttempts: 1})
	if _, err := other.Converse(ctx, converseInput(models[0])); err == nil {
		t.Error("a signature for another region was accepted")
	} else {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
			t.Errorf("another region: %v", err)
		}
	}
}

func converseInput(model string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{{Role: types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hi"}}}}}
}

// TestBedrockFakeRefusesTamperedBody: a body changed after signing no longer matches the signature.
func TestBedrockFakeRefusesTamperedBody(t *testing.T) {
	fake := &Bedrock{Region: "us-east-1", Credentials: []aws.Credentials{testCreds}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, ""), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: tamper{}}})
	_, err := client.Converse(context.Background(), converseInput("amazon.nova-lite-v1:0"))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("tampered body: %v", err)
	}
}

// tamper changes the body of a signed request on its way out.
type tamper struct{}

func (tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	body := `{"messages":[{"role":"user","content":[{"text":"Hx"}]}]}`
	r2.Body = http.NoBody
	r2.Body = readCloser{strings.NewReader(body)}
	r2.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(r2)
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
