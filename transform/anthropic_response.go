package transform

import (
	"net/http"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/usage"
	"github.com/tidwall/gjson"
)

// TranslateResponse turns an Anthropic Messages answer into an OpenAI chat.completion: text blocks become
// content, thinking blocks reasoning_content, tool_use blocks tool_calls, stop_reason finish_reason.
func (a *Anthropic) TranslateResponse(req *Request, body []byte) ([]byte, usage.Usage, error) {
	if err := CheckJSON(body); err != nil {
		return nil, usage.Usage{}, badUpstreamJSON(req.provider("anthropic"), err)
	}
	msg := gjson.ParseBytes(body)
	if msg.Get("type").Str == "error" {
		return nil, usage.Usage{}, a.TranslateError(http.StatusOK, nil, body)
	}
	stop := msg.Get("stop_reason").String()
	c := completion{
		ID:           "chatcmpl-" + msg.Get("id").String(),
		Created:      time.Now().Unix(),
		Model:        req.ClientModel,
		FinishReason: anthropicFinishReason(stop),
		Usage:        anthropicUsage(msg.Get("usage"), usage.Usage{}),
	}
	if c.ID == "chatcmpl-" {
		c.ID = NewID("chatcmpl-")
	}
	var text, thinking strings.Builder
	msg.Get("content").ForEach(func(_, block gjson.Result) bool {
		switch block.Get("type").String() {
		case "text":
			text.WriteString(block.Get("text").String())
		case "thinking":
			thinking.WriteString(block.Get("thinking").String())
		case "tool_use":
			input := block.Get("input")
			args := []byte("{}")
			if input.IsObject() {
				args = compactJSON(nil, []byte(input.Raw))
			}
			c.ToolCalls = append(c.ToolCalls, toolCall{
				ID:        block.Get("id").String(),
				Name:      block.Get("name").String(),
				Arguments: args,
			})
		}
		return true
	})
	c.Content, c.Reasoning = text.String(), thinking.String()
	if stop == "refusal" {
		c.Refusal, c.RefusalCategory = anthropicRefusal(msg.Get("stop_details"))
	}
	return c.AppendJSON(make([]byte, 0, len(body)+256)), c.Usage, nil
}

// anthropicUsage reads a Messages usage object over prev: fields the object lacks keep prev's values, as
// message_delta repeats only some of them. The result is Reported once any field was present, provided the
// prompt's input_tokens was among them (here or before): a usage whose message_start was missing or not
// believed (usage.Report) stays unknown.
func anthropicUsage(obj gjson.Result, prev usage.Usage) usage.Usage {
	if !obj.IsObject() || !prev.Known() && !obj.Get("input_tokens").Exists() {
		return prev
	}
	input := prev.PromptTokens - prev.CachedTokens - prev.CacheWriteTokens
	var rep usage.Report
	set := func(dst *int, field string) {
		if v := obj.Get(field); v.Exists() {
			*dst = rep.Count(v)
			prev.Origin = usage.Reported
		}
	}
	set(&input, "input_tokens")
	set(&prev.CacheWriteTokens, "cache_creation_input_tokens")
	set(&prev.CacheWrite1hTokens, "cache_creation.ephemeral_1h_input_tokens")
	set(&prev.CachedTokens, "cache_read_input_tokens")
	set(&prev.CompletionTokens, "output_tokens")
	prev.PromptTokens = input + prev.CacheWriteTokens + prev.CachedTokens
	prev.TotalTokens = prev.PromptTokens + prev.CompletionTokens
	return rep.Usage(prev)
}

// anthropicRefusal returns the OpenAI refusal message and its category for an answer that stopped with
// stop_reason "refusal", from its stop_details ({"type":"refusal","category":"cyber"|"bio"|…|null,
// "explanation":string|null}): the explanation, or, when Anthropic gave none (or no stop_details at all), a
// fixed sentence naming the category, so that clients which look for message.refusal see one.
func anthropicRefusal(details gjson.Result) (text, category string) {
	if c := details.Get("category"); c.Type == gjson.String {
		category = c.Str
	}
	if e := details.Get("explanation"); e.Type == gjson.String {
		text = e.Str
	}
	if text == "" {
		text = "The model declined to answer"
		if category != "" {
			text += " (refusal category: " + category + ")"
		}
		text += "."
	}
	return text, category
}
