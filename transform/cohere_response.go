package transform

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// TranslateResponse turns a Cohere v2 chat answer into an OpenAI chat.completion: text content becomes
// content, thinking content and tool_plan reasoning_content, tool_calls stay tool_calls.
func (c *Cohere) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("cohere"), err)
	}
	root := gjson.Parse(stringView(body))
	msg := root.Get("message")
	comp := completion{
		ID:           "chatcmpl-" + root.Get("id").String(),
		Created:      time.Now().Unix(),
		Model:        req.ClientModel,
		FinishReason: cohereFinishReason(root.Get("finish_reason").String()),
		Usage:        cohereUsage(root.Get("usage")),
	}
	if comp.ID == "chatcmpl-" {
		comp.ID = NewID("chatcmpl-")
	}
	var text, thinking strings.Builder
	thinking.WriteString(msg.Get("tool_plan").String())
	msg.Get("content").ForEach(func(_, part gjson.Result) bool {
		switch part.Get("type").String() {
		case "text":
			text.WriteString(part.Get("text").String())
		case "thinking":
			thinking.WriteString(part.Get("thinking").String())
		}
		return true
	})
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		args := tc.Get("function.arguments").String()
		if strings.TrimSpace(args) == "" || args == "null" {
			args = "{}"
		}
		comp.ToolCalls = append(comp.ToolCalls, toolCall{ID: tc.Get("id").String(), Name: tc.Get("function.name").String(), Arguments: []byte(args)})
		return true
	})
	comp.Content, comp.Reasoning = text.String(), thinking.String()
	return comp.AppendJSON(make([]byte, 0, len(body)+256)), comp.Usage, nil
}

// cohereUsage reads a v2 usage object: tokens (what the model processed; billed_units leave out the prompt
// template) and cached_tokens, the part of the input served from Cohere's cache.
func cohereUsage(u gjson.Result) usage.Usage {
	t := u.Get("tokens")
	if !t.IsObject() {
		t = u.Get("billed_units")
	}
	if !t.Get("input_tokens").Exists() {
		return usage.Usage{}
	}
	var rep usage.Report
	out := usage.Usage{PromptTokens: rep.Count(t.Get("input_tokens")), CompletionTokens: rep.Count(t.Get("output_tokens")),
		CachedTokens: rep.Count(u.Get("cached_tokens")), Origin: usage.Reported}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	if out.CachedTokens > out.PromptTokens {
		return usage.Usage{}
	}
	return rep.Usage(out)
}
