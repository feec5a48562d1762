package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// TestCloudMessagesAnthropicNode runs the official Anthropic TypeScript SDK (npm/cloud_messages.mjs) against a
// real Caddy whose providers are Claude on Bedrock and on Vertex AI: the fakes check every request's SigV4
// signature or OAuth2 token and the Claude envelopes (anthropic_version, no model in the body). Tool use with
// a signed thinking block, the next turn sending it back, a stream, count_tokens and throttling (a
// RateLimitError), each through the native paths (InvokeModel, rawPredict and their streams, CountTokens).
func TestCloudMessagesAnthropicNode(t *testing.T) {
	requireE2E(t)
	requireNode(t)
	npmCI(t)
	creds := aws.Credentials{AccessKeyID: "AKIDE2EBEDROCK", SecretAccessKey: "e2e/secret+key"}
	bedrock := &cloudfake.Bedrock{Region: "us-east-1", Credentials: []aws.Credentials{creds},
		Answer: func(call cloudfake.BedrockCall) ([]byte, int, string, string) {
			if strings.Contains(string(call.Body), "throttle always") {
				return nil, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again."
			}
			return nil, 0, "", ""
		}}
	bsrv := httptest.NewServer(bedrock)
	defer bsrv.Close()
	vertex := &cloudfake.Vertex{Project: "acme-prod", Location: "global", ClientEmail: "gateway@acme-prod.iam.gserviceaccount.com"}
	vsrv := httptest.NewServer(vertex)
	defer vsrv.Close()
	vertex.TokenURL = vsrv.URL + "/token"
	sa, key := cloudfake.NewServiceAccount(vertex.ClientEmail, "acme-prod", vertex.TokenURL)
	vertex.Key = &key.PublicKey
	saFile := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(saFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	gw := startCaddy(t, "gateway", gatewayConfig(`provider bedrock {
	type bedrock
	base_url `+bsrv.URL+`
	region us-east-1
	access_key_id `+creds.AccessKeyID+`
	secret_access_key `+creds.SecretAccessKey+`
}
provider vertex {
	type vertex
	base_url `+vsrv.URL+`
	credentials_file `+saFile+`
}
retry {
	max_attempts 2
}
`))

	script, err := filepath.Abs(filepath.Join(npmDir, "cloud_messages.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = npmDir
	cmd.Env = append(os.Environ(), "AIGW_BASE_URL="+gw.url(""), "AIGW_API_KEY=sk-e2e-anthropic-node",
		"AIGW_SIGNATURE="+cloudfake.ClaudeSignature)
	cmd.SysProcAttr = childProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "ok cloud-messages") {
		t.Fatalf("node cloud_messages.mjs: %v\n%s", err, out.String())
	}

	var ops []string
	for _, c := range bedrock.Calls() {
		ops = append(ops, "bedrock "+c.Op)
	}
	for _, c := range vertex.Calls() {
		ops = append(ops, "vertex "+c.Model+":"+c.Method)
	}
	for _, want := range []string{"bedrock invoke", "bedrock invoke-with-response-stream", "bedrock count-tokens",
		"vertex claude-sonnet-4-5@20250929:rawPredict", "vertex claude-sonnet-4-5@20250929:streamRawPredict", "vertex count-tokens:rawPredict"} {
		if !slices.Contains(ops, want) {
			t.Errorf("no %s request; the fakes got %v", want, ops)
		}
	}
}
