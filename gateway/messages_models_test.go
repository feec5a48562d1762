package gateway

import (
	"testing"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// TestMessagesSurfaceNativePerModel: a dialect that serves the Messages API natively for some models only
// (transform.MessagesModelFilter) gets, per target model, the native implementation or the one through chat;
// count_tokens is the upstream's count for the native models and the local count for the others. A dialect
// without the filter keeps one implementation for all its models.
func TestMessagesSurfaceNativePerModel(t *testing.T) {
	bedrock := transform.NewBedrock(transform.BedrockOptions{Region: "us-east-1"})
	ops := messagesSurface.ops(bedrock, true)
	if ops.forModel == nil {
		t.Fatal("no per-model choice for Bedrock")
	}
	claude, nova := ops.forModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0"), ops.forModel("amazon.nova-pro-v1:0")
	if !claude.native || claude.build == nil || claude.translateError == nil {
		t.Errorf("Claude on Bedrock is not served natively: %+v", claude)
	}
	if nova.native || nova.build == nil || nova.translate == nil {
		t.Errorf("Nova is not served through chat: %+v", nova)
	}
	out, err := claude.build(&transform.Request{Body: []byte(`{"model":"c","max_tokens":5,"messages":[]}`), Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	if err != nil || out.Path != "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke" {
		t.Errorf("native build: %v %+v", err, out)
	}

	count := countTokensSurface.ops(bedrock, true)
	if c, n := count.forModel("anthropic.claude-3-haiku-20240307-v1:0"), count.forModel("amazon.nova-pro-v1:0"); !c.native || c.build == nil || n.local == nil {
		t.Errorf("count_tokens: Claude %+v, Nova %+v", c, n)
	}

	vertex := transform.NewVertex(transform.VertexOptions{Project: "p", Location: "global"})
	if v := messagesSurface.ops(vertex, true); v.forModel == nil || !v.forModel("claude-haiku-4-5@20251001").native || v.forModel("gemini-2.5-pro").native {
		t.Error("Vertex: Claude natively, Gemini through chat")
	}
	anthropic := transform.NewAnthropic(transform.AnthropicOptions{})
	if a := messagesSurface.ops(anthropic, true); a.forModel != nil || !a.native {
		t.Errorf("Anthropic: %+v, want native for every model", a)
	}
	if a := messagesSurface.ops(bedrock, false); a.forModel != nil || a.native {
		t.Errorf("native turned off: %+v", a)
	}
}
