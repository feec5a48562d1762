package transform

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TranslateResponse turns a Converse answer into an OpenAI chat.completion: text blocks become content,
// reasoningContent blocks reasoning_content, toolUse blocks tool_calls, stopReason finish_reason.
func (b *Bedrock) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("bedrock"), err)
	}
	root := gjson.Parse(stringView(body))
	msg := root.Get("output.message")
	if !msg.IsObject() {
		return nil, usage.Usage{}, badUpstream("bedrock: the Converse answer has no output.message")
	}
	c := completion{
		ID:           NewID("chatcmpl-"),
		Created:      time.Now().Unix(),
		Model:        req.ClientModel,
		FinishReason: bedrockFinishReason(root.Get("stopReason").String()),
		Usage:        bedrockUsage(root.Get("usage")),
	}
	var text, thinking strings.Builder
	msg.Get("content").ForEach(func(_, block gjson.Result) bool {
		if t := block.Get("text"); t.Type == gjson.String {
			text.WriteString(t.Str)
		}
		if r := block.Get("reasoningContent.reasoningText.text"); r.Type == gjson.String {
			thinking.WriteString(r.Str)
		}
		if tu := block.Get("toolUse"); tu.IsObject() {
			args := []byte("{}")
			if in := tu.Get("input"); in.IsObject() {
				args = compactJSON(nil, []byte(in.Raw))
			}
			c.ToolCalls = append(c.ToolCalls, toolCall{ID: tu.Get("toolUseId").String(), Name: tu.Get("name").String(), Arguments: args})
		}
		return true
	})
	c.Content, c.Reasoning = text.String(), thinking.String()
	return c.AppendJSON(make([]byte, 0, len(body)+256)), c.Usage, nil
}

// bedrockUsage reads a Converse usage object: inputTokens counts the prompt tokens neither read from nor
// written to the prompt cache, which come as cacheReadInputTokens and cacheWriteInputTokens; cacheDetails
// splits the writes by TTL, of which the one-hour ones are priced apart.
func bedrockUsage(u gjson.Result) usage.Usage {
	if !u.IsObject() || !u.Get("inputTokens").Exists() {
		return usage.Usage{}
	}
	var rep usage.Report
	out := usage.Usage{
		CompletionTokens: rep.Count(u.Get("outputTokens")),
		CachedTokens:     rep.Count(u.Get("cacheReadInputTokens")),
		CacheWriteTokens: rep.Count(u.Get("cacheWriteInputTokens")),
		Origin:           usage.Reported,
	}
	u.Get("cacheDetails").ForEach(func(_, d gjson.Result) bool {
		if d.Get("ttl").Str == "1h" {
			out.CacheWrite1hTokens += rep.Count(d.Get("inputTokens"))
		}
		return true
	})
	out.PromptTokens = rep.Count(u.Get("inputTokens")) + out.CachedTokens + out.CacheWriteTokens
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	return rep.Usage(out)
}
